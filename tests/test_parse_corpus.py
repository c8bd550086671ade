"""parse_feed over the shared corpus of real-world feeds (../shared/feeds-corpus).

Entry counts are compared with the MANIFEST's `entries_parsed` (feedparser 6.0.14 on the raw
bytes). Where we differ on purpose, the file is listed in EXPECTED_DIFFERENCES with the
reason; entries we skip (no id, link or title) are counted through their warnings.
"""

from __future__ import annotations

import pytest
from helpers import CORPUS, corpus_rows

from monitor.feeds.parse import parse_feed
from monitor.feeds.records import FAILURE_KINDS, FeedData, ParseFailed

# path -> (entries we give, why feedparser on the raw bytes gives a different number)
EXPECTED_DIFFERENCES = {
    "node-feedparser/compressed.xml": (10, "gzip bytes without Content-Encoding: we gunzip"),
    "node-feedparser/invalid-characters-gzipped.xml": (25, "gzip bytes: we gunzip"),
    "rssant/utf-8.not-utf-16.xml": (877, "declared UTF-16, bytes UTF-8: we re-read as UTF-8"),
    "simplepie/feed-utf16be.xml": (1, "UTF-16 without BOM or declaration: we transcode"),
    "simplepie/feed-utf16le.xml": (1, "UTF-16 without BOM or declaration: we transcode"),
}

# Files that are not feeds, or too broken to give anything: the failure we report.
EXPECTED_FAILURES = {
    "feedparser/rss_empty_document.xml": "malformed",
    "gofeed/empty_feed.xml": "empty",
    "node-feedparser/notafeed.html": "not-a-feed",
    "RSParser/allthis-partial.json": "malformed",
    "RSParser/ScriptingNews.json": "not-a-feed",
    "rss-parser/unrecognized.rss": "not-a-feed",
    "rssant/http-blog-hexun-com-group-getrssresouce-aspx-classid-74.xml": "not-a-feed",
    "rssant/http-guwendong-com-feed.xml": "not-a-feed",
    "rssant/https-egoist-moe-atom-xml.xml": "not-a-feed",
    "rssant/jsonfeed-failed-syntax.json": "malformed",
    "rssant/rssant-manifest.json": "not-a-feed",
}


ROWS = corpus_rows()
pytestmark = pytest.mark.skipif(not ROWS, reason=f"feeds corpus not found at {CORPUS}")


def _expected_count(row: dict[str, str]) -> int:
    """Entries before skipping: feedparser's count for XML, the raw item count for JSON Feed."""
    if row["path"] in EXPECTED_DIFFERENCES:
        return EXPECTED_DIFFERENCES[row["path"]][0]
    if row["format"] == "json":  # feedparser 6 cannot read JSON Feed and gives 0
        return int(row["approx_entries"])
    return int(row["entries_parsed"])


@pytest.mark.parametrize("row", ROWS, ids=[row["path"] for row in ROWS])
def test_corpus_file_parses_to_a_known_outcome(row: dict[str, str]) -> None:
    result = parse_feed((CORPUS / row["path"]).read_bytes(), f"https://example.org/{row['path']}")

    if row["path"] in EXPECTED_FAILURES:
        assert isinstance(result, ParseFailed), result
        assert result.kind == EXPECTED_FAILURES[row["path"]], result.detail
        return
    assert isinstance(result, FeedData), result
    skipped = sum(warning.endswith(": skipped") for warning in result.warnings)
    assert len(result.entries) + skipped == _expected_count(row), result.warnings


def test_every_failure_in_the_corpus_has_a_known_kind_and_a_one_line_detail() -> None:
    for row in ROWS:
        result = parse_feed((CORPUS / row["path"]).read_bytes(), "https://example.org/feed")
        if isinstance(result, ParseFailed):
            assert result.kind in FAILURE_KINDS - {"parse-timeout", "parse-crash"}
            assert "\n" not in result.detail


def test_corpus_entries_are_clean_records() -> None:
    for row in ROWS:
        result = parse_feed((CORPUS / row["path"]).read_bytes(), "https://example.org/feed")
        if not isinstance(result, FeedData):
            continue
        for entry in result.entries:
            assert entry.key.strip() == entry.key != ""
            assert entry.link is None or entry.link.startswith(("http://", "https://"))
            assert "\n" not in entry.title and len(entry.summary) <= 5_000
            assert entry.published is None or entry.published.utcoffset() is not None
