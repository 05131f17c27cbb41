"""The recorder service: every MQTT topic into InfluxDB, with an on-disk spool while InfluxDB is away."""
