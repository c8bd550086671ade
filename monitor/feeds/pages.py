"""Page watches: an HTML listing page (no feed) read as entries, by selectors or found
automatically (feeds.page_auto). Pure: bytes in, feeds.records out; runs in the parser
workers under their time limit.

Selectors are CSS (lxml with cssselect), or XPath when `xpath` is set. The item selector
is absolute; title, link, date and summary are relative to each item. Without them: the
title is the item's longest link text, the link that link's href, the date the first
date in the item's text (feeds.dates). Only the page itself is read: pagination is never
followed, and at most MAX_ITEMS items are taken from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urljoin

import lxml.html
from cssselect import SelectorError as CssSyntaxError
from lxml import etree

from monitor.feeds.dates import find_date
from monitor.feeds.page_auto import AutoList, best_list, followable, link_of
from monitor.feeds.records import (
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
    guess_chinese_codec,
    is_utf8,
    normalise_lang,
    shorten,
)

if TYPE_CHECKING:  # the type only: parser workers reading feeds need no pydantic
    from monitor.eventlog.events import PageSelectors

MAX_ITEMS = 200  # items taken from one page; a page listing more is cut, in document order
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)

Element: TypeAlias = Any  # lxml.html.HtmlElement (lxml has no type hints)


class SelectorError(ValueError):
    """A selector that cannot be compiled; the message names it."""


def parse_page(
    body: bytes, url: str, content_type: str | None, selectors: PageSelectors
) -> ParseResult:
    """The page's items as entries; "selectors-empty" when nothing is found."""
    root = read_html(body, content_type)
    if root is None:
        return ParseFailed("malformed", f"{url}: not an HTML document")
    base = _base(root, url)
    try:
        items, described = _items(root, selectors)
    except SelectorError as problem:
        return ParseFailed("malformed", f"{url}: {problem}")
    lang = normalise_lang(root.get("lang"))
    entries = [e for e in (_entry(i, base, selectors, lang) for i in items[:MAX_ITEMS]) if e]
    if not entries:
        return ParseFailed("selectors-empty", f"{url}: {described} gave no entries")
    warnings = (
        [f"{len(items)} items on the page; the first {MAX_ITEMS} kept"]
        if len(items) > MAX_ITEMS
        else []
    )
    title = shorten(collapse_whitespace(root.findtext(".//title") or ""), TITLE_LIMIT)
    return FeedData("html", title, url, lang, tuple(entries), tuple(warnings))


def auto_selector(body: bytes, content_type: str | None) -> str | None:
    """The item selector the automatic mode would use on this page, or None."""
    root = read_html(body, content_type)
    found = best_list(root) if root is not None else None
    return found.selector if found else None


def read_html(body: bytes, content_type: str | None) -> Element | None:
    """The document, decoded by its HTTP charset, its <meta charset>, UTF-8, or GB18030/Big5."""
    try:
        text = body.decode(_charset(body, content_type), errors="replace")
        return lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError, LookupError):
        return None


def _charset(body: bytes, content_type: str | None) -> str:
    declared = re.search(r"charset=([\w-]+)", content_type or "", re.IGNORECASE)
    meta = _CHARSET.search(body[:4096])
    name = declared.group(1) if declared else meta.group(1).decode() if meta else None
    if name and name.lower().replace("_", "-") in ("gb2312", "gbk"):
        return "gb18030"  # a superset: pages labelled gb2312 often hold GBK characters
    if name:
        return name
    return "utf-8" if is_utf8(body) else guess_chinese_codec(body) or "utf-8"


def _base(root: Element, url: str) -> str:
    base = root.find(".//base[@href]")
    return urljoin(url, base.get("href") or "") if base is not None else url


def _items(root: Element, selectors: PageSelectors) -> tuple[list[Element], str]:
    if selectors.item:
        found = [e for e in select(root, selectors.item, selectors.xpath) if not isinstance(e, str)]
        return found, f"the item selector {selectors.item!r} ({len(found)} matches)"
    auto: AutoList | None = best_list(root)
    if auto is None:
        return [], "the automatic mode (no repeated list of dated links)"
    return list(auto.items), f"the automatic mode (item {auto.selector!r})"


def select(node: Element, selector: str, xpath: bool) -> Sequence[Element | str]:
    """What a CSS or XPath selector finds under `node`: elements, or strings (XPath text())."""
    try:
        if xpath:
            found = node.xpath(selector)
            return found if isinstance(found, list) else [str(found)]
        return list(node.cssselect(selector))
    except (CssSyntaxError, etree.XPathError) as error:
        kind = "XPath" if xpath else "CSS selector"
        raise SelectorError(f"the {kind} {selector!r} is not valid: {error}") from None


def check_selectors(selectors: PageSelectors) -> None:
    """SelectorError naming the first selector that does not compile."""
    empty = lxml.html.document_fromstring("<html><body></body></html>")
    for name in ("item", "title", "link", "date", "summary"):
        selector = getattr(selectors, name)
        if selector:
            try:
                select(empty, selector, selectors.xpath)
            except SelectorError as problem:
                raise SelectorError(f"--{name}: {problem}") from None


def _entry(
    item: Element, base: str, selectors: PageSelectors, lang: str | None
) -> EntryData | None:
    href, link_text = _link(item, selectors)
    link = canonical_link(href, base) if href and followable(href) else None
    title = _text(item, selectors.title, selectors.xpath) if selectors.title else link_text
    date_text = _text(item, selectors.date, selectors.xpath) if selectors.date else ""
    when = find_date(date_text or collapse_whitespace(item.text_content()))
    summary = _text(item, selectors.summary, selectors.xpath) if selectors.summary else ""
    if not title or not (link or summary):
        return None
    return build_entry(
        EntryFields(
            ident=link or "",
            link=link,
            title=title,
            summary=summary,
            date_text=when[1] if when else date_text,
            published=when[0] if when else None,
            author=None,
            lang=normalise_lang(item.get("lang")) or lang,
        )
    )


def _link(item: Element, selectors: PageSelectors) -> tuple[str | None, str]:
    if not selectors.link:
        return link_of(item)
    found = select(item, selectors.link, selectors.xpath)
    if not found:
        return None, ""
    first = found[0]
    if isinstance(first, str):
        return first.strip(), ""
    anchor = first if first.get("href") else next(iter(first.iter("a")), first)
    return anchor.get("href"), collapse_whitespace(anchor.text_content())


def _text(item: Element, selector: str, xpath: bool) -> str:
    found = select(item, selector, xpath)
    if not found:
        return ""
    first = found[0]
    if isinstance(first, str):
        return collapse_whitespace(first)
    return collapse_whitespace(first.get("datetime") or first.text_content())
