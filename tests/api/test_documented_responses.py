"""Real responses of the app as ``serve`` composes it match the OpenAPI document: status
documented for the operation, body valid against its schema. Agents, the CTI listener (whose
communication the communications API then shows), calls and health, without a PBX."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcontrol.crm.migrate import upgrade_async
from callcontrol.crm.models import User
from callcontrol.crm.users import create_api_token
from callcontrol.server import create_app
from tests.api.conftest import api_config, assert_documented_response


@pytest.fixture
async def served(tmp_path: Path, aiohttp_client):
    config = api_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'served.db'}")
    await upgrade_async(config.database_url)
    app = create_app(config, with_agi=False)
    client = await aiohttp_client(app)
    from callcontrol.web.auth import SESSIONS

    tokens = {}
    async with app[SESSIONS]() as session, session.begin():
        for name, role, ext in (("anna", "agent", "1001"), ("sue", "supervisor", None),
                                ("pbx", "engineer", None)):
            user = User(username=name, password_hash="x", role=role, extension=ext)
            session.add(user)
            await session.flush()
            tokens[name] = {"Authorization": f"Bearer {await create_api_token(session, user)}"}

    async def call(method: str, path: str, who: str | None, template: str | None = None,
                   **kwargs):
        resp = await client.request(method, path, headers=tokens.get(who, {}), **kwargs)
        body = await resp.json()
        assert_documented_response(method, template or path.split("?")[0], resp.status, body)
        return resp.status, body
    return call


async def test_agent_routes_answer_as_documented(served):
    status, body = await served("POST", "/api/v1/agents/me/cti-login", "anna")
    assert status == 200 and body["state"] == "ready" and body["extension"] == "1001"
    status, body = await served("PUT", "/api/v1/agents/me/state", "anna",
                                json={"state": "not_ready", "reason": "lunch"})
    assert status == 200 and body["reason"] == "lunch"
    status, body = await served("PUT", "/api/v1/agents/me/state", "anna",
                                json={"state": "asleep"})
    assert status == 422
    status, body = await served("PUT", "/api/v1/agents/me/pop-preference", "anna",
                                json={"preference": "answer"})
    assert status == 200 and body["pop_preference"] == "answer"
    status, body = await served("GET", "/api/v1/agents", "sue")
    assert status == 200 and [a["username"] for a in body["agents"]] == ["anna"]
    status, _ = await served("GET", "/api/v1/agents", "anna")
    assert status == 403
    status, _ = await served("GET", "/api/v1/agents/me", None)
    assert status == 401
    occupancy = "/api/v1/agents/{user}/occupancy"
    status, body = await served("GET", "/api/v1/agents/me/occupancy", "anna", occupancy)
    assert status == 200 and body["changes"] >= 2
    status, body = await served("GET", "/api/v1/agents/me/occupancy?from=yesterday", "anna",
                                occupancy)
    assert status == 422
    status, _ = await served("GET", "/api/v1/agents/1/occupancy", "anna",
                             occupancy)
    assert status == 403


async def test_cti_event_pops_and_its_communication_is_listed(served):
    await served("POST", "/api/v1/agents/me/cti-login", "anna")
    event = {"event": "ringing", "extension": "1001", "call_id": "pbx-42",
             "caller": "+35799123456", "called": "80001234"}
    status, result = await served("POST", "/api/v1/cti/events", "pbx", json=event)
    assert status == 202 and result["handled"] is True
    status, me = await served("GET", "/api/v1/agents/me", "anna")
    assert status == 200 and [p["call_id"] for p in me["pops"]] == ["pbx-42"]
    status, listed = await served("GET", "/api/v1/communications?agent=me", "anna")
    assert status == 200
    (comm,) = listed["communications"]
    assert comm["id"] == result["communication_id"] and comm["state"] == "draft"
    assert comm["call_id"] == "pbx-42" and comm["agent"]["username"] == "anna"
    for step in ("answered", "ended"):
        status, _ = await served("POST", "/api/v1/cti/events", "pbx",
                                 json={**event, "event": step, "cause": "normal"})
        assert status == 202
    status, comm = await served("GET", f"/api/v1/communications/{comm['id']}", "anna",
                                "/api/v1/communications/{id}")
    assert comm["state"] == "completed" and comm["hangup_cause"] == "normal"
    assert comm["answered_at"] is not None and comm["recording"] is None
    status, _ = await served("POST", "/api/v1/cti/events", "pbx", json={"event": ""})
    assert status == 422
    status, body = await served("POST", "/api/v1/cti/events", "pbx", json={"event": "park"})
    assert status == 200 and body["handled"] is False


async def test_cti_action_logs_in_and_out(served):
    cti = "/api/v1/agents/me/cti"
    status, body = await served("POST", cti, "anna", json={"action": "login"})
    assert status == 200 and body["state"] == "ready" and body["extension"] == "1001"
    status, body = await served("POST", cti, "anna", json={"action": "logout"})
    assert status == 200 and body["state"] == "logged_out"
    status, body = await served("POST", cti, "anna", json={"action": "dance"})
    assert status == 422 and body["details"] == {"field": "action"}
    status, body = await served("POST", cti, "anna", data=b"not json")
    assert status == 400
    status, _ = await served("POST", cti, None, json={"action": "login"})
    assert status == 401


async def test_cti_login_action_honours_the_extension(served):
    status, body = await served("POST", "/api/v1/agents/me/cti", "anna",
                                json={"action": "login", "extension": "2002"})
    assert status == 200 and body["extension"] == "2002" and body["device"] == "PJSIP/2002"


async def test_calls_and_health_answer_as_documented(served):
    status, body = await served("GET", "/api/v1/calls", "anna")
    assert status == 200 and body == {"calls": []}
    status, _ = await served("POST", "/api/v1/calls/nope/hold", "anna",
                             "/api/v1/calls/{call_id}/hold")
    assert status == 404
    status, _ = await served("POST", "/api/v1/calls", "anna", json={"number": ""})
    assert status == 400
    status, body = await served("GET", "/healthz", None)
    assert status == 503 and body["checks"]["ari"]["connected"] is False   # no PBX here
