"""The acceptance checks' path through ``callcontrol serve`` itself, over TCP: a token, CTI
login, ready, a call from the PBX simulator, then the call's communication and recording
read back through /api/v1/communications, and the OpenAPI document served by the process."""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import wave
from pathlib import Path

import aiohttp
import pytest

from callcontrol.config import load_config
from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.migrate import upgrade_async
from callcontrol.crm.models import Contact, Phone, User
from callcontrol.crm.users import create_api_token
from callcontrol.pbxsim import PbxSimulator
from callcontrol.server import serve

MARIA = "+35799123456"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _seed(url: str) -> tuple[str, str, int]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            agent = User(username="anna", password_hash="x", role="agent", extension="1001",
                         device="PJSIP/1001")
            boss = User(username="sue", password_hash="x", role="supervisor")
            contact = Contact(kind="person", first_name="Maria", last_name="Georgiou",
                              search_name="maria georgiou")
            session.add_all([agent, boss, contact])
            await session.flush()
            session.add(Phone(contact_id=contact.id, raw="99 123456", e164=MARIA,
                              is_default=True))
            return (await create_api_token(session, agent),
                    await create_api_token(session, boss), contact.id)
    finally:
        await engine.dispose()


async def _poll(http: aiohttp.ClientSession, url: str, headers: dict, ok, tries: int = 200):
    for _ in range(tries):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url, headers=headers) as resp:
                if resp.status == 200:
                    body = await resp.json()
                    if ok(body):
                        return body
        await asyncio.sleep(0.05)
    pytest.fail(f"{url} never answered as expected")


@pytest.mark.slow
async def test_serve_answers_the_acceptance_checks(tmp_path: Path) -> None:
    sim = PbxSimulator(recordings_dir=tmp_path / "sim", time_scale=0.05)
    await sim.start("127.0.0.1", 0)
    port = free_port()
    config = load_config(env={
        "CALLCONTROL_VAR_DIR": str(tmp_path / "var"),
        "CALLCONTROL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        "CALLCONTROL_ARI_URL": sim.url, "CALLCONTROL_HTTP_PORT": str(port),
        "CALLCONTROL_SECRET_KEY": "k" * 40, "CALLCONTROL_WRAPUP_SECONDS": "0.2",
    })
    await upgrade_async(config.database_url)
    token, boss_token, contact = await _seed(config.database_url)
    sim.set_device("PJSIP/1001", answer_after=0.2, behaviour="answer")
    stop = asyncio.Event()
    server = asyncio.create_task(serve(config, migrate=False, with_agi=False, stop=stop))
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession() as http:
            await _poll(http, f"{base}/healthz", {}, lambda b: b["checks"]["ari"]["connected"])
            document = await _poll(http, f"{base}/api/v1/openapi.json", {}, lambda b: True)
            assert "/api/v1/communications/{id}/recording" in document["paths"]
            async with http.post(f"{base}/api/v1/agents/me/cti", headers=auth,
                                 json={"action": "login"}) as resp:
                assert resp.status == 200, await resp.text()
            async with http.put(f"{base}/api/v1/agents/me/state", headers=auth,
                                json={"state": "ready"}) as resp:
                assert resp.status == 200, await resp.text()
            await sim.place_call(number=MARIA, hangup_after=30, give_up_after=1000)

            listed = await _poll(
                http, f"{base}/api/v1/communications?contact_id={contact}&limit=1", auth,
                lambda b: b["communications"] and b["communications"][0]["state"] ==
                "completed" and b["communications"][0]["recording"])
            comm = listed["communications"][0]
            assert comm["direction"] == "incoming" and comm["agent"]["username"] == "anna"
            assert comm["contact"]["name"] == "Maria Georgiou" and comm["answered_at"]
            async with http.get(f"{base}{comm['recording']['url']}", headers=auth) as resp:
                assert resp.status == 200 and resp.content_type == "audio/wav"
                data = await resp.read()
            with wave.open(io.BytesIO(data), "rb") as wav:
                seconds = wav.getnframes() / wav.getframerate()
            assert seconds == pytest.approx(comm["recording"]["duration_seconds"], abs=0.001)
            assert seconds > 0.5
            # the supervisor reads the same record; without a token nothing
            async with http.get(f"{base}/api/v1/communications/{comm['id']}",
                                headers={"Authorization": f"Bearer {boss_token}"}) as resp:
                assert resp.status == 200 and (await resp.json()) == comm
            async with http.get(f"{base}/api/v1/communications/{comm['id']}") as resp:
                assert resp.status == 401
                assert (await resp.json())["error"] == "unauthorized"
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)
        await sim.close()
