from __future__ import annotations

import asyncio
import json
import logging

from sqlalchemy import select

from callcontrol.crm.models import Communication, CommunicationCentreDefinition
from tests.desk.conftest import BOTH_DATABASES

EVENTS = "/api/v1/cti/events"
WS = "/api/v1/ws"
MARIA = "+35799100001"


async def _receive(ws, kind: str, timeout: float = 2.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind:
                return msg


async def _pbx(dsk) -> dict:
    _, token = await dsk.user("pbx", role="engineer")
    return dsk.bearer(token)


async def _comm(dsk, call_id: str) -> Communication:
    async with dsk.db.sessions() as session:
        return await session.scalar(select(Communication).where(Communication.call_id == call_id))


@BOTH_DATABASES
async def test_a_pbx_call_pops_logs_a_communication_and_drives_the_agent(dsk):
    pbx = await _pbx(dsk)
    uid, token = await dsk.user("ann", extension="1001")
    maria = await dsk.contact("Maria Georgiou", MARIA)
    await dsk.agents.cti_login(uid)
    event = {"extension": "1001", "call_id": "pbx-1", "caller": "99100001", "called": "800"}
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        resp = await dsk.client.post(EVENTS, headers=pbx, json={"event": "ringing", **event})
        assert resp.status == 202 and (await resp.json())["contacts"] == 1
        pop = await _receive(ws, "call.ringing")
        assert pop["caller"] == {"number": "99100001", "e164": MARIA}
        assert [c["id"] for c in pop["contacts"]] == [maria]
        assert pop["direction"] == "inbound" and pop["communication_id"]
        assert (await dsk.agents.get(uid)).state.value == "ringing"
        comm = await _comm(dsk, "pbx-1")
        assert (comm.state, comm.media, comm.contact_id, comm.agent_id) == (
            "draft", "phone", maria, uid)

        await dsk.client.post(EVENTS, headers=pbx, json={"event": "answered", **event})
        answered = await _receive(ws, "call.answered")
        assert answered["contacts"][0]["name"] == "Maria Georgiou"
        assert (await dsk.agents.get(uid)).state.value == "on_call"

        await dsk.client.post(EVENTS, headers=pbx,
                              json={"event": "ended", "cause": "normal", **event})
        assert (await _receive(ws, "call.ended"))["call_id"] == "pbx-1"
    comm = await _comm(dsk, "pbx-1")
    assert comm.state == "completed" and comm.answered_at and comm.ended_at
    assert comm.hangup_cause == "normal" and comm.duration_seconds is not None
    assert (await dsk.agents.get(uid)).state.value == "wrap_up"
    assert await dsk.pops.active(uid) == []


async def test_an_unanswered_call_closes_the_pop_and_is_still_logged(dsk):
    pbx = await _pbx(dsk)
    uid, token = await dsk.user("ann", extension="1001")
    await dsk.agents.cti_login(uid)
    event = {"extension": "1001", "call_id": "pbx-2", "caller": "anonymous"}
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await dsk.client.post(EVENTS, headers=pbx, json={"event": "ringing", **event})
        pop = await _receive(ws, "call.ringing")
        assert pop["contacts"] == [] and pop["caller"]["e164"] is None
        await dsk.client.post(EVENTS, headers=pbx, json={"event": "ended", **event})
        closed = await _receive(ws, "pop.closed")
        assert closed["reason"] == "abandoned"
    assert (await _comm(dsk, "pbx-2")).state == "completed"
    assert (await dsk.agents.get(uid)).state.value == "ready"


async def test_a_number_shared_by_two_contacts_pops_both_and_links_neither(dsk):
    pbx = await _pbx(dsk)
    uid, token = await dsk.user("ann", extension="1001")
    await dsk.contact("Eleni Ioannou", "+35722000001")
    await dsk.contact("Ioannou Ltd", "+35722000001", kind="company")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await dsk.client.post(EVENTS, headers=pbx, json={
            "event": "ringing", "extension": "1001", "call_id": "pbx-3",
            "caller": "22000001"})
        pop = await _receive(ws, "call.ringing")
    assert sorted(c["name"] for c in pop["contacts"]) == ["Eleni Ioannou", "Ioannou Ltd"]
    assert (await _comm(dsk, "pbx-3")).contact_id is None
    # The agent was not logged in: the phone rang anyway, the state was left alone.
    assert (await dsk.agents.get(uid)).state.value == "logged_out"


async def test_the_listener_refuses_bad_tokens_plain_agents_and_malformed_events(dsk):
    pbx = await _pbx(dsk)
    _, agent = await dsk.user("ann", extension="1001")
    ok = {"event": "ringing", "extension": "1001", "call_id": "c1", "caller": "99100001"}
    resp = await dsk.client.post(EVENTS, json=ok, headers={"Authorization": "Bearer bad"})
    assert resp.status == 401
    assert (await dsk.client.post(EVENTS, json=ok)).status == 401
    assert (await dsk.client.post(EVENTS, json=ok, headers=dsk.bearer(agent))).status == 403
    cases = [
        ("not json", 400, "bad-json"),
        ([ok], 400, "bad-json"),
        ({"extension": "1001"}, 422, "event: required"),
        ({**ok, "extension": None}, 422, "extension: required"),
        ({**ok, "call_id": ""}, 422, "call_id: required"),
        ({**ok, "call_id": "x" * 65}, 422, "call_id: a string of at most 64"),
        ({**ok, "caller": {"no": 1}}, 422, "caller: a string"),
        ({**ok, "direction": "sideways"}, 422, "direction"),
        ({**ok, "extension": "9999"}, 404, "no agent has extension 9999"),
        ({**ok, "event": "answered", "call_id": "never-rang"}, 404, "send 'ringing' first"),
    ]
    for body, status, text in cases:
        kwargs = {"data": body} if isinstance(body, str) else {"json": body}
        resp = await dsk.client.post(EVENTS, headers=pbx, **kwargs)
        got = await resp.json()
        assert resp.status == status, (body, got)
        assert text in got["message"] or text == got["error"], (body, got)


async def test_unhandled_events_are_logged_only_when_the_definition_says_so(dsk, tmp_path,
                                                                            caplog):
    pbx = await _pbx(dsk)
    transfer = {"event": "transferred", "extension": "1001", "to": "1002", "call_id": "t1"}
    resp = await dsk.client.post(EVENTS, headers=pbx, json=transfer)
    assert resp.status == 200 and await resp.json() == {"handled": False, "logged": False}
    async with dsk.db.sessions() as session, session.begin():
        session.add(CommunicationCentreDefinition(
            name="main", active=True, cti_provider="event_listener", log_unhandled_events=True))
    with caplog.at_level(logging.INFO, logger="callcontrol.cti.unhandled"):
        resp = await dsk.client.post(EVENTS, headers=pbx, json=transfer)
    assert await resp.json() == {"handled": False, "logged": True}
    assert any("transferred" in r.getMessage() for r in caplog.records)
    [line] = (tmp_path / "logs" / "cti-unhandled.log").read_text().splitlines()
    assert json.loads(line)["event"] == transfer


async def test_an_outbound_call_pops_the_called_contact(dsk):
    pbx = await _pbx(dsk)
    uid, token = await dsk.user("ann", extension="1001")
    maria = await dsk.contact("Maria Georgiou", MARIA)
    event = {"extension": "1001", "call_id": "out-1", "caller": "1001",
             "called": "99100001", "direction": "outbound"}
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await dsk.client.post(EVENTS, headers=pbx, json={"event": "ringing", **event})
        pop = await _receive(ws, "call.ringing")
    assert pop["direction"] == "outbound" and pop["caller"]["e164"] == MARIA
    assert [c["id"] for c in pop["contacts"]] == [maria]
    comm = await _comm(dsk, "out-1")
    assert comm.direction == "outgoing" and comm.called_number == "99100001"


async def test_a_repeated_ringing_event_does_not_log_the_call_twice(dsk):
    pbx = await _pbx(dsk)
    await dsk.user("ann", extension="1001")
    event = {"event": "ringing", "extension": "1001", "call_id": "dup", "caller": "99100001"}
    first = await (await dsk.client.post(EVENTS, headers=pbx, json=event)).json()
    again = await (await dsk.client.post(EVENTS, headers=pbx, json=event)).json()
    assert first["communication_id"] == again["communication_id"]


@BOTH_DATABASES
async def test_agent_states_take_the_relaxed_access_and_the_journal_the_durable_one(dsk):
    """On PostgreSQL an agent's reservation and transitions do not wait for the WAL flush
    (a pop never waits out a slow disk); SQLite has one writer, already NORMAL."""
    from callcontrol.app import DIRECT, STATE_DIRECT
    from tests.crm.test_direct import _Setting

    uid, _ = await dsk.user("ann", extension="1001")
    assert (await dsk.agents.cti_login(uid)).state.value == "ready"
    assert dsk.agents._direct is dsk.app[STATE_DIRECT]
    relaxed, durable = dsk.app[STATE_DIRECT], dsk.app[DIRECT]
    if durable.dialect == "postgresql":
        assert relaxed is not durable
        assert await relaxed.run(_Setting("synchronous_commit")) == "off"
        assert await durable.run(_Setting("synchronous_commit")) == "on"
    else:
        assert relaxed is durable
