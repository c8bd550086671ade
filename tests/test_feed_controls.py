"""Operator controls: feeds pause|resume|poll and remove by id, unique prefix or URL, the
bot's /pause /resume /refresh, the scheduler honouring them, OPML folders and htmlUrl."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.feed_server import FeedServer
from helpers import cli_environment, invoke, rss, settings_for

from monitor.bot.commands import BotContext, Caller, handle_command
from monitor.eventlog import events as ev
from monitor.eventlog.lock import daemon_lock
from monitor.eventlog.queries.feeds import feed_state
from monitor.eventlog.store import Store
from monitor.feeds import controls
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher, FetchPolicy
from monitor.feeds.parser_pool import ParserPool
from monitor.poll.pipeline import Pipeline
from monitor.poll.scheduler import PollScheduler
from monitor.rules.matcher import load_ruleset


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_target: Path | str) -> Path:
    """The CLI's environment on each engine's log."""
    return cli_environment(tmp_path, monkeypatch, db=log_target)


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """On SQLite only: the daemon's presence is its lock file."""
    return cli_environment(tmp_path, monkeypatch)


def rows() -> list[dict[str, object]]:
    found: list[dict[str, object]] = json.loads(invoke("feeds", "list", "--json")[1])
    return found


def test_a_paused_feed_is_not_polled_until_resumed(env: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/f.xml", rss([("a", "One", "x")]))
    assert invoke("feeds", "add", url)[0] == 0
    feed_id = str(rows()[0]["id"])
    code, output = invoke("feeds", "pause", feed_id[:5])
    assert code == 0 and output.startswith(f"paused feed {feed_id}")
    assert rows()[0]["paused"] == 1
    assert "already paused" in invoke("feeds", "pause", url)[1]
    hits = feed_server.hits("/f.xml")
    assert invoke("run", "--once")[0] == 0
    assert feed_server.hits("/f.xml") == hits
    code, output = invoke("feeds", "poll", feed_id)
    assert code == 1 and "is paused" in output
    assert invoke("feeds", "resume", url)[1].startswith(f"resumed feed {feed_id}")
    assert invoke("run", "--once")[0] == 0
    assert feed_server.hits("/f.xml") == hits + 1
    assert invoke("replay", "--check")[0] == 0


def test_poll_polls_here_when_no_daemon_runs(env: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/f.xml", rss([("a", "Police training course", "x")]))
    assert invoke("feeds", "add", url, "--no-check")[0] == 0
    code, output = invoke("feeds", "poll", url)
    assert code == 0, output
    assert "new; 1 new entries, 1 matches, 0 alerts" in output  # the first poll is backlog


def test_poll_asks_the_running_daemon(sqlite_env: Path, feed_server: FeedServer) -> None:
    url = feed_server.serve("/f.xml", rss([("a", "One", "x")]))
    assert invoke("feeds", "add", url, "--no-check")[0] == 0
    with daemon_lock(sqlite_env / "log.db"):
        code, output = invoke("feeds", "poll", url)
    assert code == 0 and "asked the running daemon" in output
    events = invoke("events", "--type", "FeedPollRequested", "--json")[1].splitlines()
    assert len(events) == 1 and feed_server.hits("/f.xml") == 0


def test_remove_takes_a_url_and_refuses_an_ambiguous_prefix(env: Path) -> None:
    urls = (f"https://example.org/{n}.xml" for n in itertools.count())
    by_prefix: dict[str, str] = {}
    for url in urls:  # two URLs whose ids share their first 4 characters
        prefix = ev.feed_id_for(url)[:4]
        if prefix in by_prefix:
            pair = (by_prefix[prefix], url)
            break
        by_prefix[prefix] = url
    for url in pair:
        assert invoke("feeds", "add", url, "--no-check")[0] == 0
    code, output = invoke("feeds", "remove", prefix)
    assert code == 1 and "starts several feed ids" in output
    code, output = invoke("feeds", "remove", pair[0])
    assert code == 0 and f"removed feed {ev.feed_id_for(pair[0])}" in output
    code, output = invoke("feeds", "remove", "zzzz")
    assert code == 1 and "no feed has the id, id prefix" in output


def test_opml_folders_and_html_urls_survive_import_and_export(env: Path) -> None:
    opml = env / "in.opml"
    opml.write_text(
        '<opml version="2.0"><body>'
        '<outline text="Ministries"><outline text="MFA" xmlUrl="https://example.org/mfa.xml"'
        ' htmlUrl="https://example.org/mfa/"/>'
        '<outline text="MPS list" type="html" xmlUrl="https://example.org/mps/"/></outline>'
        '<outline text="Loose" xmlUrl="https://example.org/loose.xml"/></body></opml>'
    )
    assert invoke("feeds", "import", str(opml))[0] == 0
    assert sorted(str(r["kind"]) for r in rows()) == ["feed", "feed", "page"]
    code, exported = invoke("feeds", "export")
    assert code == 0
    assert '<outline text="Ministries" title="Ministries">' in exported
    assert 'xmlUrl="https://example.org/mfa.xml" htmlUrl="https://example.org/mfa/"' in exported
    assert '<outline type="html" text="MPS list"' in exported
    folder = exported.split('<outline text="Ministries"')[1].split("</outline>")[0]
    assert "mfa.xml" in folder and "loose.xml" not in folder


# --- the bot and the scheduler --------------------------------------------------------

ADMIN = Caller(2002, "private", "Boss", 7)


def test_the_bot_pauses_resumes_and_refreshes(tmp_path: Path, log_target: Path | str) -> None:
    settings = settings_for(tmp_path, telegram_admins=(7,), db=log_target)
    with Store(settings.db) as store:
        ctx = BotContext(store, lambda: load_ruleset(settings.rules), settings, store.clock)
        feed_id = feeds.add_feed(store, "https://example.org/rss.xml")
        assert "Paused feed" in handle_command(ctx, ADMIN, "pause", feed_id[:6]).text
        assert "is paused" in handle_command(ctx, ADMIN, "refresh", feed_id).text
        resumed = handle_command(ctx, ADMIN, "resume", "https://example.org/rss.xml").text
        assert "Resumed feed" in resumed
        assert "within a minute" in handle_command(ctx, ADMIN, "refresh", feed_id).text
        assert "No feed has the id" in handle_command(ctx, ADMIN, "pause", "nope").text
        stranger = Caller(1, "private", "X", 1)
        assert "admins only" in handle_command(ctx, stranger, "pause", feed_id).text
        state = feed_state(store, feed_id)
        assert state is not None and not state.paused and state.poll_requested_at is not None


async def test_the_scheduler_runs_a_requested_poll_now_and_drops_paused_feeds(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path)
    ruleset = load_ruleset(settings.rules)
    with Store(settings.db) as store:
        async with Fetcher(FetchPolicy()) as fetcher, ParserPool(1, 10) as parser:
            pipeline = Pipeline(store, fetcher, parser, lambda: ruleset)
            scheduler = PollScheduler(pipeline, jitter=0)
            polled = feeds.add_feed(store, feed_server.serve("/a.xml", rss([("a", "A", "x")])))
            paused = feeds.add_feed(store, feed_server.serve("/b.xml", rss([("b", "B", "y")])))
            scheduler.scheduler.start(paused=True)
            scheduler.sync_jobs()
            job = scheduler.scheduler.get_job(polled)
            job.modify(next_run_time=store.clock() + timedelta(hours=1))
            state = feed_state(store, polled)
            assert state is not None
            controls.request_poll(store, state)
            paused_state = feed_state(store, paused)
            assert paused_state is not None
            controls.pause_feed(store, paused_state)
            scheduler.sync_jobs()
            assert scheduler.scheduler.get_job(paused) is None
            due = scheduler.scheduler.get_job(polled).next_run_time
            assert due <= store.clock() + timedelta(seconds=1)
            await scheduler.shutdown()
