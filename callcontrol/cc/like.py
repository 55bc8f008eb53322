"""The 'Like' operator of the seeds, turned into bound SQL LIKE patterns.

    Mar, Ma%  words starting with the text      %ria   words ending with it
    %ari%     words containing it               =      an exact match

Only a leading and a trailing ``%`` are wildcards; every other ``%`` and every ``_`` is
matched literally (escaped with ``\\``). Values are always bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_

ESCAPE = "\\"
MAX_VALUE = 200


class SearchInputError(ValueError):
    """A search value that cannot be searched for; the message is shown to the user."""


@dataclass(frozen=True)
class LikeTerm:
    mode: str  # "prefix" | "suffix" | "contains"
    text: str  # the literal text to look for, unescaped

    @property
    def escaped(self) -> str:
        return escape_like(self.text)


def escape_like(text: str) -> str:
    return text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")


def clean(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise SearchInputError("type something to search for")
    if len(text) > MAX_VALUE:
        raise SearchInputError(f"search values are limited to {MAX_VALUE} characters")
    if any(ord(c) < 32 for c in text):
        raise SearchInputError("search values cannot contain control characters")
    return text


def parse_like(value: str | None) -> LikeTerm:
    """``Mar``/``Ma%`` -> prefix, ``%ria`` -> suffix, ``%ari%`` -> contains."""
    text = clean(value)
    if len(text) >= 2 and text.startswith("%") and text.endswith("%"):
        term = LikeTerm("contains", text[1:-1])
    elif text.startswith("%"):
        term = LikeTerm("suffix", text[1:])
    elif text.endswith("%"):
        term = LikeTerm("prefix", text[:-1])
    else:
        term = LikeTerm("prefix", text)
    if not term.text.strip():
        raise SearchInputError("type some text besides the % wildcards")
    return term


# What separates words in a name: spaces, and hyphens (Anne-Marie, Nowak-Kowalska).
SEPARATORS = (" ", "-")


def word_patterns(term: LikeTerm) -> list[str]:
    """LIKE patterns that find ``term`` at the word boundaries of a name."""
    t = term.escaped
    if term.mode == "prefix":
        return [f"{t}%", *(f"%{sep}{t}%" for sep in SEPARATORS)]
    if term.mode == "suffix":
        return [f"%{t}", *(f"%{t}{sep}%" for sep in SEPARATORS)]
    return [f"%{t}%"]


def token_pattern(term: LikeTerm) -> str:
    """The LIKE pattern for a one-word value (a number, a code, an e-mail address)."""
    t = term.escaped
    return {"prefix": f"{t}%", "suffix": f"%{t}", "contains": f"%{t}%"}[term.mode]


def like_words(column: Any, term: LikeTerm) -> ColumnElement[bool]:
    return or_(*(column.like(p, escape=ESCAPE) for p in word_patterns(term)))


def like_token(column: Any, term: LikeTerm) -> ColumnElement[bool]:
    return column.like(token_pattern(term), escape=ESCAPE)
