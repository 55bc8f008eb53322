"""A problem found in a dialplan file, printed as one ``file:line: message`` line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    message: str
    error: bool = True

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}" if self.error else f"{where}: note: {self.message}"
