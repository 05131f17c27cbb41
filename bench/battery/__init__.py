"""Batteries in the loop: whole days with a balcony battery, zeropower against OpenDTU-OnBattery and an oracle."""
