from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(tmp_path: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    full = dict(os.environ)
    full.update({
        "CALLCONTROL_VAR_DIR": str(tmp_path / "var"),
        "CALLCONTROL_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'cc.db'}",
    })
    full.update(env)
    return subprocess.run([sys.executable, "-m", "callcontrol", *args], input=stdin,
                          capture_output=True, text=True, env=full, timeout=60)


def assert_one_line_error(proc: subprocess.CompletedProcess, fragment: str) -> None:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0]


@pytest.mark.slow
def test_upgrade_then_user_and_token(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    added = run(tmp_path, "user", "add", "alice", "--role", "agent", "--extension", "1001",
                "--device", "PJSIP/1001", stdin="secret password\n")
    assert added.returncode == 0, added.stderr
    token = run(tmp_path, "token", "create", "alice")
    assert token.returncode == 0 and token.stdout.strip().startswith("cc_")


@pytest.mark.slow
def test_bad_user_input_gives_one_line(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    bad_role = run(tmp_path, "user", "add", "bob", "--role", "king", stdin="long password\n")
    assert_one_line_error(bad_role, "unknown role")
    short = run(tmp_path, "user", "add", "bob", "--role", "agent", stdin="abc\n")
    assert_one_line_error(short, "password")
    empty = run(tmp_path, "user", "add", "bob", "--role", "agent", stdin="")
    assert_one_line_error(empty, "password")
    assert_one_line_error(run(tmp_path, "token", "create", "nobody"), "no such user")


def test_help_works_on_every_command(tmp_path: Path) -> None:
    for args in (["db", "upgrade"], ["user", "add"], ["token", "create"], ["seed"]):
        proc = run(tmp_path, *args, "--help")
        assert proc.returncode == 0 and "usage" in proc.stdout, args


@pytest.mark.slow
def test_seed_refuses_a_non_empty_database_with_one_line(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    first = run(tmp_path, "seed", "--contacts", "20", "--no-progress")
    assert first.returncode == 0, first.stderr
    assert_one_line_error(run(tmp_path, "seed", "--contacts", "20"), "--append")
    assert run(tmp_path, "seed", "--contacts", "5", "--append", "--no-progress").returncode == 0


def test_seed_on_unmigrated_database_fails_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    assert_one_line_error(run(tmp_path, "seed", "--contacts", "5", "--no-progress"),
                          "seeding failed")


def test_upgrade_of_unreachable_database_fails_with_one_line(tmp_path: Path) -> None:
    proc = run(tmp_path, "db", "upgrade",
               CALLCONTROL_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    assert proc.returncode == 2
    assert_one_line_error(proc, "cannot reach the database")
