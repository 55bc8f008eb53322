"""The whole loop in headless Chromium (issue #5's "done when"): an agent signs in and
logs in to the CTI with the telephone icon; the PBX simulator places calls through call
control; while the agent's phone rings the page shows the caller's contact, the chooser for
a number shared by two contacts, and the unknown-caller card. Screenshots are artefacts."""

from __future__ import annotations

import dataclasses
import os

import pytest

from callcontrol import calls, cc, desk
from callcontrol.config import AriConfig, CallsConfig
from callcontrol.crm.models import Contact, Phone
from callcontrol.web.pages import page as page_handler
from callcontrol.web.pages import render

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "password-123"
# Real time: the simulator scales ARI timeouts too, and call control's ring timeout is an
# originate timeout it must honour as given.
TIME_SCALE = 1.0
MARIA = "+35799123456"
SHARED = "+35722000001"


@page_handler
async def desk_page(request):
    return await render(request, "base.html", {})


@pytest.fixture
async def sim(tmp_path):
    from callcontrol.pbxsim import PbxSimulator

    simulator = PbxSimulator(recordings_dir=tmp_path / "pbx", time_scale=TIME_SCALE)
    await simulator.start("127.0.0.1", 0)
    try:
        yield simulator
    finally:
        await simulator.close()


@pytest.fixture
async def live_server(live_server_factory, sim, tmp_path):
    def routes(app):
        app.router.add_get("/test/desk", desk_page)
    ari = dataclasses.replace(AriConfig(), url=sim.url)
    call_settings = dataclasses.replace(CallsConfig(), ring_timeout=6.0, wrapup_seconds=0.5,
                                        recordings_dir=tmp_path / "recordings")
    # desk.setup first: call control takes the AgentService and PopService it creates.
    return await live_server_factory(setups=[desk.setup, calls.setup, cc.setup, routes],
                                     ari=ari, calls=call_settings)


async def _contact(server, first: str, last: str, e164: str, kind: str = "person") -> int:
    async with server.sessions() as session, session.begin():
        contact = (Contact(kind="company", company_name=f"{first} {last}") if kind == "company"
                   else Contact(kind="person", first_name=first, last_name=last))
        contact.phones = [Phone(raw=e164, e164=e164, is_default=True)]
        session.add(contact)
        await session.flush()
        return contact.id


async def _ring(sim, number: str):
    return await sim.place_call(number=number, give_up_after=1000)


async def _hang_up(sim, call) -> None:
    """The caller gives up before the ring timeout: the agent is ready for the next call."""
    await sim.hangup(call.caller_channel_id)


async def test_sign_in_cti_login_and_pops_for_calls_from_the_simulator(
        page, live_server, sim, login, artifacts, browser_console):
    await live_server.create_user("ann", PASSWORD, "agent", extension="1001",
                                  device="PJSIP/1001")
    sim.set_device("PJSIP/1001", behaviour="no_answer")
    maria = await _contact(live_server, "Maria", "Georgiou", MARIA)
    await _contact(live_server, "Eleni", "Ioannou", SHARED)
    await _contact(live_server, "Ioannou", "Ltd", SHARED, kind="company")

    await login(page, live_server, "ann", PASSWORD)
    await page.goto("/test/desk")
    await page.locator('#desk-link[data-link="up"]').wait_for()
    await page.click("#desk-cti")  # the telephone icon: CTI login on the user's extension
    ready = page.locator('#desk-state[data-state="ready"]')
    await ready.wait_for()

    # A known caller: the contact opens while the phone rings.
    async with page.expect_navigation(url=f"**/cc/contacts/{maria}?call=*", timeout=10000):
        call = await _ring(sim, MARIA)
    await page.get_by_role("heading", name="Maria Georgiou").wait_for()
    assert await page.locator("#desk-call").inner_text() == "Ringing: Maria Georgiou"
    await page.locator('#desk-state[data-state="ringing"]').wait_for()
    await page.screenshot(path=os.path.join(artifacts, "known-caller.png"))
    await _hang_up(sim, call)
    await ready.wait_for(timeout=10000)

    # A number shared by two contacts: the chooser.
    call = await _ring(sim, SHARED)
    chooser = page.get_by_role("dialog", name="Several contacts have this number")
    await chooser.wait_for(timeout=10000)
    names = await chooser.get_by_role("option").all_inner_texts()
    assert sorted(n.splitlines()[0] for n in names) == ["Eleni Ioannou", "Ioannou Ltd"]
    await page.screenshot(path=os.path.join(artifacts, "chooser.png"))
    await _hang_up(sim, call)
    await chooser.wait_for(state="hidden", timeout=10000)  # pop.closed closes it
    await ready.wait_for(timeout=10000)

    # Nobody has the number: the unknown-caller card.
    call = await _ring(sim, "+35799777888")
    card = page.get_by_role("dialog", name="Unknown caller")
    await card.wait_for(timeout=10000)
    href = await card.get_by_role("link", name="Log person").get_attribute("href")
    assert href.startswith("/cc/actions/log-person?phone=%2B35799777888")
    await page.screenshot(path=os.path.join(artifacts, "unknown-caller.png"))
    await _hang_up(sim, call)
    await card.wait_for(state="hidden", timeout=10000)
    assert not [m for m in browser_console if "Content Security Policy" in m]
