"""feedparser's rules for bytes and text, as the fast path (monitor.feeds.fast_parse) needs them.

Which encoding feedparser would read a document in (and when that is certain to give the
text lxml reads), how xml:base moves its base URI, the last touches it gives every text
value, and how it reads authors. Uses feedparser's own functions and tables where they exist.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import feedparser.encodings
from feedparser.encodings import RE_XML_PI_ENCODING
from feedparser.encodings import parse_content_type as split_content_type
from feedparser.html import _cp1252
from feedparser.urls import _urljoin, make_safe_absolute_uri

from monitor.feeds.fast_names import AUTHOR_PARTS, Names, Unsure, text_of
from monitor.feeds.text import is_utf8

# feedparser guesses an undeclared encoding with chardet when chardet is installed, and
# readability-lxml (feeds.article) installs it. Feeds are read without it, as
# docs/compatibility.md measures: its guesses are worse than ours (GBK text guessed GB2312
# and read by Python's gb2312 codec, which misreads some characters, where parse.py's
# _better_charset reads GB18030), and parsing must not depend on what else is installed.
feedparser.encodings.lazy_chardet_encoding = None

_PLAIN_URL = re.compile(r"https?://[^/?#;\[\]@\s\\]+(?:/[^?#;\s\\]*)?(?:\?[^#;\s\\]+)?(?:#\S+)?\Z")
_EMAIL = re.compile(  # feedparser's, for "name (email)" author strings
    r"(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))"
    r"([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"
)
_C1_CONTROLS = re.compile("[\x80-\x9f]")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

_XML_MEDIA_TYPES = (
    "application/xml", "application/xml-dtd", "application/xml-external-parsed-entity"
)  # fmt: skip
_TEXT_XML_TYPES = ("text/xml", "text/xml-external-parsed-entity")
# Single-byte encodings that Python and libxml2 both know by these names and read alike.
_SINGLE_BYTE = frozenset(
    [f"iso-8859-{n}" for n in (*range(1, 11), 13, 14, 15, 16)]
    + [f"windows-125{n}" for n in range(9)] + ["koi8-r", "koi8-u"]
)  # fmt: skip
# Codecs that read ASCII bytes as ASCII: any of them gives an ASCII body the same text.
_ASCII_SAFE = _SINGLE_BYTE | {"utf-8", "us-ascii", "ascii", "latin-1"}
BASE_ATTRIBUTE = re.compile(rb"[\s:]base\s*=", re.IGNORECASE)  # xml:base or base somewhere
_EQUALS_AFTER = re.compile(rb"\s*=")
_BEFORE_BASE = frozenset(b" \t\n\r\f\v:")
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"


def has_base_attribute(body: bytes) -> bool:
    """BASE_ATTRIBUTE.search(body), found faster: that regex takes 6 µs per entry of a feed
    (a character class first, case-insensitive); here "base" is found in the lower-cased
    bytes and only its few places are checked."""
    lowered = body.lower()
    at = lowered.find(b"base", 1)
    while at != -1:
        if lowered[at - 1] in _BEFORE_BASE and _EQUALS_AFTER.match(lowered, at + 4):
            return True
        at = lowered.find(b"base", at + 1)
    return False


def content_type_is_text_xml(content_type: str | None) -> bool:
    media_type, charset = split_content_type(content_type or "application/xml")
    return not charset and (media_type in _TEXT_XML_TYPES or _is_text_plus_xml(media_type))


def _is_text_plus_xml(media_type: str) -> bool:
    return media_type.startswith("text/") and media_type.endswith("+xml")


def encoding_of(body: bytes, content_type: str) -> str | None:
    """The encoding feedparser would report, when the text is certain to be the same."""
    data = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
    match = RE_XML_PI_ENCODING.match(data)
    declared = match.group(1).decode("ascii", "replace").lower() if match else ""
    media_type, charset = split_content_type(content_type)
    if media_type in _XML_MEDIA_TYPES or (
        media_type.startswith("application/") and media_type.endswith("+xml")
    ):
        encoding = charset or declared or "utf-8"
    elif media_type in _TEXT_XML_TYPES or _is_text_plus_xml(media_type):
        encoding = charset or "us-ascii"
        if not charset and not body.isascii():  # feedparser falls back to the declaration
            if declared not in ("", "utf-8"):
                return None
            encoding = "utf-8"
    else:
        return None  # feedparser flags a non-XML media type
    codec = encoding.lower()
    if body.isascii() and codec in _ASCII_SAFE:
        return encoding
    if codec != (declared or "utf-8") or (data is not body and codec != "utf-8"):
        return None  # lxml reads the bytes as the declaration (or a BOM) says
    if codec != "utf-8" and (codec not in _SINGLE_BYTE or is_utf8(data)):
        return None  # parse.py would read valid UTF-8 again as UTF-8, with a warning
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return None
    return encoding


def base_uri(url: str) -> str:
    # feedparser's base URI for a document read from a file object with Content-Location.
    base = make_safe_absolute_uri("", url) or make_safe_absolute_uri(url) or ""
    return (make_safe_absolute_uri(base, base) or base) if base else ""


def join_url(base: str, url: str) -> str:
    """feedparser's _urljoin(base, url), without its cost for the common absolute http(s) URL.

    urljoin gives such a URL back as it is when its scheme differs from the base's, and
    re-assembled from its parts when it is the same, which gives the same string for the
    shapes _PLAIN_URL admits (no empty "?" or "#", no ";" parameters, nothing urlsplit
    strips or rejects, no extra slashes for feedparser's own fix-up).
    """
    if url.isascii() and url.isprintable() and _PLAIN_URL.match(url):
        return url
    result: str = _urljoin(base, url)
    return result


def base_of(element: Any, parent: str) -> str:
    """feedparser's base URI inside an element: its xml:base (or base) joined to the parent's."""
    given = element.get(_XML_BASE, element.get("base")) or parent
    if not parent:
        result: str = _urljoin(parent, given)
        return result
    return make_safe_absolute_uri(parent, given) or parent


def lang_of(element: Any, inherited: str | None) -> str | None:
    lang = element.get(_XML_LANG, element.get("lang"))
    if lang == "":
        return None  # xml:lang="" resets the language
    return inherited if lang is None else lang


def repair(output: str) -> str:
    """feedparser's last steps on text: undo UTF-8 read as Latin-1, map C1 to Windows-1252."""
    if output.isascii():
        return output
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        output = output.encode("iso-8859-1").decode("utf-8")
    # str.translate with a dict costs a lookup per character: only when there is work.
    return output.translate(_cp1252) if _C1_CONTROLS.search(output) else output


def attributes(element: Any) -> dict[str, str]:
    # feedparser lower-cases attribute names, and the values of rel and type.
    if not len(element.attrib):
        return {}
    attrs = {key.lower(): value for key, value in element.attrib.items() if key[0] != "{"}
    for key in ("rel", "type"):
        if key in attrs:
            attrs[key] = attrs[key].lower()
    return attrs


def read_author(names: Names, entry: dict[str, Any], element: Any) -> None:
    """feedparser's author handling: name, email and uri children, or "email (name)" text."""
    detail: dict[str, str] = {}
    own_text = element.text or ""
    for child in element:
        own_text += child.tail or ""
        if not isinstance(child.tag, str):
            continue
        part = AUTHOR_PARTS.get(names.name(child))
        if part is None:
            raise Unsure("an author with unknown parts")
        value = text_of(child).strip()
        detail[part] = value
        entry.setdefault("author_detail", {})[part] = value
        _sync_author(entry, detail)
    if len(element) and own_text.strip():
        raise Unsure("an author with both text and parts")
    entry["author"] = repair(own_text.strip())
    _sync_author(entry, detail)


def _sync_author(entry: dict[str, Any], detail: dict[str, str]) -> None:
    # feedparser's _sync_author_detail, for one author.
    if detail:
        name, email = detail.get("name"), detail.get("email")
        if name or email:
            entry["author"] = f"{name} ({email})" if name and email else name or email
        return
    author, email = entry.get("author"), None
    if not author:
        return
    match = _EMAIL.search(author)
    if match:
        email = match.group(0)
        author = author.replace(email, "").replace("()", "").replace("<>", "")
        author = author.replace("&lt;&gt;", "").strip()
        author = author[1:] if author[:1] == "(" else author
        author = (author[:-1] if author[-1:] == ")" else author).strip()
    if author or email:
        found = entry.setdefault("author_detail", detail)
        if author:
            found["name"] = author
        if email:
            found["email"] = email
