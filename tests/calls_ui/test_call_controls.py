"""Browser tests of the call controls, click-to-call and the supervisor wallboard, against a
whole ``callcontrol serve`` and the PBX simulator (see conftest.py)."""

from __future__ import annotations

import os
import re

import pytest

from tests.calls_ui.conftest import CONTACTS, eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def agent_ready_in_browser(tab) -> None:
    """CTI login with the telephone icon, then Ready from the availability select."""
    await tab.goto("/cc")
    await tab.wait_for_selector("#desk-link[data-link=up]")
    await tab.click("#desk-cti")
    await tab.wait_for_selector("#desk-controls:not([hidden])")
    await tab.select_option("#desk-availability", "ready")
    await tab.wait_for_selector("#desk-state[data-state=ready]")


async def test_agent_holds_pauses_recording_and_hangs_up(stack, open_page, artifacts,
                                                         browser_console) -> None:
    tab = await open_page("agent1")
    await agent_ready_in_browser(tab)
    number = CONTACTS["Maria Georgiou"]
    placed = await stack.sim.place_call(number=number)
    call_id = f"{stack.config.ari.app}:{placed.stasis_channel_id}"

    # the pop opens the caller's contact with the banner; the phone rings, then is answered
    await tab.wait_for_url(re.compile(r"/cc/contacts/\d+\?call="))
    assert call_id in tab.url.replace("%3A", ":")
    banner = tab.locator("#calls-banner")
    await tab.wait_for_selector("#calls-banner[data-state=connected]")
    assert "Connected" in await tab.locator("#calls-state").inner_text()
    assert number in await banner.inner_text()
    await tab.screenshot(path=os.path.join(artifacts, "1-connected.png"), full_page=True)

    # hold: the caller's channel is held with music on hold, as call control asked
    hold = tab.get_by_role("button", name="Hold")
    assert await hold.get_attribute("aria-keyshortcuts") == "Alt+H"
    await hold.click()
    await tab.wait_for_selector("#calls-hold[aria-pressed=true]")
    assert await tab.locator("#calls-held").is_visible()
    assert (await stack.call(call_id))["held"] is True
    caller = stack.sim.engine.get_channel(placed.stasis_channel_id)
    assert caller.held and caller.moh_class is not None
    await tab.screenshot(path=os.path.join(artifacts, "2-on-hold.png"), full_page=True)
    # the keyboard shortcut takes the caller off hold
    await tab.keyboard.press("Alt+h")
    await tab.wait_for_selector("#calls-hold[aria-pressed=false]")
    assert (await stack.call(call_id))["held"] is False
    assert not caller.held and caller.moh_class is None
    assert not await tab.locator("#calls-held").is_visible()

    # mute and unmute; the keyboard alone works, and the focused control shows it
    await tab.focus("#calls-hold")
    await tab.keyboard.press("Tab")
    assert await tab.evaluate("document.activeElement.id") == "calls-mute"
    outline = await tab.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    await tab.keyboard.press("Enter")
    await tab.wait_for_selector("#calls-mute[aria-pressed=true]")
    assert await tab.evaluate("document.activeElement.id") == "calls-mute"  # focus kept
    assert (await stack.call(call_id))["muted"] is True
    await tab.get_by_role("button", name="Unmute").click()
    await tab.wait_for_selector("#calls-mute[aria-pressed=false]")

    # pause the recording for a card payment: shown clearly, recorded on the call
    await tab.get_by_role("button", name="Pause recording").click()
    paused = tab.locator("[data-testid=recording-paused]")
    await paused.wait_for(state="visible")
    assert (await paused.inner_text()).lower() == "recording paused"
    assert (await stack.call(call_id))["recording"] == "paused"
    await tab.screenshot(path=os.path.join(artifacts, "3-recording-paused.png"), full_page=True)
    await tab.get_by_role("button", name="Resume recording").click()
    await paused.wait_for(state="hidden")
    snapshot = await stack.call(call_id)
    assert snapshot["recording"] == "recording"
    assert len(snapshot["recording_pauses"]) == 1 and snapshot["recording_pauses"][0]["end"]

    # a refused control shows the API's message (resume while recording: 409)
    status, body = await stack.api("POST", f"/api/v1/calls/{call_id}/recording/resume",
                                   "agent1")
    assert status == 409
    await tab.evaluate("""async (url) => {
        document.getElementById('calls-recording').setAttribute('data-action', url);
        document.getElementById('calls-recording').click();
    }""", "recording/resume")
    error = tab.locator("[data-testid=call-error]")
    await error.wait_for(state="visible")
    assert body["message"] in await error.inner_text()

    # hang up: the banner says so, the communication is completed with the paused interval
    await tab.get_by_role("button", name="Hang up").click()
    await tab.wait_for_selector("#calls-banner[data-state=ended]")
    await tab.screenshot(path=os.path.join(artifacts, "4-ended.png"), full_page=True)

    async def completed():
        comm = await stack.communication(call_id)
        return comm if comm is not None and comm.state == "completed" else None
    comm = await eventually(completed)
    assert comm.agent_id == stack.user_ids["agent1"] and comm.answered_at is not None
    assert comm.contact_id == stack.contacts["Maria Georgiou"]
    assert len(comm.recording_pauses or []) == 1
    assert not [m for m in browser_console if "Content Security Policy" in m], browser_console


async def test_click_to_call_from_a_phone_number(stack, open_page, artifacts) -> None:
    tab = await open_page("agent1")
    await agent_ready_in_browser(tab)
    contact_id = stack.contacts["Andreas Charalambous"]
    number = CONTACTS["Andreas Charalambous"]
    await tab.goto(f"/cc/contacts/{contact_id}")
    dial = tab.get_by_role("button", name=f"Call {number}")
    await dial.click()
    # the page reopens with the outbound call's banner; agent answers, then the customer
    await tab.wait_for_url(re.compile(rf"/cc/contacts/{contact_id}\?call="))
    await tab.wait_for_selector("#calls-banner[data-state=connected]", timeout=10000)
    assert f"Outbound call to {number}" in await tab.locator("#calls-what").inner_text()
    await tab.screenshot(path=os.path.join(artifacts, "outbound-connected.png"), full_page=True)
    call_id = (await tab.get_attribute("#calls-banner", "data-call-id"))
    snapshot = await stack.call(call_id)
    assert snapshot["direction"] == "outbound" and snapshot["called"] == number
    assert snapshot["agent_id"] == stack.user_ids["agent1"]
    await tab.get_by_role("button", name="Hang up").click()
    await tab.wait_for_selector("#calls-banner[data-state=ended]")

    async def completed():
        comm = await stack.communication(call_id)
        return comm if comm is not None and comm.state == "completed" else None
    comm = await eventually(completed)
    assert comm.direction == "outgoing" and comm.contact_id == contact_id


async def test_click_to_call_refused_shows_the_reason(stack, open_page) -> None:
    tab = await open_page("agent1")   # not CTI-logged in: call control refuses
    contact_id = stack.contacts["Andreas Charalambous"]
    await tab.goto(f"/cc/contacts/{contact_id}")
    await tab.get_by_role("button", name=re.compile(r"^Call \+")).click()
    toast = tab.locator("#toasts .toast")
    await toast.wait_for(state="visible")
    text = await toast.inner_text()
    assert "Could not call" in text and "Not possible now: cannot call now" in text
    assert "?call=" not in tab.url


async def test_transfer_to_a_ready_agent(stack, open_page, artifacts, browser_console) -> None:
    tab = await open_page("agent1")
    await agent_ready_in_browser(tab)
    await stack.ready("agent2")   # ready after agent1: agent1 is longest idle, gets the call
    placed = await stack.sim.place_call(number=CONTACTS["Maria Georgiou"])
    call_id = f"{stack.config.ari.app}:{placed.stasis_channel_id}"
    await tab.wait_for_url(re.compile(r"/cc/contacts/\d+\?call="))
    await tab.wait_for_selector("#calls-banner[data-state=connected]")
    assert (await stack.call(call_id, "boss"))["agent_id"] == stack.user_ids["agent1"]
    await tab.get_by_role("button", name="Transfer…").click()
    select = tab.locator("#calls-transfer-agent")
    await tab.wait_for_selector("#calls-transfer-agent option[value='1002']", state="attached")
    await select.select_option("1002")
    await tab.screenshot(path=os.path.join(artifacts, "transfer.png"), full_page=True)
    await tab.get_by_role("button", name="Transfer now").click()

    async def with_agent2():
        call = await stack.call(call_id, "boss")
        return call if call["agent_id"] == stack.user_ids["agent2"] and \
            call["state"] == "connected" else None
    call = await eventually(with_agent2)
    assert call["transfers"][0]["to_extension"] == "1002"
    # agent1's banner: the call is no longer theirs to control
    await tab.wait_for_selector("#calls-banner[data-state=ended]")
    assert "no longer yours" in await tab.locator("#calls-state").inner_text()


@pytest.mark.parametrize("sim_time_scale", [0.5])
async def test_wallboard_shows_agents_and_calls_live(stack, open_page, artifacts) -> None:
    stack.sim.set_device("PJSIP/1001", answer_after=6.0)    # 3 s of ringing (scale 0.5)
    await stack.ready("agent1")
    board = await open_page("boss")
    await board.goto("/supervisor")
    assert await board.get_by_role("link", name="Wallboard").count() == 1
    row = board.locator("[data-testid=wallboard-agents] tr[data-agent=agent1]")
    await board.wait_for_selector(
        "[data-testid=wallboard-agents] tr[data-agent=agent1][data-state=ready]")
    placed = await stack.sim.place_call(number=CONTACTS["Maria Georgiou"])
    call_id = f"{stack.config.ari.app}:{placed.stasis_channel_id}"
    await board.wait_for_selector(
        "[data-testid=wallboard-agents] tr[data-agent=agent1][data-state=ringing]", timeout=3000)
    assert "Ringing" in await row.inner_text()
    await board.screenshot(path=os.path.join(artifacts, "wallboard-ringing.png"), full_page=True)
    await board.wait_for_selector(
        "[data-testid=wallboard-agents] tr[data-agent=agent1][data-state=on_call]", timeout=6000)
    call_row = board.locator(f"[data-testid=wallboard-calls] tr[data-call-id='{call_id}']")
    await board.wait_for_selector(
        f"[data-testid=wallboard-calls] tr[data-call-id='{call_id}'][data-state=connected]")
    assert "agent1" in await call_row.inner_text()

    # the counts per state are the callcontrol_agents gauge's
    status, metrics = await stack.api("GET", "/metrics", "boss")
    assert status == 200
    on_call = re.search(r'callcontrol_agents\{state="on_call"\} (\d+)', metrics)
    assert on_call and int(on_call.group(1)) == 1
    count = board.locator("[data-testid=count-on_call] .wallboard-count-n")
    assert await count.inner_text() == on_call.group(1)
    ready = re.search(r'callcontrol_agents\{state="ready"\} (\d+)', metrics)
    assert await board.locator("[data-testid=count-ready] .wallboard-count-n").inner_text() \
        == ready.group(1)

    # listen: the supervisor's phone is rung and joins the snoop
    await call_row.get_by_role("button", name=re.compile("^Listen")).click()

    async def supervised():
        call = await stack.call(call_id, "boss")
        return call["supervisor"]
    sup = await eventually(supervised)
    assert sup["mode"] == "listen" and sup["user_id"] == stack.user_ids["boss"]
    stop = call_row.get_by_role("button", name=re.compile("^Stop supervising"))
    await stop.wait_for(state="visible")
    await board.screenshot(path=os.path.join(artifacts, "wallboard-listening.png"),
                           full_page=True)
    await stop.click()

    async def released():
        return (await stack.call(call_id, "boss"))["supervisor"] is None
    await eventually(released)
    whisper = call_row.get_by_role("button", name=re.compile("^Whisper"))
    await whisper.click()
    sup = await eventually(supervised)
    assert sup["mode"] == "whisper"
    # the board's refresh keeps the keyboard focus on the same control
    stop = call_row.get_by_role("button", name=re.compile("^Stop supervising"))
    await stop.focus()
    before = await board.locator(".wallboard-updated").inner_text()

    async def refreshed():
        return await board.locator(".wallboard-updated").inner_text() != before
    await eventually(refreshed, timeout=5)
    assert (await board.evaluate("document.activeElement.id")).startswith("stop-")


async def test_agent_cannot_open_the_wallboard(stack, open_page, artifacts) -> None:
    tab = await open_page("agent1")
    response = await tab.goto("/supervisor")
    assert response.status == 403
    await tab.screenshot(path=os.path.join(artifacts, "agent-403.png"))
    assert await tab.get_by_role("link", name="Wallboard").count() == 0
    status, _ = await stack.api("GET", "/supervisor/board", "agent1")
    assert status == 403


async def test_click_to_call_dials_the_number_clicked_and_follows_the_far_end(
        stack, open_page, browser_console) -> None:
    """A phone that is not the default is called by number; when the customer hangs up the
    banner learns it from the desk websocket / its poll, without a click."""
    from callcontrol.crm.models import Phone

    contact_id = stack.contacts["Andreas Charalambous"]
    async with stack.sessions() as session, session.begin():
        session.add(Phone(contact_id=contact_id, raw="99 555666", e164="+35799555666",
                          is_default=False))
    tab = await open_page("agent1")
    await agent_ready_in_browser(tab)
    await tab.goto(f"/cc/contacts/{contact_id}")
    assert await tab.locator("[data-calls-dial]").count() == 2
    await tab.get_by_role("button", name="Call 99 555666").click()
    await tab.wait_for_selector("#calls-banner[data-state=connected]", timeout=10000)
    call_id = await tab.get_attribute("#calls-banner", "data-call-id")
    assert (await stack.call(call_id))["called"] == "+35799555666"
    assert await tab.locator("[data-testid=desk-unknown]").is_hidden()
    # the customer hangs up
    engine = stack.sim.engine
    engine.person_hangup(engine.person_side(f"{call_id}-c"))
    await tab.wait_for_selector("#calls-banner[data-state=ended]", timeout=4000)
    assert await tab.get_by_role("button", name="Hang up").is_disabled()
    assert await tab.get_by_role("button", name="Hold").is_disabled()
    assert not [m for m in browser_console if "Content Security Policy" in m]


async def test_banner_follows_the_desk_websocket_without_polling(stack, open_page) -> None:
    """With the safety-net poll pushed out to a minute, call.answered and call.ended from the
    desk websocket alone move the banner from ringing to connected to ended."""
    stack.sim.set_device("PJSIP/1001", answer_after=15.0)   # 1.5 s of ringing
    tab = await open_page("agent1")
    await tab.add_init_script("window.callcontrolCallsPollMs = 60000;")
    await agent_ready_in_browser(tab)
    requests: list[str] = []
    tab.on("request", lambda r: "/calls/state/" in r.url and requests.append(r.url))
    placed = await stack.sim.place_call(number=CONTACTS["Maria Georgiou"])
    await tab.wait_for_url(re.compile(r"/cc/contacts/\d+\?call="))
    assert "Ringing" in await tab.locator("#calls-state").inner_text()
    await tab.wait_for_selector("#calls-banner[data-state=connected]", timeout=4000)
    engine = stack.sim.engine
    engine.person_hangup(engine.person_side(placed.caller_channel_id))
    await tab.wait_for_selector("#calls-banner[data-state=ended]", timeout=4000)
    assert 2 <= len(requests) <= 6, requests   # page load, answered, ended: no 2 s polling


async def test_a_refused_control_shows_the_apis_403_text(stack, open_page) -> None:
    """A supervisor may look at an agent's call but not hold it: the API's 403 text shows."""
    await stack.ready("agent1")
    placed = await stack.sim.place_call(number=CONTACTS["Maria Georgiou"])
    call_id = f"{stack.config.ari.app}:{placed.stasis_channel_id}"

    async def connected():
        return (await stack.call(call_id, "boss"))["state"] == "connected"
    await eventually(connected)
    tab = await open_page("boss")
    await tab.goto(f"/cc/contacts/{stack.contacts['Maria Georgiou']}?call={call_id}")
    await tab.wait_for_selector("#calls-banner[data-state=connected]")
    await tab.get_by_role("button", name="Hold").click()
    error = tab.locator("[data-testid=call-error]")
    await error.wait_for(state="visible")
    assert await error.inner_text() == "Not allowed: only the agent on this call may do that"
    assert (await stack.call(call_id, "boss"))["held"] is False
    assert await tab.get_attribute("#calls-hold", "aria-pressed") == "false"
