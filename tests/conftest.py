"""Shared fixtures."""

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

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
    unless TEST_REQUIRE_POSTGRES=1 (CI) makes its absence a failure."""
    try:
        context = postgres_for_tests()
        server = context.__enter__()
    except RuntimeError as error:
        if os.environ.get("TEST_REQUIRE_POSTGRES") == "1":
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


# --- the event log on both engines (issue 15) -------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def log_engine(request: pytest.FixtureRequest) -> str:
    """The engine under test: SQLite always, PostgreSQL where a server can be started."""
    return str(request.param)


@pytest.fixture
def new_log(
    log_engine: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Path | str]]:
    """Each call gives a fresh, empty log's MONITOR_DB on the engine under test: a file, or
    a new database on the test server (dropped after the test)."""
    with ExitStack() as stack:

        def make() -> Path | str:
            if log_engine == "sqlite":
                return tmp_path_factory.mktemp("log") / "log.db"
            server: PostgresServer = request.getfixturevalue("postgres_server")
            return stack.enter_context(server.fresh_database())

        yield make


@pytest.fixture
def log_target(new_log: Callable[[], Path | str]) -> Path | str:
    """A fresh event log on each engine: `Store(log_target)`, `MONITOR_DB=str(log_target)`."""
    return new_log()
