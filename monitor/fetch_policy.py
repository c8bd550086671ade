"""The fetch policy the settings ask for, shared by the daemon and the CLI commands that
fetch (`feeds add`, `watch test`): here rather than in monitor.daemon, whose imports a
one-off command should not pay (about a second)."""

from __future__ import annotations

from monitor import __version__
from monitor.config import Settings
from monitor.feeds.fetch import FetchPolicy


def fetch_policy(settings: Settings) -> FetchPolicy:
    agent = settings.user_agent or f"announcement-monitor/{__version__} (news feed monitor)"
    return FetchPolicy(
        user_agent=agent,
        timeout_s=settings.fetch_timeout,
        max_body_bytes=settings.max_body,
        max_redirects=settings.max_redirects,
        max_connections=settings.max_connections,
        max_per_host=settings.max_per_host,
        allow_private=settings.allow_private_feeds,
    )
