"""Announcement monitor: polls news feeds, matches rules, keeps an event log, sends alerts."""

__version__ = "0.1.0"
