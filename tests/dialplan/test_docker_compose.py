from pathlib import Path

import yaml

from callcontrol.config import KNOWN_KEYS

ROOT = Path(__file__).resolve().parents[2]


def test_compose_passes_only_variables_callcontrol_reads():
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    env = compose["services"]["callcontrol"]["environment"]
    known = {"CALLCONTROL_" + k.upper() for k in KNOWN_KEYS} | {"CALLCONTROL_CONFIG"}
    assert env and set(env) <= known, set(env) - known
    assert {"asterisk", "postgres", "redis"} <= set(compose["services"])
