"""Durations as people write them: '90s', '15m', '1h30m', '2d12h', or a number of seconds.

The one parser of durations: settings (monitor.config), CLI options and the bot's
commands all read them here, and format_duration writes the form it reads back.
"""

from __future__ import annotations

import math
import re

DAY = 86400.0
MAX_INTERVAL = 30 * DAY  # poll intervals, the minimum and the backoff
MAX_JITTER = DAY
MAX_TIMEOUT = 3600.0  # every timeout setting
MAX_DURATION = 36500 * DAY  # any duration at all: dates further away overflow

_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
# Each unit at most once, largest first: "1h30m", "2d12h", "90s", "250ms".
_DURATION = re.compile(
    rf"""\s*(?:(?P<d>{_NUMBER})\s*d\s*)?
    (?:(?P<h>{_NUMBER})\s*h\s*)?
    (?:(?P<m>{_NUMBER})\s*(?:min|m)\s*)?
    (?:(?P<s>{_NUMBER})\s*s\s*)?
    (?:(?P<ms>{_NUMBER})\s*ms\s*)?""",
    re.IGNORECASE | re.VERBOSE,
)
_PLAIN_SECONDS = re.compile(rf"\s*({_NUMBER})\s*")
_DURATION_UNITS = {"d": DAY, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: object, most: float = MAX_DURATION) -> float:
    """'1h30m', '2d12h', '90s', '250ms' or a bare number of seconds -> seconds.

    ValueError, saying what is accepted, for anything else, a negative value, or one
    longer than `most` seconds.
    """
    seconds = _duration_seconds(value)
    if seconds > most:
        raise ValueError(f"{_shown(value)} is too long: at most {format_duration(most)}")
    if not seconds >= 0:  # also NaN, which TOML allows
        raise ValueError(f"{_shown(value)} is not a duration of 0 or more")
    return seconds


def _duration_seconds(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # a TOML integer too large for a float
            return math.inf
    text = str(value)
    plain = _PLAIN_SECONDS.fullmatch(text)
    if plain:
        return float(plain[1])
    parts = _DURATION.fullmatch(text)
    if not parts or not any(parts.groupdict().values()):
        raise ValueError(
            f"{_shown(value)} is not a duration: use numbers with d, h, m, s or ms, largest first"
            " (30s, 5m, 1h, 1h30m, 2d12h)"
        )
    return sum(float(n) * _DURATION_UNITS[unit] for unit, n in parts.groupdict().items() if n)


def _shown(value: object) -> str:
    """The value as the error quotes it: a 400-digit number would drown the message."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def format_duration(seconds: float) -> str:
    """The form parse_duration reads back: 600 -> '10m', 5400 -> '1h30m', 0.25 -> '0.25s'."""
    if not math.isfinite(seconds) or seconds != int(seconds) or seconds < 1:
        return f"{seconds:g}s"
    rest, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
