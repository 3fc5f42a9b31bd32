"""Parley's embedded default: the three services in one process, composed from outside them."""
