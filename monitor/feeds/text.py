"""Plain text from feed HTML, canonical links, entry keys, language tags. Pure, stdlib only."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

# Tags whose text is never shown to a reader.
_HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title"})

# Tags that separate words on screen; everything else (a, b, span, ...) joins them.
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div",
        "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "img", "li", "main", "nav", "ol", "p", "pre", "section", "summary",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip

# Query parameters that only tell a publisher where a click came from. Removing them makes
# the same article under different campaign links one entry.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid",
        "yclid", "_hsenc", "_hsmi", "igshid", "ref_src", "twclid", "ttclid", "li_fat_id",
        "mkt_tok", "_ga", "_gl", "xtor", "ncid", "ocid", "cmpid", "spm", "oly_anon_id",
        "oly_enc_id", "vero_id", "vero_conv", "rb_clickid", "s_cid", "sr_share", "wt.mc_id",
        "__twitter_impression",
    }
)  # fmt: skip
_TRACKING_PREFIXES = ("utm_",)
_DEFAULT_PORTS = {"http": 80, "https": 443}

# UTF-32 first: its little-endian mark starts with the UTF-16 one.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
# Where the NULs fall in the first four bytes of "<?xm" or "<rss" (1 = NUL).
_WIDE_BY_NULS = {
    b"\x01\x01\x01\x00": "utf-32-be",
    b"\x00\x01\x01\x01": "utf-32-le",
    b"\x01\x00\x01\x00": "utf-16-be",
    b"\x00\x01\x00\x01": "utf-16-le",
}
# Han ideographs, CJK punctuation and full-width forms: what Chinese text is made of.
_HAN_CLASS = r"[\u3000-\u3003\u300a-\u3011\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff5e]"
_HAN = re.compile(_HAN_CLASS)
_HAN_RUN = re.compile(_HAN_CLASS + "{2,}")
_HTML_STARTS = ("<!doctype html", "<html", "<head", "<body", "<title", "<meta", "<p>", "<div")

# C0 controls other than tab/newline/carriage return, DEL, and C1 controls: feeds carry
# them by accident and they break terminals and Telegram.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


# Control, format (zero-width, bidi embeddings, overrides and isolates, BOM), surrogate,
# private-use and unassigned characters: shown, they can make a title read differently
# from what it says, or hide part of it.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_ZWJ = "\u200d"


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def collapse_whitespace(text: str) -> str:
    """Drop control characters and turn every run of whitespace into one space."""
    return " ".join(_CONTROL_CHARS.sub("", text).split())


def is_hidden_at(text: str, index: int) -> bool:
    """Whether text[index] is a control, format, surrogate, private-use or unassigned character.

    A zero-width joiner between two emoji is not hidden: it makes one emoji of them (👮‍♂️).
    """
    char = text[index]
    if char == _ZWJ and 0 < index < len(text) - 1:
        return not (_ends_emoji(text[index - 1]) and unicodedata.category(text[index + 1]) == "So")
    return unicodedata.category(char) in _HIDDEN_CATEGORIES


def _ends_emoji(char: str) -> bool:
    """An emoji, or what may end one: the emoji presentation selector or a skin tone."""
    return (
        unicodedata.category(char) == "So"
        or char == "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"
    )


def visible_text(text: str) -> str:
    """`text` without hidden characters (is_hidden_at); tab, newline and return become spaces.

    Everything shown to a person goes through this or `alerts.cutting.tidy`, which uses
    is_hidden_at: bot replies, Telegram alerts and console alert lines.
    """
    return "".join(
        " " if char in "\t\n\r" else char
        for index, char in enumerate(text)
        if char in "\t\n\r" or not is_hidden_at(text, index)
    )


def extends_grapheme(char: str) -> bool:
    """Whether `char` belongs to the grapheme before it (a mark, skin tone or emoji tag)."""
    return (
        unicodedata.category(char)[0] == "M"
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # emoji tag sequences
    )


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters: a longer text is cut at a word boundary and ends with "…".

    Text without a space in its second half (Chinese, a run-on token) is cut between
    characters instead, never between a character and the marks that belong to it.
    """
    if len(text) <= limit:
        return text
    end = text.rfind(" ", limit // 2, limit)
    if end < 0:
        end = limit - 1
        while end > 0 and extends_grapheme(text[end]):
            end -= 1
    return text[:end].rstrip() + "…"


def html_to_text(markup: str) -> str:
    """Visible text of an HTML fragment: tags stripped, entities unescaped, one-line."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return collapse_whitespace("".join(collector.parts))


def canonical_link(link: str | None, base: str) -> str | None:
    """Absolute http(s) form of `link` with tracking parameters and fragment removed.

    Returns None for empty links, other schemes, and links with no host or a bad port.
    """
    if not link or not link.strip():
        return None
    try:
        parts = urlsplit(urljoin(base, link.strip()))
        port = parts.port
    except ValueError:  # bad port, bad IPv6 literal
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    netloc = _netloc(parts.username, parts.password, parts.hostname, port, scheme)
    return urlunsplit((scheme, netloc, parts.path or "/", _clean_query(parts.query), ""))


def _netloc(
    user: str | None, password: str | None, host: str, port: int | None, scheme: str
) -> str:
    host = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    if user is None:
        return host
    userinfo = user if password is None else f"{user}:{password}"
    return f"{userinfo}@{host}"


def _clean_query(query: str) -> str:
    # Filter the raw pieces rather than decode and re-encode, so kept parameters stay
    # byte-for-byte as the publisher wrote them.
    kept = [piece for piece in query.split("&") if piece and not _is_tracking(piece)]
    return "&".join(kept)


def _is_tracking(piece: str) -> bool:
    name = unquote(piece.partition("=")[0]).strip().lower()
    return name in _TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def entry_key(
    ident: str, link: str | None, title: str, date_text: str, summary: str = ""
) -> str | None:
    """Stable entry key: the id as given, else the canonical link, else a hash of title and date.

    RSS 0.9x items may carry only a description: then the description stands in for the
    title. None when there is nothing to identify the entry by.
    """
    if ident.strip():
        return ident.strip()
    if link:
        return link
    text = title or summary
    if not text:
        return None
    digest = hashlib.sha1(f"{text}\n{date_text.strip()}".encode(), usedforsecurity=False)
    return "sha1:" + digest.hexdigest()


def normalise_lang(value: object) -> str | None:
    """A language tag lower-cased with hyphens ("zh_CN" -> "zh-cn"); None if not a tag."""
    if not isinstance(value, str):
        return None
    tag = value.strip().lower().replace("_", "-")
    parts = tag.split("-")
    if not tag or not all(part.isascii() and part.isalnum() and len(part) <= 8 for part in parts):
        return None
    return tag


def document_head(body: bytes) -> str:
    """The start of a document as lower-case text, for telling HTML, XML and junk apart."""
    head = body[:4096]
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return head[len(bom) :].decode(codec, "replace").lstrip().lower()
    return head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n\f\v\x00").lower()


def looks_like_html(head: str) -> bool:
    """True when a document head (see document_head) starts like an HTML page or fragment."""
    start = head
    while start.startswith(("<?", "<!--")):  # skip an XML declaration and leading comments
        end = start.find("?>" if start.startswith("<?") else "-->")
        start = start[end:].lstrip("?->").lstrip() if end >= 0 else ""
    return start.startswith(_HTML_STARTS)


def bomless_utf16_or_32(body: bytes) -> str | None:
    """The codec of an XML document in UTF-16 or UTF-32 without a byte-order mark, if it is.

    A document starts with "<", so its NUL bytes give the encoding away (XML 1.0 appendix F).
    """
    codec = _wide_codec_by_nuls(body[:4])
    if codec is None:
        return None
    try:
        body.decode(codec)
    except UnicodeDecodeError:
        return None
    return codec


def _wide_codec_by_nuls(start: bytes) -> str | None:
    if len(start) < 4 or start.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None  # too short, or has a byte-order mark, which feedparser reads itself
    nul_pattern = bytes(byte == 0 for byte in start)
    return _WIDE_BY_NULS.get(nul_pattern)


def is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def guess_chinese_codec(body: bytes) -> str | None:
    """ "gb18030" or "big5" when the bytes read as Chinese text in it, else None.

    For documents with no usable encoding declaration. GB18030 (a superset of GB2312 and
    GBK, used in mainland China) is tried first; Big5 bytes read as GB18030 give kana and
    bopomofo rather than Han characters, so the test below tells them apart.
    """
    for codec in ("gb18030", "big5"):
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if _reads_as_chinese(text):
            return codec
    return None


def _reads_as_chinese(text: str) -> bool:
    # Latin-1 text can decode as GB18030 too ("für" is two valid bytes), but then each Han
    # character stands alone between Latin letters; Chinese text has them in runs.
    non_ascii = sum(1 for char in text if not char.isascii())
    han = len(_HAN.findall(text))
    in_runs = sum(len(run) for run in _HAN_RUN.findall(text))
    return han >= 2 and han >= 0.8 * non_ascii and in_runs >= 0.6 * han
