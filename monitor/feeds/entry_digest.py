"""A digest of each entry as the document gives it, before any text is extracted.

A changed feed body mostly repeats entries that are already stored (a new
`lastBuildDate`, a rotating ad, one new item on top). parse_feed takes the digests the
log knows for the feed and leaves those entries out: for them the parser computes this
digest and nothing else (no link joining, dates, HTML to text), and the matcher never
sees them. The same digest means the same raw entry in the same context, so the same
record and key: the entry is already stored.

The fast path hashes the item's element as lxml serialises it, with what the walk takes
from around it (format, base URI, inherited language); the feedparser path hashes the
entry dict feedparser made. The two never meet: a document always takes the same path,
and a digest of one path is simply not found by the other. Bump VERSION when what a
record is built from changes, so that entries are built once again.
"""

from __future__ import annotations

import hashlib
from typing import Any

from lxml import etree

VERSION = "1"


def element_digest(element: Any, url: str, version: str, base: str, lang: str | None) -> str:
    """The digest of an item or entry element (the fast path)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{VERSION}\0{url}\0{version}\0{base}\0{lang or ''}\0".encode())
    digest.update(etree.tostring(element, with_tail=False))
    return digest.hexdigest()


def dict_digest(raw: Any, url: str, feed_lang: str | None) -> str:
    """The digest of one of feedparser's entry dicts (its repr is the same for the same input)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{VERSION}\0{url}\0{feed_lang or ''}\0".encode())
    digest.update(repr(raw).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()
