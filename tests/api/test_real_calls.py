"""The communications API on communications made by real calls: call control on the PBX
simulator (``tests.calls.conftest.call_env``) writes them, the API reads them back and
serves the recording call control copied into its store."""

from __future__ import annotations

import asyncio
import io
import wave
from datetime import datetime
from pathlib import Path

import pytest

from callcontrol.app import build_app
from tests.api.conftest import assert_documented, assert_documented_response
from tests.calls.conftest import call_env, eventually

MARIA = "+35799123456"


def wav_bytes_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


class Client:
    def __init__(self, http, env) -> None:
        self.http, self.env, self.tokens = http, env, {}

    async def headers(self, user_id: int) -> dict[str, str]:
        if user_id not in self.tokens:
            from callcontrol.crm.models import User
            from callcontrol.crm.users import create_api_token

            async with self.env.sessions() as session, session.begin():
                user = await session.get(User, user_id)
                self.tokens[user_id] = await create_api_token(session, user)
        return {"Authorization": f"Bearer {self.tokens[user_id]}"}

    async def request(self, method: str, path: str, user_id: int, *,
                      headers: dict[str, str] | None = None, **kwargs):
        headers = {**(headers or {}), **await self.headers(user_id)}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def json(self, method: str, path: str, user_id: int, **kwargs):
        resp = await self.request(method, path, user_id, **kwargs)
        return resp.status, await resp.json()


async def api_client(env, aiohttp_client) -> Client:
    """The API with call control's own store and call API, on the call stack's database."""
    from callcontrol.api import setup
    from callcontrol.calls import CALLS, RECORDINGS
    from callcontrol.calls.api import add_routes

    def wire(app) -> None:
        add_routes(app)
        app[CALLS], app[RECORDINGS] = env.calls, env.store
    app = build_app(env.config, ari_state=env.calls, setups=[wire, setup])
    return Client(await aiohttp_client(app), env)


@pytest.fixture
async def env_db(db_url: str, tmp_path: Path):
    """The call stack on SQLite and on PostgreSQL (``db_url`` is parametrised)."""
    async with call_env(tmp_path, db_url) as env:
        yield env


@pytest.mark.slow
async def test_answered_call_is_listed_and_its_recording_downloads(env_db, aiohttp_client):
    env = env_db
    anna = await env.add_agent("anna", "1001")
    sue = await env.add_user("sue", None, None, role="supervisor")
    contact = await env.add_contact("Maria", "99 123456", MARIA)
    api = await api_client(env, aiohttp_client)
    env.sim.set_device("PJSIP/1001", answer_after=0.3, behaviour="answer")
    sim_call = await env.place(number=MARIA, name="Maria", hangup_after=150)
    call_id = env.call_id_of(sim_call)

    # while it rings or talks, the draft is there for the agent it was given to
    await env.wait_call(call_id, "connected")

    async def drafts():  # the record is written in the background, just after the answer
        status, body = await api.json("GET", "/api/v1/communications?agent=me&state=draft",
                                      anna)
        assert status == 200
        return body["communications"]
    (draft,) = await eventually(drafts, what="the draft given to anna")
    assert draft["call_id"] == call_id
    assert draft["recording"] is None                   # not in the store until the end

    stored = await env.completed(call_id, timeout=8)
    status, body = await api.json("GET", f"/api/v1/communications?contact_id={contact}", anna)
    assert status == 200 and [c["id"] for c in body["communications"]] == [stored.id]
    status, comm = await api.json("GET", f"/api/v1/communications/{stored.id}", anna)
    assert status == 200
    assert_documented("Communication", comm)
    assert comm == body["communications"][0]
    assert (comm["direction"], comm["media"], comm["state"], comm["category"]) == (
        "incoming", "phone", "completed", "answered")
    assert comm["contact"]["id"] == contact and comm["contact"]["name"] == "Maria Test"
    assert comm["agent"] == {"id": anna, "username": "anna"}
    assert comm["caller_number"] == MARIA and comm["hangup_cause"] == "caller_hangup"
    assert comm["started_at"] <= comm["answered_at"] <= comm["ended_at"]
    talk = seconds_between(comm["answered_at"], comm["ended_at"])
    # the API shows times to the millisecond, the duration is rounded from the exact ones
    assert abs(comm["duration_seconds"] - talk) <= 0.5 + 0.001

    recording = comm["recording"]
    assert recording["url"] == f"/api/v1/communications/{stored.id}/recording"
    resp = await api.request("GET", recording["url"], anna)
    assert resp.status == 200 and resp.headers["Content-Type"] == "audio/wav"
    data = await resp.read()
    assert int(resp.headers["Content-Length"]) == len(data) == recording["size_bytes"]
    seconds = wav_bytes_seconds(data)
    # the API's duration is the file's; the file holds the talk time (real-time recording)
    assert recording["duration_seconds"] == pytest.approx(seconds, abs=0.001)
    assert abs(seconds - talk) < 0.5, (seconds, talk)
    assert abs(seconds - comm["duration_seconds"]) <= 0.5 + 0.5
    # the supervisor sees it too; another agent does not
    status, _ = await api.json("GET", f"/api/v1/communications/{stored.id}", sue)
    assert status == 200
    bob = await env.add_user("bob", "1002", "PJSIP/1002")
    status, body = await api.json("GET", recording["url"], bob)
    assert status == 403 and body["error"] == "forbidden"


@pytest.fixture
async def env(tmp_path: Path):
    async with call_env(tmp_path) as built:
        yield built


async def test_click_to_call_is_logged_outbound_with_its_recording(env, aiohttp_client):
    anna = await env.add_agent("anna", "1001")
    contact = await env.add_contact("Maria", "99123456", MARIA)
    api = await api_client(env, aiohttp_client)
    status, call = await api.json("POST", "/api/v1/calls", anna, json={"contact_id": contact})
    assert status == 201, call
    assert_documented("Call", call)
    await env.wait_call(call["call_id"], "connected", timeout=5)
    status, live = await api.json("GET", f"/api/v1/calls/{call['call_id']}", anna)
    assert status == 200 and live["state"] == "connected"
    assert_documented("Call", live)
    base = f"/api/v1/calls/{call['call_id']}"
    for action, expected in (("hold", 200), ("hold", 409), ("unhold", 200),
                             ("recording/pause", 200), ("recording/resume", 200)):
        await asyncio.sleep(0.1)
        status, body = await api.json("POST", f"{base}/{action}", anna)
        assert status == expected, (action, body)
        assert_documented_response("POST", "/api/v1/calls/{call_id}/" + action, status, body)
    await asyncio.sleep(0.3)
    status, _ = await api.json("POST", f"{base}/hangup", anna)
    assert status == 200
    await env.completed(call["call_id"])

    async def listed():
        _, body = await api.json("GET", "/api/v1/communications?direction=outgoing", anna)
        return body["communications"]
    (comm,) = await eventually(listed, what="the outbound communication listed")
    assert comm["id"] == call["communication_id"] and comm["call_id"] == call["call_id"]
    assert comm["contact"]["id"] == contact and comm["called_number"] == MARIA
    assert comm["hangup_cause"] == "agent_hangup" and comm["state"] == "completed"
    (pause,) = comm["recording_pauses"]
    when = {k: datetime.fromisoformat(v) for k, v in (
        ("answered", comm["answered_at"]), ("ended", comm["ended_at"]),
        ("start", pause["start"]), ("end", pause["end"]))}
    assert when["answered"] <= when["start"] < when["end"] <= when["ended"]
    resp = await api.request("GET", comm["recording"]["url"], anna,
                             headers={"Range": "bytes=0-11"})
    assert resp.status == 206 and (await resp.read())[:4] == b"RIFF"
    talk = seconds_between(comm["answered_at"], comm["ended_at"])
    assert abs(comm["recording"]["duration_seconds"] - talk) < 0.5
