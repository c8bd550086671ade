"""Settings: `monitor.toml` plus `MONITOR_*` environment variables, loaded once.

The environment wins over the file. The result is a frozen object passed down to
every stage; nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from monitor.durations import MAX_INTERVAL, MAX_JITTER, MAX_TIMEOUT, parse_duration
from monitor.errors import ConfigError
from monitor.levels import Level

ENV_PREFIX = "MONITOR_"
DEFAULT_CONFIG_FILE = Path("monitor.toml")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_size(value: object) -> int:
    """'10MiB', '500kB', '1048576' -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size: use a number with B, KiB, MiB or GiB (10MiB)")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[(unit or "b").lower()])


def _duration_up_to(most: float) -> BeforeValidator:
    """Validation of a duration setting that may be at most `most` seconds."""

    def parse(value: object) -> float:
        return parse_duration(value, most)

    return BeforeValidator(parse)


def _optional_path(value: object) -> object:
    return None if value in ("", None) else value


def _id_list(value: object) -> object:
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",") if part.strip()]
        for part in parts:
            if not part.lstrip("-").isdigit():
                raise ValueError(f"{part!r} is not a numeric Telegram id; use comma-separated ids")
        return tuple(int(part) for part in parts)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    return value


def _optional_text(value: object) -> object:
    return None if value == "" else value


def _db_target(value: object) -> object:
    """A `postgresql://` URL stays text (the log on PostgreSQL); anything else is a path."""
    if isinstance(value, str) and not value.startswith(("postgresql://", "postgres://")):
        return Path(value)
    return value


Interval = Annotated[float, _duration_up_to(MAX_INTERVAL), Field(gt=0)]
Timeout = Annotated[float, _duration_up_to(MAX_TIMEOUT), Field(gt=0)]
Bytes = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
OptionalPath = Annotated[Path | None, BeforeValidator(_optional_path)]
IdList = Annotated[tuple[int, ...], NoDecode, BeforeValidator(_id_list)]
DbTarget = Annotated[Path | str, BeforeValidator(_db_target)]


class Settings(BaseSettings):
    """Every setting, its default and its meaning is listed in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="forbid")

    db: DbTarget = Path("state/monitor.db")
    db_busy_timeout: Timeout = 10.0
    db_connect_retry: Annotated[float, _duration_up_to(MAX_INTERVAL)] = 60.0
    rules: Path = Path("rules")
    allow_no_rules: bool = False  # start even when the rules folder holds no rule
    feeds: OptionalPath = Path("seeds/feeds.opml")
    poll_interval: Interval = 600.0
    min_interval: Interval = 60.0
    max_backoff: Interval = 6 * 3600.0
    jitter: Annotated[float, _duration_up_to(MAX_JITTER)] = 30.0
    fetch_timeout: Timeout = 30.0
    max_body: Bytes = 10 * 1024 * 1024
    max_redirects: Annotated[int, Field(ge=0, le=20)] = 5
    max_connections: Annotated[int, Field(ge=1, le=1000)] = 50
    max_per_host: Annotated[int, Field(ge=1, le=100)] = 2
    parse_timeout: Timeout = 60.0
    parse_workers: Annotated[int, Field(ge=1, le=64)] = 2
    story_index_entries: Annotated[int, Field(ge=1000, le=10_000_000)] = 12_000
    user_agent: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, Field(ge=0, le=65535)] = 8377
    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_webhook_url: str | None = None
    telegram_webhook_listen: str = "127.0.0.1:8443"
    telegram_admins: IdList = ()
    telegram_channel: str | None = None
    telegram_channel_level: Level = "high"
    telegram_open: bool = True
    telegram_allowed_chats: IdList = ()
    telegram_resend_uncertain: bool = False
    telegram_timeout: Timeout = 20.0
    telegram_degraded_after: Timeout = 300.0
    allow_private_feeds: bool = False
    watches_per_chat: Annotated[int, Field(ge=0, le=100)] = 10
    feed_failing_after: Interval = 6 * 3600.0
    feed_silent_factor: Annotated[int, Field(ge=2, le=100)] = 5
    feed_lease: Interval = 120.0  # PostgreSQL: how long a daemon's claim on a feed lasts

    @field_validator("telegram_token", "telegram_webhook_url", "telegram_channel", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return _optional_text(value)

    @field_validator("telegram_webhook_listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} is not host:port (for example 127.0.0.1:8443)")
        return value

    @field_validator("telegram_api_url", "telegram_webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init values; the environment must override it.
        return (env_settings, init_settings)


def setting_names() -> list[str]:
    """The environment names of every setting, for docs and checks."""
    return ["MONITOR_CONFIG"] + [ENV_PREFIX + name.upper() for name in Settings.model_fields]


def load_settings(config_file: Path | None = None) -> Settings:
    """Read the TOML file (if any) and the environment; raise ConfigError naming each bad key."""
    _refuse_unknown_env(os.environ)
    path, explicit = _config_path(config_file, os.environ)
    values = _read_toml(path) if path.is_file() else {}
    if explicit and not path.is_file():
        raise ConfigError(f"{path}: config file not found (set by --config or MONITOR_CONFIG)")
    try:
        return Settings(**values)
    except ValidationError as error:
        raise ConfigError(_explain(error, path)) from None


def _refuse_unknown_env(environ: Mapping[str, str]) -> None:
    # A misspelt variable would otherwise be ignored without a word.
    known = set(setting_names())
    unknown = sorted(name for name in environ if name.startswith(ENV_PREFIX) and name not in known)
    if unknown:
        raise ConfigError(f"{unknown[0]}: not a known setting; known: {', '.join(sorted(known))}")


def _config_path(config_file: Path | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    if config_file is not None:
        return config_file, True
    if environ.get("MONITOR_CONFIG"):
        return Path(environ["MONITOR_CONFIG"]), True
    return DEFAULT_CONFIG_FILE, False


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        known = ", ".join(Settings.model_fields)
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; known keys: {known}")
    return data


def _explain(error: ValidationError, path: Path) -> str:
    lines = []
    for problem in error.errors():
        key = str(problem["loc"][0]) if problem["loc"] else "?"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "is not a known setting (see docs/configuration.md)"
        lines.append(f"{ENV_PREFIX}{key.upper()} ({key} in {path}): {message}")
    return "\n".join(lines)
