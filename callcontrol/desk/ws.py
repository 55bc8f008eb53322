"""``GET /api/v1/ws``: one websocket per browser tab, carrying the agent's own events only.

Authenticated by the session cookie (with an Origin check: a cookie rides along on a
cross-site handshake, so Origin is what tells a foreign page apart) or a bearer token.
The socket subscribes to ``agent.<user_id>`` and nothing else, so an agent can only ever
receive their own pops and state changes. On (re)connect it sends ``hello`` (the agent's
status) and re-sends the active pops. Client messages are JSON objects with a ``type``:

* ``{"type": "agent.state", "state": "ready" | "not_ready", "reason": "lunch"}``
* ``{"type": "agent.cti_login", "extension": "1001"}`` (extension optional),
  ``{"type": "agent.cti_logout"}``
* ``{"type": "agent.pop_preference", "preference": "ring" | "answer" | "never"}``
* ``{"type": "pop.ack", "call_id": "..."}``: the page showed the pop
* ``{"type": "ping"}`` -> ``{"type": "pong"}``

A bad message gets ``{"type": "error", "error": "<id>", "message": "..."}``; the socket stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from sqlalchemy import select

from callcontrol.agents.states import AgentState, Cause
from callcontrol.app import BUS
from callcontrol.crm.models import User
from callcontrol.desk.keys import AGENTS, POPS
from callcontrol.desk.pops import topic
from callcontrol.errors import ApiError, Forbidden, Unauthorized, ValidationFailed
from callcontrol.web.auth import SESSIONS, USER, user_from_request
from callcontrol.web.csrf import check_origin

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 25.0
MAX_MESSAGE_BYTES = 16 * 1024
BURST, RATE = 20.0, 5.0  # client messages: a burst of 20, then 5 a second
REVALIDATE_SECONDS = 60.0
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("desk_sockets")

Action = Callable[[web.Request, Any, dict[str, Any]], Awaitable[dict[str, Any] | None]]


async def websocket(request: web.Request) -> web.StreamResponse:
    user = request.get(USER) or await user_from_request(request)
    if user is None:
        raise Unauthorized("authentication required")
    if not check_origin(request):
        raise Forbidden("this page's origin may not open the agent websocket")
    # each socket's own heartbeat period, 20 to 30 s: sockets that connected together (a
    # restart, a shift starting) would otherwise be pinged all in the same instant, a burst
    # that holds the event loop while calls wait
    heartbeat = HEARTBEAT_SECONDS * random.uniform(0.8, 1.2)  # noqa: S311 - not a secret
    ws = web.WebSocketResponse(heartbeat=heartbeat, max_msg_size=MAX_MESSAGE_BYTES)
    if not ws.can_prepare(request).ok:
        raise ApiError("expected a websocket upgrade", error_id="not-a-websocket")
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    try:
        await _serve(request, ws, user)
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception:  # e.g. Redis unreachable: the page reconnects, maybe elsewhere
        logger.exception("agent %s websocket failed", user.id)
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"server error; reconnect")
    return ws


async def _serve(request: web.Request, ws: web.WebSocketResponse, user: Any) -> None:
    async with request.app[BUS].subscribe(topic(user.id)) as sub:
        # Subscribed first, then the snapshot: a pop published in between arrives twice
        # (the page de-duplicates by call id) rather than never.
        status = await request.app[AGENTS].get(user.id)
        await ws.send_json({"type": "hello", "agent": status.to_json() if status else None})
        for pop in await request.app[POPS].active(user.id):
            await ws.send_json(pop)
        tasks = [asyncio.create_task(_forward(sub, ws), name=f"ws-forward-{user.id}"),
                 asyncio.create_task(_watch_user(request, ws, user.id))]
        logger.debug("agent %s websocket open", user.id)
        try:
            await _read(request, ws, user)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            logger.debug("agent %s websocket closed", user.id)


async def _forward(sub: Any, ws: web.WebSocketResponse) -> None:
    async for message in sub:
        if ws.closed:
            return
        try:
            if message.text is not None:   # encoded once by the publisher
                await ws.send_str(message.text)
            else:
                await ws.send_json(message.data)
        except (ConnectionResetError, RuntimeError):
            return


class MessageBudget:
    """A token bucket per socket: a runaway tab cannot turn into a database load test."""

    def __init__(self, burst: float = BURST, per_second: float = RATE) -> None:
        self.burst, self.rate = burst, per_second
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


async def _watch_user(request: web.Request, ws: web.WebSocketResponse, user_id: int) -> None:
    """A socket outlives its handshake: a deactivated account stops receiving pops.

    Each socket's checks start at a random point of the first interval: sockets that
    connected together (a shift starting, every agent reconnecting after a restart) would
    otherwise all query the database in the same instant, every interval, and hold the
    event loop while calls wait (698 agents in the call storm: pop p99 157 ms at 100
    calls/s in a run the burst fell into, 14 ms in one it did not).
    """
    first = True
    while not ws.closed:
        await asyncio.sleep(REVALIDATE_SECONDS * (random.random() if first else 1.0))
        first = False
        try:
            async with request.app[SESSIONS]() as session:
                active = await session.scalar(select(User.active).where(User.id == user_id))
        except Exception:  # a database blip is not a reason to drop the agent
            logger.warning("could not re-check user %s of a websocket", user_id)
            continue
        if not active:
            logger.info("closing the websocket of deactivated user %s", user_id)
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"account deactivated")
            return


async def _read(request: web.Request, ws: web.WebSocketResponse, user: Any) -> None:
    budget = MessageBudget()
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            if not budget.take():
                await ws.send_json(_error("rate-limited", "too many messages; slow down"))
                continue
            reply = await handle_message(request, user, msg.data)
            if reply is not None and not ws.closed:
                await ws.send_json(reply)
        elif msg.type is WSMsgType.BINARY:
            await ws.send_json(_error("bad-message", "send JSON text messages"))
        elif msg.type is WSMsgType.ERROR:
            logger.info("agent %s websocket error: %s", user.id, ws.exception())
            return


async def handle_message(request: web.Request, user: Any, raw: str) -> dict[str, Any] | None:
    """One client message, acting only on the connected user; errors become a message."""
    try:
        data = json.loads(raw)
    except ValueError:
        return _error("bad-message", "messages must be JSON objects")
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return _error("bad-message", "messages must be JSON objects with a string 'type'")
    action = ACTIONS.get(data["type"])
    if action is None:
        return _error("unknown-type", f"unknown message type {data['type'][:40]!r}",
                      data["type"])
    try:
        return await action(request, user, data)
    except ApiError as exc:
        return _error(exc.error_id, exc.message, data["type"])


def _error(error: str, message: str, request_type: str | None = None) -> dict[str, Any]:
    body = {"type": "error", "error": error, "message": message}
    if request_type is not None:
        body["request"] = request_type[:40]
    return body


def _text(data: dict[str, Any], field: str, *, limit: int, required: bool) -> str | None:
    value = data.get(field)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{field}: required")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationFailed(f"{field}: a string of at most {limit} characters")
    return value.strip()


async def _state(request: web.Request, user: Any, data: dict[str, Any]) -> None:
    state = data.get("state")
    if state not in (AgentState.READY.value, AgentState.NOT_READY.value):
        raise ValidationFailed("state: 'ready' or 'not_ready'")
    reason = _text(data, "reason", limit=100, required=False)
    await request.app[AGENTS].set_state(user.id, AgentState(state), Cause.AGENT, reason)
    return None  # the new state arrives as an agent.state message, like every change


async def _login(request: web.Request, user: Any, data: dict[str, Any]) -> None:
    extension = _text(data, "extension", limit=16, required=False)
    await request.app[AGENTS].cti_login(user.id, extension)


async def _logout(request: web.Request, user: Any, data: dict[str, Any]) -> None:
    await request.app[AGENTS].cti_logout(user.id)


async def _preference(request: web.Request, user: Any, data: dict[str, Any]) -> dict:
    status = await request.app[AGENTS].set_pop_preference(user.id, data.get("preference"))
    return {"type": "agent.pop_preference", "preference": status.pop_preference}


async def _ack(request: web.Request, user: Any, data: dict[str, Any]) -> None:
    call_id = _text(data, "call_id", limit=64, required=True)
    await request.app[POPS].ack(user.id, call_id or "")


async def _ping(request: web.Request, user: Any, data: dict[str, Any]) -> dict:
    return {"type": "pong"}


ACTIONS: dict[str, Action] = {
    "agent.state": _state, "agent.cti_login": _login, "agent.cti_logout": _logout,
    "agent.pop_preference": _preference, "pop.ack": _ack, "ping": _ping,
}


async def close_all(app: web.Application) -> None:
    """On shutdown: tell every tab to reconnect (to another process) instead of hanging."""
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    for ws in list(sockets):
        with contextlib.suppress(Exception):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
