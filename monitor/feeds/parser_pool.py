"""ParserPool: feeds.parse.parse_feed in worker processes (feeds.worker_pool).

A document that makes the parser spin or crash costs one worker, not the daemon.
"""

from __future__ import annotations

from monitor.feeds.parse import parse_feed
from monitor.feeds.records import ParseFailed, ParseResult
from monitor.feeds.worker_pool import TimedOut, WorkerFailed, WorkerPool


class ParserPool:
    """parse_feed in worker processes: a document that takes too long costs one worker."""

    def __init__(self, workers: int = 1, timeout_s: float = 20.0) -> None:
        self._pool = WorkerPool(parse_feed, workers, timeout_s)

    async def __aenter__(self) -> ParserPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def parse(
        self,
        body: bytes,
        url: str,
        content_type: str | None = None,
        known: frozenset[str] = frozenset(),
    ) -> ParseResult:
        """Like parse_feed; "parse-timeout" or "parse-crash" when the worker hangs or dies."""
        outcome = await self._pool.call(body, url, content_type, True, known)
        if isinstance(outcome, TimedOut):
            detail = f"{url}: parsing took longer than {outcome.seconds:g} s; worker stopped"
            return ParseFailed("parse-timeout", detail)
        if isinstance(outcome, WorkerFailed):
            return ParseFailed("parse-crash", f"{url}: parser {outcome.detail}")
        return outcome

    async def close(self) -> None:
        """Stop the workers; parses still running end as "parse-crash"."""
        await self._pool.close()
