"""Alerts: the outbox dispatcher, the sinks it sends through, rendering, UTF-16 cutting and
pacing."""
