"""The pop in a real browser: the CTI telephone, the chooser for a shared number, the
unknown-caller card, and a single match opening the contact."""

from __future__ import annotations

import os

import aiohttp
import pytest

from callcontrol import desk
from callcontrol.crm.models import Contact, Phone
from callcontrol.crm.users import create_api_token
from callcontrol.web.pages import page as page_handler
from callcontrol.web.pages import render

pytestmark = pytest.mark.browser
PASSWORD = "password-123"


@page_handler
async def desk_page(request):
    return await render(request, "base.html", {})


@pytest.fixture
def live_server_setups():
    def routes(app):
        app.router.add_get("/test/desk", desk_page)
    return [desk.setup, routes]


async def _contact(server, name: str, e164: str, kind: str = "person") -> int:
    async with server.sessions() as session, session.begin():
        first, _, last = name.partition(" ")
        contact = (Contact(kind="company", company_name=name) if kind == "company"
                   else Contact(kind="person", first_name=first, last_name=last))
        contact.phones = [Phone(raw=e164, e164=e164)]
        session.add(contact)
        await session.flush()
        return contact.id


async def _pbx_token(server) -> str:
    user = await server.create_user("pbx", PASSWORD, "engineer")
    async with server.sessions() as session, session.begin():
        return await create_api_token(session, user)


async def _ring(server, token: str, call_id: str, caller: str) -> None:
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{server.url}/api/v1/cti/events",
                               headers={"Authorization": f"Bearer {token}"},
                               json={"event": "ringing", "extension": "1001",
                                     "call_id": call_id, "caller": caller})
        assert resp.status == 202, await resp.text()


async def _end(server, token: str, call_id: str) -> None:
    async with aiohttp.ClientSession() as http:
        await http.post(f"{server.url}/api/v1/cti/events",
                        headers={"Authorization": f"Bearer {token}"},
                        json={"event": "ended", "extension": "1001", "call_id": call_id})


async def test_chooser_unknown_caller_card_and_single_match(
        page, live_server, login, artifacts, browser_console):
    await live_server.create_user("ann", PASSWORD, "agent", extension="1001")
    token = await _pbx_token(live_server)
    await _contact(live_server, "Eleni Ioannou", "+35722000001")
    await _contact(live_server, "Ioannou Ltd", "+35722000001", kind="company")
    maria = await _contact(live_server, "Maria Georgiou", "+35799100001")
    await login(page, live_server, "ann", PASSWORD)
    await page.goto("/test/desk")
    await page.locator('#desk-link[data-link="up"]').wait_for()

    # CTI login with the telephone icon.
    await page.click("#desk-cti")
    await page.locator('#desk-state[data-state="ready"]').wait_for()
    assert await page.get_attribute("#desk-cti", "aria-pressed") == "true"

    # Two contacts share the number: the chooser, keyboard-operable, focus inside.
    await _ring(live_server, token, "call-shared", "22000001")
    chooser = page.get_by_role("dialog", name="Several contacts have this number")
    await chooser.wait_for()
    options = chooser.get_by_role("option")
    assert sorted(await options.all_inner_texts())[0].startswith("Eleni Ioannou")
    assert await options.count() == 2
    assert await page.evaluate("document.activeElement.getAttribute('role')") == "option"
    await page.keyboard.press("ArrowDown")
    assert await page.evaluate(
        "document.activeElement.getAttribute('aria-selected')") == "true"
    for _ in range(4):  # Tab stays inside the dialog
        await page.keyboard.press("Tab")
        assert await page.evaluate(
            "document.getElementById('desk-chooser').contains(document.activeElement)")
    await page.screenshot(path=os.path.join(artifacts, "chooser.png"))
    await page.keyboard.press("Escape")
    await chooser.wait_for(state="hidden")
    assert await page.locator("#desk-call").inner_text() == "Ringing: 22000001"
    await _end(live_server, token, "call-shared")
    await page.locator("#desk-call").wait_for(state="hidden")

    # Nobody has the number: the unknown-caller card with prefilled "log" links.
    await page.locator('#desk-state[data-state="ready"]').wait_for()
    await _ring(live_server, token, "call-unknown", "99 555 000")
    card = page.get_by_role("dialog", name="Unknown caller")
    await card.wait_for()
    assert "99 555 000" in await card.inner_text()
    person = await card.get_by_role("link", name="Log person").get_attribute("href")
    company = await card.get_by_role("link", name="Log company").get_attribute("href")
    assert person == "/cc/actions/log-person?phone=%2B35799555000&call=call-unknown"
    assert company.startswith("/cc/actions/log-company?phone=%2B35799555000")
    await page.screenshot(path=os.path.join(artifacts, "unknown-caller.png"))
    await _end(live_server, token, "call-unknown")  # abandoned: the card closes itself
    await card.wait_for(state="hidden")

    # One match: the contact opens in the Communication Centre.
    await page.locator('#desk-state[data-state="ready"]').wait_for()
    async with page.expect_navigation(url=f"**/cc/contacts/{maria}?call=call-maria"):
        await _ring(live_server, token, "call-maria", "99100001")
    assert not [m for m in browser_console if "Content Security Policy" in m]


async def _event(server, token: str, event: str, call_id: str, caller: str = "99100001"):
    async with aiohttp.ClientSession() as http:
        resp = await http.post(f"{server.url}/api/v1/cti/events",
                               headers={"Authorization": f"Bearer {token}"},
                               json={"event": event, "extension": "1001",
                                     "call_id": call_id, "caller": caller})
        assert resp.status in (200, 202), await resp.text()


async def test_the_pop_preference_decides_when_the_contact_opens(page, live_server, login):
    await live_server.create_user("ann", PASSWORD, "agent", extension="1001")
    token = await _pbx_token(live_server)
    maria = await _contact(live_server, "Maria Georgiou", "+35799100001")
    await login(page, live_server, "ann", PASSWORD)
    await page.goto("/test/desk")
    await page.locator('#desk-link[data-link="up"]').wait_for()
    await page.click("#desk-cti")
    await page.locator('#desk-state[data-state="ready"]').wait_for()

    # "never": the top bar shows who calls, the page stays where it is.
    await page.select_option("#desk-pop-preference", "never")
    await page.wait_for_timeout(200)
    await _event(live_server, token, "ringing", "c-never")
    chip = page.locator("#desk-call")
    await chip.wait_for()
    assert await chip.inner_text() == "Ringing: Maria Georgiou"
    await _event(live_server, token, "answered", "c-never")
    await page.wait_for_timeout(300)
    assert page.url.endswith("/test/desk")
    await _event(live_server, token, "ended", "c-never")
    await chip.wait_for(state="hidden")

    # The preference is persisted: a reload keeps it.
    await page.reload()
    await page.locator('#desk-link[data-link="up"]').wait_for()
    assert await page.locator("#desk-pop-preference").input_value() == "never"

    # "answer": nothing while it rings, the contact opens when the agent picks up.
    await page.select_option("#desk-pop-preference", "answer")
    await page.wait_for_timeout(200)
    await page.locator('#desk-state[data-state="wrap_up"]').wait_for()
    assert await page.locator("#desk-availability").input_value() == ""
    await page.select_option("#desk-availability", "ready")  # ends the wrap-up early
    await page.locator('#desk-state[data-state="ready"]').wait_for()
    await _event(live_server, token, "ringing", "c-answer")
    await page.locator('#desk-state[data-state="ringing"]').wait_for()
    await page.wait_for_timeout(300)
    assert page.url.endswith("/test/desk")
    async with page.expect_navigation(url=f"**/cc/contacts/{maria}?call=c-answer"):
        await _event(live_server, token, "answered", "c-answer")


async def test_the_page_reconnects_gets_the_ringing_pop_and_drops_a_call_that_ended_meanwhile(
        page, live_server, login):
    from callcontrol.desk import ws
    from callcontrol.desk.keys import POPS

    user = await live_server.create_user("ann", PASSWORD, "agent", extension="1001")
    pops = live_server.app[POPS]
    await login(page, live_server, "ann", PASSWORD)
    await page.goto("/test/desk")
    await page.select_option("#desk-pop-preference", "never")
    link = page.locator("#desk-link")
    await page.locator('#desk-link[data-link="up"]').wait_for()
    pop = {"call_id": "c1", "communication_id": 1, "direction": "inbound",
           "caller": {"number": "99 1", "e164": None}, "contacts": [], "started_at": "now"}
    await pops.ringing(user.id, pop)
    chip = page.locator("#desk-call")
    await chip.wait_for()

    # The server goes away: the page says so, comes back, and still shows the ringing call.
    await ws.close_all(live_server.app)
    await page.locator('#desk-link[data-link="down"]').wait_for()
    await page.locator('#desk-link[data-link="up"]').wait_for()
    assert await chip.is_visible() and await link.get_attribute("data-link") == "up"

    # Gone again, and the call ends while the page is away: the chip goes after reconnecting.
    await ws.close_all(live_server.app)
    await pops.closed(user.id, "c1", "abandoned")
    await page.locator('#desk-link[data-link="down"]').wait_for()
    await page.locator('#desk-link[data-link="up"]').wait_for()
    await chip.wait_for(state="hidden", timeout=4000)
