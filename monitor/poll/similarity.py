"""What makes two entries the same story (pure): a canonical URL, and shingles of their text.

A URL is reduced to what names the article: no scheme, no `www.`/`m.`/`amp.` host
prefix, no AMP path variant, no tracking parameters, no fragment. Text is normalised as
the matcher does it (NFKC, case-folding, traditional to simplified Chinese) and cut into
shingles: pairs of words for alphabetic scripts, pairs of characters for Chinese and
Japanese (a Chinese headline has no spaces, and one character is too common to say much).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Hashable
from collections.abc import Set as AbstractSet
from urllib.parse import parse_qsl, urlencode, urlsplit

from monitor.rules.normalise import normalise

# Query parameters that say how a reader arrived, never which article it is.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid", "ocid",
        "cmpid", "cmp", "ito", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname",
        "ns_fee", "smid", "smtyp", "rss", "rssfeed", "from", "ref", "ref_src", "src",
        "source", "share", "cid", "icid", "outputtype", "amp", "output", "spm", "s_cid",
        "_ga", "guccounter", "sh", "partner", "utm",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hmsr", "__twitter", "_hs")
HOST_PREFIXES = ("www.", "m.", "mobile.", "amp.", "wap.", "3g.")
_AMP_PATH = re.compile(r"(?:/amp/?$|/amp(?=/)|\.amp(?=\.html?$|$))", re.IGNORECASE)
# Ideographs and kana (as monitor.rules.normalise counts them): each one is a token.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_TOKEN = re.compile(f"[{_CJK}]|(?:(?![{_CJK}])[^\\W_])+")
# Separators before an outlet's name at the end of a headline ("Title - Reuters").
_OUTLET_TAIL = re.compile(r"\s+(?:-|\u2013|\u2014|\||::)\s+([^-\u2013\u2014|]{1,60})$")
MAX_OUTLET_WORDS = 6
_THOUSANDS = re.compile(r"(\d)[,\u00a0 ](?=\d{3}\b)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def canonical_url(url: str | None) -> str | None:
    """The article a link names: host (without www./m./amp.), path without AMP, sorted
    query without tracking parameters; None when there is no usable http(s) link."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    for prefix in HOST_PREFIXES:
        host = host.removeprefix(prefix)
    port = f":{parts.port}" if _explicit_port(parts.port, parts.scheme.lower()) else ""
    path = _AMP_PATH.sub("", parts.path) or "/"
    path = path.rstrip("/") or "/"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(key)
    )
    tail = f"?{urlencode(query)}" if query else ""
    return f"{host}{port}{path}{tail}"


def _explicit_port(port: int | None, scheme: str) -> bool:
    try:
        return port is not None and (scheme, port) not in (("http", 80), ("https", 443))
    except ValueError:
        return False


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def split_outlet(title: str) -> tuple[str, str | None]:
    """'Headline - Outlet' -> ('Headline', 'Outlet') when the tail reads like a name."""
    found = _OUTLET_TAIL.search(title)
    if not found:
        return title, None
    head, outlet = title[: found.start()].strip(), found.group(1).strip()
    if len(outlet.split()) > MAX_OUTLET_WORDS or len(head.split()) < 3:
        return title, None
    return head, outlet


def numbers(text: str) -> frozenset[str]:
    """The numbers a text names ("3,000" and "3000" alike): headlines that differ in them
    (batch 1, batch 2; 3,000 officers, 2,000 officers) are not the same report."""
    return frozenset(_NUMBER.findall(_THOUSANDS.sub(r"\1", text)))


def tokens(text: str) -> list[str]:
    """Words of alphabetic scripts and single CJK characters, normalised, in order."""
    return _TOKEN.findall(normalise(_THOUSANDS.sub(r"\1", text)).folded)


def shingles(text: str) -> set[str]:
    """Overlapping pairs of tokens: word pairs, and character pairs inside Chinese text.

    A text of one token gives that token alone, so that a short headline still has a set.
    """
    toks = tokens(text)
    if len(toks) < 2:
        return set(toks)
    return {f"{a} {b}" for a, b in itertools.pairwise(toks)}


def jaccard(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
