"""Every event the log can hold: one pydantic payload model per type, named in the past tense.

An event's id is a uuid5 of its stream, type and natural key, so appending the same
fact twice (a re-run after a crash) is recognised and skipped.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from pydantic import BaseModel, ConfigDict

_NAMESPACE = uuid.UUID("6f1c7c52-3e0b-4d1e-9b7e-2a4f5d8c9e10")


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- source kinds: what a page watch reads (issue 13) -------------------------------


class PageSelectors(Payload):
    """How a page watch finds its entries: CSS selectors (XPath with `xpath`); the item
    selector is absolute, the others relative to an item. Empty item: found automatically."""

    item: str = ""
    title: str = ""
    link: str = ""
    date: str = ""
    summary: str = ""
    xpath: bool = False


class FeedAdded(Payload):
    url: str
    title: str = ""
    interval: float | None = None  # seconds; None means the configured default
    origin: str = "cli"  # "opml:<path>", "cli", "telegram:<chat id>"
    kind: str = "feed"  # "feed", "page" (a page watch) or "sitemap"
    selectors: PageSelectors | None = None  # a page watch's; None: found automatically
    html_url: str | None = None  # the site's page (OPML htmlUrl)
    category: str | None = None  # the OPML folder it came from, kept on export
    # Read the linked page of each new entry on a topic, and match its text (poll.articles).
    fetch_article: bool = False


class FeedRemoved(Payload):
    reason: str = ""
    # Who removed it: "cli" or "telegram:<chat id>" (by hand), or "opml:<path>" (the sync).
    # Empty in removals logged before the origin was recorded (monitor.feeds reads those).
    origin: str = ""


class FeedMoved(Payload):
    old_url: str
    new_url: str


class FeedFetched(Payload):
    """The feed answered with new validators or new content (not every 304)."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    title: str | None = None
    new_entries: int = 0


class FeedFailed(Payload):
    kind: str
    detail: str
    status: int | None = None
    failures: int  # consecutive failures, this one included
    next_poll_at: datetime


class FeedRecovered(Payload):
    failures: int  # how many consecutive failures it recovered from


class EntrySeen(Payload):
    feed_id: str
    key: str
    link: str | None = None
    title: str = ""
    summary: str = ""
    published: datetime | None = None
    author: str | None = None
    lang: str | None = None
    backlog: bool = False  # seen on a feed's first poll: recorded, never alerted
    future_date: bool = False  # published was in the future and was clamped to the poll time
    content: str = ""  # the full text (bounded, feeds.records.CONTENT_LIMIT); "" when none
    # The parser's digest of the raw entry (monitor.feeds.entry_digest): a later body with
    # the same digest repeats this entry, which is then not built again.
    digest: str | None = None


class Quantity(BaseModel):
    """A quantity a match found ("3,000 foreign officers"): part of RuleMatched, not an event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    amount: float
    unit: str  # "officers", "training opportunities", "名", "VT"
    kind: str  # people | places | courses | items | money
    text: str  # as written
    field: str
    start: int  # offsets into the field's original text
    end: int
    act: str = ""  # the kind of act in its clause (training, donation, ...)
    status: str = ""  # "done", "pledged" or ""
    period: str = ""  # "in the past year", "over five years", 明年
    counterpart: str = ""  # entity id of the country or region named with it
    region: str = ""  # the counterpart's broad region


class RuleMatched(Payload):
    rule_id: str
    rule_version: str
    level: str
    terms: list[str] = []
    spans: list[tuple[str, int, int]] = []
    entities: list[str] = []  # entity ids found in the entry
    # What was found, for analysts (monitor.rules.findings); empty in older events.
    actors: list[str] = []  # entity ids: the state first, then who acts for it
    counterparts: list[str] = []  # entity ids
    acts: list[str] = []  # training, agreement, donation, joint-operation, forum, station
    quantities: list[Quantity] = []


class AlertQueued(Payload):
    entry_id: str
    recipient: str  # "console", or "telegram:<chat id>"
    rules: list[str]
    level: str


class AlertDispatched(Payload):
    """Handed to the sink: the alert is in flight until the outcome is recorded."""

    attempt: int


class AlertSent(Payload):
    message_id: str | None = None
    outlets: int = 0  # how many of its story's outlets the message names (0: no story)


class AlertDeferred(Payload):
    reason: str
    not_before: datetime


class AlertFailed(Payload):
    reason: str


class AlertUncertain(Payload):
    reason: str


class ChatStarted(Payload):
    chat_id: int
    title: str = ""
    kind: str = "private"


class Subscribed(Payload):
    chat_id: int
    rule_id: str


class Unsubscribed(Payload):
    chat_id: int
    rule_id: str


class ChatBlocked(Payload):
    chat_id: int
    reason: str = ""


class ChatMigrated(Payload):
    """A group became a supergroup: its subscriptions and settings move to the new id."""

    chat_id: int
    new_chat_id: int


class ChatLevelSet(Payload):
    chat_id: int
    level: str  # the lowest level this chat is alerted for


class ChatMuted(Payload):
    """Alerts still arrive while muted, but silently (no notification)."""

    chat_id: int
    until: datetime


class ChatUnmuted(Payload):
    chat_id: int


# --- operator controls of a feed (issue 13) ------------------------------------------


class FeedPaused(Payload):
    """Not polled until FeedResumed; its entries stay."""

    origin: str = "cli"  # "cli" or "telegram:<chat id>"


class FeedResumed(Payload):
    origin: str = "cli"


class FeedPollRequested(Payload):
    """Poll it now: the running daemon polls it at its next look at the feed list."""

    origin: str = "cli"


# --- article text: a source's new entries read on their linked pages (issue 13) -------


class FeedArticlesSet(Payload):
    """Whether the source's new entries on a topic have their linked page fetched and read."""

    fetch_article: bool
    origin: str = "cli"  # "cli" or "telegram:<chat id>"


class RuleVersion(Payload):
    id: str
    version: str
    level: str
    title: str


class RulesLoaded(Payload):
    version: str
    rules: list[RuleVersion]


# --- stories: an entry starts a story or joins one; a sent alert is edited as outlets join ---


class StoryStarted(Payload):
    """The entry is the first of a story; the story's id is the entry's id."""

    entry_id: str
    feed_id: str
    outlet: str  # who published it: the feed's title, or the outlet an aggregator names
    title: str = ""
    url_key: str | None = None  # the canonical URL (monitor.poll.similarity)


class StoryJoined(Payload):
    entry_id: str
    feed_id: str
    outlet: str
    how: str  # "url", "title" or "text"
    score: float  # the similarity that joined it (1.0 for the same URL)
    url_key: str | None = None


class AlertEdited(Payload):
    """The sent message now names `outlets` outlets of its story (edited in place)."""

    message_id: str | None = None
    outlets: int
    note: str = ""  # why an edit was given up, when it was


class TopicMuted(Payload):
    """A chat's alerts of one topic stop until `until` (the alert's "Mute topic" button)."""

    chat_id: int
    rule_id: str
    until: datetime


class TopicUnmuted(Payload):
    chat_id: int
    rule_id: str


class ChatPreviewsSet(Payload):
    """`/previews on|off`: whether the chat's alerts show a link preview."""

    chat_id: int
    previews: bool


STORY_EVENT_TYPES: tuple[type[Payload], ...] = (
    StoryStarted,
    StoryJoined,
    AlertEdited,
    TopicMuted,
    TopicUnmuted,
    ChatPreviewsSet,
)


# --- digests and quiet hours per chat (issue 12, item 3) ----------------------------


class ChatModeSet(Payload):
    """`/mode`: each story as it comes (instant), or one digest an hour or a day."""

    chat_id: int
    mode: str  # "instant", "hourly" or "daily"
    at: str | None = None  # "HH:MM", the chat's local time of a daily digest


class ChatTimezoneSet(Payload):
    """`/timezone`: the chat's time zone (an IANA name), for digests and quiet hours."""

    chat_id: int
    timezone: str


class ChatQuietSet(Payload):
    """`/quiet`: no message between `start` and `end` (local "HH:MM"; None: no quiet hours).
    What arrives meanwhile goes into a digest at the end (`held` "digest") or is sent then
    one by one ("send")."""

    chat_id: int
    start: str | None = None
    end: str | None = None
    held: str = "digest"


class DigestSent(Payload):
    """One digest message (a part, when a long digest is split) went out with these alerts.

    On the stream `digest:<chat id>`, keyed by its period and alerts, so a digest is
    recorded once; the alerts were claimed (AlertDispatched) before the send."""

    chat_id: int
    period: datetime  # the digest's time: when its period ended
    alert_ids: list[str]
    message_id: str | None = None
    part: int = 1
    parts: int = 1


DIGEST_EVENT_TYPES: tuple[type[Payload], ...] = (
    ChatModeSet,
    ChatTimezoneSet,
    ChatQuietSet,
    DigestSent,
)


# --- personal watches (issue 12, item 5) ---------------------------------------------


class WatchAdded(Payload):
    """`/watch <words>`: the chat's own rule, number `number` (never reused in the chat)."""

    chat_id: int
    number: int
    text: str


class WatchRemoved(Payload):
    """`/unwatch N`."""

    chat_id: int
    number: int


WATCH_EVENT_TYPES: tuple[type[Payload], ...] = (WatchAdded, WatchRemoved)


# --- feed health told to the admins (issue 12, item 6) ---------------------------------


class FeedTroubleReported(Payload):
    """The admins were told a feed is in trouble: `failing` (for longer than the threshold)
    or `silent` (no new entry for much longer than its usual cadence), since `since`."""

    feed_id: str
    kind: str  # "failing" or "silent"
    since: datetime
    detail: str = ""


class FeedTroubleCleared(Payload):
    """The admins were told the feed is well again."""

    feed_id: str
    kind: str  # the trouble it recovered from


HEALTH_EVENT_TYPES: tuple[type[Payload], ...] = (FeedTroubleReported, FeedTroubleCleared)


EVENT_TYPES: dict[str, type[Payload]] = {
    cls.__name__: cls
    for cls in (
        FeedAdded,
        FeedRemoved,
        FeedMoved,
        FeedFetched,
        FeedFailed,
        FeedRecovered,
        EntrySeen,
        RuleMatched,
        AlertQueued,
        AlertDispatched,
        AlertSent,
        AlertDeferred,
        AlertFailed,
        AlertUncertain,
        ChatStarted,
        Subscribed,
        Unsubscribed,
        ChatBlocked,
        ChatMigrated,
        ChatLevelSet,
        ChatMuted,
        ChatUnmuted,
        RulesLoaded,
        FeedPaused,
        FeedResumed,
        FeedPollRequested,
        FeedArticlesSet,
    )
}
EVENT_TYPES.update({cls.__name__: cls for cls in STORY_EVENT_TYPES})
EVENT_TYPES.update({cls.__name__: cls for cls in DIGEST_EVENT_TYPES})
EVENT_TYPES.update({cls.__name__: cls for cls in WATCH_EVENT_TYPES})
EVENT_TYPES.update({cls.__name__: cls for cls in HEALTH_EVENT_TYPES})


@dataclass(frozen=True)
class NewEvent:
    """An event to append. `key` is the natural key that makes its id deterministic."""

    stream: str
    data: Payload
    key: str

    @property
    def type(self) -> str:
        return type(self.data).__name__

    @cached_property
    def event_id(self) -> str:
        return uuid5(f"{self.stream}|{self.type}|{self.key}")


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    stream: str
    version: int
    event_id: str
    type: str
    data: Payload
    recorded_at: datetime


def uuid5(name: str) -> str:
    """uuid.uuid5(_NAMESPACE, name) as text, without building a UUID object (hot path)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE.bytes + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def decode(type_name: str, data_json: str) -> Payload:
    return EVENT_TYPES[type_name].model_validate_json(data_json)


def short_id(*parts: str) -> str:
    """A stable 16-hex-digit id from natural-key parts (feed and entry ids)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def feed_id_for(url: str) -> str:
    return short_id("feed", url)[:10]


def entry_id_for(feed_id: str, key: str) -> str:
    return short_id("entry", feed_id, key)


def alert_id_for(entry_id: str, recipient: str) -> str:
    return short_id("alert", entry_id, recipient)


# Stream names: one place for the `kind:id` form every append and read uses.


def feed_stream(feed_id: str) -> str:
    return f"feed:{feed_id}"


def entry_stream(entry_id: str) -> str:
    return f"entry:{entry_id}"


def alert_stream(alert_id: str) -> str:
    return f"alert:{alert_id}"


def chat_stream(chat_id: int) -> str:
    return f"chat:{chat_id}"


def placed_entry_ids(stored: Sequence[StoredEvent]) -> set[str]:
    """The entries that these stored events put in a story (StoryStarted, StoryJoined)."""
    return {e.data.entry_id for e in stored if isinstance(e.data, StoryStarted | StoryJoined)}


def story_stream(story_id: str) -> str:
    return f"story:{story_id}"


def digest_stream(chat_id: int) -> str:
    return f"digest:{chat_id}"


def health_stream(feed_id: str) -> str:
    """A feed's health notices: apart from `feed:<id>`, so a poll's append never races them."""
    return f"health:{feed_id}"


def watch_rule_id(chat_id: int, number: int) -> str:
    """The rule id of a chat's watch: its matches and alerts name it."""
    return f"watch-{chat_id}-{number}"


def watch_of(rule_id: str) -> tuple[int, int] | None:
    """(chat id, number) of a watch's rule id, or None for a rule of the rule files."""
    if not rule_id.startswith("watch-"):
        return None
    chat, _, number = rule_id.removeprefix("watch-").rpartition("-")
    if not (chat.lstrip("-").isdigit() and number.isdigit()):
        return None
    return int(chat), int(number)
