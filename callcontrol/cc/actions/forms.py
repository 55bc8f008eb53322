"""Form fields of the action panel and their validation: every error names its field."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.crm.phones import normalise

EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$")
Options = Callable[[AsyncSession, Any], Awaitable[list[tuple[str, str]]]]


class ActionFailed(ValueError):
    """Validation failed: ``errors`` maps field names ("" for the whole form) to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k or 'form'}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text | textarea | email | phone | money | datetime | choice | select
    required: bool = False
    max_length: int = 200
    choices: tuple[tuple[str, str], ...] = ()
    options: Options | None = None  # select: (value, label) pairs from the database
    hint: str = ""


def _money(raw: str) -> Decimal:
    try:
        value = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise ValueError("enter an amount such as 12.50") from None
    if not value.is_finite() or value <= 0:
        raise ValueError("the amount must be more than zero")
    if value != value.quantize(Decimal("0.01")) or value >= Decimal("1e9"):
        raise ValueError("at most two decimals and below 1,000,000,000")
    return value


def _datetime(raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError("enter a date and time such as 2026-12-01T09:30") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _convert(f: Field, raw: str, region: str, allowed: set[str] | None) -> Any:
    if len(raw) > f.max_length:
        raise ValueError(f"at most {f.max_length} characters")
    if any(ord(c) < 32 and c not in "\r\n\t" for c in raw):
        raise ValueError("control characters are not allowed")
    if f.kind == "email":
        if not EMAIL.match(raw):
            raise ValueError("enter an e-mail address such as name@example.com")
        return raw
    if f.kind == "phone":
        e164 = normalise(raw, region)
        if e164 is None:
            raise ValueError("enter a valid phone number, e.g. +357 99 123456")
        return (raw, e164)
    if f.kind == "money":
        return _money(raw)
    if f.kind == "datetime":
        return _datetime(raw)
    if f.kind == "choice" and raw not in {value for value, _ in f.choices}:
        raise ValueError("choose one of the options")
    if f.kind == "select" and allowed is not None and raw not in allowed:
        raise ValueError("choose one of the options")
    return raw


def validate(fields: list[Field], form: Mapping[str, str], region: str,
             allowed: Mapping[str, set[str]]) -> dict[str, Any]:
    """Typed values for ``fields``; ActionFailed with every field's problem otherwise."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = form.get(f.name, "")
        raw = raw.strip() if isinstance(raw, str) else ""
        if not raw:
            if f.required:
                errors[f.name] = f"{f.label} is required"
            values[f.name] = None
            continue
        try:
            values[f.name] = _convert(f, raw, region, allowed.get(f.name))
        except ValueError as exc:
            errors[f.name] = str(exc)
    if errors:
        raise ActionFailed(errors)
    return values
