"""Check dialplan files: asterisklint-jjs (a GPL subprocess, never imported) + our rules.

``check_files`` takes the whole set of files at once so cross-file rules (a PJSIP endpoint's
context must exist in extensions.conf) see the set that will actually be loaded.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from callcontrol.dialplan import rules
from callcontrol.dialplan.findings import Finding

__all__ = ["Finding", "check_directory", "check_files", "LintUnavailable"]

ASTERISK_VERSION = "22"
LINT_TIMEOUT = 60
_LINT = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+) (?P<msg>.*)$")

Item = Path | tuple[str, str]


class LintUnavailable(RuntimeError):
    """asterisklint-jjs is not installed; the message says how to get it."""


def _linter() -> str:
    beside = Path(sys.executable).with_name("asterisklint")
    found = str(beside) if beside.exists() else shutil.which("asterisklint")
    if not found:
        raise LintUnavailable("asterisklint is not installed: pip install asterisklint-jjs")
    return found


def _run_linter(folder: Path, filename: str) -> subprocess.CompletedProcess[str]:
    # ALINT_IGNORE in the environment (comma-separated codes) reaches the linter unchanged.
    return subprocess.run(  # noqa: S603 - our own fixed argv, no shell
        [_linter(), "dialplan-check", "--asterisk-version", ASTERISK_VERSION,
         "--func-odbc", "", filename],
        cwd=folder, capture_output=True, text=True, timeout=LINT_TIMEOUT, check=False)


def lint(name: str, text: str, folder: Path | None = None) -> list[Finding]:
    """asterisklint's dialplan-check on one extensions.conf (E_ and W_ codes are errors).

    ``folder``: lint the file where it is, so its ``#include`` lines resolve; otherwise
    ``text`` is linted alone in a temporary folder.
    """
    if folder is not None:
        out = _run_linter(folder, Path(name).name)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "extensions.conf").write_text(text)
            out = _run_linter(Path(tmp), "extensions.conf")
    findings = []
    for line in (out.stdout + out.stderr).splitlines():
        if m := _LINT.match(line):
            code = m["msg"].split(":")[0]
            # A problem in an #include'd file is reported under that file's path.
            where = name if m["file"] == Path(name).name or folder is None \
                else str(Path(name).parent / m["file"])
            findings.append(Finding(where, int(m["line"]), m["msg"],
                                    code.startswith(("E_", "W_"))))
    if out.returncode and not any(f.error for f in findings):
        detail = (out.stderr.strip() or out.stdout.strip())[-300:]
        findings.append(Finding(name, 0, f"asterisklint failed: {detail}"))
    return findings


def _read(item: Item) -> tuple[str, str, Path | None]:
    if isinstance(item, Path):
        return str(item), item.read_text(), item.resolve().parent
    return item[0], item[1], None


def check_files(items: list[Item], config: Any) -> list[Finding]:
    """Check files given as paths or (name, text) pairs; findings in file and line order."""
    files = [_read(item) for item in items]
    by_kind = {Path(name).name: text for name, text, _ in files}
    contexts = (rules.contexts_of(by_kind["extensions.conf"])
                if "extensions.conf" in by_kind else None)
    findings: list[Finding] = []
    for name, text, folder in files:
        kind = Path(name).name
        if kind == "extensions.conf":
            findings += lint(name, text, folder)
        findings += rules.dialplan_rules(name, text, config)
        if kind == "ari.conf":
            findings += rules.ari_rules(name, text, config)
        elif kind == "http.conf":
            findings += rules.http_rules(name, text, config)
        elif kind == "pjsip.conf":
            findings += rules.pjsip_rules(name, text, contexts)
    return sorted(findings, key=lambda f: (f.file, f.line))


def check_directory(folder: Path, config: Any) -> list[Finding]:
    """Every ``*.conf`` file in ``folder``."""
    return check_files(sorted(folder.glob("*.conf")), config)
