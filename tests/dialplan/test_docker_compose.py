import re
from pathlib import Path

import yaml

from callcontrol.config import KNOWN_KEYS, load_config
from callcontrol.dialplan.check import check_directory

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]


def _env(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[service].get("environment", {}).items()}


def test_stack_has_asterisk_postgres_redis_and_callcontrol():
    assert {"asterisk", "postgres", "redis", "callcontrol"} <= set(SERVICES)


def test_compose_passes_only_variables_callcontrol_reads():
    for service in ("callcontrol", "dialplan-init"):
        env = _env(service)
        known = {"CALLCONTROL_" + k.upper() for k in KNOWN_KEYS} | {"CALLCONTROL_CONFIG"}
        assert env and set(env) <= known, set(env) - known


def test_compose_environment_is_a_valid_configuration_that_reaches_the_services(tmp_path):
    config = load_config({**_env("callcontrol"), "CALLCONTROL_VAR_DIR": str(tmp_path)})
    assert config.database_url.startswith("postgresql+asyncpg://")
    assert "@postgres/" in config.database_url and "//redis:" in config.redis_url
    assert config.ari.url.startswith("http://asterisk:8088")


def test_shipped_dialplan_passes_the_check_with_the_compose_configuration(tmp_path):
    config = load_config({**_env("callcontrol"), "CALLCONTROL_VAR_DIR": str(tmp_path)})
    assert [str(f) for f in check_directory(ROOT / "dialplan", config) if f.error] == []


def test_asterisk_image_is_pinned_to_a_published_version_tag():
    # andrius/asterisk publishes {version}_{os}-{distribution} tags (and 22, stable, latest).
    assert re.fullmatch(r"andrius/asterisk:22\.\d+\.\d+_debian-[a-z]+",
                        SERVICES["asterisk"]["image"])


def test_every_bind_mount_and_copied_path_exists():
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), source
            else:
                assert source in COMPOSE["volumes"], source
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source


def test_asterisk_loads_the_working_copy_the_editor_saves():
    var_dir = _env("callcontrol")["CALLCONTROL_VAR_DIR"]
    mounts = dict(v.split(":")[:2] for v in SERVICES["callcontrol"]["volumes"])
    assert mounts["dialplan"] == f"{var_dir}/dialplan"  # DialplanStore's working copy
    asterisk = {v.split(":")[1]: v.split(":")[0] for v in SERVICES["asterisk"]["volumes"]}
    assert asterisk["/etc/asterisk/callcontrol"] == "dialplan"
    for name in ("extensions.conf", "pjsip.conf", "ari.conf", "http.conf"):
        stub = DOCKER / asterisk[f"/etc/asterisk/{name}"]
        assert f'#include "callcontrol/{name}"' in stub.read_text()
