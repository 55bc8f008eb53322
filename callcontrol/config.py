"""Configuration, parsed once at start-up and passed down as frozen dataclasses.

Sources, later ones winning: built-in defaults, an optional TOML file named by
``CALLCONTROL_CONFIG`` (flat keys: the variable name without the ``CALLCONTROL_`` prefix,
lower-cased, e.g. ``http_port = 8080``), then ``CALLCONTROL_*`` environment variables.

This module imports nothing from the rest of callcontrol, so every layer may depend on it.
A bad value raises :class:`ConfigError` whose message names the variable; the CLI prints
that one line and exits non-zero.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

PREFIX = "CALLCONTROL_"
T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True, slots=True)
class AriConfig:
    url: str = "http://127.0.0.1:8088/ari"
    username: str = "callcontrol"
    password: str = "callcontrol"  # noqa: S105 - the lab/simulator default, as in ari.conf
    app: str = "callcontrol"
    request_timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    # Origins allowed to open the agent websocket besides the server's own.
    allowed_origins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgiConfig:
    host: str = "127.0.0.1"
    port: int = 4573
    request_timeout: float = 2.0


@dataclass(frozen=True, slots=True)
class CallsConfig:
    ring_timeout: float = 15.0
    queue_max_wait: float = 120.0
    wrapup_seconds: float = 10.0
    lookup_budget_ms: int = 150
    outbound_caller_id: str = ""
    recordings_dir: Path = Path("var/recordings")
    # Dial strings call control uses: the customer of a click-to-call ({number}: E.164) and
    # a blind-transfer target that is no logged-in agent ({extension}).
    customer_endpoint: str = "Local/{number}@customers"
    transfer_endpoint: str = "Local/{extension}@agents"


@dataclass(frozen=True, slots=True)
class Config:
    database_url: str
    redis_url: str | None
    ari: AriConfig
    http: HttpConfig
    agi: AgiConfig
    calls: CallsConfig
    default_region: str
    secret_key: bytes = field(repr=False)
    var_dir: Path
    log_level: str = "INFO"
    log_format: str = "text"
    demo: bool = False


# --- value parsers --------------------------------------------------------------------


def _port(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a port number 1-65535, got {raw!r}") from None
    if not 1 <= value <= 65535:
        raise ConfigError(f"{name}: expected a port number 1-65535, got {raw!r}")
    return value


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number of seconds, got {raw!r}") from None
    if value <= 0 or value != value:
        raise ConfigError(f"{name}: expected a positive number of seconds, got {raw!r}")
    return value


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name}: expected a positive whole number, got {raw!r}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _database_url(name: str, raw: str) -> str:
    scheme = raw.split("://", 1)[0] if "://" in raw else ""
    accepted = {"sqlite+aiosqlite", "postgresql+asyncpg", "sqlite", "postgresql", "postgres"}
    if scheme not in accepted:
        raise ConfigError(
            f"{name}: expected a sqlite:// or postgresql:// URL, got {raw!r}"
        )
    # Accept the plain forms people paste and pick the async drivers we ship.
    if scheme == "sqlite":
        return "sqlite+aiosqlite" + raw[len("sqlite"):]
    if scheme in {"postgresql", "postgres"}:
        return "postgresql+asyncpg" + raw[len(scheme):]
    return raw


def _redis_url(name: str, raw: str) -> str | None:
    if not raw.strip():
        return None
    if urlsplit(raw).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"{name}: expected a redis:// URL, got {raw!r}")
    return raw


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"{name}: expected an http:// URL such as http://127.0.0.1:8088/ari, got {raw!r}"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"{name}: bad port in {raw!r}") from None
    return raw.rstrip("/")


def _region(name: str, raw: str) -> str:
    region = raw.strip().upper()
    if len(region) != 2 or not region.isalpha():
        raise ConfigError(f"{name}: expected a two-letter country code such as CY, got {raw!r}")
    # Imported here so that config stays importable without the phone library loaded.
    import phonenumbers

    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{name}: unknown country code {raw!r}")
    return region


def _text(name: str, raw: str) -> str:
    return raw


def _log_level(name: str, raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"{name}: expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return level


def _log_format(name: str, raw: str) -> str:
    fmt = raw.strip().lower()
    if fmt not in {"text", "json"}:
        raise ConfigError(f"{name}: expected text or json, got {raw!r}")
    return fmt


def _origins(name: str, raw: str) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


# --- loading ---------------------------------------------------------------------------


class _Source:
    """Looks values up in the environment first, then in the TOML file."""

    def __init__(self, env: Mapping[str, str], file_values: Mapping[str, Any]) -> None:
        self._env = env
        self._file = file_values

    def get(self, key: str, parse: Callable[[str, str], T], default: T) -> T:
        name = PREFIX + key.upper()
        if name in self._env:
            return parse(name, self._env[name])
        if key in self._file:
            return parse(f"{name} (in the config file)", str(self._file[key]))
        return default


def _read_file(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get(PREFIX + "CONFIG")
    if not path:
        return {}
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{PREFIX}CONFIG: no such file {path!r}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{PREFIX}CONFIG: {path!r} is not valid TOML ({exc})") from None
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{PREFIX}CONFIG: unknown keys in {path!r}: {', '.join(unknown)}")
    return data


def _secret_key(src: _Source, var_dir: Path) -> bytes:
    raw = src.get("secret_key", _text, "")
    if raw:
        if len(raw) < 32:
            raise ConfigError(f"{PREFIX}SECRET_KEY: expected at least 32 characters")
        return raw.encode()
    # Generated once and kept, so sessions and encrypted secrets survive a restart.
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_bytes().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


KNOWN_KEYS = {
    "database_url", "redis_url", "ari_url", "ari_username", "ari_password", "ari_app",
    "ari_request_timeout", "http_host", "http_port", "http_allowed_origins", "agi_host",
    "agi_port", "agi_request_timeout", "default_region", "secret_key", "var_dir",
    "log_level", "log_format", "demo", "ring_timeout", "queue_max_wait", "wrapup_seconds",
    "lookup_budget_ms", "outbound_caller_id", "recordings_dir",
    "customer_endpoint", "transfer_endpoint",
}


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Build the configuration from ``env`` (default: ``os.environ``)."""
    env = os.environ if env is None else env
    src = _Source(env, _read_file(env))
    ari, http, agi = AriConfig(), HttpConfig(), AgiConfig()
    var_dir = Path(src.get("var_dir", _text, "var"))
    default_db = f"sqlite+aiosqlite:///{var_dir / 'callcontrol.sqlite3'}"
    return Config(
        database_url=src.get("database_url", _database_url, default_db),
        redis_url=src.get("redis_url", _redis_url, None),
        ari=AriConfig(
            url=src.get("ari_url", _http_url, ari.url),
            username=src.get("ari_username", _text, ari.username),
            password=src.get("ari_password", _text, ari.password),
            app=src.get("ari_app", _ari_app, ari.app),
            request_timeout=src.get("ari_request_timeout", _positive_float, 5.0),
        ),
        http=HttpConfig(
            host=src.get("http_host", _text, http.host),
            port=src.get("http_port", _port, http.port),
            allowed_origins=src.get("http_allowed_origins", _origins, ()),
        ),
        agi=AgiConfig(
            host=src.get("agi_host", _text, agi.host),
            port=src.get("agi_port", _port, agi.port),
            request_timeout=src.get("agi_request_timeout", _positive_float, 2.0),
        ),
        calls=CallsConfig(
            ring_timeout=src.get("ring_timeout", _positive_float, 15.0),
            queue_max_wait=src.get("queue_max_wait", _positive_float, 120.0),
            wrapup_seconds=src.get("wrapup_seconds", _non_negative_float, 10.0),
            lookup_budget_ms=src.get("lookup_budget_ms", _positive_int, 150),
            outbound_caller_id=src.get("outbound_caller_id", _text, ""),
            recordings_dir=Path(
                src.get("recordings_dir", _text, str(var_dir / "recordings"))
            ),
            customer_endpoint=src.get("customer_endpoint", _dial_template("{number}"),
                                      CallsConfig().customer_endpoint),
            transfer_endpoint=src.get("transfer_endpoint", _dial_template("{extension}"),
                                      CallsConfig().transfer_endpoint),
        ),
        default_region=src.get("default_region", _region, "CY"),
        secret_key=_secret_key(src, var_dir),
        var_dir=var_dir,
        log_level=src.get("log_level", _log_level, "INFO"),
        log_format=src.get("log_format", _log_format, "text"),
        demo=src.get("demo", _bool, False),
    )


def _dial_template(placeholder: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        tech, sep, rest = raw.strip().partition("/")
        if not sep or not tech or placeholder not in rest:
            raise ConfigError(f"{name}: expected a dial string such as PJSIP/{placeholder}@trunk "
                              f"containing {placeholder}, got {raw!r}")
        try:
            raw.strip().format(number="0", extension="0")
        except (KeyError, IndexError, ValueError):
            raise ConfigError(f"{name}: only {placeholder} may appear in braces, got {raw!r}") \
                from None
        return raw.strip()
    return parse


def _ari_app(name: str, raw: str) -> str:
    if not raw or not all(c.isalnum() or c in "-_." for c in raw):
        raise ConfigError(
            f"{name}: expected an application name of letters, digits, - _ or ., got {raw!r}"
        )
    return raw


def _non_negative_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number of seconds, got {raw!r}") from None
    if value < 0 or value != value:
        raise ConfigError(f"{name}: expected zero or more seconds, got {raw!r}")
    return value
