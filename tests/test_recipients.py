"""Who hears of a match: a pure choice over the match, the audience and the subscribers."""

from __future__ import annotations

from pathlib import Path

from monitor.eventlog import events as ev
from monitor.eventlog.queries.chats import Subscriber, subscribers
from monitor.eventlog.store import Store
from monitor.poll.recipients import CONSOLE, Audience, recipients_of
from monitor.rules.matcher import MatchResult, RuleHit


def result(*levels: tuple[str, str]) -> MatchResult:
    hits = tuple(RuleHit(rule, "v", level, rule, (), ()) for rule, level in levels)
    return MatchResult(rules=hits, entities=())


TELEGRAM = Audience(console=False, channel="-100", channel_level="high")
SUBS = [Subscriber(1, "pt", "info"), Subscriber(1, "sc", "info"), Subscriber(2, "pt", "high")]


def test_the_console_hears_every_match() -> None:
    assert recipients_of(result(("pt", "low"), ("sc", "high")), Audience()) == [
        (CONSOLE, ["pt", "sc"])
    ]
    assert recipients_of(result(), Audience()) == []


def test_chats_hear_their_rules_at_or_above_their_level() -> None:
    low = recipients_of(result(("pt", "low")), TELEGRAM, SUBS)
    assert low == [("telegram:1", ["pt"])]
    high = recipients_of(result(("pt", "high"), ("sc", "low")), TELEGRAM, SUBS)
    assert high == [
        ("telegram:-100", ["pt", "sc"]),
        ("telegram:1", ["pt", "sc"]),
        ("telegram:2", ["pt"]),
    ]


def test_subscribers_are_the_chats_that_can_be_reached(log_target: Path | str) -> None:
    with Store(log_target) as store:
        for chat in (1, 2, 3):
            stream = f"chat:{chat}"
            store.append([
                ev.NewEvent(stream, ev.ChatStarted(chat_id=chat, title="c", kind="private"), "s"),
                ev.NewEvent(stream, ev.Subscribed(chat_id=chat, rule_id="pt"), "sub"),
            ])  # fmt: skip
        store.append([ev.NewEvent("chat:2", ev.ChatBlocked(chat_id=2, reason="403"), "b")])
        moved = ev.ChatMigrated(chat_id=3, new_chat_id=4)
        store.append([ev.NewEvent("chat:3", moved, "m")])
        # chat 2 blocked the bot; chat 3's subscriptions moved with it to chat 4
        assert subscribers(store, ["pt", "other"]) == [
            Subscriber(1, "pt", "info"),
            Subscriber(4, "pt", "info"),
        ]
