"""The simulator: a household with PV and Hoymiles inverters behind a Shelly Pro 3EM and an OpenDTU."""
