"""The bot's commands over a real log: events appended, replies bounded and escaped, access."""

from __future__ import annotations

import html.parser
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import settings_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.alerts.cutting import utf16_len
from monitor.bot.commands import (
    ADMIN_COMMANDS,
    COMMANDS,
    BotContext,
    Caller,
    Reply,
    handle_callback,
    handle_command,
)
from monitor.eventlog import events as ev
from monitor.eventlog.replay import replay
from monitor.eventlog.store import Store, read_events
from monitor.feeds import feed_list as feeds
from monitor.rules.matcher import RuleSet, load_ruleset

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
ADMIN_ID = 7
ALICE = Caller(1001, "private", "Alice", 11)
GROUP = Caller(-100500, "supergroup", "Analysts", 12, chat_admin=True)  # a group admin speaks
MEMBER = Caller(GROUP.chat_id, "supergroup", "Analysts", 13, chat_admin=False)
BOSS = Caller(2002, "private", "Boss", ADMIN_ID)
RULE_IDS = ("global-security-initiative", "police-training", "security-cooperation")


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_ruleset(ROOT / "rules")


@pytest.fixture
def store(log_target: Path | str) -> Iterator[Store]:
    with Store(log_target, clock=lambda: NOW) as opened:
        yield opened


def make_context(store: Store, tmp_path: Path, ruleset: RuleSet, **overrides: object) -> BotContext:
    values: dict[str, object] = {"telegram_admins": (ADMIN_ID,), "min_interval": 60}
    values.update(overrides)
    return BotContext(store, lambda: ruleset, settings_for(tmp_path, **values), lambda: NOW)


@pytest.fixture
def ctx(store: Store, tmp_path: Path, ruleset: RuleSet) -> BotContext:
    return make_context(store, tmp_path, ruleset)


class _HtmlChecker(html.parser.HTMLParser):
    """Accepts only Telegram's tags, balanced, and http(s) hrefs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ("b", "i", "a", "code"), tag
        if tag == "a":
            assert len(attrs) == 1 and (attrs[0][1] or "").startswith(("http://", "https://"))
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, tag


def run(ctx: BotContext, caller: Caller, command: str, args: str = "") -> Reply:
    return checked(handle_command(ctx, caller, command, args))


def press(ctx: BotContext, caller: Caller, data: str) -> Reply:
    return checked(handle_callback(ctx, caller, data))


def checked(reply: Reply) -> Reply:
    assert 0 < utf16_len(reply.text) <= 4096
    checker = _HtmlChecker()
    checker.feed(reply.text)
    checker.close()
    assert checker.open == []
    assert not re.search(r"&(?!(lt|gt|amp|quot|#x27);)", reply.text), "a bare & in the HTML"
    for row in reply.buttons:
        for button in row:
            assert len(button.data.encode()) <= 64 and button.text
    return reply


def events_of(store: Store, *types: str) -> list[ev.StoredEvent]:
    return read_events(store.db, types=types)


def subscriptions(store: Store, chat_id: int) -> set[str]:
    rows = store.db.execute("SELECT rule_id FROM subscriptions WHERE chat_id = ?", (chat_id,))
    return {r[0] for r in rows}


def seed_feed(store: Store, url: str = "http://127.0.0.1/feed.xml", title: str = "Xinhua") -> str:
    feed_id = ev.feed_id_for(url)
    store.append([ev.NewEvent(f"feed:{feed_id}", ev.FeedAdded(url=url, title=title), "added@0")])
    return feed_id


def seed_entry(
    store: Store,
    feed_id: str,
    n: int,
    title: str,
    link: str | None = None,
    rule_id: str = "police-training",
    recipients: tuple[int, ...] = (),
    published: datetime | None = None,
    level: str = "high",
) -> str:
    entry_id = ev.entry_id_for(feed_id, f"k{n}")
    stream = f"entry:{entry_id}"
    seen = ev.EntrySeen(
        feed_id=feed_id, key=f"k{n}", link=link, title=title, summary="text", published=published
    )
    matched = ev.RuleMatched(rule_id=rule_id, rule_version="v1", level=level, terms=["police"])
    new = [ev.NewEvent(stream, seen, "seen"), ev.NewEvent(stream, matched, f"{rule_id}@v1")]
    for chat_id in recipients:
        recipient = f"telegram:{chat_id}"
        alert = f"alert:{ev.alert_id_for(entry_id, recipient)}"
        queued = ev.AlertQueued(
            entry_id=entry_id, recipient=recipient, rules=[rule_id], level="high"
        )
        new += [
            ev.NewEvent(alert, queued, "queued"),
            ev.NewEvent(alert, ev.AlertDispatched(attempt=1), "dispatched@1"),
            ev.NewEvent(alert, ev.AlertSent(message_id=f"m{chat_id}"), "sent"),
        ]
    store.append(new)
    return entry_id


# --- /start, /help, /topics ---------------------------------------------------------


def test_start_registers_the_chat_once_and_offers_every_topic(ctx: BotContext) -> None:
    reply = run(ctx, ALICE, "start")
    assert [b.data for row in reply.buttons for b in row] == [f"sub:{r}" for r in RULE_IDS]
    assert all(row[0].text.startswith("Subscribe: ") for row in reply.buttons)
    assert 3 <= reply.text.count("\n") + 1 <= 5
    run(ctx, ALICE, "/start@monitor_bot")
    assert len(events_of(ctx.store, "ChatStarted")) == 1
    run(ctx, Caller(ALICE.chat_id, "private", "Alice B.", 11), "start")
    started = events_of(ctx.store, "ChatStarted")
    assert [e.data.title for e in started] == ["Alice", "Alice B."]  # type: ignore[attr-defined]


def test_help_shows_admin_commands_only_to_admins(ctx: BotContext) -> None:
    everyone = run(ctx, ALICE, "help").text
    admin = run(ctx, BOSS, "help").text
    for name, _ in COMMANDS:
        assert f"/{name}" in everyone
    for name, _ in ADMIN_COMMANDS:
        assert f"/{name}" not in everyone and f"/{name}" in admin


def test_unknown_command_gets_the_help(ctx: BotContext) -> None:
    reply = run(ctx, ALICE, "frobnicate<b>", "x")
    assert "Unknown command /frobnicate&lt;b&gt;" in reply.text and "/subscribe" in reply.text


def test_topics_buttons_follow_the_chats_state(ctx: BotContext) -> None:
    run(ctx, ALICE, "subscribe", "police-training")
    reply = run(ctx, ALICE, "topics")
    datas = [b.data for row in reply.buttons for b in row]
    assert "unsub:police-training" in datas and "sub:security-cooperation" in datas
    assert "Global Public Security Cooperation Forum" in reply.text  # the description


def test_button_labels_end_on_a_whole_word(ctx: BotContext, ruleset: RuleSet) -> None:
    titles = {rule.id: rule.title for rule in ruleset.rules}
    for [button] in run(ctx, ALICE, "topics").buttons:
        label, title = button.text.partition(": ")[2], titles[button.data.partition(":")[2]]
        assert label == title or (
            label.endswith("…") and title.startswith(label[:-1]) and title[len(label) - 1] in " ,"
        ), label


def test_a_press_offers_the_opposite_action_on_its_buttons(ctx: BotContext) -> None:
    datas = [b.data for [b] in press(ctx, ALICE, "sub:police-training").buttons]
    assert "unsub:police-training" in datas and "sub:security-cooperation" in datas
    datas = [b.data for [b] in press(ctx, ALICE, "unsub:police-training").buttons]
    assert "sub:police-training" in datas
    assert press(ctx, ALICE, "drop:x").buttons == ()


# --- subscriptions ------------------------------------------------------------------


def test_subscribe_unsubscribe_report_each_id(ctx: BotContext) -> None:
    reply = run(ctx, ALICE, "subscribe", "police-training, nope")
    assert "Subscribed: <code>police-training</code>" in reply.text
    assert "Unknown topic ids: <code>nope</code>" in reply.text
    assert all(rule in reply.text for rule in RULE_IDS)  # the valid ids are listed
    assert "Already subscribed" in run(ctx, ALICE, "subscribe", "POLICE-TRAINING").text
    run(ctx, ALICE, "subscribe", "all")
    assert subscriptions(ctx.store, ALICE.chat_id) == set(RULE_IDS)
    run(ctx, ALICE, "unsubscribe", "security-cooperation")
    assert "Already not following" in run(ctx, ALICE, "unsubscribe", "security-cooperation").text
    run(ctx, ALICE, "unsubscribe", "all")
    assert subscriptions(ctx.store, ALICE.chat_id) == set()
    assert len(events_of(ctx.store, "Subscribed")) == 3
    assert len(events_of(ctx.store, "Unsubscribed")) == 3
    assert len(events_of(ctx.store, "ChatStarted")) == 1  # registered by the first change


def test_subscribe_without_ids_lists_the_valid_ones(ctx: BotContext) -> None:
    reply = run(ctx, ALICE, "subscribe")
    assert "Usage" in reply.text and all(rule in reply.text for rule in RULE_IDS)
    assert events_of(ctx.store, "Subscribed") == []


def test_mysubs(ctx: BotContext) -> None:
    assert "no topics" in run(ctx, ALICE, "mysubs").text
    run(ctx, ALICE, "subscribe", "police-training")
    run(ctx, ALICE, "mute", "2h")
    text = run(ctx, ALICE, "mysubs").text
    assert "police-training" in text and "China trains foreign police" in text
    assert "Muted until 2026-11-30 11:00 UTC" in text


def test_level(ctx: BotContext) -> None:
    assert "is not a level" in run(ctx, ALICE, "level", "urgent").text
    assert "of level high and above" in run(ctx, ALICE, "level", "HIGH").text
    assert "already" in run(ctx, ALICE, "level", "high").text
    row = ctx.store.db.execute("SELECT min_level FROM chats WHERE id = ?", (ALICE.chat_id,))
    assert row.fetchone()[0] == "high"
    assert len(events_of(ctx.store, "ChatLevelSet")) == 1


def test_mute_and_unmute(ctx: BotContext) -> None:
    assert "not muted" in run(ctx, ALICE, "unmute").text
    assert "Muted until 2026-11-30 11:00 UTC" in run(ctx, ALICE, "mute", "2h").text
    muted = ctx.store.db.execute("SELECT muted_until FROM chats WHERE id = ?", (ALICE.chat_id,))
    assert muted.fetchone()[0] == "2026-11-30T11:00:00Z"
    assert "Unmuted" in run(ctx, ALICE, "unmute").text
    assert [e.type for e in events_of(ctx.store, "ChatMuted", "ChatUnmuted")] == [
        "ChatMuted",
        "ChatUnmuted",
    ]
    assert "Muted until 2026-12-30 09:00 UTC" in run(ctx, ALICE, "mute", "30d").text


@pytest.mark.parametrize(
    "duration",
    ["", "soon", "0m", "31d", "721h", "-5m", "99999999d", "5", "59s", "1w", "٣m", "1h30"],
)
def test_mute_refuses_bad_durations(ctx: BotContext, duration: str) -> None:
    reply = run(ctx, ALICE, "mute", duration)
    assert "30m, 2h or 1d" in reply.text
    assert events_of(ctx.store, "ChatMuted") == []


@pytest.mark.parametrize(
    ("duration", "until"),
    [
        ("1h30m", "2026-11-30 10:30"),
        ("1.5h", "2026-11-30 10:30"),
        ("90min", "2026-11-30 10:30"),
        ("1d12h", "2026-12-01 21:00"),
    ],
)
def test_mute_takes_compound_durations(ctx: BotContext, duration: str, until: str) -> None:
    assert f"Muted until {until} UTC" in run(ctx, ALICE, "mute", duration).text


# --- /recent, /search, /why ---------------------------------------------------------


def test_recent_shows_only_this_chats_topics_newest_first(ctx: BotContext) -> None:
    feed = seed_feed(ctx.store)
    for n in range(25):
        seed_entry(ctx.store, feed, n, f"Police item {n}", f"https://example.org/{n}")
    seed_entry(
        ctx.store, feed, 99, "GSI item", "https://example.org/gsi", "global-security-initiative"
    )
    assert "follows no topics" in run(ctx, ALICE, "recent").text
    run(ctx, ALICE, "subscribe", "police-training")
    text = run(ctx, ALICE, "recent").text
    assert text.count("<a href=") == 5 and "Police item 24" in text and "GSI item" not in text
    assert "Xinhua" in text
    assert run(ctx, ALICE, "recent", "20").text.count("<a href=") == 20
    for bad in ("0", "21", "five", "-1", "1e3", "٣"):
        assert "Usage: /recent" in run(ctx, ALICE, "recent", bad).text


def test_recent_is_in_date_order_and_keeps_to_the_chats_level(ctx: BotContext) -> None:
    feed = seed_feed(ctx.store)
    # Matched (seq) order differs from date order: a late-found old entry, an undated one.
    dated = [("Older", 3, "high"), ("Newest", 1, "critical"), ("Middle", 2, "medium")]
    for n, (title, days_ago, level) in enumerate(dated):
        published = NOW - timedelta(days=days_ago)
        seed_entry(ctx.store, feed, n, f"{title} item", published=published, level=level)
    seed_entry(ctx.store, feed, 9, "Undated item", level="low")  # seen NOW: the newest
    run(ctx, ALICE, "subscribe", "police-training")
    text = run(ctx, ALICE, "recent").text
    titles = re.findall(r"(\w+) item", text)
    assert titles == ["Undated", "Newest", "Middle", "Older"]
    run(ctx, ALICE, "level", "high")
    text = run(ctx, ALICE, "recent").text
    assert re.findall(r"(\w+) item", text) == ["Newest", "Older"]
    assert "level high and above" in text
    run(ctx, ALICE, "level", "critical")
    assert re.findall(r"(\w+) item", run(ctx, ALICE, "recent", "1").text) == ["Newest"]
    seed_entry(ctx.store, feed, 10, "Other item", rule_id="security-cooperation", level="critical")
    assert "Other" not in run(ctx, ALICE, "recent").text


def test_search_finds_words_and_escapes_titles(ctx: BotContext) -> None:
    feed = seed_feed(ctx.store)
    seed_entry(ctx.store, feed, 1, "Serbia police <script>alert(1)</script>", "https://x.org/1")
    seed_entry(ctx.store, feed, 2, "中国为塞尔维亚警务培训合作", "javascript:alert(1)")
    text = run(ctx, ALICE, "search", "serbia POLICE").text
    assert "&lt;script&gt;" in text and "<script" not in text
    assert 'href="https://x.org/1"' in text
    cjk = run(ctx, ALICE, "search", "警务培训").text
    assert "中国为塞尔维亚警务培训合作" in cjk and "javascript" not in cjk
    assert "No stored entry" in run(ctx, ALICE, "search", "absent").text


@pytest.mark.parametrize(
    ("query", "found"),
    [('"', False), ('"police', True), ("police*", True), ("*", False), ("((police", True),
     (")", False), ("!!! ??? ...", False), ("^police", True), ("police -serbia", True),
     ("NEAR(police serbia", False), ("police AND OR", False), ("col:police", False),
     ("50%_\\", False), ("a\x00b", False), ("police-training", True)],
)  # fmt: skip
def test_search_reads_fts_syntax_as_plain_words(ctx: BotContext, query: str, found: bool) -> None:
    # Each word is searched as written; punctuation only separates the parts of a word.
    feed = seed_feed(ctx.store)
    seed_entry(ctx.store, feed, 1, "Serbia police training", "https://x.org/1")
    reply = run(ctx, ALICE, "search", query)
    assert ("Serbia police training" in reply.text) == found
    assert "Usage: /search" in reply.text or "No stored entry" in reply.text or found


def test_why_tells_the_story_of_a_known_entry(ctx: BotContext) -> None:
    feed = seed_feed(ctx.store)
    seed_entry(ctx.store, feed, 1, "Police training", "https://x.org/a", recipients=(1001, 3003))
    text = run(ctx, ALICE, "why", "https://x.org/a/").text
    assert "Xinhua" in text and "police-training" in text and "police" in text
    assert "Alert to this chat: <b>sent</b>" in text and "attempt 1" in text
    assert "1 alert(s) to other recipients" in text and "3003" not in text
    admin = run(ctx, BOSS, "why", "https://x.org/a?utm_source=tg").text
    assert "telegram:3003" in admin and "telegram:1001" in admin
    in_a_group = run(ctx, Caller(-100777, "group", "Team", ADMIN_ID), "why", "https://x.org/a")
    assert "2 alert(s) to other recipients" in in_a_group.text and "3003" not in in_a_group.text


def test_why_for_an_unknown_or_bad_url(ctx: BotContext) -> None:
    assert "no entry with the link" in run(ctx, ALICE, "why", "https://x.org/none").text
    assert "Usage: /why" in run(ctx, ALICE, "why", "not a url").text
    assert "Usage: /why" in run(ctx, ALICE, "why").text


# --- admin --------------------------------------------------------------------------


@pytest.mark.parametrize("command", [name for name, _ in ADMIN_COMMANDS])
def test_admin_commands_refuse_others(ctx: BotContext, command: str) -> None:
    reply = run(ctx, ALICE, command, "https://example.org/feed.xml")
    assert "admins only" in reply.text
    assert events_of(ctx.store, "FeedAdded", "FeedRemoved") == []


def test_addfeed_removefeed_feeds(ctx: BotContext) -> None:
    reply = run(ctx, BOSS, "addfeed", "https://example.org/rss 10s")
    feed_id = ev.feed_id_for("https://example.org/rss")
    assert f"<code>{feed_id}</code>" in reply.text and "raised to 1m" in reply.text
    row = ctx.store.db.execute("SELECT origin, interval FROM feeds WHERE id = ?", (feed_id,))
    assert tuple(row.fetchone()) == (f"telegram:{BOSS.chat_id}", 60.0)
    assert "already monitored" in run(ctx, BOSS, "addfeed", "https://example.org/rss").text
    assert feed_id in run(ctx, BOSS, "feeds").text
    assert "Removed feed" in run(ctx, BOSS, "removefeed", feed_id).text
    assert "No feed has the id" in run(ctx, BOSS, "removefeed", feed_id).text
    assert "No feeds yet" in run(ctx, BOSS, "feeds").text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", "Usage: /addfeed"),
        ("ftp://example.org/rss", "not an http"),
        ("https://example.org/rss soon", "not a duration"),
        ("https://example.org/rss 30d", "at most 7d"),
        ("http://127.0.0.1/feed", "sets MONITOR_ALLOW_PRIVATE_FEEDS=true"),
        ("http://[::ffff:10.0.0.1]/feed", "not a public address"),
        ("http://169.254.169.254/latest", "not a public address"),
        ("https://example.org/rss 1h extra", "Usage: /addfeed"),
    ],
)
def test_addfeed_refuses_bad_input(ctx: BotContext, args: str, expected: str) -> None:
    assert expected in run(ctx, BOSS, "addfeed", args).text
    assert events_of(ctx.store, "FeedAdded") == []


def test_status_lists_failing_feeds_with_their_error(ctx: BotContext) -> None:
    feed = seed_feed(ctx.store)
    failed = ev.FeedFailed(kind="timeout", detail="<no answer>", failures=3, next_poll_at=NOW)
    ctx.store.append([ev.NewEvent(f"feed:{feed}", failed, "failed@1")])
    text = run(ctx, BOSS, "status").text
    assert "Feeds: 1 (1 failing)" in text and "timeout: &lt;no answer&gt;" in text
    assert "0 pending" in text


# --- access and hostile input -------------------------------------------------------


def test_a_closed_bot_answers_strangers_with_their_chat_id(
    store: Store, tmp_path: Path, ruleset: RuleSet
) -> None:
    ctx = make_context(
        store, tmp_path, ruleset, telegram_open=False, telegram_allowed_chats=(GROUP.chat_id,)
    )
    for command in ("subscribe", "topics", "recent", "search", "why", "mute"):
        assert "<code>1001</code>" in run(ctx, ALICE, command, "all").text
    start = run(ctx, ALICE, "start")
    assert "<code>1001</code>" in start.text and start.buttons == ()
    assert "<code>1001</code>" in press(ctx, ALICE, "sub:police-training").text
    assert "/subscribe" in run(ctx, ALICE, "help").text
    assert events_of(store, "ChatStarted", "Subscribed") == []
    run(ctx, GROUP, "subscribe", "police-training")
    run(ctx, BOSS, "subscribe", "police-training")
    assert (
        subscriptions(store, GROUP.chat_id)
        == subscriptions(store, BOSS.chat_id)
        == {"police-training"}
    )


@pytest.mark.parametrize(
    ("command", "args"),
    [("subscribe", "all"), ("unsubscribe", "all"), ("level", "high"), ("mute", "1h"),
     ("unmute", ""), ("subscribe", "")],
)  # fmt: skip
def test_only_a_groups_admins_change_its_settings(ctx: BotContext, command: str, args: str) -> None:
    reply = run(ctx, MEMBER, command, args)
    assert "Only this group's administrators" in reply.text
    unknown = Caller(GROUP.chat_id, "supergroup", "Analysts", 13)  # getChatMember failed
    assert "could not check" in run(ctx, unknown, command, args).text
    assert events_of(ctx.store) == []


def test_group_members_read_bot_admins_change_private_chats_as_before(ctx: BotContext) -> None:
    for command in ("start", "help", "topics", "mysubs", "recent"):
        assert "administrators" not in run(ctx, MEMBER, command).text
    assert "Only this group's administrators" in press(ctx, MEMBER, "sub:police-training").text
    assert subscriptions(ctx.store, GROUP.chat_id) == set()
    boss_in_group = Caller(GROUP.chat_id, "supergroup", "Analysts", ADMIN_ID, chat_admin=False)
    assert "Subscribed" in run(ctx, boss_in_group, "subscribe", "police-training").text
    assert "Subscribed" in run(ctx, ALICE, "subscribe", "police-training").text  # private
    channel = Caller(-100900, "channel", "News", None)  # a channel post: as today
    assert "Subscribed" in run(ctx, channel, "subscribe", "police-training").text


def test_forged_button_data_changes_only_the_pressing_chat(ctx: BotContext) -> None:
    run(ctx, ALICE, "subscribe", "police-training")
    assert "Subscribed to" in press(ctx, GROUP, "sub:security-cooperation").text
    press(ctx, GROUP, "unsub:police-training")  # Alice's button, pressed in the group
    assert subscriptions(ctx.store, ALICE.chat_id) == {"police-training"}
    assert subscriptions(ctx.store, GROUP.chat_id) == {"security-cooperation"}
    for data in ("sub:1001:police-training", "unsub:nope", "unsub:police-training\u200b"):
        assert "not offered" in press(ctx, GROUP, data).text
    bad = ("", "sub:", "sub", "drop:police-training", "subscribe:police-training", "\x00")
    for data in (*bad, "sub:" + "x" * 80, "sub:" + "é" * 31):
        assert "Unknown button" in press(ctx, GROUP, data).text
    assert subscriptions(ctx.store, GROUP.chat_id) == {"security-cooperation"}


def test_a_stale_button_says_what_is_true_and_appends_nothing(ctx: BotContext) -> None:
    run(ctx, ALICE, "start")
    before = len(events_of(ctx.store))
    reply = press(ctx, ALICE, "unsub:police-training")
    assert "was not subscribed to China trains foreign police" in reply.text
    assert "Unsubscribed" not in reply.text
    press(ctx, ALICE, "sub:police-training")
    assert "already follows" in press(ctx, ALICE, "sub:police-training").text
    assert len(events_of(ctx.store)) == before + 1  # the one real change
    stranger = Caller(5005, "private", "Stranger", 55)
    assert "was not subscribed" in press(ctx, stranger, "unsub:security-cooperation").text
    assert ctx.store.db.execute("SELECT 1 FROM chats WHERE id = 5005").fetchone() is None
    assert "not offered" in press(ctx, ALICE, "unsub:no-such-rule").text
    assert len(events_of(ctx.store)) == before + 1


def test_huge_arguments_are_refused_not_cut(ctx: BotContext) -> None:
    reply = run(ctx, BOSS, "addfeed", "https://example.org/" + "a" * 5000)
    assert "at most 1000" in reply.text
    assert events_of(ctx.store, "FeedAdded") == []


def test_odd_unicode_is_cleaned_before_use(ctx: BotContext) -> None:
    odd = Caller(4004, "group", "Team\x00\u202e\u200bRed\ud800", 44, chat_admin=True)
    reply = run(ctx, odd, "sub\u200bscribe", "police\u200b-training\u202e \x00")
    assert "Subscribed" in reply.text
    title = ctx.store.db.execute("SELECT title FROM chats WHERE id = 4004").fetchone()[0]
    assert title == "TeamRed"
    run(ctx, odd, "search", "\ud800\u200b\u202e")
    run(ctx, odd, "why", "https://x.org/\u202e\x00")


def test_replies_stay_within_telegrams_limit(ctx: BotContext) -> None:
    feed = seed_feed(ctx.store, title="F" * 5000)
    for n in range(30):
        title = "<script>police</script> " + "长" * 3000 + "😀" * 500
        seed_entry(ctx.store, feed, n, title, "https://x.org/" + "p" * 900, recipients=(1001,))
        other = seed_feed(ctx.store, f"https://example.org/{n}/" + "q" * 900, title="&" * 3000)
        failed = ev.FeedFailed(kind="dns", detail="<" * 900, failures=n + 1, next_poll_at=NOW)
        ctx.store.append([ev.NewEvent(f"feed:{other}", failed, "failed@1")])
    run(ctx, ALICE, "subscribe", "all")
    commands = [("recent", "20"), ("search", "police"), ("feeds", ""), ("status", "")]
    for command, args in commands:
        reply = run(ctx, BOSS if command in ("feeds", "status") else ALICE, command, args)
        assert "<script" not in reply.text and "more lines not shown" in reply.text
    assert "<script" not in run(ctx, BOSS, "why", "https://x.org/" + "p" * 900).text


def test_replay_equals_the_projections_after_a_session(ctx: BotContext) -> None:
    seed_entry(ctx.store, seed_feed(ctx.store), 1, "Police", "https://x.org/1", recipients=(1001,))
    for caller in (ALICE, GROUP, BOSS):
        run(ctx, caller, "start")
        run(ctx, caller, "subscribe", "all")
        run(ctx, caller, "unsubscribe", "security-cooperation")
        run(ctx, caller, "level", "medium")
        run(ctx, caller, "mute", "1d")
        run(ctx, caller, "unmute")
        press(ctx, caller, "sub:security-cooperation")
    run(ctx, BOSS, "addfeed", "https://example.org/rss 5m")
    run(ctx, BOSS, "removefeed", ev.feed_id_for("https://example.org/rss"))
    assert replay(ctx.store, write=False).identical


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    command=st.sampled_from([n for n, _ in COMMANDS + ADMIN_COMMANDS] + ["x"]),
    args=st.text(max_size=300),
    admin=st.booleans(),
)
def test_any_input_gets_a_bounded_reply(
    ctx: BotContext, command: str, args: str, admin: bool
) -> None:
    checked(handle_command(ctx, BOSS if admin else ALICE, command, args))
    checked(handle_callback(ctx, ALICE, args[:70]))


def test_a_feed_removed_from_chat_is_not_added_back_by_the_opml_sync(
    ctx: BotContext, tmp_path: Path
) -> None:
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<opml><body><outline text="R" xmlUrl="https://example.org/rss"/></body></opml>'
    )
    [url] = feeds.sync_opml(ctx.store, opml).added
    assert "Removed feed" in run(ctx, BOSS, "removefeed", ev.feed_id_for(url)).text
    [removal] = events_of(ctx.store, "FeedRemoved")
    assert removal.data == ev.FeedRemoved(
        reason=f"removed from Telegram by {BOSS.user_id}", origin=f"telegram:{BOSS.chat_id}"
    )
    report = feeds.sync_opml(ctx.store, opml)
    assert (report.added, report.skipped) == ([], [url])


def test_a_refused_write_is_a_reply_not_a_crash(tmp_path: Path, ruleset: RuleSet) -> None:
    """A MonitorError (here the write lock held by another process) becomes the reply."""
    with Store(tmp_path / "locked.db", clock=lambda: NOW, busy_timeout=0.1) as store:
        ctx = make_context(store, tmp_path, ruleset)
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            reply = run(ctx, ALICE, "subscribe", "police-training").text
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert "another process holds the write lock" in reply and "Nothing was done" in reply
        assert events_of(store, "Subscribed") == []
