"""Parley's shared contract: what every service and client agree on."""
