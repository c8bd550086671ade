"""Dates as listing pages print them, in English and Chinese forms, to aware UTC datetimes.

2024年9月10日, 2024-09-10, 2024/9/10, 2024.09.10 (with an optional 14:30), 10 Sep 2024,
10 September 2024, Sep 10, 2024. A date without a time is taken as 00:00 UTC that day.
Pure, stdlib only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = r"(?P<month_name>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_TIME = r"(?:[ T\u3000]*(?P<hour>\d{1,2})[:\uff1a](?P<minute>\d{2}))?"
_PATTERNS = (
    re.compile(
        r"(?P<year>\d{4})\s*年\s*(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*[日号]?" + _TIME
    ),
    re.compile(r"(?<!\d)(?P<year>\d{4})[-/.](?P<month>\d{1,2})[-/.](?P<day>\d{1,2})(?!\d)" + _TIME),
    re.compile(
        r"(?<!\d)(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+" + _MONTH + r",?\s+(?P<year>\d{4})" + _TIME,
        re.IGNORECASE,
    ),
    re.compile(
        r"\b" + _MONTH + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})" + _TIME,
        re.IGNORECASE,
    ),
)


def find_date(text: str) -> tuple[datetime, str] | None:
    """The first real date in `text` and the words that gave it, or None."""
    found: list[tuple[int, datetime, str]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            moment = _moment(match)
            if moment is not None:
                found.append((match.start(), moment, match.group(0).strip()))
                break
    if not found:
        return None
    _, moment, words = min(found, key=lambda item: item[0])
    return moment, words


def _moment(match: re.Match[str]) -> datetime | None:
    parts = match.groupdict()
    month = _MONTHS[parts["month_name"].lower()] if parts.get("month_name") else parts["month"]
    try:
        return datetime(
            int(parts["year"]),
            int(month),
            int(parts["day"]),
            int(parts.get("hour") or 0),
            int(parts.get("minute") or 0),
            tzinfo=UTC,
        )
    except (ValueError, TypeError):
        return None  # 2024-13-45, or a year datetime cannot hold
