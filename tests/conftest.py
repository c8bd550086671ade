"""Shared fixtures."""

from collections.abc import Iterator

import pytest
from fakes.feed_server import FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A FeedServer on 127.0.0.1, started for one test and stopped after it."""
    with FeedServer() as server:
        yield server
