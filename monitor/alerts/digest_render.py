"""Digest messages (pure): a period's stories grouped by topic, each story once with how many
outlets carried it, split into several messages at whole lines when one would pass
Telegram's limit. HTML, and the same parts as plain text for when the HTML is refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.alerts.cutting import HTML, PLAIN, Style, cut, tidy, utf16_len
from monitor.alerts.render import LEVEL_MARKS, TELEGRAM_LIMIT, AlertView, safe_link, topic_tag
from monitor.levels import rank

TITLE_UNITS = 300  # a story's title on its line, at most
OUTLET_UNITS = 60
TOPIC_UNITS = 100
LINK_UNITS = 1000  # a longer link is left out rather than cut
_PART_MARK = " (99/99)"  # room kept in each heading for the part number


@dataclass(frozen=True)
class DigestStory:
    alert_id: str
    view: AlertView  # its title, link, outlet and topics
    outlets: int  # how many outlets carried the story


@dataclass(frozen=True)
class DigestPart:
    html: str
    plain: str
    alert_ids: tuple[str, ...]
    part: int
    parts: int


@dataclass(frozen=True)
class _Line:
    alert_id: str | None  # None: a topic's heading
    topic: str  # the topic's key: its heading is repeated atop a part it continues in
    html: str
    plain: str

    @property
    def cost(self) -> int:
        return max(utf16_len(self.html), utf16_len(self.plain)) + 1  # and its newline


def digest_parts(
    stories: Sequence[DigestStory], heading: str, limit: int = TELEGRAM_LIMIT
) -> list[DigestPart]:
    """The digest as one message, or as several when it is longer than `limit`."""
    lines = _lines(stories)
    headings = {line.topic: line for line in lines if line.alert_id is None}
    room = limit - max(utf16_len(_heading(heading, len(stories), s)) for s in (HTML, PLAIN))
    room -= utf16_len(_PART_MARK) + 1  # the part number, and the blank line after the heading
    packs: list[list[_Line]] = []
    current: list[_Line] = []
    used = 0
    shown: set[str] = set()  # topics whose heading a part already has
    for line in (line for line in lines if line.alert_id is not None):
        topic = _continued(headings[line.topic], line.topic in shown)
        new_topic = not current or current[-1].topic != line.topic
        if current and used + line.cost + (topic.cost + 1 if new_topic else 0) > room:
            packs.append(current)
            current, used, new_topic = [], 0, True
            topic = _continued(headings[line.topic], line.topic in shown)
        if new_topic:
            current.append(topic)
            used += topic.cost + 1  # with the blank line before it
            shown.add(line.topic)
        current.append(line)
        used += line.cost
    packs.append(current)
    return [_part(pack, heading, len(stories), n, len(packs)) for n, pack in enumerate(packs, 1)]


def _part(lines: list[_Line], heading: str, count: int, part: int, parts: int) -> DigestPart:
    mark = f" ({part}/{parts})" if parts > 1 else ""
    html = [_heading(heading, count, HTML) + mark, *_blocks(lines, "html")]
    plain = [_heading(heading, count, PLAIN) + mark, *_blocks(lines, "plain")]
    ids = tuple(line.alert_id for line in lines if line.alert_id is not None)
    return DigestPart("\n".join(html), "\n".join(plain), ids, part, parts)


def _blocks(lines: list[_Line], form: str) -> list[str]:
    """Each topic's heading after a blank line, then its stories."""
    out: list[str] = []
    for line in lines:
        if line.alert_id is None:
            out.append("")
        out.append(getattr(line, form))
    return out


def _heading(heading: str, count: int, style: Style) -> str:
    bold, end = style.bold
    stories = f"{count} {'story' if count == 1 else 'stories'}"
    shown = style.escape(tidy(heading)[0]) or "Digest"
    return f"🗞 {bold}{shown}{end} · {stories}"


def _lines(stories: Sequence[DigestStory]) -> list[_Line]:
    """Topic headings and story lines, the most severe topic first."""
    groups: dict[str, list[DigestStory]] = {}
    topics: dict[str, tuple[str, str, str]] = {}
    for story in stories:
        rules = sorted(story.view.rules, key=lambda r: -rank(r[2])) or [("", "", "info")]
        rule_id, title, level = rules[0]
        groups.setdefault(rule_id, []).append(story)
        topics.setdefault(rule_id, (rule_id, title, level))
    order = sorted(topics, key=lambda r: (-rank(topics[r][2]), topics[r][1] or r))
    lines: list[_Line] = []
    for key in order:
        lines.append(_topic_line(*topics[key]))
        lines += [_story_line(key, story) for story in groups[key]]
    return lines


def _topic_line(rule_id: str, title: str, level: str) -> _Line:
    mark = LEVEL_MARKS.get(level, "⚪")
    name = tidy(title or rule_id)[0] or "Other"
    tag = topic_tag(rule_id)
    tag = f" {tag}" if tag else ""
    html = f"{mark} <b>{cut(name, TOPIC_UNITS, HTML)}</b>{tag}"
    return _Line(None, rule_id, html, f"{mark} {cut(name, TOPIC_UNITS, PLAIN)}{tag}")


def _continued(heading: _Line, continued: bool) -> _Line:
    if not continued:
        return heading
    return _Line(None, heading.topic, heading.html + " (continued)", heading.plain + " (continued)")


def _story_line(topic: str, story: DigestStory) -> _Line:
    view = story.view
    title = tidy(view.title)[0] or "(untitled)"
    outlet = tidy(view.source)[0]
    count = f"{story.outlets} outlet{'' if story.outlets == 1 else 's'}"
    link = safe_link(view.link)
    href = HTML.escape(link) if link else ""
    shown = cut(title, TITLE_UNITS, HTML)
    if href and utf16_len(href) <= LINK_UNITS:
        shown = f'<a href="{href}">{shown}</a>'
    html = " · ".join(x for x in (shown, cut(outlet, OUTLET_UNITS, HTML), count) if x)
    plain = " · ".join(
        x for x in (cut(title, TITLE_UNITS, PLAIN), cut(outlet, OUTLET_UNITS, PLAIN), count) if x
    )
    return _Line(story.alert_id, topic, f"• {html}", f"• {plain}")
