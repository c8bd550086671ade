"""The body of a worker process that feeds.worker_pool starts: import the function by its
name, then run each job the parent sends over the socket until it closes its end.

Apart from the parent's side so that a worker imports neither asyncio nor the pool's
other needs: only this, the function's module, and what that imports.
"""

from __future__ import annotations

import functools
import importlib
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import cast

from monitor.heap import fix_allocator_thresholds


def serve(function_name: str, fd: int) -> None:
    """Run the function named "module:qualified.name" on the jobs sent over socket `fd`
    (worker_pool's `_WORKER_MAIN` calls it)."""
    fix_allocator_thresholds()
    module, _, qualified = function_name.partition(":")
    found: object = importlib.import_module(module)
    function = functools.reduce(getattr, qualified.split("."), found)
    _serve(cast("Callable[..., object]", function), Connection(fd))


def _serve(function: Callable[..., object], conn: Connection) -> None:
    """Run each job until the parent closes its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    conn.send("ready")
    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        try:
            reply: tuple[bool, object] = (True, function(*args))
        except Exception as exc:  # reported to the parent; the worker stays usable
            reply = (False, " ".join(f"{type(exc).__name__}: {exc}".split()))  # one line
        conn.send(reply)
