"""``/api/v1/communications``: the call record as the acceptance checks read it.

``GET /api/v1/communications`` lists (newest first) with ``contact_id``, ``agent`` (a user
id or ``me``), ``direction``, ``state``, ``limit`` (default 50, at most 500) and ``offset``;
``GET /api/v1/communications/{id}`` is one communication; ``.../{id}/recording`` streams
its WAV from call control's recording store (Range requests answered by aiohttp).

Authorisation is strict: an agent sees only the communications they handled
(``agent_id`` is theirs), supervisors and admins see all, engineers none (403).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.app import CONFIG
from callcontrol.calls.store import RecordingStore
from callcontrol.crm.models import Communication, Contact, User
from callcontrol.errors import ApiError, Forbidden, NotFound
from callcontrol.web.auth import SESSIONS, require_role

logger = logging.getLogger(__name__)

ROLES = ("agent", "supervisor", "admin")
SEE_ALL = ("supervisor", "admin")
DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET = 50, 500, 100_000
MAX_ID = 2**31 - 1  # the id columns are 32-bit integers in PostgreSQL
DIRECTIONS = ("incoming", "outgoing")
STATES = ("draft", "completed")
PARAMETERS = ("contact_id", "agent", "direction", "state", "limit", "offset")
_DIGITS = re.compile(r"[0-9]{1,12}")


def bad_parameter(name: str, message: str) -> ApiError:
    return ApiError(f"{name}: {message}", status=400, error_id="bad-request",
                    details={"parameter": name})


def _whole(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if _DIGITS.fullmatch(text) else None  # ASCII only: int("²") fails


def parse_id(name: str, raw: str) -> int:
    value = _whole(raw)
    if value is None or not 0 < value <= MAX_ID:
        raise bad_parameter(name, f"a positive whole number, not {raw[:40]!r}")
    return value


def _bounded(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    value = _whole(raw)
    if value is None or not low <= value <= high:
        raise bad_parameter(name, f"a whole number from {low} to {high}, not {raw[:40]!r}")
    return value


def _choice(name: str, raw: str | None, choices: tuple[str, ...]) -> str | None:
    if raw is None:
        return None
    if raw not in choices:
        raise bad_parameter(name, f"one of {', '.join(choices)}, not {raw[:40]!r}")
    return raw


@dataclass(frozen=True)
class ListQuery:
    contact_id: int | None
    agent_id: int | None
    direction: str | None
    state: str | None
    limit: int
    offset: int

    @classmethod
    def parse(cls, params: MultiMapping[str], user: User) -> ListQuery:
        unknown = sorted(set(params) - set(PARAMETERS))
        if unknown:
            raise bad_parameter(unknown[0], f"unknown parameter; use {', '.join(PARAMETERS)}")
        for name in set(params):
            if len(params.getall(name)) > 1:
                raise bad_parameter(name, "give it once")
        # an empty value (``?contact_id=&limit=10`` from a URL template) means not given
        query = {k: v for k, v in params.items() if v.strip()}
        contact = query.get("contact_id")
        agent = query.get("agent")
        return cls(
            contact_id=parse_id("contact_id", contact) if contact is not None else None,
            agent_id=(user.id if agent == "me" else
                      parse_id("agent", agent) if agent is not None else None),
            direction=_choice("direction", query.get("direction"), DIRECTIONS),
            state=_choice("state", query.get("state"), STATES),
            limit=_bounded("limit", query.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT),
            offset=_bounded("offset", query.get("offset"), 0, 0, MAX_OFFSET),
        )

    def authorised_for(self, user: User) -> ListQuery:
        """Agents are held to their own communications; asking for another's is refused."""
        if user.role in SEE_ALL:
            return self
        if self.agent_id not in (None, user.id):
            raise Forbidden("agents see only their own communications")
        return dataclasses.replace(self, agent_id=user.id)

    def filtered(self, stmt: Select) -> Select:
        if self.contact_id is not None:
            stmt = stmt.where(Communication.contact_id == self.contact_id)
        if self.agent_id is not None:
            stmt = stmt.where(Communication.agent_id == self.agent_id)
        if self.direction is not None:
            stmt = stmt.where(Communication.direction == self.direction)
        if self.state is not None:
            stmt = stmt.where(Communication.state == self.state)
        return stmt

    async def rows(self, session: AsyncSession) -> list[Any]:
        """Up to limit + 1 rows: started ones newest first, then those without a start time
        (not calls), newest first. Two queries rather than ``NULLS LAST``, which no index
        of started_at serves: the first walks the started_at index backwards."""
        want = self.limit + 1
        timed = Communication.started_at.is_not(None)
        rows = list((await session.execute(
            self.filtered(_base().where(timed))
            .order_by(Communication.started_at.desc(), Communication.id.desc())
            .offset(self.offset).limit(want))).all())
        if len(rows) == want:
            return rows
        skip = 0
        if not rows and self.offset:  # the offset may reach past every started one
            count = self.filtered(select(func.count()).select_from(Communication).where(timed))
            skip = max(0, self.offset - (await session.execute(count)).scalar_one())
        rows += (await session.execute(
            self.filtered(_base().where(Communication.started_at.is_(None)))
            .order_by(Communication.id.desc()).offset(skip).limit(want - len(rows)))).all()
        return rows


def _base() -> Select:
    return (select(Communication, Contact, User)
            .outerjoin(Contact, Contact.id == Communication.contact_id)
            .outerjoin(User, User.id == Communication.agent_id))


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def recording_store(app: web.Application) -> RecordingStore:
    """Call control's store when it runs in this app, else one on the configured directory."""
    from callcontrol.calls import RECORDINGS

    store = app.get(RECORDINGS)
    return store if store is not None else RecordingStore(app[CONFIG].calls.recordings_dir)


def recording_file(store: RecordingStore, comm: Communication) -> Path | None:
    """The communication's WAV in the store, or None (no name, an unsafe one, no file)."""
    name = comm.recording
    if not name:
        return None
    stem = name[:-4] if name.endswith(".wav") else name
    try:
        path = store.path(stem)
    except ValueError:
        logger.warning("communication %s (call %s) has an unsafe recording name %r",
                       comm.id, comm.call_id, name)
        return None
    return path if path.is_file() else None


def recording_info(store: RecordingStore, comm: Communication) -> dict[str, Any] | None:
    path = recording_file(store, comm)
    if path is None:
        return None
    duration: float | None = None
    try:
        size = path.stat().st_size
        with wave.open(str(path), "rb") as wav:
            duration = round(wav.getnframes() / wav.getframerate(), 3)
    except FileNotFoundError:  # removed since is_file()
        return None
    except (wave.Error, EOFError, OSError, ZeroDivisionError) as exc:
        logger.warning("the recording of communication %s (call %s) is not a readable WAV: "
                       "%s", comm.id, comm.call_id, exc)
    return {"name": path.stem, "duration_seconds": duration, "size_bytes": size,
            "content_type": "audio/wav", "url": f"/api/v1/communications/{comm.id}/recording"}


def _recordings(store: RecordingStore, rows: list[Any]) -> list[dict[str, Any] | None]:
    return [recording_info(store, comm) for comm, _, _ in rows]


def to_json(comm: Communication, contact: Contact | None, agent: User | None,
            recording: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": comm.id, "direction": comm.direction, "media": comm.media,
        "category": comm.category, "state": comm.state, "subject": comm.subject,
        "content": comm.content,
        "contact": None if contact is None else {
            "id": contact.id, "code": contact.code, "name": contact.display_name},
        "agent": None if agent is None else {"id": agent.id, "username": agent.username},
        "call_id": comm.call_id, "caller_number": comm.caller_number,
        "called_number": comm.called_number, "started_at": iso(comm.started_at),
        "answered_at": iso(comm.answered_at), "ended_at": iso(comm.ended_at),
        "duration_seconds": comm.duration_seconds, "hangup_cause": comm.hangup_cause,
        "recording": recording, "recording_pauses": comm.recording_pauses or [],
        "transfers": comm.transfers or [], "parent_id": comm.parent_id,
    }


async def list_communications(request: web.Request) -> web.Response:
    user = require_role(request, *ROLES)
    query = ListQuery.parse(request.query, user).authorised_for(user)
    async with request.app[SESSIONS]() as session:
        rows = await query.rows(session)
    more = len(rows) > query.limit
    rows = rows[:query.limit]
    recordings = await asyncio.to_thread(_recordings, recording_store(request.app), rows)
    items = [to_json(c, contact, agent, rec) for (c, contact, agent), rec in zip(rows, recordings,
                                                                                 strict=True)]
    return web.json_response({"communications": items, "limit": query.limit,
                              "offset": query.offset, "has_more": more})


async def _visible(request: web.Request) -> tuple[Communication, Contact | None, User | None]:
    user = require_role(request, *ROLES)
    comm_id = parse_id("id", request.match_info["id"])
    async with request.app[SESSIONS]() as session:
        row = (await session.execute(_base().where(Communication.id == comm_id))).first()
    if row is None:
        raise NotFound(f"no communication {comm_id}")
    comm, contact, agent = row
    if user.role not in SEE_ALL and comm.agent_id != user.id:
        raise Forbidden("agents see only their own communications")
    return comm, contact, agent


async def get_communication(request: web.Request) -> web.Response:
    comm, contact, agent = await _visible(request)
    rec = await asyncio.to_thread(recording_info, recording_store(request.app), comm)
    return web.json_response(to_json(comm, contact, agent, rec))


async def get_recording(request: web.Request) -> web.StreamResponse:
    comm, _, _ = await _visible(request)
    path = await asyncio.to_thread(recording_file, recording_store(request.app), comm)
    if path is None:
        raise NotFound(f"communication {comm.id} has no recording", error_id="no-recording")
    return web.FileResponse(path, headers={
        "Content-Type": "audio/wav",
        "Content-Disposition": f'attachment; filename="communication-{comm.id}.wav"',
        "Cache-Control": "private, no-store",
    })


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/communications", list_communications)
    app.router.add_get("/api/v1/communications/{id}", get_communication)
    app.router.add_get("/api/v1/communications/{id}/recording", get_recording)
