"""Shared fixtures."""

import os
from collections.abc import Iterator

import pytest
from fakes.feed_server import FeedServer
from postgres_server import PostgresServer, postgres_for_tests


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    """A FeedServer on 127.0.0.1, started for one test and stopped after it."""
    with FeedServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run; the tests that need it skip without one,
    unless MONITOR_REQUIRE_POSTGRES=1 (CI) makes its absence a failure."""
    try:
        context = postgres_for_tests()
        server = context.__enter__()
    except RuntimeError as error:
        if os.environ.get("MONITOR_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"no PostgreSQL server for these tests: {error}")
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped after the test."""
    with postgres_server.fresh_database() as url:
        yield url
