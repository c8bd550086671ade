"""The automatic mode of page watches: find the page's repeated list of dated links.

A list is the children of one element that share a tag and class; it qualifies when at
least MIN_ITEMS of them hold a followable link and a date (feeds.dates). The one with the
most such children wins (ties: the larger share of dated children, then the first in
document order). Its CSS selector is given so the user can confirm it or write a better
one (`monitor watch test`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeAlias

from monitor.feeds.dates import find_date
from monitor.feeds.text import collapse_whitespace

MIN_ITEMS = 3
_CSS_NAME = re.compile(r"-?[A-Za-z_][\w-]*")

Element: TypeAlias = Any  # lxml.html.HtmlElement (lxml has no type hints)


@dataclass(frozen=True)
class AutoList:
    items: tuple[Element, ...]
    selector: str  # CSS that selects these items


def best_list(root: Element) -> AutoList | None:
    best: tuple[int, float] = (0, 0.0)
    chosen: list[Element] = []
    for parent in root.iter():
        for members in _groups(parent):
            linked = [m for m in members if link_of(m)[0]]
            dated = sum(1 for m in linked if find_date(collapse_whitespace(m.text_content())))
            score = (dated, dated / len(members))
            if dated >= MIN_ITEMS and score > best:
                best, chosen = score, linked
    if not chosen:
        return None
    return AutoList(tuple(chosen), css_path(chosen[0]))


def _groups(parent: Element) -> list[list[Element]]:
    groups: dict[tuple[str, str], list[Element]] = {}
    for child in parent:
        if isinstance(child.tag, str):
            groups.setdefault((child.tag, child.get("class") or ""), []).append(child)
    return [members for members in groups.values() if len(members) >= MIN_ITEMS]


def link_of(item: Element) -> tuple[str | None, str]:
    """The item's followable link with the longest text, and that text."""
    best: tuple[str | None, str] = (None, "")
    for anchor in item.iter("a"):
        href = anchor.get("href")
        text = collapse_whitespace(anchor.text_content()) or collapse_whitespace(
            anchor.get("title") or ""
        )
        if href and followable(href) and (best[0] is None or len(text) > len(best[1])):
            best = (href.strip(), text)
    return best


def followable(href: str) -> bool:
    """Relative or http(s) links; javascript:, mailto: and the like lead to no entry."""
    head = href.strip().split("/", 1)[0]
    if ":" not in head:
        return True
    return head.split(":", 1)[0].lower() in ("http", "https")


def css_path(item: Element) -> str:
    """A CSS selector for `item` and its like: from the nearest ancestor with an id (or
    <body>), each step a tag with its classes, or its position among same-tag siblings."""
    steps = [_step(item, position=False)]
    node = item.getparent()
    while node is not None and node.tag not in ("body", "html"):
        steps.append(_step(node, position=True))
        if node.get("id") and _CSS_NAME.fullmatch(node.get("id") or ""):
            break
        node = node.getparent()
    return " > ".join(reversed(steps))


def _step(node: Element, *, position: bool) -> str:
    ident = node.get("id") or ""
    if position and _CSS_NAME.fullmatch(ident):
        return f"{node.tag}#{ident}"
    classes = [c for c in (node.get("class") or "").split() if _CSS_NAME.fullmatch(c)][:2]
    if classes:
        return str(node.tag) + "".join(f".{c}" for c in classes)
    parent = node.getparent()
    same = [s for s in parent if s.tag == node.tag] if parent is not None and position else []
    return f"{node.tag}:nth-of-type({same.index(node) + 1})" if len(same) > 1 else str(node.tag)
