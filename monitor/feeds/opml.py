"""OPML feed lists: read outlines into records, write records back as OPML 2.0."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from monitor.errors import OpmlError


@dataclass(frozen=True)
class Outline:
    url: str
    title: str = ""
    html_url: str | None = None
    category: str | None = None  # the folder (a nesting outline's text), or `category`
    kind: str = "feed"  # type="html" is a page watch (automatic mode), type="sitemap" a sitemap


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
            yield Outline(url, title, node.get("htmlUrl"), node.get("category") or category, kind)
        else:
            yield from _outlines(node, title or category)


def write_opml(outlines: Iterable[Outline], title: str = "announcement-monitor feeds") -> str:
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
        ET.SubElement(parent, "outline", attributes)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
