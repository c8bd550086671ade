"""Run a module-level function in worker processes that can be killed, from asyncio.

Used by feeds.parser_pool so that a document that makes a parser spin or crash costs one
worker, not the daemon. Stdlib only.

A worker is a fresh interpreter (`python -c`, like multiprocessing's "spawn": the parent
runs an event loop and threads, which fork would copy half-way) that imports the function
by its name and talks over a socket pair. Not multiprocessing's own processes: spawning
them starts its resource tracker, one more interpreter (13 MB) that tracks nothing here.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Generic, TypeVar, cast

Result = TypeVar("Result")

STARTUP_TIMEOUT_S = 60.0  # a spawned worker imports its modules afresh; hosts can be slow


@dataclass(frozen=True)
class TimedOut:
    seconds: float


@dataclass(frozen=True)
class WorkerFailed:
    detail: str  # one line: how the worker died, or what the function raised


# A worker's program: argv is the function's "module:qualified.name" and the socket's fd.
_WORKER_MAIN = (
    "import sys; from monitor.feeds.worker_process import serve;"
    " serve(sys.argv[1], int(sys.argv[2]))"
)


@dataclass(frozen=True)
class _Worker:
    process: subprocess.Popen[bytes]
    conn: Connection

    def kill(self) -> None:
        self.conn.close()
        self.process.kill()
        _wait(self.process, 5)  # SIGKILL cannot be caught, so this returns at once

    def is_alive(self) -> bool:
        return self.process.poll() is None


class WorkerPool(Generic[Result]):
    """Up to `workers` processes, started on first use, each running one call at a time."""

    def __init__(self, function: str, workers: int, timeout_s: float) -> None:
        """`function` is "module:qualified.name": the workers import it, this process not."""
        if workers < 1 or timeout_s <= 0:
            raise ValueError(f"need workers >= 1 and timeout_s > 0, got {workers} and {timeout_s}")
        self._function = function
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(workers)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False

    async def call(self, *args: object) -> Result | TimedOut | WorkerFailed:
        """function(*args) in a free worker; the worker is replaced if it hangs or dies."""
        if self._closed:
            raise RuntimeError("WorkerPool.call after close()")
        async with self._slots:
            worker = await self._take_worker()
            if isinstance(worker, WorkerFailed):
                return worker
            self._busy.add(worker)
            reusable = False
            try:
                outcome, reusable = await self._run(worker, args)
                return outcome
            finally:
                self._busy.discard(worker)
                self._release(worker, reusable)

    async def close(self) -> None:
        """Stop every worker; calls still running end as WorkerFailed."""
        self._closed = True
        idle, self._idle = self._idle, []
        for worker in idle:
            worker.conn.close()  # the worker reads end-of-file and exits by itself
        for worker in self._busy:
            worker.process.kill()
        await asyncio.to_thread(_reap, [worker.process for worker in idle])

    async def _take_worker(self) -> _Worker | WorkerFailed:
        while self._idle:
            worker = self._idle.pop()
            if worker.is_alive():
                return worker
            worker.kill()
        try:
            return await self._start_worker()
        except (OSError, EOFError, TimeoutError) as exc:
            return WorkerFailed(f"could not start a worker process: {exc!r}")

    async def _start_worker(self) -> _Worker:
        parent_end, child_end = Pipe()
        fd = child_end.fileno()
        command = [sys.executable, "-B", "-c", _WORKER_MAIN, self._function, str(fd)]
        try:
            process = await asyncio.to_thread(
                subprocess.Popen, command, stdin=subprocess.DEVNULL, pass_fds=[fd]
            )
        except BaseException:
            parent_end.close()
            raise
        finally:
            child_end.close()  # only the worker holds this end now, so its death reads as EOF
        worker = _Worker(process, parent_end)
        try:
            await _receive(parent_end, STARTUP_TIMEOUT_S)
        except BaseException:
            worker.kill()
            raise
        return worker

    async def _run(
        self, worker: _Worker, args: tuple[object, ...]
    ) -> tuple[Result | TimedOut | WorkerFailed, bool]:
        """The call's outcome, and whether the worker may take another call."""
        try:
            worker.conn.send(args)
            reply = await _receive(worker.conn, self._timeout_s)
        except TimeoutError:
            return TimedOut(self._timeout_s), False
        except (EOFError, OSError):
            _wait(worker.process, 1)
            return WorkerFailed(f"worker died (exit code {worker.process.returncode})"), False
        except Exception as exc:  # a reply that cannot be unpickled
            return WorkerFailed(f"unreadable reply from worker: {exc!r}"), False
        succeeded, value = cast("tuple[bool, Result]", reply)
        if succeeded:
            return value, True
        return WorkerFailed(f"raised {value}"), True

    def _release(self, worker: _Worker, reusable: bool) -> None:
        if reusable and not self._closed:
            self._idle.append(worker)
        else:
            worker.kill()


async def _receive(conn: Connection, timeout_s: float) -> object:
    """One message from the pipe; the event loop watches the pipe instead of blocking on it."""
    loop = asyncio.get_running_loop()
    reply: asyncio.Future[object] = loop.create_future()
    fd = conn.fileno()

    def on_readable() -> None:
        loop.remove_reader(fd)
        if reply.done():
            return
        try:
            reply.set_result(conn.recv())
        except Exception as exc:  # EOF when the worker died; anything else is a bad reply
            reply.set_exception(exc)

    loop.add_reader(fd, on_readable)
    try:
        return await asyncio.wait_for(reply, timeout_s)
    finally:
        loop.remove_reader(fd)


def _reap(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if not _wait(process, 5):
            process.kill()
            _wait(process, 5)


def _wait(process: subprocess.Popen[bytes], seconds: float) -> bool:
    """Whether the process has ended within `seconds`."""
    try:
        process.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return True
