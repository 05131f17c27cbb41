"""Code every zeropower service shares: settings, topics, messages and the MQTT client."""
