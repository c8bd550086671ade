"""ParserPool: the parsers of feeds.sources and feeds.discover in worker processes
(feeds.worker_pool).

A document that makes a parser spin or crash costs one worker, not the daemon.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.eventlog.events import PageSelectors
from monitor.feeds.discover import Inspection, PageLinks, inspect_document
from monitor.feeds.records import FeedData, ParseFailed, ParseResult
from monitor.feeds.sources import parse_source
from monitor.feeds.worker_pool import TimedOut, WorkerFailed, WorkerPool

# What a worker can be asked to do, by name (the name crosses the pipe, not the function).
TASKS: dict[str, Callable[..., ParseResult | Inspection]] = {
    "feed": parse_source,
    "inspect": inspect_document,
}


def run_task(task: str, *args: object) -> ParseResult | Inspection:
    """The worker's function: one of TASKS."""
    return TASKS[task](*args)


class ParserPool:
    """Parsers in worker processes: a document that takes too long costs one worker."""

    def __init__(self, workers: int = 1, timeout_s: float = 20.0) -> None:
        self._pool: WorkerPool[ParseResult | Inspection] = WorkerPool(run_task, workers, timeout_s)

    async def __aenter__(self) -> ParserPool:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def parse(
        self,
        body: bytes,
        url: str,
        content_type: str | None = None,
        kind: str = "feed",
        selectors: PageSelectors | None = None,
        known: frozenset[str] = frozenset(),
    ) -> ParseResult:
        """Like sources.parse_source; "parse-timeout" or "parse-crash" when the worker hangs
        or dies."""
        outcome = await self._call("feed", body, url, content_type, kind, selectors, known)
        if isinstance(outcome, FeedData):
            return outcome
        if isinstance(outcome, PageLinks):  # cannot happen: "feed" gives feeds or failures
            return ParseFailed("parse-crash", f"{url}: the feed parser answered with page links")
        return _failure(outcome, url)

    async def inspect(self, body: bytes, url: str, content_type: str | None = None) -> Inspection:
        """Like discover.inspect_document, under the same time limit."""
        outcome = await self._call("inspect", body, url, content_type)
        if isinstance(outcome, ParseFailed | TimedOut | WorkerFailed):
            return _failure(outcome, url)
        return outcome

    async def _call(
        self, task: str, *args: object
    ) -> ParseResult | Inspection | TimedOut | WorkerFailed:
        return await self._pool.call(task, *args)

    async def close(self) -> None:
        """Stop the workers; parses still running end as "parse-crash"."""
        await self._pool.close()


def _failure(outcome: ParseFailed | TimedOut | WorkerFailed, url: str) -> ParseFailed:
    if isinstance(outcome, TimedOut):
        detail = f"{url}: parsing took longer than {outcome.seconds:g} s; worker stopped"
        return ParseFailed("parse-timeout", detail)
    if isinstance(outcome, WorkerFailed):
        return ParseFailed("parse-crash", f"{url}: parser {outcome.detail}")
    return outcome
