"""When a chat's alerts go out (alerts.schedule) and how a digest reads (alerts.digest_render):
hourly and daily periods in the chat's time zone, quiet hours over midnight and over a DST
change, the valid forms of times and zones, and digests split at whole lines."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_messages import problems

from monitor.alerts.cutting import utf16_len
from monitor.alerts.digest_render import DigestStory, digest_parts
from monitor.alerts.render import TELEGRAM_LIMIT, AlertView
from monitor.alerts.schedule import (
    Delivery,
    delivery_from,
    in_digest_now,
    is_quiet,
    next_boundary,
    parse_clock,
    parse_quiet,
    parse_timezone,
    release,
    sendable_now,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "shown"),
    [("07:30", time(7, 30)), ("7:30", time(7, 30)), ("19.00", time(19)), (" 0:05 ", time(0, 5))],
)
def test_times_of_day(text: str, shown: time) -> None:
    assert parse_clock(text) == shown


@pytest.mark.parametrize("text", ["25:00", "12:60", "noon", "7", "07:3", "", "7:30pm"])
def test_a_time_that_does_not_exist_gets_the_valid_forms(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM on the 24-hour clock, for example 07:30"):
        parse_clock(text)


def test_time_zones_are_spelt_as_the_tz_database_and_bad_ones_get_the_forms() -> None:
    assert parse_timezone("asia/shanghai") == "Asia/Shanghai"
    assert parse_timezone("UTC") == "UTC"
    with pytest.raises(ValueError, match=r"Area/City name .* Did you mean Europe/Paris"):
        parse_timezone("Europe/Pariss")
    with pytest.raises(ValueError, match="not a time zone; write an Area/City name"):
        parse_timezone("Mars/Olympus")
    with pytest.raises(ValueError, match="not a time zone"):
        parse_timezone("EST5EDT")  # not an Area/City name


def test_quiet_periods() -> None:
    assert parse_quiet("22:00-07:00") == (time(22), time(7))
    for bad in ("22:00", "22:00-22:00", "22:00-31:00"):
        with pytest.raises(ValueError, match=r"22:00-07:00|24-hour"):
            parse_quiet(bad)


def test_hourly_periods_follow_the_chat_clock_even_half_an_hour_off_utc() -> None:
    kolkata = Delivery(mode="hourly", timezone="Asia/Kolkata")  # UTC+05:30
    assert next_boundary(kolkata, at("2026-11-30T10:17:00")) == at("2026-11-30T10:30:00")
    assert next_boundary(kolkata, at("2026-11-30T10:30:00")) == at("2026-11-30T11:30:00")


def test_a_daily_digest_keeps_its_local_time_over_a_dst_change() -> None:
    london = Delivery(mode="daily", digest_at=time(8), timezone="Europe/London")
    assert next_boundary(london, at("2026-03-28T09:00:00")) == at("2026-03-29T07:00:00")  # BST
    assert next_boundary(london, at("2026-03-27T09:00:00")) == at("2026-03-28T08:00:00")  # GMT


def test_quiet_hours_over_midnight_hold_alerts_till_their_end() -> None:
    paris = Delivery(timezone="Europe/Paris", quiet=(time(22), time(7)), held="send")
    late = at("2026-11-30T22:30:00")  # 23:30 in Paris
    assert is_quiet(paris, late) and not is_quiet(paris, at("2026-11-30T06:00:00"))
    assert release(paris, late).at == at("2026-12-01T06:00:00")  # 07:00 in Paris
    assert not sendable_now(paris, late, at("2026-12-01T05:59:00"))
    assert sendable_now(paris, late, at("2026-12-01T06:00:00"))
    digesting = Delivery(timezone="Europe/Paris", quiet=(time(22), time(7)))
    assert release(digesting, late).digest and not sendable_now(digesting, late, at("2026-12-02"))
    assert in_digest_now(digesting, late, at("2026-12-01T06:00:00"))
    assert sendable_now(digesting, at("2026-11-30T12:00:00"), at("2026-11-30T12:00:00"))


def test_a_digest_due_in_quiet_hours_waits_for_their_end() -> None:
    hourly = Delivery(mode="hourly", quiet=(time(22), time(7)))
    assert release(hourly, at("2026-11-30T20:10:00")).at == at("2026-11-30T21:00:00")
    assert release(hourly, at("2026-11-30T21:10:00")).at == at("2026-12-01T07:00:00")  # at 22:00
    assert release(hourly, at("2026-11-30T22:10:00")).at == at("2026-12-01T07:00:00")
    assert not in_digest_now(hourly, at("2026-11-30T22:10:00"), at("2026-12-01T02:00:00"))


def test_stored_settings_that_no_longer_parse_fall_back_to_instant() -> None:
    assert delivery_from("daily", None, "UTC", None, None, "digest") == Delivery()
    assert delivery_from("hourly", None, "Gone/Zone", None, None, "digest") == Delivery()


# --- the digest message -----------------------------------------------------------------


def story(n: int, rule: tuple[str, str, str], outlets: int = 1, title: str = "") -> DigestStory:
    view = AlertView(
        title=title or f"Story {n} about police training",
        link=f"https://example.org/{n}?a=1&b=2",
        source=f"Outlet {n}",
        published=None,
        rules=(rule,),
        summary="",
        spans=(),
        terms=(),
    )
    return DigestStory(f"a{n}", view, outlets)


POLICE = ("police-training", "China trains foreign police", "high")
GSI = ("gsi", "Global Security Initiative <forums>", "medium")


def test_a_digest_groups_stories_by_topic_each_once_with_its_outlet_count() -> None:
    [part] = digest_parts([story(1, GSI), story(2, POLICE, 3), story(3, POLICE)], "Digest · 11:00")
    assert part.html.split("\n") == [
        "🗞 <b>Digest · 11:00</b> · 3 stories",
        "",
        "🔴 <b>China trains foreign police</b> #police_training",
        '• <a href="https://example.org/2?a=1&amp;b=2">Story 2 about police training</a>'
        " · Outlet 2 · 3 outlets",
        '• <a href="https://example.org/3?a=1&amp;b=2">Story 3 about police training</a>'
        " · Outlet 3 · 1 outlet",
        "",
        "🟠 <b>Global Security Initiative &lt;forums&gt;</b> #gsi",
        '• <a href="https://example.org/1?a=1&amp;b=2">Story 1 about police training</a>'
        " · Outlet 1 · 1 outlet",
    ]
    assert part.alert_ids == ("a2", "a3", "a1")
    assert "Global Security Initiative <forums>" in part.plain and "<a " not in part.plain
    assert problems(part.html) == []


def test_a_long_digest_is_split_at_whole_lines_each_part_within_the_limit() -> None:
    long_title = "Police training " * 40
    stories = [story(n, POLICE if n % 3 else GSI, n, long_title) for n in range(60)]
    parts = digest_parts(stories, "Digest")
    assert len(parts) > 2
    assert [p.alert_ids.count(s.alert_id) for s in stories for p in parts].count(1) == 60
    for number, part in enumerate(parts, 1):
        assert utf16_len(part.html) <= TELEGRAM_LIMIT and utf16_len(part.plain) <= TELEGRAM_LIMIT
        assert part.html.split("\n")[0].endswith(f"· 60 stories ({number}/{len(parts)})")
        assert problems(part.html) == []
        assert part.html.split("\n")[2].startswith(("🔴", "🟠"))  # each part names its topic
    assert any("(continued)" in part.html for part in parts[1:])


_TEXT = st.text(
    st.one_of(st.characters(), st.sampled_from(["&", "<", "😀", "\u202e"])), max_size=400
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT, st.integers(1, 99)), min_size=1, max_size=40), _TEXT)
def test_any_digest_parts_are_well_formed_and_within_the_limit(
    items: list[tuple[str, str, int]], heading: str
) -> None:
    stories = [
        DigestStory(f"a{n}", AlertView(title, None, source, None, (POLICE,), "", (), ()), count)
        for n, (title, source, count) in enumerate(items)
    ]
    parts = digest_parts(stories, heading, limit=1500)
    assert sorted(i for p in parts for i in p.alert_ids) == sorted(s.alert_id for s in stories)
    for part in parts:
        assert utf16_len(part.html) <= 1500 and utf16_len(part.plain) <= 1500
        assert problems(part.html) == []
        assert "\u202e" not in part.html
