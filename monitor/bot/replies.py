"""What the Telegram bot shows: its reply records and the read-only views over the log.

No Telegram library here. Every stored or user-supplied text is cleaned of control and
format characters, cut, then HTML-escaped; a reply is cut at whole blocks so it stays
within Telegram's 4096 UTF-16 units and its HTML is never cut inside a tag.
The admin views are in `bot.admin`, the /why view in `bot.why`.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.alerts.cutting import cut_utf16, cut_words, utf16_len
from monitor.alerts.render import TELEGRAM_LIMIT, safe_link
from monitor.bot.offers import FeedOffers
from monitor.bot.story_lists import OVERREAD, one_per_story, outlets_note
from monitor.config import Settings
from monitor.errors import SearchError
from monitor.eventlog.queries.chats import ChatView
from monitor.eventlog.queries.entries import ListedEntry, recent_matches, search_entries
from monitor.eventlog.store import Reader, Store
from monitor.feeds.probe import Prober
from monitor.feeds.text import visible_text
from monitor.levels import at_or_above
from monitor.rules.matcher import RuleSet
from monitor.rules.normalise import is_cjk

BUTTON_DATA_BYTES = 64  # Telegram's limit on callback data
LABEL_TITLE = 48  # UTF-16 units of a topic's title on its button: one line on a phone
MAX_SEARCH_WORDS = 8
MAX_WORD_CHARS = 64
SEARCH_HITS = 10


@dataclass(frozen=True)
class Caller:
    chat_id: int
    chat_type: str  # "private", "group", "supergroup", "channel"
    chat_title: str  # title, or the user's name in a private chat
    user_id: int | None
    chat_admin: bool | None = None  # the user administers the group (None: not known)


@dataclass(frozen=True)
class Button:
    text: str
    data: str  # callback data, at most 64 bytes UTF-8 (Telegram's limit)


@dataclass(frozen=True)
class Reply:
    text: str  # Telegram HTML, at most 4096 UTF-16 units; "" sends no message
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of inline buttons
    # Work that needs the network (a feed checked before it is added): the bot sends this
    # reply at once, then the one `later` gives when it is done.
    later: Callable[[], Awaitable[Reply]] | None = None
    notice: str = ""  # a button's answer shown over the chat (at most 200 characters)


@dataclass(frozen=True)
class BotContext:
    store: Store
    rules: Callable[[], RuleSet]  # the rules in force (reloadable)
    settings: Settings
    clock: Callable[[], datetime]
    prober: Prober | None = None  # fetches a URL before /addfeed adds it; None: added unchecked
    offers: FeedOffers = field(default_factory=FeedOffers)


Command = Callable[[BotContext, Caller, str], Reply]  # a command's handler: args are cleaned


# --- text ---------------------------------------------------------------------------


# Without control, zero-width, bidi and lone surrogate characters; newlines become spaces.
# The bot's modules call it views.clean; alerts use the same function (feeds.text).
clean = visible_text


def show(text: str | None, limit: int = 200) -> str:
    """Stored or user-supplied text, cleaned, cut to `limit` UTF-16 units, escaped."""
    return html.escape(cut_utf16(clean(text or ""), limit))


def link(title: str | None, url: str | None) -> str:
    """The title as a link when the URL is http(s), else the escaped title alone."""
    text = show(title or url or "(untitled)")
    href = safe_link(url) if url and len(url) <= 1000 else None
    return f'<a href="{html.escape(href)}">{text}</a>' if href else text


def minute(moment: datetime | str | None) -> str:
    if moment is None:
        return "no date"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def fit(blocks: Sequence[str], buttons: Sequence[Sequence[Button]] = ()) -> Reply:
    """Blocks joined by newlines; whole blocks dropped from the end to stay within the limit."""
    rows = tuple(tuple(row) for row in buttons)
    text = "\n".join(blocks)
    if utf16_len(text) <= TELEGRAM_LIMIT:
        return Reply(text, rows)
    kept: list[str] = []
    used = 0
    for block in blocks:
        cost = utf16_len(block) + 1
        if used + cost > TELEGRAM_LIMIT - 80:  # room for the note below
            break
        kept.append(block)
        used += cost
    kept.append(f"… {len(blocks) - len(kept)} more lines not shown.")
    return Reply("\n".join(kept), rows)


def listing(items: Sequence[str], most: int = 10) -> str:
    """Escaped items, comma-separated, at most `most` of them named."""
    named = ", ".join(f"<code>{show(item, 64)}</code>" for item in items[:most])
    return named + (f" and {len(items) - most} more" if len(items) > most else "")


# --- topics -------------------------------------------------------------------------


def topic_buttons(rules: RuleSet, chat: ChatView) -> tuple[tuple[Button, ...], ...]:
    """One row per topic: Unsubscribe if the chat has it, else Subscribe."""
    rows = []
    for rule in rules.rules:
        mine = rule.id in chat.subscriptions
        label = "Unsubscribe" if mine else "Subscribe"
        data = f"{'unsub' if mine else 'sub'}:{rule.id}"
        if len(data.encode()) <= BUTTON_DATA_BYTES:
            rows.append((Button(f"{label}: {cut_words(clean(rule.title), LABEL_TITLE)}", data),))
    return tuple(rows[:50])


def topics_reply(rules: RuleSet, chat: ChatView) -> Reply:
    blocks = [f"<b>Topics</b> ({len(rules.rules)}):"]
    for rule in rules.rules:
        mark = "✅ " if rule.id in chat.subscriptions else ""
        blocks.append(
            f"\n{mark}<b>{show(rule.title)}</b> · {rule.level} · <code>{show(rule.id, 64)}</code>"
            f"\n{show(rule.description, 400)}"
        )
    if not rules.rules:
        blocks.append("No topics are loaded yet.")
    return fit(blocks, topic_buttons(rules, chat))


def mysubs_reply(rules: RuleSet, chat: ChatView, now: datetime) -> Reply:
    titles = {rule.id: rule for rule in rules.rules}
    if not chat.subscriptions:
        return Reply("This chat follows no topics yet. /topics lists them.")
    blocks = ["<b>This chat follows:</b>"]
    for rule_id in chat.subscriptions:
        rule = titles.get(rule_id)
        about = f"{show(rule.title)} · {rule.level}" if rule else "<i>no longer in force</i>"
        blocks.append(f"• <code>{show(rule_id, 64)}</code>: {about}")
    blocks.append(f"Alerts from level <b>{chat.min_level}</b> up (/level to change).")
    if chat.muted_until and chat.muted_until > now:
        blocks.append(f"Muted until {minute(chat.muted_until)}: alerts arrive silently.")
    return fit(blocks)


# --- entries ------------------------------------------------------------------------


def source(entry: ListedEntry) -> str:
    if entry.feed_title:
        return show(entry.feed_title, 80)
    if entry.feed_url:
        return show(entry.feed_url, 80)
    return f"feed <code>{show(entry.feed_id, 32)}</code> (removed)"


def entry_line(entry: ListedEntry) -> str:
    return f"{minute(entry.dated)} · {link(entry.title, entry.link)}"


def recent_reply(log: Reader, chat: ChatView, count: int) -> Reply:
    """The newest matches of the chat's topics at or above its level, newest first by date."""
    if not chat.subscriptions:
        return Reply("This chat follows no topics yet, so there is nothing recent. /topics")
    levels = at_or_above(chat.min_level)
    found = one_per_story(log, recent_matches(log, chat.id, levels, count * OVERREAD), count)
    at_level = f"level {chat.min_level} and above"
    if not found:
        return Reply(
            f"Nothing at {at_level} has matched this chat's topics yet. /level changes the level."
        )
    blocks = [f"<b>Latest {len(found)} stories of this chat's topics</b> ({at_level})"]
    for entry, outlets in found:
        rules = ", ".join(show(r, 64) for r in entry.rules)
        blocks.append(
            f"\n{entry_line(entry)}\n<i>{rules}</i> · {source(entry)}{outlets_note(outlets)}"
        )
    return fit(blocks)


def search_words(text: str) -> list[str]:
    """The words of a query, each with a letter or digit, de-duplicated and capped."""
    words = [w[:MAX_WORD_CHARS] for w in clean(text).split() if any(c.isalnum() for c in w)]
    return list(dict.fromkeys(words))[:MAX_SEARCH_WORDS]


def split_search_words(words: Sequence[str]) -> tuple[list[str], list[str]]:
    """(words for the full-text index, Chinese words to look for as substrings)."""
    substrings = [w for w in words if any(is_cjk(c) for c in w)]
    return [w for w in words if w not in substrings], substrings


def search_reply(log: Reader, text: str) -> Reply:
    words = search_words(text)
    if not words:
        return Reply("Usage: /search &lt;words&gt;, for example /search police training Serbia.")
    try:
        rows = search_entries(log, *split_search_words(words), (SEARCH_HITS + 1) * OVERREAD)
    except SearchError as error:
        return Reply(f"{show(str(error).capitalize(), 300)}.")
    asked = " ".join(words)
    if not rows:
        return Reply(f"No stored entry contains all of: {show(asked, 300)}.")
    found = one_per_story(log, rows, SEARCH_HITS + 1)
    more = " (newest shown; add words to narrow)" if len(found) > SEARCH_HITS else ""
    blocks = [f"<b>Stories with {show(asked, 300)}</b>{more}"]
    blocks += [
        f"\n{entry_line(row)}\n{source(row)}{outlets_note(outlets)}"
        for row, outlets in found[:SEARCH_HITS]
    ]
    return fit(blocks)
