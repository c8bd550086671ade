"""OPML feed lists: read outlines into records, write records back as OPML 2.0."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.errors import OpmlError
from monitor.eventlog.events import PageSelectors

# A page watch's selectors ride on its outline as attributes in our own namespace.
MONITOR_NS = "urn:announcement-monitor:opml"
_SELECTOR_FIELDS = ("item", "title", "link", "date", "summary")


@dataclass(frozen=True)
class Outline:
    url: str
    title: str = ""
    html_url: str | None = None
    category: str | None = None  # the folder (a nesting outline's text), or `category`
    kind: str = "feed"  # type="html" is a page watch, type="sitemap" a sitemap
    selectors: PageSelectors | None = None  # a page watch's (monitor:item, ...); None: automatic
    fetch_article: bool = False  # monitor:fetchArticle="true": new entries read on their pages


_KINDS = {"html": "page", "sitemap": "sitemap"}
_TYPES = {"page": "html", "sitemap": "sitemap"}


def read_opml(path: Path) -> list[Outline]:
    """Every outline with an xmlUrl; a nesting outline's text becomes its children's category."""
    try:
        root = ET.parse(path).getroot()
    except FileNotFoundError:
        raise OpmlError(f"{path}: file not found") from None
    except ET.ParseError as error:
        line, column = error.position
        raise OpmlError(f"{path}:{line}:{column}: not well-formed XML: {error.msg}") from None
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise OpmlError(f"{path}: not OPML (expected <opml> with a <body>, found <{root.tag}>)")
    return list(_outlines(body, None))


def _outlines(parent: ET.Element, category: str | None) -> Iterable[Outline]:
    for node in parent.findall("outline"):
        url = (node.get("xmlUrl") or "").strip()
        title = (node.get("title") or node.get("text") or "").strip()
        if url:
            kind = _KINDS.get((node.get("type") or "").lower(), "feed")
            folder = node.get("category") or category
            articles = (node.get(f"{{{MONITOR_NS}}}fetchArticle") or "").lower() == "true"
            html_url = node.get("htmlUrl")
            yield Outline(url, title, html_url, folder, kind, _selectors(node), articles)
        else:
            yield from _outlines(node, title or category)


def _selectors(node: ET.Element) -> PageSelectors | None:
    found = {name: node.get(f"{{{MONITOR_NS}}}{name}") or "" for name in _SELECTOR_FIELDS}
    xpath = (node.get(f"{{{MONITOR_NS}}}xpath") or "").lower() == "true"
    return PageSelectors(**found, xpath=xpath) if any(found.values()) else None


def _selector_attributes(selectors: PageSelectors | None) -> dict[str, str]:
    if selectors is None:
        return {}
    chosen = {f"{{{MONITOR_NS}}}{n}": getattr(selectors, n) for n in _SELECTOR_FIELDS}
    if selectors.xpath:
        chosen[f"{{{MONITOR_NS}}}xpath"] = "true"
    return {name: value for name, value in chosen.items() if value}


def write_opml(outlines: Iterable[Outline], title: str = "announcement-monitor feeds") -> str:
    ET.register_namespace("monitor", MONITOR_NS)
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = datetime.now(UTC).strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for outline in outlines:
        parent = body
        if outline.category:  # a folder: one nesting outline per category, in first-seen order
            parent = folders.get(outline.category) or ET.SubElement(
                body, "outline", {"text": outline.category, "title": outline.category}
            )
            folders[outline.category] = parent
        attributes = {
            "type": _TYPES.get(outline.kind, "rss"),
            "text": outline.title or outline.url,
            "title": outline.title,
            "xmlUrl": outline.url,
        }
        if outline.html_url:
            attributes["htmlUrl"] = outline.html_url
        attributes |= _selector_attributes(outline.selectors)
        if outline.fetch_article:
            attributes[f"{{{MONITOR_NS}}}fetchArticle"] = "true"
        ET.SubElement(parent, "outline", attributes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
