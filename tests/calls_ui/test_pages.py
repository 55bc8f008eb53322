"""The call-control pages over HTTP (no browser): the wallboard's data and authorisation,
the banner's state endpoint, the transfer targets, and hostile names."""

from __future__ import annotations

import re

from sqlalchemy import update

from callcontrol.crm.models import User
from tests.calls_ui.conftest import CONTACTS, eventually

# each test starts a whole serve + simulator (about a second)


def metric(text: str, state: str) -> int:
    found = re.search(r'callcontrol_agents\{state="' + state + r'"\} (\d+)', text)
    return int(found.group(1)) if found else 0


async def test_board_counts_match_the_agents_gauge_and_names_are_escaped(stack) -> None:
    hostile = '<script>alert("x")</script> & Co'
    async with stack.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == stack.user_ids["agent2"])
                              .values(display_name=hostile))
    await stack.ready("agent1")
    status, body = await stack.api("PUT", "/api/v1/agents/me/state", "agent1",
                                   json={"state": "not_ready", "reason": "lunch <b>"})
    assert status == 200, body
    await stack.ready("agent2")

    async def board_and_metrics():
        status, page = await stack.api("GET", "/supervisor/board", "boss")
        assert status == 200
        _, metrics = await stack.api("GET", "/metrics", "boss")
        counts = {s: int(n) for s, n in re.findall(
            r'data-testid="count-(\w+)">\s*<span class="wallboard-count-n">(\d+)', page)}
        wanted = {s: metric(metrics, s) for s in counts}
        return (page, counts) if counts == wanted and counts.get("ready") == 1 else None
    page, counts = await eventually(board_and_metrics)
    assert counts["not_ready"] == 1 and counts["ready"] == 1
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page and "&lt;/script&gt; &amp; Co" in page
    assert "lunch &lt;b&gt;" in page
    assert re.search(r'data-agent="agent1" data-state="not_ready"', page)


async def test_call_state_endpoint_and_transfer_targets(stack) -> None:
    await stack.ready("agent1")
    await stack.ready("agent2")
    status, body = await stack.api("GET", "/calls/transfer-targets", "agent1")
    assert status == 200
    assert body == {"agents": [{"user_id": stack.user_ids["agent2"], "username": "agent2",
                                "extension": "1002"}]}   # only ready agents, never oneself
    status, body = await stack.api("GET", "/calls/state/nope:1", "agent1")
    assert status == 200 and body["call"] is None and body["ended"] is True

    placed = await stack.sim.place_call(number=CONTACTS["Maria Georgiou"])
    call_id = f"{stack.config.ari.app}:{placed.stasis_channel_id}"

    async def connected():
        for user in ("agent1", "agent2"):
            _, body = await stack.api("GET", f"/calls/state/{call_id}", user)
            if body["call"] and body["call"]["state"] == "connected":
                return user
        return None
    owner = await eventually(connected)
    other = "agent2" if owner == "agent1" else "agent1"
    _, body = await stack.api("GET", f"/calls/state/{call_id}", other)
    assert body == {"call": None, "forbidden": True,
                    "message": "only the agent on this call may do that"}
    _, body = await stack.api("GET", f"/calls/state/{call_id}", "boss")   # supervisors see it
    assert body["call"]["call_id"] == call_id
    status, body = await stack.api("POST", f"/api/v1/calls/{call_id}/hangup", owner)
    assert status == 200, body

    async def ended():
        _, body = await stack.api("GET", f"/calls/state/{call_id}", owner)
        return body.get("ended")
    await eventually(ended)


async def test_pages_need_a_signed_in_user(stack) -> None:
    assert stack.http is not None
    for path in ("/calls/state/x", "/calls/transfer-targets"):
        async with stack.http.get(stack.url + path, allow_redirects=False) as resp:
            assert resp.status in (302, 303, 401), path
    async with stack.http.get(stack.url + "/supervisor", allow_redirects=False) as resp:
        assert resp.status in (302, 303) and "/login" in resp.headers["Location"]
    for user in ("agent1", "boss"):
        status, _ = await stack.api("GET", "/supervisor", user)
        assert status == (403 if user == "agent1" else 200)
