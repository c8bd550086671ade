"""ParserPool: the parsers of feeds.sources and feeds.discover, and the article extractor
of feeds.article, in worker processes (feeds.worker_pool) that run feeds.parser_tasks.

A document that makes a parser spin or crash costs one worker, not the daemon. This
side imports no parser: only the workers load lxml and feedparser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.feeds.records import (
    ArticleFailed,
    ArticleResult,
    ArticleText,
    FeedData,
    Inspection,
    ParseFailed,
    ParseResult,
    ParserOutcome,
)
from monitor.feeds.worker_pool import TimedOut, WorkerFailed, WorkerPool

if TYPE_CHECKING:  # the type only: parser workers reading feeds need no pydantic
    from monitor.eventlog.events import PageSelectors

WORKER_FUNCTION = "monitor.feeds.parser_tasks:run_task"


class ParserPool:
    """Parsers in worker processes: a document that takes too long costs one worker."""

    def __init__(self, workers: int = 1, timeout_s: float = 20.0) -> None:
        self._pool: WorkerPool[ParserOutcome] = WorkerPool(WORKER_FUNCTION, workers, timeout_s)

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
        if isinstance(outcome, ParseFailed | TimedOut | WorkerFailed):
            return _failure(outcome, url)
        return _unexpected(outcome, url)  # cannot happen: "feed" gives feeds or failures

    async def inspect(self, body: bytes, url: str, content_type: str | None = None) -> Inspection:
        """Like discover.inspect_document, under the same time limit."""
        outcome = await self._call("inspect", body, url, content_type)
        if isinstance(outcome, ParseFailed | TimedOut | WorkerFailed):
            return _failure(outcome, url)
        if isinstance(outcome, ArticleText | ArticleFailed):  # cannot happen
            return _unexpected(outcome, url)
        return outcome

    async def extract(
        self, body: bytes, url: str, content_type: str | None = None
    ) -> ArticleResult:
        """Like article.extract_article, under the same time limit."""
        outcome = await self._call("article", body, url, content_type)
        if isinstance(outcome, ArticleText | ArticleFailed):
            return outcome
        if isinstance(outcome, TimedOut | WorkerFailed):
            failure = _failure(outcome, url)
            return ArticleFailed(failure.kind, failure.detail)
        return ArticleFailed("parse-crash", _unexpected(outcome, url).detail)

    async def _call(self, task: str, *args: object) -> ParserOutcome | TimedOut | WorkerFailed:
        return await self._pool.call(task, *args)

    async def close(self) -> None:
        """Stop the workers; parses still running end as "parse-crash"."""
        await self._pool.close()


def _unexpected(outcome: object, url: str) -> ParseFailed:
    return ParseFailed("parse-crash", f"{url}: the worker answered with {type(outcome).__name__}")


def _failure(outcome: ParseFailed | TimedOut | WorkerFailed, url: str) -> ParseFailed:
    if isinstance(outcome, TimedOut):
        detail = f"{url}: parsing took longer than {outcome.seconds:g} s; worker stopped"
        return ParseFailed("parse-timeout", detail)
    if isinstance(outcome, WorkerFailed):
        return ParseFailed("parse-crash", f"{url}: parser {outcome.detail}")
    return outcome
