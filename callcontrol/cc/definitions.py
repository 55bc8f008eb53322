"""Communication Centre Definitions: the default one, validation, create/update, activation.

Exactly one definition is active: the database enforces it with a partial unique index,
and activation deactivates the others first, in the same transaction.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.audit import record
from callcontrol.cc.fields import ACTIONS, DEFAULT_ADVANCED, DEFAULT_QUICK, FIELDS
from callcontrol.crm.models import CommunicationCentreDefinition as Definition
from callcontrol.web.secrets import SecretBox

DEFAULT_NAME = "Default"
PROVIDERS = ("asterisk", "event_listener")
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                   r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$")


class DefinitionError(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def default_values() -> dict[str, Any]:
    return {
        "name": DEFAULT_NAME, "number_of_records": 20, "default_search_operator": "like",
        "communications_limit": 50,
        "search_fields": {"quick": list(DEFAULT_QUICK), "advanced": list(DEFAULT_ADVANCED)},
        "allowed_actions": list(ACTIONS), "cti_provider": "asterisk",
        "log_unhandled_events": False,
    }


async def active_definition(session: AsyncSession) -> Definition | None:
    """The active definition; when there is no definition at all, the default one is made."""
    found = await session.scalar(select(Definition).where(Definition.active.is_(True)))
    if found is not None:
        return found
    if await session.scalar(select(Definition.id).limit(1)) is not None:
        return None  # definitions exist, none active: the built-in defaults apply
    try:
        async with session.begin_nested():
            created = Definition(active=True, **default_values())
            session.add(created)
    except IntegrityError:  # another request created it first
        return await session.scalar(select(Definition).where(Definition.active.is_(True)))
    return created


async def list_definitions(session: AsyncSession) -> list[Definition]:
    return list((await session.scalars(
        select(Definition).order_by(Definition.active.desc(), Definition.name))).all())


async def activate(session: AsyncSession, definition_id: int, user_id: int | None) -> None:
    """Make one definition the active one; the caller commits (one transaction)."""
    target = await session.get(Definition, definition_id)
    if target is None:
        raise LookupError(f"no definition {definition_id}")
    try:
        await session.execute(update(Definition).where(Definition.active.is_(True),
                                                       Definition.id != definition_id)
                              .values(active=False))
        await session.execute(update(Definition).where(Definition.id == definition_id)
                              .values(active=True))
    except IntegrityError:  # a concurrent activation won; the unique index kept one active
        raise DefinitionError({"active": "another definition was activated at the same "
                                         "moment; reload and try again"}) from None
    await session.refresh(target)
    await record(session, user_id, "definition.activate", "definition", definition_id)


async def deactivate(session: AsyncSession, definition_id: int, user_id: int | None) -> None:
    target = await session.get(Definition, definition_id)
    if target is None:
        raise LookupError(f"no definition {definition_id}")
    target.active = False
    await record(session, user_id, "definition.deactivate", "definition", definition_id)


async def delete(session: AsyncSession, definition_id: int, user_id: int | None) -> None:
    target = await session.get(Definition, definition_id)
    if target is None:
        raise LookupError(f"no definition {definition_id}")
    if target.active:
        raise DefinitionError({"active": "deactivate the definition before deleting it"})
    await session.delete(target)
    await record(session, user_id, "definition.delete", "definition", definition_id,
                 {"name": target.name})


@dataclass
class DefinitionInput:
    values: dict[str, Any] = field(default_factory=dict)
    password: str | None = None  # a new CTI password; None keeps the stored one
    clear_password: bool = False


def _int(form: Mapping[str, str], key: str, low: int, high: int,
         errors: dict[str, str]) -> int | None:
    raw = (form.get(key) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not low <= int(raw) <= high:
        errors[key] = f"enter a whole number from {low} to {high}, or leave it empty"
        return None
    return int(raw)


def _ordered(form: Mapping[str, str], kind: str, errors: dict[str, str]) -> list[str]:
    """Fields ticked ``<kind>:<key>``, sorted by ``<kind>_order:<key>`` then catalogue order."""
    chosen = []
    for position, key in enumerate(FIELDS):
        if not form.get(f"{kind}:{key}"):
            continue
        if kind == "quick" and not FIELDS[key].quick:
            errors[f"{kind}:{key}"] = f"{FIELDS[key].label} cannot be a quick search field"
            continue
        order = (form.get(f"{kind}_order:{key}") or "").strip()
        if order and (not order.isdigit() or int(order) > 999):
            errors[f"{kind}_order:{key}"] = "the order is a number from 0 to 999"
            order = ""
        chosen.append((int(order) if order else 1000, position, key))
    return [key for _, _, key in sorted(chosen)]


def _cti(form: Mapping[str, str], values: dict[str, Any], errors: dict[str, str]) -> None:
    provider = (form.get("cti_provider") or "").strip() or None
    if provider is not None and provider not in PROVIDERS:
        errors["cti_provider"] = "choose Asterisk or the CTI event listener"
    host = (form.get("cti_host") or "").strip() or None
    if host and not _valid_host(host):
        errors["cti_host"] = "enter a host name or an IP address"
    port = _int(form, "cti_port", 1, 65535, errors)
    username = (form.get("cti_username") or "").strip() or None
    if username and len(username) > 100:
        errors["cti_username"] = "at most 100 characters"
    if provider == "asterisk":
        for key, value in (("cti_host", host), ("cti_port", port), ("cti_username", username)):
            if value is None and key not in errors:
                errors[key] = "required when the provider is Asterisk"
    values.update(cti_provider=provider, cti_host=host, cti_port=port, cti_username=username,
                  log_unhandled_events=bool(form.get("log_unhandled_events")))


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return bool(_HOST.match(host))


def parse_form(form: Mapping[str, str], actions: list[str]) -> DefinitionInput:
    """Validate a definition form; DefinitionError lists every problem by field."""
    errors: dict[str, str] = {}
    name = (form.get("name") or "").strip()
    if not name or len(name) > 100:
        errors["name"] = "a name of 1 to 100 characters is required"
    operator = (form.get("default_search_operator") or "").strip().lower()
    if operator not in ("=", "like"):
        errors["default_search_operator"] = "choose '=' or 'Like'"
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown:
        errors["allowed_actions"] = f"unknown actions: {', '.join(unknown)}"
    values: dict[str, Any] = {
        "name": name, "default_search_operator": operator,
        "number_of_records": _int(form, "number_of_records", 1, 1000, errors),
        "communications_limit": _int(form, "communications_limit", 1, 100_000, errors),
        "search_fields": {"quick": _ordered(form, "quick", errors),
                          "advanced": _ordered(form, "advanced", errors)},
        "allowed_actions": [a for a in ACTIONS if a in actions],
    }
    _cti(form, values, errors)
    password = form.get("cti_password") or None
    if password and len(password) > 200:
        errors["cti_password"] = "at most 200 characters"  # noqa: S105 - a message
    if errors:
        raise DefinitionError(errors)
    return DefinitionInput(values, password, bool(form.get("cti_password_clear")))


async def save(session: AsyncSession, data: DefinitionInput, box: SecretBox,
               user_id: int | None, definition_id: int | None = None) -> Definition:
    """Create (``definition_id`` None) or update a definition; the caller commits."""
    clash = await session.scalar(select(Definition.id).where(
        Definition.name == data.values["name"], Definition.id != (definition_id or -1)))
    if clash is not None:
        raise DefinitionError({"name": "another definition already has this name"})
    if definition_id is None:
        target = Definition(active=False)
    else:
        found = await session.get(Definition, definition_id)
        if found is None:
            raise LookupError(f"no definition {definition_id}")
        target = found
    for key, value in data.values.items():
        setattr(target, key, value)
    session.add(target)
    if data.clear_password:
        target.cti_password_encrypted = None
    elif data.password:
        target.cti_password_encrypted = box.encrypt(data.password).encode("ascii")
    await session.flush()
    await record(session, user_id, "definition.save", "definition", target.id,
                 {"name": target.name, "password_changed": bool(data.password)})
    return target


def cti_password(definition: Definition, box: SecretBox) -> str | None:
    """The decrypted CTI password (for the telephony side; never shown in the UI)."""
    stored = definition.cti_password_encrypted
    return box.decrypt(stored.decode("ascii")) if stored else None
