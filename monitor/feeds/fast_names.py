"""Element names as feedparser sees them, and which of them the fast path may skip.

feedparser names an element by a canonical prefix for its namespace ("dc_creator",
"content_encoded"; none for RSS and Atom) and gives meaning to about a hundred such names.
The fast path (monitor.feeds.fast_parse) reads some of them itself; the ones below it may
skip because feedparser stores them only under keys that parse.py never reads. Any other
name feedparser handles makes the fast path decline the document.
"""

from __future__ import annotations

import re
from typing import Any

from feedparser.mixin import _FeedParserMixin

# Namespaces feedparser reads as plain RSS or Atom (no prefix). Its other prefix-less ones
# (Atom 0.3, the Echo and Pie drafts) are dialects the fast path leaves to it.
FEED_NAMESPACES = frozenset({
    "", "http://backend.userland.com/rss", "http://blogs.law.harvard.edu/tech/rss",
    "http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/",
    "http://www.w3.org/2005/atom",
})  # fmt: skip
KNOWN_NAMESPACES: dict[str, str] = {
    uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()
}
CANONICAL_PREFIXES = frozenset(KNOWN_NAMESPACES.values()) - {""}
RDF_VERSIONS = {
    "http://purl.org/rss/1.0/": "rss10",
    "http://my.netscape.com/rdf/simple/0.9/": "rss090",
}
ATOM = "http://www.w3.org/2005/Atom"

# Every name feedparser has a handler for (checked against feedparser by the tests).
HANDLED_BY_FEEDPARSER = frozenset(
    name.split("_", 2)[2] for name in dir(_FeedParserMixin) if name.startswith(("_start_", "_end_"))
)
AUTHOR_ELEMENTS = frozenset({"author", "dc_author", "dc_creator", "itunes_author"})
AUTHOR_PARTS = {"name": "name", "email": "email", "uri": "href", "url": "href", "homepage": "href"}
DATE_ELEMENTS = {
    "pubdate": "published", "published": "published", "issued": "published",
    "dcterms_issued": "published", "updated": "updated", "modified": "updated",
    "lastbuilddate": "updated", "dc_date": "updated", "dcterms_modified": "updated",
}  # fmt: skip
# Handled by feedparser, stored where parse.py does not look: harmless inside an entry.
ENTRY_INERT = frozenset({
    "category", "keywords", "dc_subject", "tags", "enclosure", "media_content",
    "media_thumbnail", "media_category", "media_keywords", "media_credit", "media_rating",
    "media_restriction", "media_license", "media_player", "media_group", "itunes_keywords",
    "itunes_category", "itunes_image", "itunes_link", "itunes_block", "itunes_explicit",
    "itunes_subtitle", "cc_license", "creativecommons_license", "georss_point", "georss_line",
    "georss_polygon", "georss_box", "georss_where", "where", "geom", "georssgeom",
    "gml_point", "gml_linestring", "gml_polygon", "gml_exterior", "gml_linearring", "gml_pos",
    "gml_poslist", "created", "dcterms_created", "expirationdate", "dcterms_valid", "rights",
    "copyright", "dc_rights", "generator", "cloud", "newlocation", "language", "dc_language",
    "contributor", "dc_contributor", "name", "email", "uri", "url", "homepage", "webmaster",
    "dc_publisher", "info", "feedburner_browserfriendly", "subtitle", "tagline", "source",
})  # fmt: skip
# Keys (and FeedParserDict aliases of keys) that parse.py reads from an entry or the feed:
# an element of no known meaning stored under one of them would change the record.
READ_KEYS = frozenset({
    "id", "link", "title", "title_detail", "summary", "summary_detail", "content",
    "published", "published_parsed", "updated", "updated_parsed", "author", "author_detail",
    "date", "date_parsed", "description_detail", "modified_parsed",
    "issued_parsed",
})  # fmt: skip
STRUCTURE = frozenset({"rss", "channel", "feed", "item", "entry", "source", "image", "textinput"})
FEED_FIELDS = frozenset({"title", "dc_title", "media_title", "link", "language", "dc_language"})
FEED_KEEP_OUT = STRUCTURE | FEED_FIELDS | {"title_detail"}
# What an image or text input may hold: another unprefixed element makes feedparser
# forget it is inside one, and a title after it would become the feed's title.
_IMAGE_PARTS = {
    "image": frozenset({"title", "link", "description", "url", "href", "width", "height"}),
    "textinput": frozenset({"title", "link", "description", "name"}),
}


_DECLARATION = re.compile(rb"""xmlns(?::([^\s=]+))?\s*=\s*(["'])(.*?)\2""")


class Unsure(Exception):  # noqa: N818 (a verdict, not an error)
    """The fast path cannot promise feedparser's result for this document."""


class Names:
    """feedparser's name for each element of one document (all namespaces declared on the root)."""

    def __init__(self, body: bytes) -> None:
        # Every declaration in the document (and any look-alike in its text, which can only
        # make this stricter): feedparser names an unknown namespace by its prefix.
        declared = [
            (
                match.group(1).decode("utf-8", "replace") if match.group(1) else None,
                match.group(3).decode("utf-8", "replace"),
            )
            for match in _DECLARATION.finditer(body)
        ]
        self.uris = {uri.lower() for _, uri in declared}
        known = {prefix: self.canonical(uri) for prefix, uri in declared if prefix}
        known = {prefix: canonical for prefix, canonical in known.items() if canonical is not None}
        self.prefixes: dict[str, str] = {"": ""}
        for prefix, uri in declared:
            canonical = self.canonical(uri)
            if canonical is None:  # unknown: feedparser names it by the prefix
                canonical = prefix or ""
                if self.prefixes.setdefault(uri, canonical) != canonical:
                    raise Unsure(f"namespace {uri} bound to two prefixes")
            remapped = prefix and known.get(prefix, canonical) != canonical
            if remapped or (prefix in CANONICAL_PREFIXES and prefix != canonical):
                raise Unsure(f"prefix {prefix} bound to {uri}")
            self.prefixes[uri] = canonical
        self._cache: dict[str, str] = {}

    @staticmethod
    def canonical(uri: str) -> str | None:
        """feedparser's prefix for a namespace ("" for RSS and Atom); None when unknown."""
        low = uri.lower()
        if "backend.userland.com/rss" in low:
            return ""
        canonical = KNOWN_NAMESPACES.get(low)
        if canonical == "" and low not in FEED_NAMESPACES:
            raise Unsure(f"feed dialect {uri}")
        return canonical

    def name(self, element: Any) -> str:
        tag: str = element.tag
        name = self._cache.get(tag)
        if name is None:
            uri, _, local = tag[1:].rpartition("}") if tag[0] == "{" else ("", "", tag)
            prefix = self.prefixes.get(uri)
            if prefix is None:  # declared in a way the scan above did not read (an entity)
                raise Unsure(f"namespace {uri} not found among the declarations")
            name = f"{prefix}_{local.lower()}" if prefix else local.lower()
            self._cache[tag] = name
        return name

    def is_plain(self, element: Any) -> bool:
        """Whether feedparser sees the element without a prefix (plain RSS or Atom)."""
        tag: str = element.tag
        return tag[0] != "{" or not self.prefixes.get(tag[1:].rpartition("}")[0])

    def rdf_version(self, root: Any) -> str:
        """feedparser's version for an RDF document: from its one RSS 1.0 or 0.90 namespace."""
        found = {RDF_VERSIONS[uri] for uri in RDF_VERSIONS if uri in self.uris}
        if ATOM.lower() in self.uris or len(found) != 1:
            raise Unsure("RDF without exactly one RSS namespace")
        version = found.pop()
        if version == "rss090" and root.nsmap.get(None) != "http://my.netscape.com/rdf/simple/0.9/":
            raise Unsure("RSS 0.90 namespace with a prefix")
        return version

    @property
    def has_rdf(self) -> bool:
        return any(uri in self.uris for uri in RDF_VERSIONS)


def text_of(element: Any) -> str:
    """The text of an element that should hold only text; Unsure when it has children."""
    if len(element):
        raise Unsure("markup or comments inside a text element")
    text: str = element.text or ""
    return text


def check_inert(names: Names, element: Any, in_entry: bool) -> bool:
    """Unsure unless nothing in `element` can change what parse.py reads.

    In an entry, media:title may be there (text only): returns whether it is, as it is
    harmless only beside a title (fast_parse checks).
    """
    if in_entry:
        media_title = False
        for node in element.iter():
            if isinstance(node.tag, str):
                name = names.name(node)
                if name == "media_title":
                    text_of(node)  # text only
                    media_title = True
                _check_entry_name(name)
        return media_title
    own_name = names.name(element)
    inside = _IMAGE_PARTS.get(own_name)
    for node in element.iter():
        if not isinstance(node.tag, str) or (node is element and inside is not None):
            continue
        name = names.name(node)
        if (name in FEED_KEEP_OUT and inside is None) or name in STRUCTURE:
            raise Unsure(f"{name} where the fast path does not read it")
        if inside is not None and names.is_plain(node) and name not in inside:
            raise Unsure(f"{name} inside {own_name}")  # feedparser then leaves the image
    return False


def _check_entry_name(name: str) -> None:
    if name == "media_title":
        return
    if (name in HANDLED_BY_FEEDPARSER and name not in ENTRY_INERT) or name in READ_KEYS:
        raise Unsure(f"{name} where the fast path does not read it")
