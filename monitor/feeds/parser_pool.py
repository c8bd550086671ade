"""ParserPool: monitor.parse.parse_feed in worker processes (monitor.workerpool).

A document that makes the parser spin or crash costs one worker, not the daemon.
monitor.parse re-exports ParserPool, so this module imports monitor.parse only inside
its methods: importing either module first then works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.feeds.worker_pool import TimedOut, WorkerFailed, WorkerPool

if TYPE_CHECKING:
    from monitor.feeds.parse import ParseResult


class ParserPool:
    """parse_feed in worker processes: a document that takes too long costs one worker."""

    def __init__(self, workers: int = 1, timeout_s: float = 20.0) -> None:
        from monitor.feeds.parse import parse_feed  # on use: monitor.parse imports this module

        self._pool = WorkerPool(parse_feed, workers, timeout_s)

    async def __aenter__(self) -> ParserPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def parse(self, body: bytes, url: str, content_type: str | None = None) -> ParseResult:
        """Like parse_feed; "parse-timeout" or "parse-crash" when the worker hangs or dies."""
        from monitor.feeds.parse import ParseFailed  # on use: monitor.parse imports this module

        outcome = await self._pool.call(body, url, content_type)
        if isinstance(outcome, TimedOut):
            detail = f"{url}: parsing took longer than {outcome.seconds:g} s; worker stopped"
            return ParseFailed("parse-timeout", detail)
        if isinstance(outcome, WorkerFailed):
            return ParseFailed("parse-crash", f"{url}: parser {outcome.detail}")
        return outcome

    async def close(self) -> None:
        """Stop the workers; parses still running end as "parse-crash"."""
        await self._pool.close()
