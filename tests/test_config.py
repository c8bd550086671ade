"""Settings: TOML file, environment, validation errors that name the key."""

from pathlib import Path

import pytest

from monitor.config import Settings, load_settings, parse_size
from monitor.durations import format_duration, parse_duration
from monitor.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("MONITOR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings()
    assert settings.db == Path("state/monitor.db")
    assert settings.rules == Path("rules")
    assert settings.feeds == Path("seeds/feeds.opml")
    assert settings.poll_interval == 600
    assert settings.min_interval == 60
    assert settings.max_backoff == 6 * 3600
    assert settings.telegram_token is None  # alerts go to the console


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800), ("45", 45), ("250ms", 0.25),
        ("1h30m", 5400), ("2d12h", 216000), ("90s", 90), ("1m30s", 90), ("1.5h", 5400),
        ("1d 12h", 129600), ("30min", 1800), ("1s500ms", 1.5), ("2H", 7200),
    ],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "1h30", "30m1h", "5m5m", "1w", "-5m", "\u0663m", "h"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0.25, 1, 45, 90, 600, 5400, 86399, 129600, 30 * 86400])
def test_format_duration_reads_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_format_duration_is_compound() -> None:
    assert [format_duration(s) for s in (600, 5400, 90, 216000)] == [
        "10m",
        "1h30m",
        "1m30s",
        "2d12h",
    ]


def test_compound_duration_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_POLL_INTERVAL", "1h30m")
    assert load_settings().poll_interval == 5400


DURATION_SETTINGS = sorted(
    name for name, field in Settings.model_fields.items() if field.annotation is float
)


def test_the_duration_settings_are_the_known_ones() -> None:
    assert DURATION_SETTINGS == [
        "db_busy_timeout", "feed_failing_after", "fetch_timeout", "jitter", "max_backoff",
        "min_interval",
        "parse_timeout", "poll_interval", "telegram_degraded_after", "telegram_timeout",
    ]  # fmt: skip


@pytest.mark.parametrize("name", DURATION_SETTINGS)
@pytest.mark.parametrize("huge", ["99999999999d", "9" * 400, "inf"])
def test_every_duration_setting_is_bounded(
    monkeypatch: pytest.MonkeyPatch, name: str, huge: str
) -> None:
    monkeypatch.setenv(f"MONITOR_{name.upper()}", huge)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    [line] = str(caught.value).splitlines()
    assert line.startswith(f"MONITOR_{name.upper()} ({name} in monitor.toml): ")
    assert "at most" in line or "not a duration" in line


@pytest.mark.parametrize(
    ("name", "most", "over"),
    [
        ("poll_interval", "30d", "30d1s"),
        ("min_interval", "30d", "31d"),
        ("max_backoff", "30d", "720h1m"),
        ("jitter", "1d", "25h"),
        ("fetch_timeout", "1h", "61m"),
        ("db_busy_timeout", "1h", "2h"),
    ],
)
def test_a_duration_setting_up_to_its_bound(
    monkeypatch: pytest.MonkeyPatch, name: str, most: str, over: str
) -> None:
    monkeypatch.setenv(f"MONITOR_{name.upper()}", most)
    assert getattr(load_settings(), name) == parse_duration(most)
    monkeypatch.setenv(f"MONITOR_{name.upper()}", over)
    with pytest.raises(ConfigError, match=f"is too long: at most {most}$"):
        load_settings()


def test_huge_toml_durations_are_refused(tmp_path: Path) -> None:
    (tmp_path / "monitor.toml").write_text(f"poll_interval = {10**30}\njitter = nan\n")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).splitlines() == [
        f"MONITOR_POLL_INTERVAL (poll_interval in monitor.toml): {10**30} is too long: at most 30d",
        "MONITOR_JITTER (jitter in monitor.toml): nan is not a duration of 0 or more",
    ]


def test_sizes() -> None:
    assert parse_size("10MiB") == 10 * 1024 * 1024
    assert parse_size("500kB") == 500_000
    with pytest.raises(ValueError, match="not a size"):
        parse_size("ten")


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "monitor.toml").write_text('poll_interval = "5m"\ndb = "x.db"\n')
    monkeypatch.setenv("MONITOR_POLL_INTERVAL", "30s")
    settings = load_settings()
    assert settings.poll_interval == 30
    assert settings.db == Path("x.db")


def test_empty_feeds_means_no_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_FEEDS", "")
    assert load_settings().feeds is None


def test_config_option_and_env_point_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.toml"
    other.write_text('min_interval = "1s"\n')
    assert load_settings(other).min_interval == 1
    monkeypatch.setenv("MONITOR_CONFIG", str(other))
    assert load_settings().min_interval == 1


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_bad_duration_names_the_key_and_what_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_POLL_INTERVAL", "10x")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "MONITOR_POLL_INTERVAL" in message
    assert "30s, 5m, 1h" in message
    assert len(message.splitlines()) == 1


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "monitor.toml").write_text('pol_interval = "5m"\n')
    with pytest.raises(ConfigError, match="unknown key 'pol_interval'"):
        load_settings()


def test_misspelt_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_POLL_INTERVALL", "5m")
    with pytest.raises(ConfigError, match="MONITOR_POLL_INTERVALL: not a known setting"):
        load_settings()


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "monitor.toml").write_text("poll_interval = \n")
    with pytest.raises(ConfigError, match=r"monitor\.toml: not valid TOML"):
        load_settings()


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(Exception, match="frozen"):
        settings.poll_interval = 1  # type: ignore[misc]


def test_out_of_range_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_MAX_PER_HOST", "0")
    with pytest.raises(ConfigError, match="MONITOR_MAX_PER_HOST"):
        load_settings()
