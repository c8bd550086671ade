"""Settings: TOML file, environment, validation errors that name the key."""

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_settings, parse_duration, parse_size


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
    assert settings.console_alerts


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("2d", 172800), ("45", 45), ("250ms", 0.25)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


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
