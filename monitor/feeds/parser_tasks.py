"""What a parser worker runs (feeds.parser_pool starts the workers): the parsers and the
article extractor, by task name, since the name crosses the pipe and not the function.

Only the workers import this module, and with it lxml and feedparser.
"""

from __future__ import annotations

from collections.abc import Callable

from monitor.feeds.article import extract_article
from monitor.feeds.discover import inspect_document
from monitor.feeds.records import ParserOutcome
from monitor.feeds.sources import parse_source

TASKS: dict[str, Callable[..., ParserOutcome]] = {
    "feed": parse_source,
    "inspect": inspect_document,
    "article": extract_article,
}


def run_task(task: str, *args: object) -> ParserOutcome:
    """The worker's function: one of TASKS."""
    return TASKS[task](*args)
