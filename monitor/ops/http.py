"""The operations endpoint: /metrics (Prometheus text) and /healthz, on aiohttp.web.

Both handlers run their check in a worker thread: a scrape or a busy database never
holds up the event loop that polls the feeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from monitor.errors import HttpServerError
from monitor.eventlog.connection import DbTarget
from monitor.eventlog.store import describe, write_probe
from monitor.ops.metrics import CONTENT_TYPE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Health:
    ok: bool
    reason: str
    telegram: str = "off"  # "ok", "degraded" (unreachable a while), or "off" without a token


HealthCheck = Callable[[], Health]
TelegramStatus = Callable[[], tuple[str, str]]  # ("ok" or "degraded", what is wrong or "")
RenderMetrics = Callable[[], bytes]


_HEALTHY = "scheduler running, database writable"


def daemon_health(
    db_path: DbTarget,
    scheduler_running: Callable[[], bool],
    timeout: float = 0.5,
    telegram: TelegramStatus | None = None,
) -> HealthCheck:
    """Healthy when the scheduler runs and the database takes a write lock.

    Telegram's state is shown beside it, never failing the check: restarting the daemon
    does not bring Telegram back, and alerts wait in the outbox meanwhile.
    """

    def check() -> Health:
        state, detail = telegram() if telegram is not None else ("off", "")
        if not scheduler_running():
            return Health(False, "scheduler is not running", state)
        problem = write_probe(db_path, timeout)
        where = describe(db_path)
        reason = f"database {where} is not writable: {problem}" if problem else _HEALTHY
        return Health(problem is None, f"{reason}; {detail}" if detail else reason, state)

    return check


async def _healthz(health: HealthCheck, request: web.Request) -> web.Response:
    result = await asyncio.to_thread(health)
    body = {
        "status": "ok" if result.ok else "unavailable",
        "reason": result.reason,
        "telegram": result.telegram,
    }
    if not result.ok:
        log.warning("healthz: %s", result.reason)
    return web.json_response(body, status=200 if result.ok else 503)


async def _metrics(render: RenderMetrics, request: web.Request) -> web.Response:
    try:
        body = await asyncio.to_thread(render)
    except Exception as error:
        log.exception("metrics: the scrape failed")
        return web.Response(status=500, text=f"metrics unavailable: {error}\n")
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    return response


def build_app(health: HealthCheck, metrics: RenderMetrics) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return await _healthz(health, request)

    async def metrics_page(request: web.Request) -> web.Response:
        return await _metrics(metrics, request)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app


@dataclass(frozen=True)
class HttpServer:
    runner: web.AppRunner
    host: str
    port: int  # the bound port: differs from the one asked for when that was 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_http(
    host: str, port: int, *, health: HealthCheck, metrics: RenderMetrics
) -> HttpServer:
    """Listen on host:port (port 0: any free port) until `stop()`; raise HttpServerError."""
    # No access log: a scrape every 15 s would bury the poll log.
    runner = web.AppRunner(build_app(health, metrics), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as error:
        await runner.cleanup()
        raise HttpServerError(
            f"cannot listen on {host}:{port} ({error.strerror or error}); set MONITOR_HTTP_HOST"
            " and MONITOR_HTTP_PORT to a free address, or MONITOR_HTTP_PORT=0 to turn it off"
        ) from None
    bound = runner.addresses[0][1]
    server = HttpServer(runner, host, int(bound))
    log.info("http endpoint on %s (/metrics, /healthz)", server.url)
    return server
