"""Versioned store of the dialplan files for the web editor (files + JSON index)."""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callcontrol.dialplan.check import Finding, check_files

KNOWN_FILES = ("extensions.conf", "pjsip.conf", "ari.conf", "http.conf")


class StoreError(ValueError):
    """Unknown file name or version."""


class CheckFailed(ValueError):
    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("; ".join(str(f) for f in findings))
        self.findings = findings


@dataclass(frozen=True)
class Version:
    number: int
    author: str
    time: str


@dataclass(frozen=True)
class DialplanStore:
    working_dir: Path
    history_dir: Path
    config: Any

    def _name(self, name: str) -> str:
        if name not in KNOWN_FILES:
            raise StoreError(f"unknown dialplan file {name!r}")
        return name

    def list_files(self) -> list[str]:
        return [n for n in KNOWN_FILES if (self.working_dir / n).exists()]

    def read(self, name: str) -> str:
        return (self.working_dir / self._name(name)).read_text()

    def versions(self, name: str) -> list[Version]:
        index = self.history_dir / self._name(name) / "index.json"
        return [Version(**v) for v in json.loads(index.read_text())] if index.exists() else []

    def read_version(self, name: str, number: int) -> str:
        path = self.history_dir / self._name(name) / f"{int(number)}.conf"
        if not path.exists():
            raise StoreError(f"{name} has no version {number}")
        return path.read_text()

    def save(self, name: str, text: str, author: str) -> Version:
        errors = [f for f in check_files([(self._name(name), text)], self.config) if f.error]
        if errors:
            raise CheckFailed(errors)
        versions = self.versions(name)
        version = Version(len(versions) + 1, author, datetime.now(UTC).isoformat())
        folder = self.history_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{version.number}.conf").write_text(text)
        index = [asdict(v) for v in [*versions, version]]
        (folder / "index.json").write_text(json.dumps(index, indent=1))
        tmp = self.working_dir / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(self.working_dir / name)
        return version

    def diff(self, name: str, from_version: int, to_version: int) -> str:
        old = self.read_version(name, from_version).splitlines(keepends=True)
        new = self.read_version(name, to_version).splitlines(keepends=True)
        return "".join(difflib.unified_diff(old, new, f"{name}@{from_version}",
                                            f"{name}@{to_version}"))

    def rollback(self, name: str, version: int, author: str) -> Version:
        return self.save(name, self.read_version(name, version), author)
