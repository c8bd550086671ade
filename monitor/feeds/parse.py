"""Feed documents (bytes) to plain records (monitor.feeds.records).

RSS, Atom and RDF go through feedparser, or through feeds.fast_parse (lxml) when it can
promise feedparser's result for the document; JSON Feed is read by feeds.jsonfeed; text
and link clean-up is feeds.text. parse_feed is pure and in-process; feeds.parser_pool runs
it in worker processes that are killed when a document takes too long.
"""

from __future__ import annotations

import calendar
import codecs
import hashlib
import io
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.feeds import fast_parse, jsonfeed
from monitor.feeds.entry_digest import dict_digest
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
    bomless_utf16_or_32,
    canonical_link,
    collapse_whitespace,
    document_head,
    guess_chinese_codec,
    html_to_text,
    is_utf8,
    looks_like_html,
    normalise_lang,
    shorten,
)

GUNZIP_LIMIT = 64 * 1024 * 1024


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    fast: bool = True,
    known: frozenset[str] = frozenset(),
) -> ParseResult:
    """Parse one fetched document. Never raises: a parser bug becomes a "parse-crash".

    fast=False reads XML with feedparser even where the fast path would (tests, benches).
    Entries whose digest (feeds.entry_digest) is in `known` are left out, unbuilt, and
    their digests listed in FeedData.skipped (RSS, RDF and Atom; JSON Feed builds all).
    """
    try:
        return _parse(body, url, content_type, fast, known)
    except Exception as exc:  # a bug in a parser must cost one feed, not the daemon
        message = collapse_whitespace(f"{type(exc).__name__}: {exc}")
        return ParseFailed("parse-crash", f"{url}: parser raised {message}")


def _parse(
    body: bytes, url: str, content_type: str | None, fast: bool, known: frozenset[str]
) -> ParseResult:
    warnings: list[str] = []
    if body[:2] == b"\x1f\x8b":
        unzipped = _gunzip(body, url)
        if isinstance(unzipped, ParseFailed):
            return unzipped
        body = unzipped
        warnings.append("body was gzip-compressed without Content-Encoding: decompressed it")
    if not body.lstrip(b"\xef\xbb\xbf \t\r\n\f\v\x00"):
        return ParseFailed("empty", f"{url}: the response body is empty or only whitespace")
    if jsonfeed.looks_like_json(body, content_type):
        return jsonfeed.parse_json_feed(body, url, content_type, warnings)
    return _parse_xml(body, url, content_type, warnings, fast, known)


def _gunzip(body: bytes, url: str) -> bytes | ParseFailed:
    decompressor = zlib.decompressobj(wbits=31)
    try:
        data = decompressor.decompress(body, GUNZIP_LIMIT)
    except zlib.error as exc:
        return ParseFailed("malformed", f"{url}: body looks gzip-compressed but is corrupt: {exc}")
    if decompressor.unconsumed_tail:
        return ParseFailed("malformed", f"{url}: gzip body expands beyond {GUNZIP_LIMIT} bytes")
    return data


def _parse_xml(
    body: bytes,
    url: str,
    content_type: str | None,
    warnings: list[str],
    fast: bool,
    known: frozenset[str],
) -> ParseResult:
    wide_codec = bomless_utf16_or_32(body)
    if wide_codec:  # feedparser cannot tell UTF-16/32 without a BOM unless it is declared
        body, content_type = body.decode(wide_codec).encode(), "application/xml; charset=utf-8"
    elif body.startswith(_BOMS):
        content_type = "application/xml"  # a byte-order mark overrides the HTTP charset
    # The fast path gives feedparser's result for plain documents, or None to leave it be.
    raw = fast and fast_parse.read_feed(body, url, content_type, known)
    raw = raw or _run_feedparser(body, url, content_type)
    charset = _better_charset(raw, body)
    if charset:
        warnings.append(f"bytes are {charset}, not {raw.get('encoding')} as feedparser read them")
        raw = _run_feedparser(body, url, f"application/xml; charset={charset}")
    feed = raw.get("feed", {})
    title = _text(feed.get("title_detail"), feed.get("title"))
    if not raw.get("entries") and not title:
        failure = _explain_nothing_found(raw, body, url)
        if failure is not None:
            return failure
    if raw.get("bozo"):
        warnings.append(_describe_bozo(raw.get("bozo_exception"), len(raw.get("entries", []))))
    feed_lang = normalise_lang(feed.get("language"))
    raw_entries = raw.get("entries", [])
    digests = raw.get("digests") or [dict_digest(e, url, feed_lang) for e in raw_entries]
    entries = _entries(raw_entries, digests, known, url, feed_lang, warnings)
    return FeedData(
        format=raw.get("version") or "unknown",
        title=shorten(title, TITLE_LIMIT),
        link=canonical_link(feed.get("link"), url),
        lang=feed_lang,
        entries=entries,
        warnings=tuple(warnings),
        skipped=tuple(d for d in digests if d in known),
    )


_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE,
         codecs.BOM_UTF16_BE)  # fmt: skip


def _run_feedparser(body: bytes, url: str, content_type: str | None) -> Any:
    # A file object, never bytes or str: feedparser fetches a str that looks like a URL and
    # tries bytes as a file name before reading them as a document.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    # We keep plain text only (tags stripped, then escaped where shown), so feedparser's
    # HTML sanitising and its rewriting of links inside HTML are work for nothing.
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def _better_charset(raw: Any, body: bytes) -> str | None:
    """A charset that reads the bytes better than the one feedparser used, if any."""
    used = (raw.get("encoding") or "").lower().replace("_", "-")
    if not used or used.startswith(("utf-8", "utf8")) or b"\x00" in body[:4]:
        return None  # nothing to improve, or real UTF-16/32 (NULs around ASCII characters)
    if is_utf8(body) and (used.startswith("utf-") or not body.isascii()):
        return "utf-8"  # a wrong declaration or header; valid UTF-8 is rarely an accident
    fell_back = type(raw.get("bozo_exception")).__name__ == "CharacterEncodingOverride"
    if fell_back and used in ("windows-1252", "iso-8859-2"):  # feedparser's last resorts
        return guess_chinese_codec(body)
    return None


def _explain_nothing_found(raw: Any, body: bytes, url: str) -> ParseFailed | None:
    """Why a document gave neither entries nor a title; None for a valid empty feed."""
    head = document_head(body)
    if looks_like_html(head):
        return ParseFailed("not-a-feed", f"{url}: got an HTML page, not a feed")
    if not head.startswith("<"):
        return ParseFailed("not-a-feed", f"{url}: got text that is not XML or JSON: {head[:60]!r}")
    error = raw.get("bozo_exception")
    if raw.get("bozo") and hasattr(error, "getLineNumber"):
        return ParseFailed("malformed", f"{url}: {_xml_error(error)}; no entry or title recovered")
    if raw.get("version"):
        return None
    return ParseFailed("not-a-feed", f"{url}: got XML with no RSS, Atom or RDF structure")


def _xml_error(error: Any) -> str:
    line, column = error.getLineNumber(), error.getColumnNumber()
    return f"not well-formed XML at line {line}, column {column}: {error.getMessage()}"


def _describe_bozo(error: object, entry_count: int) -> str:
    if hasattr(error, "getLineNumber"):
        return f"{_xml_error(error)}; kept the {entry_count} entries a lenient parser recovered"
    return collapse_whitespace(f"feedparser: {type(error).__name__}: {error}")


def _entries(
    raw_entries: list[Any],
    digests: list[str],
    known: frozenset[str],
    base: str,
    feed_lang: str | None,
    warnings: list[str],
) -> tuple[EntryData, ...]:
    entries: list[EntryData] = []
    for number, (raw, digest) in enumerate(zip(raw_entries, digests, strict=True), start=1):
        if digest in known:
            continue  # stored already: built the first time (the fast path did not read it)
        entry = build_entry(_entry_fields(raw, base, feed_lang), digest)
        if entry is None:
            warnings.append(f"entry {number} has no id, link, title or text: skipped")
        else:
            entries.append(entry)
    return tuple(_split_shared_links(entries))


def _split_shared_links(entries: list[EntryData]) -> list[EntryData]:
    """A link that several id-less entries share identifies none of them: add their text.

    (A page listing every announcement under one URL, or links differing only by
    #fragment, would otherwise collapse into one entry and lose the rest.)
    """
    shared = Counter(e.key for e in entries if e.key == e.link)
    return [
        replace(e, key=f"{e.link}#{_text_digest(e)}") if shared[e.key] > 1 else e for e in entries
    ]


def _text_digest(entry: EntryData) -> str:
    when = entry.published.isoformat() if entry.published else ""
    text = f"{entry.title}\n{when}\n{entry.summary[:500]}"
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:16]


def _entry_fields(raw: Any, base: str, feed_lang: str | None) -> EntryFields:
    return EntryFields(
        ident=raw.get("id") or "",
        link=canonical_link(raw.get("link"), base),
        title=_text(raw.get("title_detail"), raw.get("title")),
        summary=_summary(raw),
        # dict.get: FeedParserDict maps a missing "updated" to "published", with a warning.
        date_text=raw.get("published") or dict.get(raw, "updated") or "",
        published=_utc(raw.get("published_parsed") or dict.get(raw, "updated_parsed")),
        author=_author(raw),
        lang=_entry_lang(raw) or feed_lang,
        content=_content(raw),
    )


def _text(detail: Mapping[str, Any] | None, value: object) -> str:
    """Plain text of a feedparser text construct; markup is stripped only when it is HTML."""
    if not isinstance(value, str) or not value:
        return ""
    kind = (detail or {}).get("type") or "text/plain"
    return html_to_text(value) if "html" in kind else collapse_whitespace(value)


def _summary(raw: Any) -> str:
    contents = raw.get("content") or []
    # With no description, feedparser copies the first content into "summary" but not its type.
    detail = raw.get("summary_detail") or (contents[0] if contents else None)
    summary = _text(detail, raw.get("summary"))
    for content in contents:
        summary = summary or _text(content, content.get("value"))
    return summary


def _content(raw: Any) -> str:
    """Plain text of the entry's first non-empty content (content:encoded, Atom content)."""
    for content in raw.get("content") or []:
        markup = content.get("value")
        text = _text(content, markup[:CONTENT_MARKUP_LIMIT] if isinstance(markup, str) else "")
        if text:
            return text
    return ""


def _utc(parsed: Any) -> datetime | None:
    """feedparser's struct_time (already in UTC) as an aware datetime; None if impossible."""
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, OSError, ValueError, TypeError):
        return None


def _author(raw: Any) -> str | None:
    detail = raw.get("author_detail") or {}
    return collapse_whitespace(detail.get("name") or raw.get("author") or "") or None


def _entry_lang(raw: Any) -> str | None:
    for detail in [raw.get("title_detail"), raw.get("summary_detail"), *(raw.get("content") or [])]:
        lang = normalise_lang((detail or {}).get("language"))
        if lang:
            return lang
    return None
