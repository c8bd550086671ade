"""One daemon per event log: an exclusive lock on a file beside the database.

Taken before anything else happens (no migration, no settling of in-flight alerts, no
poll), so a second daemon started on the same log stops at once and touches nothing.
The kernel drops the lock when the process ends, however it ends.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor.errors import DaemonRunningError, StoreError


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


@contextmanager
def daemon_lock(db: Path) -> Iterator[Path]:
    """Hold the log's daemon lock for the block; refuse if another process holds it."""
    path = lock_path(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise StoreError(f"{path}: cannot create the daemon lock file: {error}") from None
    try:
        _take(handle, db, path)
        os.ftruncate(handle, 0)
        os.write(handle, f"{os.getpid()}\n".encode())
        yield path
    finally:
        os.close(handle)  # closing releases the lock


def _take(handle: int, db: Path, path: Path) -> None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "unknown"
        raise DaemonRunningError(
            f"{db}: another monitor daemon (pid {holder}) is running on this log"
            f" (lock {path}); stop it first, or set MONITOR_DB to another file"
        ) from None
