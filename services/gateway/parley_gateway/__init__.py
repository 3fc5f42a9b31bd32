"""Parley gateway: authenticated Socket.IO, rooms, acks and fan-out."""
