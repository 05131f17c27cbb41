"""Battery drivers, one per file, chosen by the ``type`` key of the battery's settings."""
