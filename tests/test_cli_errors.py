"""Bad command-line input: one clear line on stderr and exit status 2, for every command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callcontrol.__main__ import build_parser


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CALLCONTROL_VAR_DIR=str(tmp_path / "var"))
    return subprocess.run([sys.executable, "-m", "callcontrol", *args], capture_output=True,
                          text=True, env=env, timeout=60)


@pytest.mark.parametrize("args, fragment", [
    ((), "required: COMMAND"),
    (("no-such-command",), "invalid choice"),
    (("seed", "--contacts", "many"), "--contacts"),
    (("seed", "--contacts", "5", "--no-such-flag"), "unrecognized arguments"),
])
def test_bad_arguments_give_one_line_and_exit_2(tmp_path, args, fragment) -> None:
    proc = run(tmp_path, *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0] and "--help" in lines[0]


def test_every_command_has_help() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001 - argparse has no API
    assert commands, "no sub-commands registered"
    for name, sub in commands.items():
        text = sub.format_help()
        assert text.startswith("usage:"), name
        assert sub.description or sub.format_usage(), name


async def test_serve_freezes_what_start_up_built(monkeypatch):
    """``callcontrol serve`` takes its start-up objects out of the collector's view once it
    is serving (the pop latency tail under load: see callcontrol.server)."""
    import argparse
    import gc

    import callcontrol.server
    from callcontrol.cli import serve as serve_cli

    started: list[object] = []

    async def fake_serve(config, **kwargs):  # noqa: ANN001, ANN003, ANN202
        started.append(kwargs["on_started"])
    monkeypatch.setattr(callcontrol.server, "serve", fake_serve)
    args = argparse.Namespace(no_migrate=True, no_agi=True)
    assert await serve_cli.run(args, object()) == 0
    assert started == [callcontrol.server.freeze_startup_objects]
    try:
        started[0](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
