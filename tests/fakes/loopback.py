"""The lifecycle shared by the loopback test servers (`FeedServer`, `FakeTelegram`).

A subclass builds its aiohttp.web app in `_app()`; `LoopbackServer` runs it on a random
free port of 127.0.0.1 in a background daemon thread with its own event loop, so sync
tests, async tests and subprocesses can all talk to it. Use as a context manager, or
call start() and stop(); stop() is safe to call twice, and a start() after a stop()
listens on the same port again (clients see an outage, then the server back).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from types import TracebackType
from typing import ClassVar, Self

from aiohttp import web


class LoopbackServer:
    name: ClassVar[str] = "loopback-server"  # the background thread's name

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>` (https with tls), without a trailing slash."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _app(self) -> web.Application:
        """The app to serve; built on the server's loop when it starts."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=self.name)
        self._thread.daemon = True
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(10)

    def stop(self) -> None:
        if self._loop is None or self._thread is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(_close(self._runner), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = self._thread = self._runner = None

    async def _open(self) -> int:
        # A short shutdown grace, so stop() does not wait on hanging or dripping handlers.
        self._runner = web.AppRunner(self._app(), access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024, ssl_context=self.tls)
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port


async def _close(runner: web.AppRunner) -> None:
    await runner.cleanup()
    # Handlers whose client went away (hang, drip, slow) are still waiting: end them here.
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
