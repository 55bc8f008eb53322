"""The audit trail of the Centre: who did what, when, to which record."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.crm.models import AuditEntry


async def record(session: AsyncSession, user_id: int | None, action: str, entity: str,
                 entity_id: object, details: dict[str, Any] | None = None) -> AuditEntry:
    entry = AuditEntry(user_id=user_id, action=action, entity=entity,
                       entity_id=None if entity_id is None else str(entity_id),
                       details=details)
    session.add(entry)
    await session.flush()
    return entry
