"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org) to the records of feeds.records.

feedparser 6 cannot read JSON Feed, so this reads the JSON itself. Publishers get the types
wrong often (numbers as ids, objects where strings belong): wrong types are ignored field by
field rather than failing the whole feed.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from monitor.feeds.records import (
    CONTENT_MARKUP_LIMIT,
    TITLE_LIMIT,
    EntryData,
    EntryFields,
    FeedData,
    ParseFailed,
    ParseResult,
    build_entry,
)
from monitor.feeds.text import (
    canonical_link,
    collapse_whitespace,
    html_to_text,
    normalise_lang,
    shorten,
)

VERSION_PREFIX = "jsonfeed.org/version/"  # after https:// (http:// is a common slip)
JSON_MEDIA_TYPES = frozenset({"application/feed+json", "application/json"})


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    """JSON by its first character, or by a JSON media type when the body is not markup."""
    first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first in (b"{", b"["):
        return True
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type in JSON_MEDIA_TYPES and first != b"<"


def parse_json_feed(
    body: bytes, url: str, content_type: str | None, warnings: list[str]
) -> ParseResult:
    """FeedData from a JSON Feed document; "malformed" for invalid JSON, else "not-a-feed"."""
    text = _decode(body, content_type, warnings)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return ParseFailed("malformed", f"{url}: invalid JSON at {where}: {exc.msg}")
    if not isinstance(document, dict) or not _is_json_feed(document):
        return ParseFailed(
            "not-a-feed", f"{url}: got JSON that is not a JSON Feed ({_shape(document)})"
        )
    return _feed(document, url, warnings)


def _decode(body: bytes, content_type: str | None, warnings: list[str]) -> str:
    # JSON must be UTF-8, but Chinese sites serve GBK JSON too; gb18030 is its superset.
    declared = (content_type or "").lower().partition("charset=")[2].strip(" \"';") or None
    for codec in ("utf-8-sig", declared, "gb18030"):
        if codec is None:
            continue
        try:
            text = body.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        if codec != "utf-8-sig":
            warnings.append(f"JSON is not UTF-8: decoded it as {codec}")
        return text
    warnings.append("JSON is not valid UTF-8: undecodable bytes replaced")
    return body.decode("utf-8", "replace")


def _is_json_feed(document: dict[str, Any]) -> bool:
    has_version = _version(document.get("version")).startswith(VERSION_PREFIX)
    return has_version or isinstance(document.get("items"), list)


def _version(value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    return text.removeprefix("https://").removeprefix("http://").rstrip("/")


def _shape(document: object) -> str:
    if isinstance(document, dict):
        return "an object with keys " + ", ".join(sorted(document)[:8])
    return f"a JSON {type(document).__name__}"


def _feed(document: dict[str, Any], url: str, warnings: list[str]) -> FeedData:
    format_ = _format(document.get("version"), warnings)
    lang = normalise_lang(document.get("language"))
    author = _authors(document)
    items = document.get("items")
    if not isinstance(items, list):
        warnings.append("JSON Feed has no items list: read as a feed with no entries")
        items = []
    return FeedData(
        format=format_,
        title=shorten(_plain(document.get("title")), TITLE_LIMIT),
        link=canonical_link(_string(document.get("home_page_url")), url),
        lang=lang,
        entries=_entries(items, url, (lang, author), warnings),
        warnings=tuple(warnings),
    )


def _format(version: object, warnings: list[str]) -> str:
    if _version(version) == VERSION_PREFIX + "1":
        return "json10"
    if _version(version) != VERSION_PREFIX + "1.1":
        warnings.append(f"unknown JSON Feed version {version!r}: read as version 1.1")
    return "json11"


def _entries(
    items: list[Any], url: str, inherited: tuple[str | None, str | None], warnings: list[str]
) -> tuple[EntryData, ...]:
    """Entries in order; `inherited` is the feed's language and author, items' defaults."""
    entries: list[EntryData] = []
    for number, item in enumerate(items, start=1):
        entry = build_entry(_fields(item, url, inherited)) if isinstance(item, dict) else None
        if entry is None:
            warnings.append(f"entry {number} has no id, link, title or text: skipped")
        else:
            entries.append(entry)
    return tuple(entries)


def _fields(
    item: dict[str, Any], url: str, inherited: tuple[str | None, str | None]
) -> EntryFields:
    feed_lang, feed_author = inherited
    link = _string(item.get("url")) or _string(item.get("external_url"))
    date_text = _string(item.get("date_published")) or _string(item.get("date_modified"))
    return EntryFields(
        ident=_ident(item.get("id")),
        link=canonical_link(link, url),
        title=_plain(item.get("title")),
        summary=_summary(item),
        date_text=date_text,
        published=_date(date_text),
        author=_authors(item) or feed_author,
        lang=normalise_lang(item.get("language")) or feed_lang,
        content=_content(item),
    )


def _ident(value: object) -> str:
    # The spec says string; integer ids are common and just as stable.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _string(value).strip()


def _string(value: object) -> str:
    return value if isinstance(value, str) else ""


def _plain(value: object) -> str:
    # Plain text by the spec, but publishers leave HTML entities in titles ("&#8211;").
    return collapse_whitespace(html.unescape(_string(value)))


def _summary(item: dict[str, Any]) -> str:
    summary = _plain(item.get("summary")) or _plain(item.get("content_text"))
    return summary or html_to_text(_string(item.get("content_html")))


def _content(item: dict[str, Any]) -> str:
    """The full text: content_html as text, else content_text."""
    markup = _string(item.get("content_html"))[:CONTENT_MARKUP_LIMIT]
    return html_to_text(markup) or _plain(_string(item.get("content_text"))[:CONTENT_MARKUP_LIMIT])


def _date(text: str) -> datetime | None:
    """RFC 3339 as the spec asks, or RFC 822 as some publishers write; UTC if no zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    try:
        return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed over the edge by its offset
        return None


def _authors(item: dict[str, Any]) -> str | None:
    people = item.get("authors")
    if not isinstance(people, list):
        people = [item.get("author")]  # JSON Feed 1.0 had a single author object
    names = [_plain(person.get("name")) for person in people if isinstance(person, dict)]
    return ", ".join(name for name in names if name) or None
