from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from callcontrol.config import ConfigError, load_config


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    base = {"CALLCONTROL_VAR_DIR": str(tmp_path / "var")}
    base.update({f"CALLCONTROL_{k.upper()}": v for k, v in values.items()})
    return base


def test_defaults_are_embedded(tmp_path: Path) -> None:
    cfg = load_config(env(tmp_path))
    assert cfg.database_url.startswith("sqlite+aiosqlite:///")
    assert str(tmp_path / "var") in cfg.database_url
    assert cfg.redis_url is None
    assert (cfg.http.host, cfg.http.port, cfg.agi.port) == ("127.0.0.1", 8080, 4573)
    assert cfg.ari.app == "callcontrol"


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_config(env(tmp_path)).secret_key
    second = load_config(env(tmp_path)).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("http_port", "abc", "CALLCONTROL_HTTP_PORT"),
        ("http_port", "70000", "CALLCONTROL_HTTP_PORT"),
        ("agi_port", "-1", "CALLCONTROL_AGI_PORT"),
        ("database_url", "mysql://x", "CALLCONTROL_DATABASE_URL"),
        ("redis_url", "http://x", "CALLCONTROL_REDIS_URL"),
        ("ari_url", "not a url", "CALLCONTROL_ARI_URL"),
        ("default_region", "XX", "CALLCONTROL_DEFAULT_REGION"),
        ("default_region", "Cyprus", "CALLCONTROL_DEFAULT_REGION"),
        ("secret_key", "short", "CALLCONTROL_SECRET_KEY"),
        ("ring_timeout", "0", "CALLCONTROL_RING_TIMEOUT"),
        ("ari_app", "call control", "CALLCONTROL_ARI_APP"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, name: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_config(env(tmp_path, **{name: value}))


def test_plain_urls_get_async_drivers(tmp_path: Path) -> None:
    cfg = load_config(env(tmp_path, database_url="postgresql://u@h/db", redis_url="redis://h:1/0"))
    assert cfg.database_url == "postgresql+asyncpg://u@h/db"
    assert cfg.redis_url == "redis://h:1/0"


def test_toml_file_then_environment_wins(tmp_path: Path) -> None:
    path = tmp_path / "cc.toml"
    path.write_text('http_port = 9001\nari_app = "fromfile"\n')
    cfg = load_config(env(tmp_path, config=str(path), ari_app="fromenv"))
    assert cfg.http.port == 9001
    assert cfg.ari.app == "fromenv"


def test_unknown_or_broken_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cc.toml"
    path.write_text("htp_port = 1\n")
    with pytest.raises(ConfigError, match="unknown keys.*htp_port"):
        load_config(env(tmp_path, config=str(path)))
    path.write_text("http_port = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(env(tmp_path, config=str(path)))


def test_cli_prints_one_line_and_fails_on_bad_config(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "callcontrol", "--version"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0 and "callcontrol" in proc.stdout
    bad = env(tmp_path, http_port="eighty")
    proc = subprocess.run(
        [sys.executable, "-m", "callcontrol", "db", "upgrade"],
        capture_output=True, text=True, check=False, env={**bad, "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "CALLCONTROL_HTTP_PORT" in lines[0]
