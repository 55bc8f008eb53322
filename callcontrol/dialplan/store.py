"""Versioned store of the dialplan files for the web editor (files + JSON index).

The working copy (what Asterisk should load) lives in ``<var_dir>/dialplan``, seeded from
the repository's ``dialplan/`` the first time; every saved text is kept as a numbered
version with who saved it and when, in ``<var_dir>/dialplan-history/<file>/``.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callcontrol.dialplan.check import Finding, check_files

KNOWN_FILES = ("extensions.conf", "pjsip.conf", "ari.conf", "http.conf")
REPO_DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan"
SEED_AUTHOR = "(shipped)"


class StoreError(ValueError):
    """Unknown file name or version."""


class StaleEdit(StoreError):
    """Somebody saved a newer version since the editor loaded the file."""


class CheckFailed(ValueError):
    def __init__(self, findings: list[Finding]) -> None:
        super().__init__("\n".join(str(f) for f in findings))
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
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @classmethod
    def for_config(cls, config: Any, seed_from: Path = REPO_DIALPLAN) -> DialplanStore:
        """The store under ``config.var_dir``, seeded from ``seed_from`` when empty."""
        store = cls(Path(config.var_dir) / "dialplan",
                    Path(config.var_dir) / "dialplan-history", config)
        store.seed(seed_from)
        return store

    def seed(self, source: Path) -> None:
        """Copy missing known files from ``source``; each becomes version 1."""
        self.working_dir.mkdir(parents=True, exist_ok=True)
        for name in KNOWN_FILES:
            target, origin = self.working_dir / name, source / name
            if not target.exists() and origin.exists():
                shutil.copyfile(origin, target)
            if target.exists() and not self.versions(name):
                self._record(name, target.read_text(), SEED_AUTHOR)

    def _name(self, name: str) -> str:
        if name not in KNOWN_FILES:
            raise StoreError(f"unknown dialplan file {name!r}")
        return name

    def list_files(self) -> list[str]:
        return [n for n in KNOWN_FILES if (self.working_dir / n).exists()]

    def read(self, name: str) -> str:
        path = self.working_dir / self._name(name)
        if not path.exists():
            raise StoreError(f"{name} is not in the working copy")
        return path.read_text()

    def versions(self, name: str) -> list[Version]:
        index = self.history_dir / self._name(name) / "index.json"
        return [Version(**v) for v in json.loads(index.read_text())] if index.exists() else []

    def read_version(self, name: str, number: int) -> str:
        path = self.history_dir / self._name(name) / f"{int(number)}.conf"
        if not path.exists():
            raise StoreError(f"{name} has no version {number}")
        return path.read_text()

    def check(self, name: str, text: str) -> list[Finding]:
        """Errors the set would have with ``text`` as ``name``: in that file, or new elsewhere."""
        current = {n: self.read(n) for n in self.list_files()}
        before = check_files(list(current.items()), self.config) if len(current) > 1 else []
        after = check_files(list({**current, self._name(name): text}.items()), self.config)
        return [f for f in after if f.error and (f.file == name or f not in before)]

    def save(self, name: str, text: str, author: str, base: int | None = None) -> Version:
        """Check, then keep ``text`` as a new version and the working copy.

        ``base``: the version the editor started from; refused if a newer one exists.
        """
        text = text.replace("\r\n", "\n")
        with self._lock, self._file_lock():
            latest = self.versions(name)
            if base is not None and latest and latest[-1].number != base:
                raise StaleEdit(f"{name} was saved as version {latest[-1].number} by "
                                f"{latest[-1].author} since you opened version {base}")
            if errors := self.check(name, text):
                raise CheckFailed(errors)
            version = self._record(name, text, author)
            tmp = self.working_dir / f".{name}.tmp"
            tmp.write_text(text)
            tmp.replace(self.working_dir / name)
            return version

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Across processes sharing the var folder (several callcontrol workers)."""
        self.history_dir.mkdir(parents=True, exist_ok=True)
        with open(self.history_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _record(self, name: str, text: str, author: str) -> Version:
        versions = self.versions(name)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        version = Version(len(versions) + 1, author, now)
        folder = self.history_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{version.number}.conf").write_text(text)
        tmp = folder / ".index.json.tmp"
        tmp.write_text(json.dumps([asdict(v) for v in [*versions, version]], indent=1))
        tmp.replace(folder / "index.json")
        return version

    def diff(self, name: str, from_version: int, to_version: int) -> str:
        old = self.read_version(name, from_version).splitlines(keepends=True)
        new = self.read_version(name, to_version).splitlines(keepends=True)
        return "".join(difflib.unified_diff(old, new, f"{name} version {from_version}",
                                            f"{name} version {to_version}"))

    def rollback(self, name: str, version: int, author: str) -> Version:
        """Save the text of ``version`` again as a new version (history is never rewritten)."""
        return self.save(name, self.read_version(name, version), author)
