"""The pacer keeps Telegram's per-chat, per-group and overall limits, and honours pauses."""

from __future__ import annotations

import itertools
import pickle
from collections import defaultdict
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.alerts.pacing import Pacer, PacingRules

RULES = PacingRules()


def send_when_told(pacer: Pacer, chat_id: int, now: float) -> float:
    """Wait as long as the pacer says, send, and return the send time."""
    while (wait := pacer.wait_for(chat_id, now)) > 0:
        now += wait
    pacer.record(chat_id, now)
    return now


def burst(pacer: Pacer, chat_ids: Iterable[int], now: float = 0.0) -> list[tuple[int, float]]:
    sent = []
    for chat_id in chat_ids:
        now = send_when_told(pacer, chat_id, now)
        sent.append((chat_id, now))
    return sent


def broken_limits(sent: list[tuple[int, float]], rules: PacingRules = RULES) -> list[str]:
    """Every way the sends in `sent` (in time order) break the rules."""
    problems = []
    by_chat: dict[int, list[float]] = defaultdict(list)
    for chat_id, when in sent:
        by_chat[chat_id].append(when)
    for chat_id, times in by_chat.items():
        for earlier, later in itertools.pairwise(times):
            if later < earlier + rules.per_chat_interval:
                problems.append(f"chat {chat_id}: {earlier} then {later}")
        if chat_id < 0:
            problems += _window_breaks(f"group {chat_id}", times, rules.per_group_per_minute, 60.0)
    return problems + _window_breaks("overall", [t for _, t in sent], rules.overall_per_second, 1.0)


def _window_breaks(label: str, times: list[float], capacity: int, window: float) -> list[str]:
    return [
        f"{label}: {capacity + 1} sends from {first} to {last}"
        for first, last in zip(times, times[capacity:], strict=False)
        if last < first + window
    ]


def soonest(pacer: Pacer, chat_ids: list[int], now: float) -> tuple[int, float] | None:
    """The chat that can be sent to soonest and its wait (the first one on a tie)."""
    waits = [(chat_id, pacer.wait_for(chat_id, now)) for chat_id in chat_ids]
    return min(waits, key=lambda pair: pair[1], default=None)


def state_size(pacer: Pacer) -> int:
    """Bytes of what the pacer remembers."""
    return len(pickle.dumps(pacer))


def test_a_burst_to_one_private_chat_is_spaced_one_second_apart() -> None:
    sent = burst(Pacer(), [7] * 25)
    assert [t for _, t in sent] == [float(n) for n in range(25)]


def test_a_group_gets_at_most_twenty_a_minute() -> None:
    sent = burst(Pacer(), [-100] * 25)
    times = [t for _, t in sent]
    assert times == [float(n) for n in range(20)] + [60.0, 61.0, 62.0, 63.0, 64.0]
    assert broken_limits(sent) == []


def test_a_hundred_chats_get_at_most_thirty_a_second() -> None:
    pacer, pending, sent, now = Pacer(), list(range(1, 101)), [], 0.0
    while pending:
        ready = soonest(pacer, pending, now)
        assert ready is not None
        chat_id, wait = ready
        now += wait
        pacer.record(chat_id, now)
        sent.append((chat_id, now))
        pending.remove(chat_id)
    assert [t for _, t in sent] == [0.0] * 30 + [1.0] * 30 + [2.0] * 30 + [3.0] * 10
    assert broken_limits(sent) == []


def test_a_paused_chat_does_not_hold_back_others() -> None:
    pacer = Pacer()
    pacer.pause(5, until=100.0)
    pacer.pause(5, until=40.0)  # a shorter RetryAfter does not end the longer pause
    assert pacer.wait_for(5, now=10.0) == 90.0
    assert pacer.wait_for(6, now=10.0) == 0.0
    assert soonest(pacer, [5, 6], now=10.0) == (6, 0.0)
    assert pacer.wait_for(5, now=100.0) == 0.0


def test_a_global_pause_delays_every_chat() -> None:
    pacer = Pacer()
    pacer.pause(None, until=50.0)
    assert [pacer.wait_for(c, now=20.0) for c in (1, -2, 3)] == [30.0, 30.0, 30.0]
    assert soonest(pacer, [1, -2], now=20.0) == (1, 30.0)
    assert pacer.wait_for(1, now=50.0) == 0.0


def test_the_soonest_chat_is_the_one_with_the_shortest_wait() -> None:
    pacer = Pacer()
    pacer.record(1, now=0.0)
    pacer.record(2, now=0.5)
    assert soonest(pacer, [2, 1], now=0.75) == (1, 0.25)
    assert soonest(pacer, [1, 2, 3], now=0.75) == (3, 0.0)
    assert soonest(pacer, [], now=0.75) is None


def test_waiting_does_not_reserve() -> None:
    pacer = Pacer()
    assert pacer.wait_for(1, now=0.0) == 0.0
    assert pacer.wait_for(1, now=0.0) == 0.0
    pacer.record(1, now=0.0)
    assert pacer.wait_for(1, now=0.0) == 1.0


def test_memory_stays_bounded_with_many_chats() -> None:
    pacer = Pacer()
    chats = [n if n % 3 else -n for n in range(1, 20_001)]
    sent = burst(pacer, chats)
    assert sent[-1][1] > 600.0  # long enough for many windows to pass
    # At most two group windows of sends at 30 a second: one kept by a sweep, one since.
    crowded = state_size(pacer)
    send_when_told(pacer, 1, sent[-1][1] + 1000.0)  # every window has passed: a sweep
    assert state_size(pacer) < crowded / 20


def test_custom_rules_are_used() -> None:
    rules = PacingRules(per_chat_interval=0.0, per_group_per_minute=2, overall_per_second=3)
    sent = burst(Pacer(rules), [-1, -1, -1, 2, 3, 4, 5])
    assert [t for _, t in sent] == [0.0, 0.0, 60.0, 60.0, 60.0, 61.0, 61.0]
    assert broken_limits(sent, rules) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"per_chat_interval": -1.0}, "per_chat_interval must be 0 or more"),
        ({"per_group_per_minute": 0}, "per_group_per_minute must be at least 1"),
        ({"overall_per_second": 0}, "overall_per_second must be at least 1"),
    ],
)
def test_bad_rules_are_refused(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PacingRules(**changes)  # type: ignore[arg-type]


_STEP = st.tuples(
    st.sampled_from([1, 2, 3, -10, -11, -12]),
    st.floats(0.0, 5.0, allow_nan=False),
    st.one_of(st.none(), st.floats(0.0, 30.0, allow_nan=False)),
)


@given(st.lists(_STEP, max_size=200), st.sampled_from([RULES, PacingRules(0.5, 3, 4)]))
def test_sends_that_wait_as_told_never_break_a_limit(
    steps: list[tuple[int, float, float | None]], rules: PacingRules
) -> None:
    pacer, now, sent = Pacer(rules), 0.0, []
    paused_until: dict[int, float] = {}
    for chat_id, delay, pause in steps:
        now += delay
        if pause is not None:
            pacer.pause(chat_id, now + pause)
            paused_until[chat_id] = max(paused_until.get(chat_id, 0.0), now + pause)
        now = send_when_told(pacer, chat_id, now)
        assert now >= paused_until.get(chat_id, 0.0)
        sent.append((chat_id, now))
    assert broken_limits(sent, rules) == []
