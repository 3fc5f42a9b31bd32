"""HTTP routes of the messages service."""
