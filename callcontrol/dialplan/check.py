"""Check dialplan files: asterisklint-jjs (a GPL subprocess, never imported) + our rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUIRED_CONTEXTS = ("from-trunk", "from-agents", "outbound")
_STASIS = re.compile(r"Stasis\(([^,)]*)")
_AGI = re.compile(r"agi://[^/:\s]+(?::(\d+))?/")
_LINT = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+) (?P<msg>.*)$")


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str
    error: bool = True

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def _linter() -> str:
    beside = Path(sys.executable).with_name("asterisklint")
    return str(beside) if beside.exists() else (shutil.which("asterisklint") or "asterisklint")


def _lint(name: str, text: str) -> list[Finding]:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "extensions.conf").write_text(text)
        out = subprocess.run(  # noqa: S603 - our own fixed argv, no shell
            [_linter(), "dialplan-check", "extensions.conf"], cwd=tmp,
                             capture_output=True, text=True, timeout=60, check=False)
    findings = []
    for line in (out.stdout + out.stderr).splitlines():
        if m := _LINT.match(line):
            code = m["msg"].split(":")[0]
            findings.append(Finding(name, int(m["line"]), m["msg"], code.startswith(("E_", "W_"))))
    if out.returncode and not any(f.error for f in findings):
        findings.append(Finding(name, 0, f"asterisklint failed: {out.stderr.strip()[:200]}"))
    return findings


def _own(name: str, text: str, config: Any) -> list[Finding]:
    found, contexts = [], set()
    for no, line in enumerate(text.splitlines(), 1):
        code = line.split(";")[0]
        if m := re.match(r"^\[([^\]]+)\]", code.strip()):
            contexts.add(m[1])
        for app in _STASIS.findall(code):
            if app.strip() != config.ari.app:
                found.append(Finding(name, no, f"Stasis() names {app.strip()!r}, "
                                     f"expected the configured app {config.ari.app!r}"))
        for port in _AGI.findall(code):
            if port and int(port) != config.agi.port:
                found.append(Finding(name, no, f"FastAGI port {port} is not the "
                                     f"configured agi.port {config.agi.port}"))
    found += [Finding(name, 0, f"missing context [{c}]")
              for c in REQUIRED_CONTEXTS if c not in contexts]
    return found


def check_files(items: list[Path | tuple[str, str]], config: Any) -> list[Finding]:
    """Check extensions.conf files given as paths or (name, text) pairs."""
    findings: list[Finding] = []
    for item in items:
        name, text = (str(item), Path(item).read_text()) if isinstance(item, Path) else item
        if Path(name).name == "extensions.conf":
            findings += _lint(name, text) + _own(name, text, config)
    return findings
