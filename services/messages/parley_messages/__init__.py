"""Parley messages service: conversations, messages, receipts; owns persistence."""
