"""A throwaway PostgreSQL server on 127.0.0.1 for the tests, from the machine's own binaries.

`TEST_POSTGRES_URL=postgresql://...` points the tests at a server of your own instead
(each test still gets a fresh database of its own on it). Without either, the PostgreSQL
half of the tests is skipped with the reason; `.ci/run` installs Debian's package so that
CI runs both halves.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

SUPERUSER = "monitor"


@dataclass(frozen=True)
class PostgresServer:
    """A running server: `admin_url` may create and drop databases."""

    admin_url: str

    def database_url(self, name: str) -> str:
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """A new empty database's URL, dropped afterwards (with whoever is still connected)."""
        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self.database_url(name)
        finally:
            with psycopg.connect(self.admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's versioned folder."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def throwaway_server() -> Iterator[PostgresServer]:
    """initdb in a temporary folder, start on a free loopback port, stop and delete after.

    PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user
    the Debian package creates. fsync is off: the data is thrown away at the end.
    """
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("no initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin")
    folder = Path(tempfile.mkdtemp(prefix="monitor-pg-"))
    run_as = _run_as_prefix(folder)
    data, port = folder / "data", free_port()
    _run([*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER])
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    pg_ctl = [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log")]
    _run([*pg_ctl, "-o", options, "-w", "-t", "120", "start"])
    try:
        yield PostgresServer(f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres")
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], capture_output=True, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _run_as_prefix(folder: Path) -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise RuntimeError("running as root without runuser: cannot start PostgreSQL as postgres")
    shutil.chown(folder, user="postgres")
    return ["runuser", "-u", "postgres", "--"]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        output = done.stderr.strip() or done.stdout.strip()
        raise RuntimeError(f"{' '.join(command)} failed: {output}")


@contextmanager
def postgres_for_tests() -> Iterator[PostgresServer]:
    """The server the tests use: TEST_POSTGRES_URL's, else a throwaway one."""
    given = os.environ.get("TEST_POSTGRES_URL")
    if given:
        yield PostgresServer(given)
        return
    with throwaway_server() as server:
        yield server
