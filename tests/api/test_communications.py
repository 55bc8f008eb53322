"""``/api/v1/communications``: listing, filters, one communication, recordings, and who may
see what; on SQLite and PostgreSQL (the ``db`` fixture), rows inserted directly."""

from __future__ import annotations

import wave

import pytest

from tests.api.conftest import T0, assert_documented, write_wav

LIST = "/api/v1/communications"


async def test_agent_lists_only_their_own_newest_first(api_stack):
    s = api_stack
    old = await s.add_comm(agent="anna", minutes=1)
    new = await s.add_comm(agent="anna", minutes=30)
    middle = await s.add_comm(agent="anna", minutes=10)
    await s.add_comm(agent="bob", minutes=20)
    await s.add_comm(agent=None, minutes=25)            # nobody answered: no agent
    status, body = await s.get(LIST, "anna")
    assert status == 200
    assert [c["id"] for c in body["communications"]] == [new, middle, old]
    assert body["has_more"] is False and body["limit"] == 50 and body["offset"] == 0
    assert_documented("CommunicationList", body)
    status, mine = await s.get(f"{LIST}?agent=me", "anna")
    assert status == 200 and mine["communications"] == body["communications"]
    status, own_id = await s.get(f"{LIST}?agent={s.users['anna']}", "anna")
    assert status == 200 and own_id["communications"] == body["communications"]
    # empty values, as a URL template leaves them, are not given
    status, blank = await s.get(f"{LIST}?contact_id=&agent=&limit=&direction=", "anna")
    assert status == 200 and blank["communications"] == body["communications"]


async def test_supervisor_and_admin_see_all_and_filter(api_stack):
    s = api_stack
    maria, _ = await s.add_contact("Maria")
    nikos, _ = await s.add_contact("Nikos")
    a1 = await s.add_comm(agent="anna", minutes=1, contact_id=maria)
    a2 = await s.add_comm(agent="anna", minutes=2, contact_id=nikos, direction="outgoing")
    b1 = await s.add_comm(agent="bob", minutes=3, contact_id=maria, state="draft")
    none = await s.add_comm(agent=None, minutes=4)
    for who in ("sue", "ada"):
        status, body = await s.get(LIST, who)
        assert status == 200
        assert [c["id"] for c in body["communications"]] == [none, b1, a2, a1]
    cases = {
        f"contact_id={maria}": [b1, a1],
        f"agent={s.users['anna']}": [a2, a1],
        "agent=me": [],                                 # the supervisor handled none
        "direction=outgoing": [a2],
        "state=draft": [b1],
        f"contact_id={maria}&state=completed": [a1],
        "limit=2": [none, b1],
        "limit=2&offset=2": [a2, a1],
    }
    for query, expected in cases.items():
        status, body = await s.get(f"{LIST}?{query}", "sue")
        assert status == 200, (query, body)
        assert [c["id"] for c in body["communications"]] == expected, query
    _, page = await s.get(f"{LIST}?limit=2", "sue")
    assert page["has_more"] is True
    # an agent's filters apply within their own communications
    _, body = await s.get(f"{LIST}?contact_id={maria}", "anna")
    assert [c["id"] for c in body["communications"]] == [a1]


async def test_limit_defaults_to_50_and_allows_500(api_stack):
    s = api_stack
    async with s.sessions() as session, session.begin():
        from callcontrol.crm.models import Communication

        session.add_all(Communication(direction="incoming", media="phone", state="completed",
                                      subject=f"call {i}", agent_id=s.users["anna"])
                        for i in range(60))
    _, body = await s.get(LIST, "anna")
    assert len(body["communications"]) == 50 and body["has_more"] is True
    _, body = await s.get(f"{LIST}?limit=500", "anna")
    assert len(body["communications"]) == 60 and body["has_more"] is False
    # no start time (not a call): newest inserted first
    ids = [c["id"] for c in body["communications"]]
    assert ids == sorted(ids, reverse=True)


BAD_PARAMETERS = [
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("limit=-1", "limit"),
    ("offset=-5", "offset"), ("contact_id=0", "contact_id"), ("contact_id=abc", "contact_id"),
    ("contact_id=99999999999", "contact_id"), ("agent=you", "agent"), ("agent=1.5", "agent"),
    ("direction=sideways", "direction"), ("state=open", "state"), ("colour=red", "colour"),
    ("limit=5&limit=6", "limit"), ("limit=%C2%B2", "limit"), ("contact_id=%D9%A3", "contact_id"),
    ("offset=1e3", "offset"), ("agent=" + "9" * 40, "agent"),
]


async def test_bad_parameters_answer_400_json(api_stack):
    for query, parameter in BAD_PARAMETERS:
        status, body = await api_stack.get(f"{LIST}?{query}", "sue")
        assert status == 400, query
        assert body["error"] == "bad-request" and body["details"] == {"parameter": parameter}
        assert parameter in body["message"]
        assert_documented("Error", body)


async def test_one_communication_has_every_field(api_stack):
    s = api_stack
    contact, code = await s.add_contact("Maria", "Georgiou")
    parent = await s.add_comm(agent="anna", minutes=0, contact_id=contact)
    comm = await s.add_comm(
        agent="anna", minutes=5, contact_id=contact, parent_id=parent, category="answered",
        call_id="callcontrol:1700000000.42", caller_number="+35799123456",
        called_number="80001234", answered_at=T0.replace(minute=5, second=4),
        ended_at=T0.replace(minute=6, second=4), duration_seconds=60,
        hangup_cause="caller_hangup", recording="callcontrol-1700000000.42",
        recording_pauses=[{"start": "2026-11-23T09:05:10+00:00",
                           "end": "2026-11-23T09:05:20+00:00", "by": s.users["anna"]}],
        transfers=[{"at": "2026-11-23T09:05:30+00:00", "from_agent_id": s.users["anna"],
                    "to_extension": "1002", "to_agent_id": None, "outcome": "answered"}])
    write_wav(s.recordings / "callcontrol-1700000000.42.wav", 1.25)
    status, body = await s.get(f"{LIST}/{comm}", "anna")
    assert status == 200
    assert_documented("Communication", body)
    assert body["id"] == comm and body["parent_id"] == parent
    assert (body["direction"], body["media"], body["state"], body["category"]) == (
        "incoming", "phone", "completed", "answered")
    assert body["contact"] == {"id": contact, "code": code, "name": "Maria Georgiou"}
    assert body["agent"] == {"id": s.users["anna"], "username": "anna"}
    assert body["call_id"] == "callcontrol:1700000000.42"
    assert (body["caller_number"], body["called_number"]) == ("+35799123456", "80001234")
    assert body["started_at"] == "2026-11-23T09:05:00.000Z"
    assert body["answered_at"] == "2026-11-23T09:05:04.000Z"
    assert body["ended_at"] == "2026-11-23T09:06:04.000Z"
    assert body["duration_seconds"] == 60 and body["hangup_cause"] == "caller_hangup"
    assert body["recording"] == {
        "name": "callcontrol-1700000000.42", "duration_seconds": 1.25, "size_bytes": 20044,
        "content_type": "audio/wav", "url": f"/api/v1/communications/{comm}/recording"}
    assert body["recording_pauses"][0]["end"] == "2026-11-23T09:05:20+00:00"
    assert body["transfers"][0]["to_extension"] == "1002"
    # the list shows the same representation
    _, listed = await s.get(f"{LIST}?contact_id={contact}", "anna")
    assert listed["communications"][0] == body


async def test_recording_is_null_without_a_stored_file(api_stack):
    s = api_stack
    never = await s.add_comm(agent="anna")
    missing = await s.add_comm(agent="anna", recording="gone-file")
    unsafe = await s.add_comm(agent="anna", recording="../../etc/passwd")
    for comm in (never, missing, unsafe):
        status, body = await s.get(f"{LIST}/{comm}", "anna")
        assert status == 200 and body["recording"] is None
        assert body["recording_pauses"] == [] and body["transfers"] == []
        status, body = await s.get(f"{LIST}/{comm}/recording", "anna")
        assert status == 404 and body["error"] == "no-recording"


async def test_unsafe_recording_name_never_leaves_the_store(api_stack, tmp_path):
    s = api_stack
    secret = write_wav(tmp_path / "outside.wav", 0.1)   # a WAV next to (not in) the store
    write_wav(s.recordings / "inside.wav", 0.1)
    for name in ("../outside", "../outside.wav", str(secret), "inside/../../outside",
                 "..", ".hidden"):
        comm = await s.add_comm(agent="anna", recording=name)
        status, body = await s.get(f"{LIST}/{comm}/recording", "anna")
        assert status == 404, name
        assert body["error"] == "no-recording"


async def test_recording_downloads_whole_and_by_range(api_stack):
    s = api_stack
    path = write_wav(s.recordings / "rec-1.wav", 0.5)
    data = path.read_bytes()
    comm = await s.add_comm(agent="bob", recording="rec-1")
    resp = await s.raw(f"{LIST}/{comm}/recording", "bob")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "audio/wav"
    assert int(resp.headers["Content-Length"]) == len(data)
    assert resp.headers["Accept-Ranges"] == "bytes"
    assert await resp.read() == data
    resp = await s.raw(f"{LIST}/{comm}/recording", "sue", headers={"Range": "bytes=0-43"})
    assert resp.status == 206
    header = await resp.read()
    assert header == data[:44] and header.startswith(b"RIFF")
    assert resp.headers["Content-Range"] == f"bytes 0-43/{len(data)}"
    resp = await s.raw(f"{LIST}/{comm}/recording", "ada", headers={"Range": "bytes=100-"})
    assert resp.status == 206 and await resp.read() == data[100:]
    resp = await s.raw(f"{LIST}/{comm}/recording", "ada",
                       headers={"Range": f"bytes={len(data) + 10}-"})
    assert resp.status == 416
    resp = await s.client.head(f"{LIST}/{comm}/recording",
                               headers={"Authorization": f"Bearer {s.tokens['bob']}"})
    assert resp.status == 200 and int(resp.headers["Content-Length"]) == len(data)


async def test_a_name_stored_with_its_extension_is_found(api_stack):
    s = api_stack
    write_wav(s.recordings / "with-ext.wav", 0.2)
    comm = await s.add_comm(agent="anna", recording="with-ext.wav")
    _, body = await s.get(f"{LIST}/{comm}", "anna")
    assert body["recording"]["name"] == "with-ext" and body["recording"]["duration_seconds"] == 0.2


async def test_a_file_that_is_not_a_wav_has_no_duration(api_stack):
    s = api_stack
    s.recordings.mkdir(parents=True, exist_ok=True)
    (s.recordings / "broken.wav").write_bytes(b"not a wav at all")
    comm = await s.add_comm(agent="anna", recording="broken")
    _, body = await s.get(f"{LIST}/{comm}", "anna")
    assert body["recording"]["duration_seconds"] is None
    assert body["recording"]["size_bytes"] == 16


async def test_agent_cannot_see_another_agents_communication(api_stack):
    s = api_stack
    write_wav(s.recordings / "bobs.wav", 0.1)
    bobs = await s.add_comm(agent="bob", recording="bobs")
    unassigned = await s.add_comm(agent=None)
    for path in (f"{LIST}/{bobs}", f"{LIST}/{bobs}/recording", f"{LIST}/{unassigned}",
                 f"{LIST}?agent={s.users['bob']}"):
        status, body = await s.get(path, "anna")
        assert status == 403, path
        assert body["error"] == "forbidden"
    for who in ("bob", "sue", "ada"):
        assert (await s.raw(f"{LIST}/{bobs}/recording", who)).status == 200, who


async def test_engineers_are_refused_everywhere(api_stack):
    s = api_stack
    write_wav(s.recordings / "r.wav", 0.1)
    comm = await s.add_comm(agent="anna", recording="r")
    for path in (LIST, f"{LIST}/{comm}", f"{LIST}/{comm}/recording"):
        status, body = await s.get(path, "eve")
        assert status == 403 and body["error"] == "forbidden", path


async def test_without_credentials_401_and_unknown_ids_404(api_stack):
    s = api_stack
    comm = await s.add_comm(agent="anna")
    for path in (LIST, f"{LIST}/{comm}", f"{LIST}/{comm}/recording"):
        status, body = await s.get(path, None)
        assert status == 401 and body["error"] == "unauthorized", path
    status, body = await s.get(LIST, None, headers={"Authorization": "Bearer cc_forged"})
    assert status == 401
    for who in ("anna", "sue"):
        for path in (f"{LIST}/{comm + 1000}", f"{LIST}/{comm + 1000}/recording"):
            status, body = await s.get(path, who)
            assert status == 404 and body["error"] == "not-found", path
    for bad in ("abc", "0", "-3", "99999999999", "%C2%B2", "1.0"):
        status, body = await s.get(f"{LIST}/{bad}", "sue")
        assert status == 400 and body["details"] == {"parameter": "id"}, bad


async def test_wav_duration_matches_the_file(api_stack, tmp_path):
    s = api_stack
    path = write_wav(s.recordings / "long.wav", 3.5, rate=16000)
    with wave.open(str(path), "rb") as wav:
        expected = wav.getnframes() / wav.getframerate()
    comm = await s.add_comm(agent="anna", recording="long")
    _, body = await s.get(f"{LIST}/{comm}", "sue")
    assert body["recording"]["duration_seconds"] == pytest.approx(expected) == 3.5


async def test_pages_run_from_started_calls_into_communications_without_a_start(api_stack):
    s = api_stack
    timed = [await s.add_comm(agent="anna", minutes=m) for m in (5, 1, 9)]
    untimed = [await s.add_comm(agent="anna", started_at=None) for _ in range(3)]
    order = [timed[2], timed[0], timed[1], *reversed(untimed)]
    for limit in (1, 2, 4):
        for offset in range(0, 8):
            status, body = await s.get(f"{LIST}?limit={limit}&offset={offset}", "anna")
            assert status == 200
            got = [c["id"] for c in body["communications"]]
            assert got == order[offset:offset + limit], (limit, offset)
            assert body["has_more"] is (offset + limit < len(order)), (limit, offset)
    _, body = await s.get(f"{LIST}?limit=2&offset=4&direction=outgoing", "anna")
    assert body["communications"] == [] and body["has_more"] is False
