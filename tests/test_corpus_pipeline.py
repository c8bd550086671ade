"""The real-world feed corpus (../shared/feeds-corpus) through the whole pipeline in one cycle.

Every file is served on the loopback feed server, with a content type fitting its extension and,
where the MANIFEST says the document declares a charset, that charset in the header too, as a
server configured from the declaration would send it. All files are feeds of ONE store, polled
once by `daemon.run_once` (backlog, two parse workers). What each feed stored is compared with
`parse_feed` on the same bytes, URL and content type; tests/test_parse_corpus.py ties those
results to feedparser's own in MANIFEST.tsv, and docs/compatibility.md explains each difference.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes.feed_server import CONTENT_TYPES, FeedServer
from helpers import CORPUS, corpus_rows, settings_for

from monitor import daemon
from monitor.config import Settings
from monitor.eventlog import events as ev
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store, read_events
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import FAILURE_KINDS as FETCH_FAILURE_KINDS
from monitor.feeds.parse import parse_feed
from monitor.feeds.records import FAILURE_KINDS as PARSE_FAILURE_KINDS
from monitor.feeds.records import FeedData, ParseFailed, ParseResult
from monitor.poll.pipeline import PollOutcome

KNOWN_KINDS = PARSE_FAILURE_KINDS | FETCH_FAILURE_KINDS
# "gbk (declared)", "UTF-8 declared; bytes invalid", "UTF-16BE (no BOM), declared u16", ...
DECLARED_CHARSET = re.compile(r"^(\S+) \(?declared|declared (\S+)$")
# UTF-8 read as Latin-1 or windows-1252 ("â€™", "Ã©", "Â "), or bytes that could not be decoded.
MOJIBAKE = re.compile("â€|Ã|Â|\ufffd")
NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


ROWS = corpus_rows()
pytestmark = pytest.mark.skipif(not ROWS, reason=f"feeds corpus not found at {CORPUS}")


def content_type_for(row: dict[str, str]) -> str:
    """The media type its extension implies, with the charset the document declares, if any."""
    suffix = Path(row["path"]).suffix.lower()
    media_type = CONTENT_TYPES.get(suffix, "application/xml").partition(";")[0]
    declared = DECLARED_CHARSET.search(row["encoding"])
    if declared is None:
        return media_type
    return f"{media_type}; charset={declared.group(1) or declared.group(2)}"


def true_codec(row: dict[str, str]) -> str | None:
    """What the bytes really are, for files whose declaration is wrong or missing."""
    encoding = row["encoding"].lower()
    if "bytes are utf-8" in encoding or "bytes utf-8" in encoding:
        return "utf-8"
    if "looks like gb2312" in encoding or "gbk bytes" in encoding:
        return "gb18030"  # the superset of GB2312 and GBK
    if "looks like big5" in encoding:
        return "big5"
    return None


@dataclass(frozen=True)
class Served:
    row: dict[str, str]
    url: str
    content_type: str
    feed_id: str

    @property
    def body(self) -> bytes:
        return (CORPUS / self.row["path"]).read_bytes()


@dataclass(frozen=True)
class Cycle:
    db: Path
    served: dict[str, Served]  # by corpus path
    outcomes: dict[str, PollOutcome]  # by feed id
    expected: dict[str, ParseResult]  # by corpus path: parse_feed on what the pipeline fetched
    raised: BaseException | None


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cycle]:
    """Serve the corpus, add every file as a feed, and run one cycle; what it left behind."""
    tmp_path = tmp_path_factory.mktemp("corpus")
    # Generous limits: a busy test machine must not turn into timeouts; no fault is tested here.
    settings = settings_for(tmp_path, parse_workers=2, parse_timeout=120, fetch_timeout=120)
    with FeedServer() as server:
        with Store(settings.db) as store:
            served = {row["path"]: _serve(server, store, row) for row in ROWS}
        # The reference parses run beside the cycle, whose matching leaves a core mostly idle.
        with ProcessPoolExecutor(2, multiprocessing.get_context("spawn")) as pool:
            pending = {
                path: pool.submit(parse_feed, s.body, s.url, s.content_type)
                for path, s in served.items()
            }
            outcomes, raised = _run_once(settings)
            expected = {path: future.result() for path, future in pending.items()}
        yield Cycle(settings.db, served, {o.feed_id: o for o in outcomes}, expected, raised)


def _run_once(settings: Settings) -> tuple[list[PollOutcome], BaseException | None]:
    try:
        return asyncio.run(daemon.run_once(settings, write=lambda line: None)), None
    except Exception as error:  # reported by one test, rather than as an error of every test
        return [], error


def _serve(server: FeedServer, store: Store, row: dict[str, str]) -> Served:
    content_type = content_type_for(row)
    url = server.serve_file(f"/corpus/{row['path']}", CORPUS / row["path"], content_type)
    return Served(row, url, content_type, feeds.add_feed(store, url))


def stored_entries(db: Path, feed_id: str) -> dict[str, str]:
    """Key -> title of every entry stored for the feed."""
    with Store(db) as store:
        rows = store.db.execute("SELECT key, title FROM entries WHERE feed_id = ?", (feed_id,))
        return {row["key"]: row["title"] for row in rows}


def stored_texts(db: Path, feed_id: str) -> list[str]:
    """The feed's title and every stored entry's title and summary."""
    with Store(db) as store:
        feed = store.db.execute("SELECT title FROM feeds WHERE id = ?", (feed_id,)).fetchone()
        rows = store.db.execute("SELECT title, summary FROM entries WHERE feed_id = ?", (feed_id,))
        return [feed["title"], *(text for row in rows for text in (row["title"], row["summary"]))]


def failures_of(db: Path, feed_id: str) -> list[tuple[str, str]]:
    with Store(db) as store:
        found = read_events(store.db, stream=f"feed:{feed_id}", types=["FeedFailed"])
    return [(e.data.kind, e.data.detail) for e in found if isinstance(e.data, ev.FeedFailed)]


def first_title_by_key(parsed: FeedData) -> dict[str, str]:
    """Entries as the pipeline stores them: one per key, the first in document order."""
    titles: dict[str, str] = {}
    for entry in parsed.entries:
        titles.setdefault(entry.key, entry.title)
    return titles


def runs_not_in_bytes(texts: list[str], body: bytes, codec: str) -> list[str]:
    """Non-ASCII runs of the texts that the raw bytes do not contain in `codec`: misread text."""
    return [
        run
        for text in texts
        for run in NON_ASCII_RUN.findall(text)
        if run.encode(codec, errors="replace") not in body
    ]


def test_one_cycle_polls_every_file_and_no_exception_escapes(cycle: Cycle) -> None:
    assert cycle.raised is None, repr(cycle.raised)
    assert set(cycle.outcomes) == {served.feed_id for served in cycle.served.values()}
    crashed = [o.feed_id for o in cycle.outcomes.values() if o.failure == "crash"]
    assert crashed == []
    assert {o.status for o in cycle.outcomes.values()} <= {"new", "unchanged", "failed"}


@pytest.mark.parametrize("path", [row["path"] for row in ROWS])
def test_each_file_ends_as_its_entries_or_a_known_failure(cycle: Cycle, path: str) -> None:
    served = cycle.served[path]
    outcome = cycle.outcomes[served.feed_id]
    expected = cycle.expected[path]
    failures = failures_of(cycle.db, served.feed_id)

    if isinstance(expected, ParseFailed):
        assert outcome.status == "failed" and len(failures) == 1, outcome
        kind, detail = failures[0]
        assert kind == expected.kind and kind in KNOWN_KINDS
        assert "\n" not in detail and served.url in detail, detail
        assert stored_entries(cycle.db, served.feed_id) == {}
        return
    assert failures == [] and outcome.status in {"new", "unchanged"}, failures
    assert stored_entries(cycle.db, served.feed_id) == first_title_by_key(expected)
    assert outcome.new_entries == len(first_title_by_key(expected))


def test_json_feeds_give_entries(cycle: Cycle) -> None:
    json_feeds = [
        served
        for served in cycle.served.values()
        if served.row["format"] == "json" and int(served.row["approx_entries"] or 0) > 0
    ]
    assert len(json_feeds) >= 20  # the corpus has 23 JSON Feeds; feedparser reads none of them
    empty = [s.row["path"] for s in json_feeds if not stored_entries(cycle.db, s.feed_id)]
    assert empty == []


@pytest.mark.parametrize("path", [row["path"] for row in ROWS if true_codec(row)])
def test_text_is_read_in_the_encoding_its_bytes_are_in(cycle: Cycle, path: str) -> None:
    """Wrong or missing declarations (gbk, windows-1252, utf-16 on UTF-8 bytes; undeclared
    GB2312 and Big5): stored text is the bytes read in their real encoding, without mojibake."""
    served = cycle.served[path]
    codec = true_codec(served.row)
    assert codec is not None
    texts = stored_texts(cycle.db, served.feed_id)

    assert [text for text in texts if MOJIBAKE.search(text)] == []
    assert runs_not_in_bytes(texts, served.body, codec) == []


def test_the_encoding_checks_see_non_ascii_text(cycle: Cycle) -> None:
    """Guards the test above against passing on files whose stored text is all ASCII."""
    checked = [served for served in cycle.served.values() if true_codec(served.row)]
    with_text = [
        served.row["path"]
        for served in checked
        if any(not text.isascii() for text in stored_texts(cycle.db, served.feed_id))
    ]
    assert len(checked) >= 10 and len(with_text) >= len(checked) - 1, with_text


def test_replay_equals_the_projections_after_the_cycle(cycle: Cycle) -> None:
    with Store(cycle.db) as store:
        assert replay(store, write=False).identical
