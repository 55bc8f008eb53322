"""The shape every action shares: its fields, who may run it, and what it does."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.actions.forms import Field
from callcontrol.cc.settings import Settings
from callcontrol.crm.models import Contact, User


@dataclass(frozen=True)
class Context:
    user: User
    contact: Contact | None
    settings: Settings


@dataclass(frozen=True)
class Outcome:
    message: str
    entity: str
    entity_id: int
    contact_id: int | None
    section: str | None = None  # the contact section that shows the new record
    reveal: dict[str, str] = field(default_factory=dict)  # shown once (a voucher secret)


Perform = Callable[[AsyncSession, Context, dict[str, Any]], Awaitable[Outcome]]


@dataclass(frozen=True)
class Action:
    slug: str
    fields: list[Field]
    perform: Perform
    roles: tuple[str, ...] = ("agent", "supervisor", "admin")
    submit: tuple[tuple[str, str], ...] = (("save", "Save"),)


def new_number(prefix: str) -> str:
    """A human-readable unique-enough record number; the unique index is the real guard."""
    return f"{prefix}-{secrets.token_hex(4).upper()}"
