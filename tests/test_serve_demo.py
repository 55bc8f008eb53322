"""``callcontrol serve`` as composed for production and the demo, end to end.

The whole process (web app, desk, call control, Communication Centre, dialplan editor,
FastAGI) runs against the PBX simulator; a demo call placed from the ``/demo`` page rings the
ready agent, is answered, recorded, and logged as a completed communication.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import wave
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from callcontrol import demo
from callcontrol.config import load_config
from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.migrate import upgrade_async
from callcontrol.crm.models import Communication, Contact, Phone, User
from callcontrol.crm.users import authenticate, create_api_token
from callcontrol.demo import (
    DEMO_USERS,
    ensure_demo_contacts,
    ensure_demo_users,
    pick_caller,
    web_setup,
)
from callcontrol.pbxsim import PbxSimulator
from callcontrol.server import serve


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_demo_data_users_and_callers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        assert await ensure_demo_contacts(engine, sessions, 40) == 40
        assert await ensure_demo_contacts(engine, sessions, 40) == 40  # not seeded twice
        first = await ensure_demo_users(sessions)
        again = await ensure_demo_users(sessions)
        assert [d.username for d, _ in first] == [d.username for d in DEMO_USERS]
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(User)) == len(DEMO_USERS)
            # passwords are new on every start: the old one no longer works
            name, old = first[0][0].username, first[0][1]
            assert await authenticate(session, name, old) is None
            assert await authenticate(session, name, again[0][1]) is not None
            rng = random.Random(1)
            shared, _ = await pick_caller(session, "shared", rng)
            owners = await session.scalar(select(func.count(func.distinct(Phone.contact_id)))
                                          .where(Phone.e164 == shared))
            assert owners >= 2
            known, name = await pick_caller(session, "known", rng)
            assert await session.scalar(select(func.count()).select_from(Phone)
                                        .where(Phone.e164 == known)) >= 1
            unknown, _ = await pick_caller(session, "unknown", rng)
            assert await session.scalar(select(func.count()).select_from(Phone)
                                        .where(Phone.e164 == unknown)) == 0
            assert await session.scalar(select(func.count()).select_from(Contact)) == 40
    finally:
        await engine.dispose()


@pytest.mark.slow
async def test_serve_runs_the_whole_loop_from_the_demo_page(tmp_path: Path, monkeypatch) -> None:
    # callers talk 3-4 s at this time scale: long enough for a loaded machine to answer first
    monkeypatch.setattr(demo, "CALLER_TALK_RANGE", (60.0, 80.0))
    sim = PbxSimulator(recordings_dir=tmp_path / "sim", time_scale=0.05)
    await sim.start("127.0.0.1", 0)
    http_port = free_port()
    config = load_config(env={
        "CALLCONTROL_VAR_DIR": str(tmp_path / "var"),
        "CALLCONTROL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        "CALLCONTROL_ARI_URL": sim.url,
        "CALLCONTROL_HTTP_PORT": str(http_port),
        "CALLCONTROL_AGI_PORT": str(free_port()),
        "CALLCONTROL_SECRET_KEY": "k" * 40,
        "CALLCONTROL_WRAPUP_SECONDS": "0.2",
        "CALLCONTROL_DEMO": "true",
    })
    await upgrade_async(config.database_url)
    engine = create_engine(config.database_url)
    sessions = session_factory(engine)
    await ensure_demo_contacts(engine, sessions, 30)
    await ensure_demo_users(sessions)
    async with sessions() as session, session.begin():
        agent = await session.scalar(select(User).where(User.username == "agent1"))
        token = await create_api_token(session, agent)
    sim.set_device("PJSIP/1001", answer_after=0.2, behaviour="answer")

    stop = asyncio.Event()
    server = asyncio.create_task(serve(config, migrate=False,
                                       extra_setups=(web_setup(sim),), stop=stop))
    base = f"http://127.0.0.1:{http_port}"
    auth = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            health = await resp.json()
                            break
                await asyncio.sleep(0.05)
            else:
                pytest.fail("serve never became healthy")
            assert health["checks"]["ari"]["connected"] is True
            assert health["checks"]["database"]["ok"] is True

            async with http.post(f"{base}/api/v1/agents/me/cti-login", headers=auth) as resp:
                assert resp.status == 200, await resp.text()
            async with http.put(f"{base}/api/v1/agents/me/state", headers=auth,
                                json={"state": "ready"}) as resp:
                assert resp.status == 200, await resp.text()
            async with http.get(f"{base}/demo", headers=auth) as resp:
                assert resp.status == 200 and "Simulate a call" in await resp.text()
            async with http.get(f"{base}/cc", headers=auth) as resp:  # the top-bar link
                assert resp.status == 200 and 'href="/demo"' in await resp.text()
            async with http.post(f"{base}/demo/calls", headers=auth, data={"kind": "known"},
                                 allow_redirects=False) as resp:
                assert resp.status == 303, await resp.text()
                number = resp.headers["Location"].split("placed=", 1)[1]

            async def completed() -> Communication | None:
                async with sessions() as session:
                    return await session.scalar(select(Communication).where(
                        Communication.caller_number == number,
                        Communication.state == "completed"))
            comm = None
            for _ in range(600):
                comm = await completed()
                if comm is not None:
                    break
                await asyncio.sleep(0.05)
            assert comm is not None, "the demo call was never completed in the record"
            assert comm.agent_id == agent.id and comm.direction == "incoming"
            assert comm.contact_id is not None and comm.answered_at is not None
            assert comm.recording
            stored = list(config.calls.recordings_dir.glob("*.wav"))
            assert stored, "no recording in callcontrol's store"
            with wave.open(str(stored[0]), "rb") as wav:
                assert wav.getnframes() > 0

            async with http.get(f"{base}/metrics") as resp:
                metrics = await resp.text()
            assert any(f'callcontrol_calls_total{{direction="{d}",outcome="answered"}} 1' in metrics
                       for d in ("incoming", "inbound")), metrics
            assert "callcontrol_ari_connected 1" in metrics
            # /demo is a page: without a user it sends the browser to sign in
            async with http.get(f"{base}/demo", allow_redirects=False) as resp:
                assert resp.status in (302, 303) and "/login" in resp.headers["Location"]
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)
        await engine.dispose()
        await sim.close()
