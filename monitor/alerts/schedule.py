"""When a chat's alerts go out (pure): each as it comes, or in an hourly or daily digest, and
never in the chat's quiet hours, all in the chat's time zone.

An alert's release is worked out from when it was queued and the chat's settings now,
so nothing but the log is needed to find what is due after a restart: a digest is due at
the first period boundary after its alerts were queued, moved to the end of the quiet
hours when it falls in them; an alert queued in quiet hours waits for their end and then
goes into a digest or out on its own, as the chat chose.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

MODES = ("instant", "hourly", "daily")
HELD = ("digest", "send")  # what quiet hours do with what arrives in them
CLOCK_FORMS = "HH:MM on the 24-hour clock, for example 07:30, 7:30 or 19:00"
ZONE_FORMS = (
    "an Area/City name of the tz database, for example Europe/London, Asia/Shanghai,"
    " America/New_York, Australia/Sydney, Pacific/Honiara, or UTC"
)
_CLOCK = re.compile(r"(\d{1,2})[:.h](\d{2})")


@dataclass(frozen=True)
class Delivery:
    """A chat's delivery settings."""

    mode: str = "instant"
    digest_at: time | None = None  # the local time of a daily digest
    timezone: str = "UTC"
    quiet: tuple[time, time] | None = None  # local start and end
    held: str = "digest"

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)


@dataclass(frozen=True)
class Release:
    """When an alert may go out, and whether in a digest or on its own."""

    at: datetime
    digest: bool


def delivery_from(
    mode: str,
    digest_at: str | None,
    timezone: str,
    quiet_start: str | None,
    quiet_end: str | None,
    held: str,
) -> Delivery:
    """The settings as stored (text) made usable; a stored value that no longer parses (a
    time zone dropped from the tz database) falls back to the default."""
    try:
        at = parse_clock(digest_at) if digest_at else None
        quiet = None
        if quiet_start and quiet_end:
            quiet = (parse_clock(quiet_start), parse_clock(quiet_end))
        tz = parse_timezone(timezone)
    except ValueError:
        return Delivery()
    if mode == "daily" and at is None:
        mode = "instant"
    return Delivery(mode if mode in MODES else "instant", at, tz, quiet, held)


def parse_clock(text: str) -> time:
    """'07:30' -> 07:30; ValueError listing the valid forms."""
    found = _CLOCK.fullmatch(text.strip())
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise ValueError(f"{text.strip()[:20]!r} is not a time of day; write {CLOCK_FORMS}")
    return time(int(found[1]), int(found[2]))


def clock_text(moment: time) -> str:
    return moment.strftime("%H:%M")


def parse_quiet(text: str) -> tuple[time, time]:
    """'22:00-07:00' -> (22:00, 07:00); ValueError listing the valid forms."""
    start, dash, end = text.strip().replace("\u2013", "-").partition("-")
    if not dash:
        raise ValueError(
            f"{text.strip()[:30]!r} is not a period; write START-END, for example 22:00-07:00"
        )
    first, last = parse_clock(start), parse_clock(end)
    if first == last:
        raise ValueError("quiet hours need a start and an end that differ, for example 22:00-07:00")
    return first, last


def parse_timezone(text: str) -> str:
    """The IANA name as the tz database spells it; ValueError with the valid forms and the
    closest names."""
    name = text.strip()
    known = _zone_names()
    exact = known.get(name.lower())
    if exact is not None:
        return exact
    close = difflib.get_close_matches(name.lower(), list(known), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(known[c] for c in close)}?" if close else ""
    raise ValueError(f"{name[:40]!r} is not a time zone; write {ZONE_FORMS}.{hint}")


@lru_cache(maxsize=1)
def _zone_names() -> dict[str, str]:
    """Lower-cased name -> the tz database's spelling, for the Area/City names and UTC."""
    names = {
        n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/"))
    }
    return {n.lower(): n for n in [*names, "UTC"]}


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_quiet(delivery: Delivery, moment: datetime) -> bool:
    if delivery.quiet is None:
        return False
    local = moment.astimezone(delivery.zone).time().replace(tzinfo=None)
    start, end = delivery.quiet
    if start < end:
        return start <= local < end
    return local >= start or local < end  # over midnight


def quiet_end(delivery: Delivery, moment: datetime) -> datetime:
    """The first moment at or after `moment` outside the quiet hours."""
    if delivery.quiet is None or not is_quiet(delivery, moment):
        return moment
    return _next_local(delivery, moment, delivery.quiet[1], inclusive=True)


def next_boundary(delivery: Delivery, after: datetime) -> datetime:
    """The end of the digest period that `after` falls in (UTC): the next full hour, or the
    next daily digest time, in the chat's time zone."""
    if delivery.mode == "daily" and delivery.digest_at is not None:
        return _next_local(delivery, after, delivery.digest_at, inclusive=False)
    local = after.astimezone(delivery.zone)
    hour = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    return hour + timedelta(hours=1)


def _next_local(delivery: Delivery, after: datetime, at: time, *, inclusive: bool) -> datetime:
    """The first time the chat's clock shows `at` after `after` (or at it, if inclusive)."""
    tz = delivery.zone
    day = after.astimezone(tz).date()
    for offset in range(3):  # today, tomorrow, or (over a DST change) the day after
        candidate = datetime.combine(day + timedelta(days=offset), at, tzinfo=tz).astimezone(UTC)
        if candidate > after or (inclusive and candidate == after):
            return candidate
    return after + timedelta(days=1)  # not reached: three days always hold a later time


def release(delivery: Delivery, queued_at: datetime) -> Release:
    """When an alert queued at `queued_at` goes out under these settings."""
    if delivery.mode == "instant":
        if is_quiet(delivery, queued_at):
            return Release(quiet_end(delivery, queued_at), delivery.held == "digest")
        return Release(queued_at, False)
    return Release(quiet_end(delivery, next_boundary(delivery, queued_at)), True)


def sendable_now(delivery: Delivery, queued_at: datetime, now: datetime) -> bool:
    """Whether the alert may be sent on its own now."""
    due = release(delivery, queued_at)
    return not due.digest and due.at <= now and not is_quiet(delivery, now)


def in_digest_now(delivery: Delivery, queued_at: datetime, now: datetime) -> bool:
    """Whether the alert belongs in a digest sent now."""
    due = release(delivery, queued_at)
    return due.digest and due.at <= now and not is_quiet(delivery, now)


def describe(delivery: Delivery) -> str:
    """One line for the chat: how and when its alerts arrive."""
    match delivery.mode:
        case "hourly":
            how = "one digest an hour"
        case "daily":
            at = clock_text(delivery.digest_at) if delivery.digest_at else "?"
            how = f"one digest a day at {at}"
        case _:
            how = "each story as it comes"
    quiet = "no quiet hours"
    if delivery.quiet is not None:
        start, end = (clock_text(t) for t in delivery.quiet)
        one_by_one = delivery.mode == "instant" and delivery.held == "send"
        after = "one by one" if one_by_one else "in a digest"
        quiet = f"quiet {start}-{end} (what arrives then comes at {end}, {after})"
    return f"{how}; {quiet}; time zone {delivery.timezone}"
