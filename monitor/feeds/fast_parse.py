"""feedparser's result for plain, well-formed RSS 0.9x/1.0/2.0 and Atom 1.0, read with lxml.

parse.py asks `read_feed` first and runs feedparser only when it declines (returns None).
It returns the part of feedparser's result dict that parse.py reads, so the records are
built by the same code either way. It declines, by the bytes and content type alone (the
same input always takes the same path), whatever it does not reproduce exactly: broken
XML, a DOCTYPE, encodings other than UTF-8 and a few single-byte ones, Atom 0.3, XHTML
or base64 content, a second title or author, and elements feedparser gives a meaning to
that are not read here (media:description, itunes:owner, ...; see fast_names.py).
Where feedparser's rules are subtle (date formats, guessing HTML in RSS titles, joining
URLs, repairing mis-decoded text), its own functions are called, so both paths agree by
construction. docs/compatibility.md lists what declines and why.
"""

from __future__ import annotations

import re
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.encodings import CharacterEncodingOverride
from feedparser.mixin import _FeedParserMixin
from lxml import etree

from monitor.feeds.entry_digest import element_digest
from monitor.feeds.fast_names import (
    AUTHOR_ELEMENTS,
    DATE_ELEMENTS,
    Names,
    Unsure,
    check_inert,
    text_of,
)
from monitor.feeds.fast_text import (
    attributes,
    base_of,
    base_uri,
    content_type_is_text_xml,
    encoding_of,
    has_base_attribute,
    join_url,
    lang_of,
    read_author,
    repair,
)

_RDF_ABOUT = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"
_ATOM = "http://www.w3.org/2005/Atom"
_RSS_VERSIONS = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
_TEXT_TYPES = {"text": "text/plain", "plain": "text/plain", "text/plain": "text/plain",
               "html": "text/html", "text/html": "text/html"}  # fmt: skip
_looks_like_html = _FeedParserMixin.looks_like_html
_map_content_type = _FeedParserMixin.map_content_type
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_LINK_ENTITY = re.compile("&([A-Za-z0-9_]+);")


def read_feed(
    body: bytes, url: str, content_type: str | None, known: frozenset[str] = frozenset()
) -> dict[str, Any] | None:
    """The feedparser result parse.py reads, or None when feedparser must read the document.

    Its "digests" hold each entry's digest (feeds.entry_digest); an entry whose digest is
    in `known` is not read (None in "entries").
    """
    encoding = encoding_of(body, content_type or "application/xml")
    if encoding is None:
        return None
    try:
        # A parser per document: lxml parsers must not be shared between threads.
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(body, parser)
        if root.getroottree().docinfo.doctype:
            return None  # feedparser rewrites DOCTYPEs and their entities its own way
        reader = _Reader(Names(body), url, has_base_attribute(body), known)
        result = reader.document(root)
    except (etree.XMLSyntaxError, Unsure):
        return None
    result["encoding"] = encoding
    if encoding == "utf-8" and content_type_is_text_xml(content_type) and not body.isascii():
        result["bozo"] = True  # what feedparser reports: text/xml without charset means ASCII
        result["bozo_exception"] = CharacterEncodingOverride(
            "document declared as us-ascii, but parsed as utf-8"
        )
    return result


class _Reader:
    """One document's walk, in feedparser's terms (feed, entries, their detail dicts)."""

    def __init__(self, names: Names, url: str, has_bases: bool, known: frozenset[str]) -> None:
        self.names = names
        self.url = url
        self.base = base_uri(url)  # feedparser's base URI where the walk is (xml:base moves it)
        self.has_bases = has_bases
        self.known = known  # digests of entries not to read
        self.version = ""
        self.feed: dict[str, Any] = {}
        self.entries: list[dict[str, Any] | None] = []
        self.digests: list[str] = []
        self.seen_entry_or_image = False

    def document(self, root: Any) -> dict[str, Any]:
        kind = self.names.name(root)
        lang = lang_of(root, None)
        if kind == "rss":
            version = root.get("version", "")
            self.version = _RSS_VERSIONS.get(version) or ("rss20" if version[:2] == "2." else "rss")
        elif kind == "feed" and root.tag == f"{{{_ATOM}}}feed" and not self.names.has_rdf:
            self.version = "atom10"
        elif root.tag == "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}RDF":
            self.version = self.names.rdf_version(root)
        else:
            raise Unsure("not RSS, RDF or Atom 1.0")
        if lang and kind in ("rss", "feed"):
            self.feed["language"] = lang.replace("_", "-")
        self.base = self._base_of(root, self.base)
        self._channel(root, lang, is_feed=kind == "feed")
        return {
            "version": self.version,
            "bozo": False,
            "feed": self.feed,
            "entries": self.entries,
            "digests": self.digests,
        }

    def _channel(self, element: Any, lang: str | None, is_feed: bool) -> None:
        attrs = attributes(element)
        if "href" in attrs or "lastmod" in attrs:
            raise Unsure("CDF attributes")
        channels, base = 0, self.base
        for child in element:
            if not isinstance(child.tag, str):
                continue
            self.base = self._base_of(child, base)
            name = self.names.name(child)
            child_lang = lang_of(child, lang)
            if name in ("item", "entry"):
                self.seen_entry_or_image = True
                digest = element_digest(child, self.url, self.version, self.base, child_lang)
                known = digest in self.known  # stored already: not read again
                self.entries.append(None if known else self._entry(child, child_lang))
                self.digests.append(digest)
            elif name == "channel" and not is_feed and channels == 0:
                channels += 1
                self._channel(child, child_lang, is_feed=True)
            elif not is_feed:
                self._outside_channel(child, name)
            else:
                self._feed_field(child, name, child_lang)
        self.base = base

    def _base_of(self, element: Any, parent: str) -> str:
        return base_of(element, parent) if self.has_bases else parent

    def _outside_channel(self, element: Any, name: str) -> None:
        if name in ("image", "textinput"):
            self.seen_entry_or_image = True
        check_inert(self.names, element, in_entry=False)

    def _feed_field(self, element: Any, name: str, lang: str | None) -> None:
        if name in ("title", "dc_title"):
            if "title" in self.feed or self.seen_entry_or_image:
                raise Unsure("a second feed title, or one after entries")
            self.feed["title"], self.feed["title_detail"] = self._content(
                element, lang, "text/plain"
            )
        elif name == "link":
            self._link(self.feed, element, in_entry=False)
        elif name in ("id", "guid"):
            self._guid(self.feed, element)
        elif name in ("language", "dc_language"):
            self.feed["language"] = repair(text_of(element).strip())
        else:
            if name in ("image", "textinput"):
                self.seen_entry_or_image = True
            check_inert(self.names, element, in_entry=False)

    def _content(self, element: Any, lang: str | None, default: str) -> tuple[str, dict[str, Any]]:
        """A text construct's value and detail, as feedparser's push_content and pop give them."""
        attrs = attributes(element)
        kind = _TEXT_TYPES.get(attrs.get("type", default).lower())
        if kind is None or "mode" in attrs or "src" in attrs:
            raise Unsure("content that is not plain text or escaped HTML")
        output = text_of(element).strip()
        if (
            kind == "text/plain"
            and not self.version.startswith("atom")
            and _looks_like_html(output)
        ):
            kind = "text/html"
        detail = {"type": kind, "language": lang and lang.replace("_", "-"), "base": self.base}
        detail["value"] = output = repair(output)
        return output, detail

    def _link(self, context: dict[str, Any], element: Any, in_entry: bool) -> None:
        attrs = attributes(element)
        href = attrs.get("url", attrs.get("uri", attrs.get("href"))) or attrs.get("href")
        if href is not None:
            rel = attrs.get("rel", "alternate")
            kind = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
            if rel == "alternate" and _map_content_type(kind) in _HTML_TYPES:
                context["link"] = join_url(self.base, href)
            return
        output = text_of(element).strip()
        output = repair(join_url(self.base, output) if output else output)
        if in_entry:
            output = output.replace("&amp;", "&")
        context["link"] = _LINK_ENTITY.sub(r"&\g<1>", output)

    def _entry(self, element: Any, lang: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        attrs = attributes(element)
        if "href" in attrs or "lastmod" in attrs:
            raise Unsure("CDF attributes")
        if element.get(_RDF_ABOUT):
            entry["id"] = element.get(_RDF_ABOUT)
        seen: set[str] = set()
        base = self.base
        for child in element:
            if isinstance(child.tag, str):
                self.base = self._base_of(child, base)
                self._entry_field(entry, child, self.names.name(child), lang_of(child, lang), seen)
        self.base = base
        if "media_title" in seen and (not entry.get("title") or "source" in seen):
            # feedparser keeps media:title only where no non-empty title comes before or
            # after it (a source element makes it forget the one before)
            raise Unsure("media:title without a title")
        for key in ("published", "updated"):
            if key in entry:
                entry[f"{key}_parsed"] = _parse_date(entry[key])
        return entry

    def _entry_field(
        self, entry: dict[str, Any], element: Any, name: str, lang: str | None, seen: set[str]
    ) -> None:
        group = _GROUPS.get(name)
        if group is None:
            if check_inert(self.names, element, in_entry=True):
                seen.add("media_title")
            if name == "source":
                seen.add("source")
            return
        if group in seen and group in ("title", "author"):
            raise Unsure(f"a second {group} in one entry")
        seen.add(group)
        if group == "title":
            entry["title"], entry["title_detail"] = self._content(element, lang, "text/plain")
        elif group == "summary":
            self._summary(entry, element, lang, name, seen)
        elif group == "content":
            default = "text/plain" if name == "content" else "text/html"
            self._full_content(entry, element, lang, default, seen)
        elif group == "link":
            self._link(entry, element, in_entry=True)
        elif group == "id":
            self._guid(entry, element)
        elif group == "author":
            read_author(self.names, entry, element)
        else:  # published or updated
            entry[DATE_ELEMENTS[name]] = repair(text_of(element).strip())

    def _summary(
        self, entry: dict[str, Any], element: Any, lang: str | None, name: str, seen: set[str]
    ) -> None:
        if name != "abstract" and "summary" in entry and "content" not in seen:
            # feedparser reads a second summary as content, unless content came before it
            self._full_content(entry, element, lang, "text/plain", seen)
            return
        default = "text/html" if name in ("description", "dc_description") else "text/plain"
        entry["summary"], entry["summary_detail"] = self._content(element, lang, default)

    def _full_content(
        self, entry: dict[str, Any], element: Any, lang: str | None, default: str, seen: set[str]
    ) -> None:
        seen.add("content")
        value, detail = self._content(element, lang, default)
        entry.setdefault("content", []).append(detail)
        entry.setdefault("summary", value)  # feedparser copies text or HTML content to summary

    def _guid(self, entry: dict[str, Any], element: Any) -> None:
        is_link = attributes(element).get("ispermalink", "true") == "true"
        output = text_of(element).strip()
        if is_link and output:
            output = join_url(self.base, output)
        entry["id"] = output = repair(output)
        if is_link:
            entry.setdefault("link", output)


_GROUPS = {
    "title": "title", "dc_title": "title", "description": "summary", "summary": "summary",
    "dc_description": "summary", "itunes_summary": "summary", "abstract": "summary",
    "content_encoded": "content", "fullitem": "content", "content": "content",
    "link": "link", "guid": "id",
    "id": "id", **dict.fromkeys(AUTHOR_ELEMENTS, "author"), **DATE_ELEMENTS,
}  # fmt: skip
