from __future__ import annotations


async def test_agent_logs_in_changes_state_and_logs_out_over_rest(dsk):
    uid, token = await dsk.user("ann", extension="1001")
    auth = dsk.bearer(token)
    resp = await dsk.client.post("/api/v1/agents/me/cti-login", headers=auth)
    body = await resp.json()
    assert resp.status == 200 and body["state"] == "ready" and body["extension"] == "1001"
    resp = await dsk.client.put("/api/v1/agents/me/state", headers=auth,
                                json={"state": "not_ready", "reason": "training"})
    body = await resp.json()
    assert body["state"] == "not_ready" and body["reason"] == "training"
    me = await (await dsk.client.get("/api/v1/agents/me", headers=auth)).json()
    assert me["state"] == "not_ready" and me["pops"] == []
    resp = await dsk.client.post("/api/v1/agents/me/cti-logout", headers=auth)
    assert (await resp.json())["state"] == "logged_out"
    assert (await dsk.agents.get(uid)).state.value == "logged_out"


async def test_login_on_an_explicit_extension_and_conflicts(dsk):
    _, ann = await dsk.user("ann")
    _, bob = await dsk.user("bob")
    resp = await dsk.client.post("/api/v1/agents/me/cti-login", headers=dsk.bearer(ann))
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "no-extension"
    resp = await dsk.client.post("/api/v1/agents/me/cti-login", headers=dsk.bearer(ann),
                                 json={"extension": "2001", "device": "SIP/2001"})
    assert (await resp.json())["device"] == "SIP/2001"
    resp = await dsk.client.post("/api/v1/agents/me/cti-login", headers=dsk.bearer(bob),
                                 json={"extension": "2001"})
    assert resp.status == 409 and (await resp.json())["error"] == "extension-in-use"


async def test_bad_bodies_get_clear_errors(dsk):
    _, token = await dsk.user("ann", extension="1001")
    auth = dsk.bearer(token)
    await dsk.client.post("/api/v1/agents/me/cti-login", headers=auth)
    resp = await dsk.client.put("/api/v1/agents/me/state", headers=auth, data="{oops")
    assert resp.status == 400 and (await resp.json())["error"] == "bad-json"
    resp = await dsk.client.put("/api/v1/agents/me/state", headers=auth,
                                json={"state": "on_call"})
    assert resp.status == 422 and "ready" in (await resp.json())["message"]
    resp = await dsk.client.put("/api/v1/agents/me/state", headers=auth,
                                json={"state": "not_ready", "reason": "x" * 101})
    assert resp.status == 422
    resp = await dsk.client.put("/api/v1/agents/me/pop-preference", headers=auth,
                                json={"preference": "sometimes"})
    assert resp.status == 422


async def test_pop_preference_is_persisted(dsk):
    uid, token = await dsk.user("ann")
    resp = await dsk.client.put("/api/v1/agents/me/pop-preference", headers=dsk.bearer(token),
                                json={"preference": "never"})
    assert resp.status == 200 and (await resp.json())["pop_preference"] == "never"
    assert (await dsk.agents.get(uid)).pop_preference == "never"


async def test_only_supervisors_and_admins_list_agents(dsk):
    _, agent = await dsk.user("ann", extension="1001")
    _, boss = await dsk.user("sue", role="supervisor")
    assert (await dsk.client.get("/api/v1/agents", headers=dsk.bearer(agent))).status == 403
    assert (await dsk.client.get("/api/v1/agents")).status == 401
    await dsk.client.post("/api/v1/agents/me/cti-login", headers=dsk.bearer(agent))
    resp = await dsk.client.get("/api/v1/agents", headers=dsk.bearer(boss))
    listed = {a["username"]: a["state"] for a in (await resp.json())["agents"]}
    assert listed["ann"] == "ready"


async def test_cookie_writes_need_the_csrf_token(dsk):
    await dsk.user("ann", extension="1001")
    csrf = await dsk.sign_in("ann")
    resp = await dsk.client.post("/api/v1/agents/me/cti-login")
    assert resp.status == 403
    resp = await dsk.client.post("/api/v1/agents/me/cti-login",
                                 headers={"X-CSRF-Token": csrf})
    assert resp.status == 200 and (await resp.json())["state"] == "ready"


async def test_the_top_bar_offers_the_cti_telephone_and_loads_the_desk_script(dsk):
    await dsk.user("ann", extension="1001")
    await dsk.sign_in("ann")
    html = dsk.page_html
    assert 'id="desk-cti"' in html and "/static/desk/desk.js" in html
    assert "<script>" not in html  # CSP: no inline scripts
    js = await dsk.client.get("/static/desk/desk.js")
    assert js.status == 200 and "WebSocket" in await js.text()


async def test_occupancy_from_the_persisted_history(dsk):
    import asyncio
    from datetime import UTC, datetime, timedelta

    uid, agent = await dsk.user("ann", extension="1001")
    _, boss = await dsk.user("sue", role="supervisor")
    start = datetime.now(UTC) - timedelta(seconds=1)
    await dsk.agents.cti_login(uid)
    await asyncio.sleep(0.2)
    await dsk.agents.set_state(uid, "not_ready", reason="lunch")
    await asyncio.sleep(0.2)
    query = {"from": start.isoformat()}
    resp = await dsk.client.get("/api/v1/agents/me/occupancy", headers=dsk.bearer(agent),
                                params=query)
    body = await resp.json()
    assert resp.status == 200 and body["user_id"] == uid and body["changes"] == 2
    assert body["seconds"]["ready"] >= 0.2 and body["not_ready_reasons"]["lunch"] >= 0.2
    url = f"/api/v1/agents/{uid}/occupancy"
    assert (await dsk.client.get(url, headers=dsk.bearer(agent))).status == 403
    assert (await dsk.client.get(url, headers=dsk.bearer(boss))).status == 200
    assert (await dsk.client.get("/api/v1/agents/999/occupancy",
                                 headers=dsk.bearer(boss))).status == 404
    bad = await dsk.client.get(url, headers=dsk.bearer(boss), params={"from": "yesterday"})
    assert bad.status == 422 and "ISO 8601" in (await bad.json())["message"]
    backwards = await dsk.client.get(url, headers=dsk.bearer(boss), params={
        "from": "2026-11-23T10:00:00Z", "to": "2026-11-23T09:00:00Z"})
    assert backwards.status == 422


async def test_cti_action_endpoint_logs_in_and_out(dsk):
    """``POST /api/v1/agents/me/cti`` with ``{"action": ...}``: the acceptance checks' form."""
    uid, token = await dsk.user("ann", extension="1001")
    auth = dsk.bearer(token)
    resp = await dsk.client.post("/api/v1/agents/me/cti", headers=auth,
                                 json={"action": "login"})
    assert resp.status == 200 and (await resp.json())["state"] == "ready"
    assert (await dsk.agents.get(uid)).state.value == "ready"
    resp = await dsk.client.post("/api/v1/agents/me/cti", headers=auth,
                                 json={"action": "logout"})
    assert resp.status == 200 and (await resp.json())["state"] == "logged_out"
    resp = await dsk.client.post("/api/v1/agents/me/cti", headers=auth,
                                 json={"action": "reboot"})
    body = await resp.json()
    assert resp.status == 422 and "action" in body["message"]
    resp = await dsk.client.post("/api/v1/agents/me/cti", headers=auth)
    assert resp.status == 400
    resp = await dsk.client.post("/api/v1/agents/me/cti", json={"action": "login"})
    assert resp.status == 401
