"""Parley presence service: per-device connections in Redis sets."""
