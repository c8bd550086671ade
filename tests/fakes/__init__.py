"""Loopback stand-ins for the outside world: the feed server (and later the Bot API)."""
