"""Telegram's HTML (parse mode "HTML"), checked the way its parser refuses it.

`visible_text` is what the fake Bot API server (`fakes.telegram`, which re-exports it)
uses for sendMessage and editMessageText: the text a reader would see, or ValueError
worded like Telegram's "can't parse entities" detail.
"""

from __future__ import annotations

import html
import re

_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
     "code", "pre", "blockquote", "tg-emoji"}
)  # fmt: skip
_TAG_NAME = re.compile(r"[^\s>]*")
_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)""")


def visible_text(text: str) -> str:
    """The text a reader sees; ValueError, worded like Telegram's, on markup it refuses."""
    open_tags: list[str] = []
    pieces: list[str] = []
    position = 0
    while (start := text.find("<", position)) != -1:
        pieces.append(text[position:start])
        end = text.find(">", start)
        tag, offset = text[start + 1 : len(text) if end == -1 else end], _byte_offset(text, start)
        if tag.startswith("/"):
            _close_tag(open_tags, tag[1:].strip().lower(), offset, closed=end != -1)
        else:
            open_tags.append(_open_tag(tag, offset, closed=end != -1))
        position = end + 1
    if open_tags:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return html.unescape("".join([*pieces, text[position:]]))


def _open_tag(tag: str, offset: int, *, closed: bool) -> str:
    name = _TAG_NAME.match(tag).group().lower()  # type: ignore[union-attr]  # always matches
    if name not in _HTML_TAGS:
        raise ValueError(f'Unsupported start tag "{name}" at byte offset {offset}')
    if not closed:
        raise ValueError(f"Unclosed start tag at byte offset {offset}")
    found = {key.lower(): value.strip("\"'") for key, value in _ATTRIBUTE.findall(tag)}
    if name == "span" and found.get("class") != "tg-spoiler":
        raise ValueError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    return name


def _close_tag(open_tags: list[str], name: str, offset: int, *, closed: bool) -> None:
    if not open_tags:
        raise ValueError(f"Unexpected end tag at byte offset {offset}")
    if not closed:
        raise ValueError(f"Unclosed end tag at byte offset {offset}")
    if name and name != open_tags[-1]:
        raise ValueError(
            f'Unmatched end tag at byte offset {offset}, expected "</{open_tags[-1]}>", '
            f'found "</{name}>"'
        )
    open_tags.pop()


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())
