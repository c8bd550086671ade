"""Stories through the real pipeline: the same item through two feeds alerts once; a rewrite
joins by its summary; the index survives a restart; replay rebuilds the same tables."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fakes.feed_server import FeedServer
from helpers import rss, settings_for
from typer.testing import CliRunner

from monitor import daemon
from monitor.bot.commands import BotContext, Caller, handle_command
from monitor.cli.app import app
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store, read_events
from monitor.feeds import feed_list as feeds
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parser_pool import ParserPool
from monitor.fetch_policy import FetchPolicy
from monitor.poll.pipeline import Pipeline, PollPolicy
from monitor.poll.stories import StoryPolicy
from monitor.rules.matcher import load_ruleset

WIRE = (
    "w1",
    "China to expand police training for foreign officers",
    "Beijing will train 3,000 police officers from developing countries over the next year,"
    " the public security minister told a forum in Lianyungang on Monday.",
)
# Another outlet's rewrite: another headline and link, the wire copy's summary barely changed.
REWRITE = (
    "x7",
    "Beijing pledges police courses for thousands of foreign officers",
    "Beijing will train 3,000 police officers from developing countries over the next year,"
    " the public security minister told the forum in Lianyungang on Monday, state media said.",
)
# The same country, another event: must not join.
OTHER = (
    "o1",
    "China and Laos sign a police training agreement",
    "Laos will send officers to Chinese police colleges under an agreement signed in Vientiane"
    " on Tuesday by the two countries' ministers.",
)
PLAIN = ("p1", "Rain expected in the capital", "Weather news.")


def run_once(settings, lines: list[str]) -> None:
    asyncio.run(daemon.run_once(settings, write=lines.append))


def add_feeds(settings, *urls: str) -> None:
    with Store(settings.db) as store:
        for url in urls:
            feeds.add_feed(store, url)


def story_rows(settings) -> list[tuple]:
    with Store(settings.db) as store:
        return [
            tuple(r)
            for r in store.db.execute(
                "SELECT s.id, s.entries, s.outlets, group_concat(se.how) FROM stories s"
                " JOIN story_entries se ON se.story_id = s.id GROUP BY s.id ORDER BY s.seq"
            )
        ]


def test_the_same_item_in_two_feeds_is_one_story_and_one_alert(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    one = feed_server.serve("/one.xml", rss([PLAIN], title="Outlet One"))
    two = feed_server.serve("/two.xml", rss([("p2", "Markets", "Prices.")], title="Outlet Two"))
    add_feeds(settings, one, two)
    lines: list[str] = []
    run_once(settings, lines)  # the backlog
    feed_server.serve("/one.xml", rss([WIRE, PLAIN], title="Outlet One"))
    feed_server.serve("/two.xml", rss([WIRE], title="Outlet Two"))  # same link, same utm

    run_once(settings, lines)

    assert len([line for line in lines if line.startswith("ALERT")]) == 1
    stories = [row for row in story_rows(settings) if row[1] > 1]
    assert [(entries, outlets, how) for _, entries, outlets, how in stories] == [(2, 2, "new,url")]
    with Store(settings.db) as store:
        kinds = [e.type for e in read_events(store.db, types=("StoryStarted", "StoryJoined"))]
        assert kinds.count("StoryJoined") == 1
        assert replay(store, write=False).identical


def test_a_rewrite_joins_after_a_restart_and_another_event_does_not(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    one = feed_server.serve("/one.xml", rss([PLAIN], title="Outlet One"))
    two = feed_server.serve("/two.xml", rss([("p2", "Markets", "Prices.")], title="Outlet Two"))
    add_feeds(settings, one, two)
    lines: list[str] = []
    run_once(settings, lines)
    feed_server.serve("/one.xml", rss([WIRE, PLAIN], title="Outlet One"))
    run_once(settings, lines)  # the story starts; this run ends (the index is gone)
    feed_server.serve("/two.xml", rss([REWRITE, OTHER], title="Outlet Two"))

    run_once(settings, lines)  # a new pipeline: the index is rebuilt from the log

    alerts = [line for line in lines if line.startswith("ALERT")]
    assert len(alerts) == 2, alerts  # the wire story once, the other event once
    assert any("Laos" in line for line in alerts)
    joined = [row for row in story_rows(settings) if row[1] > 1]
    assert [(entries, outlets, how) for _, entries, outlets, how in joined] == [(2, 2, "new,text")]
    with Store(settings.db) as store:
        assert replay(store, write=False).identical


def test_a_first_poll_joins_by_url_only_and_a_later_rewrite_of_it_alerts(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    # A feed's first poll is its history: its entries are not compared (that was most of
    # a first pass's time and memory), so a rewrite of one starts its own story; the
    # same URL still joins (and alerts: the story had none).
    settings = settings_for(tmp_path, db=log_target)
    one = feed_server.serve("/one.xml", rss([WIRE], title="Outlet One"))
    add_feeds(settings, one)
    lines: list[str] = []
    run_once(settings, lines)  # the backlog: WIRE, not alerted
    two = feed_server.serve("/two.xml", rss([PLAIN], title="Outlet Two"))
    add_feeds(settings, two)
    run_once(settings, lines)  # two's backlog
    feed_server.serve("/two.xml", rss([REWRITE, PLAIN], title="Outlet Two"))
    run_once(settings, lines)  # the rewrite: a story of its own
    feed_server.serve("/two.xml", rss([WIRE, REWRITE, PLAIN], title="Outlet Two"))
    run_once(settings, lines)  # WIRE's own link: it joins the first poll's story

    alerts = [line for line in lines if line.startswith("ALERT")]
    assert len(alerts) == 1 and "expand" in alerts[0], alerts  # the story's first alert
    rows = story_rows(settings)
    assert [(entries, outlets, how) for _, entries, outlets, how in rows] == [
        (2, 2, "new,url"),  # WIRE, first by the first poll, then by its link
        (1, 1, "new"),  # PLAIN
        (1, 1, "new"),  # the rewrite, not compared with the first poll's WIRE
    ]
    with Store(settings.db) as store:
        assert replay(store, write=False).identical


def test_recent_search_and_the_stories_view_show_each_story_once(
    tmp_path: Path, log_target: Path | str, feed_server: FeedServer
) -> None:
    settings = settings_for(tmp_path, db=log_target)
    one = feed_server.serve("/one.xml", rss([PLAIN], title="Outlet One"))
    two = feed_server.serve("/two.xml", rss([("p2", "Markets", "Prices.")], title="Outlet Two"))
    add_feeds(settings, one, two)
    run_once(settings, [])
    feed_server.serve("/one.xml", rss([WIRE, PLAIN], title="Outlet One"))
    feed_server.serve("/two.xml", rss([WIRE, OTHER], title="Outlet Two"))
    run_once(settings, [])
    chat = Caller(501, "private", "Reader", 501)
    with Store(settings.db) as store:
        ctx = BotContext(store, lambda: load_ruleset(settings.rules), settings, store.clock)
        handle_command(ctx, chat, "subscribe", "police-test")

        recent = handle_command(ctx, chat, "recent", "").text
        found = handle_command(ctx, chat, "search", "police training").text

    assert recent.count("expand police training") == 1 and "2 outlets" in recent
    assert "Laos" in recent  # the other event is its own story
    assert found.count("expand police training") == 1 and "2 outlets" in found
    listed = CliRunner().invoke(app, ["stories", "--json"], obj=settings)
    assert listed.exit_code == 0, listed.output
    stories = {row["title"]: row for row in json.loads(listed.output)}
    wire = stories["China to expand police training for foreign officers"]
    assert (wire["entries"], wire["outlets"]) == (2, 2)
    assert sorted(wire["outlet_names"].split(", ")) == ["Outlet One", "Outlet Two"]
    table = CliRunner().invoke(app, ["stories", "--wide"], obj=settings, env={"COLUMNS": "300"})
    assert wire["outlet_names"] in table.output
    out = tmp_path / "report.html"
    report = CliRunner().invoke(app, ["report", "--out", str(out)], obj=settings)
    assert report.exit_code == 0, report.output
    page = out.read_text(encoding="utf-8")
    assert "Stories carried by the most outlets" in page and "stories started" in page
    assert "expand police training" in page.split("Stories carried")[1]


def test_the_index_bound_is_the_setting(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, story_index_entries=1500)
    policy = daemon.poll_policy(settings)
    assert policy.stories.max_entries == 1500
    with Store(settings.db) as store:
        pipeline = Pipeline(store, None, None, lambda: load_ruleset(settings.rules), policy=policy)  # type: ignore[arg-type]
        pipeline.prepare()
        assert pipeline.stories is not None and pipeline.stories.policy.max_entries == 1500


async def test_a_full_index_keeps_what_alerted_so_a_late_copy_does_not_alert_again(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """Entries that matched no rule leave a full index first: the alerted story stays."""
    settings = settings_for(tmp_path)
    one = feed_server.serve("/one.xml", rss([PLAIN], title="Outlet One"))
    two = feed_server.serve("/two.xml", rss([("p2", "Markets", "Prices.")], title="Outlet Two"))
    policy = PollPolicy(stories=StoryPolicy(max_entries=2))
    unmatched = [(f"u{n}", f"Weather report number {n} for the coast", "Rain.") for n in range(3)]
    with Store(settings.db) as store:
        add_feeds(settings, one, two)
        rules = load_ruleset(settings.rules)
        async with Fetcher(FetchPolicy()) as fetcher, ParserPool(workers=1) as parser:
            pipeline = Pipeline(store, fetcher, parser, lambda: rules, policy=policy)
            await daemon.poll_all(pipeline)  # the backlogs
            feed_server.serve("/one.xml", rss([WIRE, PLAIN], title="Outlet One"))
            await daemon.poll_all(pipeline)  # WIRE alerts
            feed_server.serve("/one.xml", rss([*unmatched, WIRE, PLAIN], title="Outlet One"))
            await daemon.poll_all(pipeline)  # three newer entries that alert nobody
            copy = ("w9", WIRE[1], WIRE[2])  # the same report under another link
            feed_server.serve("/two.xml", rss([copy], title="Outlet Two"))
            await daemon.poll_all(pipeline)

        alerts = store.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]
    assert alerts == 1
    joined = [row for row in story_rows(settings) if row[1] > 1]
    assert [(entries, outlets, how) for _, entries, outlets, how in joined] == [(2, 2, "new,title")]
