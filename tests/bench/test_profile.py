"""bench.profile: a py-spy collapsed profile sorted into parts of the stack."""

from __future__ import annotations

from bench import profile

ROOT = "<module> (callcontrol/__main__.py:5);run (asyncio/runners.py:118)"
LOOP = "_run_once (asyncio/base_events.py:1922)"
HUNT = "_hunt (callcontrol/calls/control.py:437)"
SQLA = "execute (sqlalchemy/engine/base.py:1494)"
SEND = "_send (callcontrol/ari/client.py:104);request (callcontrol/ari/http.py:233)"
STACKS = [
    ([LOOP, HUNT, SQLA, "execute (aiosqlite/core.py:160)"], 6),
    ([HUNT, SQLA], 3),
    ([SEND, "info (logging/__init__.py:1489)"], 1),
    ([SEND], 4),
    (["_hunt (callcontrol/calls/control.py:440)"], 2),
    ([LOOP, "select (selectors.py:468)"], 4),
]
SAMPLES = "".join(f"{';'.join([ROOT, *frames])} {n}\n" for frames, n in STACKS)
SAMPLES += "not a sample line\n"


def test_samples_go_to_the_innermost_known_part():
    parts = profile.read(SAMPLES.splitlines())
    assert parts == {
        "database driver (aiosqlite, asyncpg, sqlite3)": 6,
        "SQLAlchemy (Core, ORM, greenlet bridge)": 3,
        "logging": 1,
        "ARI REST client": 4,
        "call control, agents, look-up (callcontrol)": 2,
        "event loop (asyncio, selectors)": 4,
    }


def test_table_gives_shares_and_ms_per_call():
    lines = profile.table(profile.read(SAMPLES.splitlines()), cpu_ms_per_call=20.0)
    first = lines[2]
    assert first.split()[-2:] == ["30.0%", "6.00"]        # 6 of 20 samples, of 20 ms
    assert lines[-1].split()[-1] == "20"


def test_command_line_reads_files(tmp_path, capsys):
    path = tmp_path / "p.txt"
    path.write_text(SAMPLES)
    assert profile.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert "SQLAlchemy" in out and "15.0%" in out
    assert profile.main([str(tmp_path / "missing.txt")]) == 1
