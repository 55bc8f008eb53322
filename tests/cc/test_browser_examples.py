"""Seed 001's two business examples, walked end to end in headless Chromium."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from callcontrol import cc
from callcontrol.crm.models import Bill, Communication, utcnow
from tests.cc import factories as f

pytestmark = pytest.mark.browser
PASSWORD = "password-123"


@pytest.fixture
def live_server_setups():
    return [cc.setup]


def no_script_errors(console: list[str]) -> list[str]:
    return [m for m in console if "status of 422" not in m]


async def test_update_contact_information_after_an_inbound_call(
        page, live_server, login, artifacts, browser_console) -> None:
    user = await live_server.create_user("ada", PASSWORD, "agent")
    async with live_server.sessions() as session, session.begin():
        c = await f.person(session, "Andreas", "Charalambous", phone="+35799765432")
        session.add(Communication(direction="incoming", media="phone", state="draft",
                                  subject="Inbound call", contact_id=c.id, agent_id=user.id,
                                  call_id="call-42", caller_number="+35799765432",
                                  started_at=utcnow()))
    await login(page, live_server, "ada", PASSWORD)
    await page.goto(f"/cc/contacts/{c.id}?call=call-42")  # where the screen pop lands
    banner = await page.locator("[data-testid=call-banner]").inner_text()
    assert "+35799765432" in banner and "call-42" in banner
    assert await page.locator("[data-testid=call-banner] a").get_attribute("href") == \
        "/cc/communications/1"
    await page.click("text=Add more information")
    await page.fill("#f-new_email", "andreas@example.com")
    await page.select_option("#f-new_address_type", "billing")
    await page.fill("#f-new_line1", "12 Makariou Avenue")
    await page.fill("#f-new_city", "Λεμεσός")
    await page.fill("#f-new_postal_code", "3030")
    await page.screenshot(path=os.path.join(artifacts, "1-editor.png"), full_page=True)
    await page.click("button:has-text('Save')")
    await page.wait_for_url(f"**/cc/contacts/{c.id}#section-info")
    assert "andreas@example.com" in await page.locator("[data-testid=emails]").inner_text()
    assert "Λεμεσός" in await page.locator("[data-testid=addresses]").inner_text()
    # Optionally log a communication for the request.
    await page.click("a:has-text('Create a communication')")
    await page.select_option("#f-direction", "incoming")
    await page.select_option("#f-media", "phone")
    await page.fill("#f-subject", "Address and e-mail updated")
    await page.click("button[value=complete]")
    await page.wait_for_selector("[data-testid=communications] td:has-text('Address and')")
    await page.screenshot(path=os.path.join(artifacts, "2-updated.png"), full_page=True)
    assert no_script_errors(browser_console) == []


async def test_add_a_service_to_a_subscription_then_pay_the_bill(
        page, live_server, login, artifacts, browser_console) -> None:
    await live_server.create_user("sam", PASSWORD, "agent")
    async with live_server.sessions() as session, session.begin():
        c = await f.person(session, "Katarzyna", "Wójcik")
        acc = await f.account(session, c, "A-5000")
        sub = await f.subscription(session, acc, "S-5000")
    await login(page, live_server, "sam", PASSWORD)
    await page.goto("/cc")
    await page.fill("#q", "wojc")  # accent-insensitive
    await page.keyboard.press("Enter")
    await page.click("#results a.cc-hit")
    await page.wait_for_url(f"**/cc/contacts/{c.id}")
    await page.click("#section-subscriptions a:has-text('Manage subscription')")
    await page.fill("#f-name", "Sports HD")
    await page.click("button:has-text('Add service')")
    assert "Sports HD" in await page.locator("[data-testid=services]").inner_text()
    await page.fill("#f-amount", "24.50")
    await page.click("button:has-text('Bill')")
    await page.wait_for_selector(".alert-info")
    await page.click("a:has-text('Close')")
    await page.click("a:has-text('Pay a bill')")
    options = await page.locator("#f-bill option").all_inner_texts()
    assert any("24.50" in o for o in options)
    await page.select_option("#f-bill", index=1)
    await page.select_option("#f-method", "card")
    await page.screenshot(path=os.path.join(artifacts, "1-pay.png"), full_page=True)
    await page.click("button:has-text('Pay')")
    await page.wait_for_url(f"**/cc/contacts/{c.id}#section-financials")
    bills = page.locator(f"[data-testid=bills-{acc.id}]")
    await bills.wait_for()
    assert "paid" in await bills.inner_text()
    await page.screenshot(path=os.path.join(artifacts, "2-paid.png"), full_page=True)
    async with live_server.sessions() as session:
        bill = await session.scalar(select(Bill).where(Bill.account_id == acc.id))
    assert bill.state == "paid" and sub.id
    assert no_script_errors(browser_console) == []


async def test_advanced_and_communications_search(page, live_server, login, artifacts,
                                                  browser_console) -> None:
    user = await live_server.create_user("eve", PASSWORD, "agent")
    async with live_server.sessions() as session, session.begin():
        a = await f.person(session, "Olga", "Петрова")
        await f.address(session, a, "Kraków", "billing")
        b = await f.person(session, "Olga", "Smith")
        await f.address(session, b, "Kraków", "subscription")
        session.add(Communication(direction="outgoing", media="email", subject="Offer",
                                  contact_id=b.id, agent_id=user.id))
    await login(page, live_server, "eve", PASSWORD)
    await page.goto("/cc/advanced")
    await page.fill("#adv-contact-name", "olga")
    await page.select_option("#address_scope", "billing")
    await page.fill("#adv-address-city", "krak")
    await page.click("button:has-text('Search')")
    await page.wait_for_selector("#results a.cc-hit")
    assert await page.locator("#results a.cc-hit").all_inner_texts() == ["Olga Петрова"]
    await page.screenshot(path=os.path.join(artifacts, "advanced.png"), full_page=True)
    await page.click("nav.cc-tabs a:has-text('Communications')")
    await page.click("a.cc-hit:has-text('Olga Smith')")
    await page.wait_for_url(f"**/cc/contacts/{b.id}")
    assert no_script_errors(browser_console) == []


async def test_a_template_filled_communication_saved_as_draft_then_completed(
        page, live_server, login, artifacts, browser_console) -> None:
    from callcontrol.crm.models import CommunicationTemplate

    await live_server.create_user("ada", PASSWORD, "agent")
    async with live_server.sessions() as session, session.begin():
        c = await f.person(session, "Ζωή", "Κωνσταντίνου")
        await f.account(session, c, "A-314", balance="31.40")
        session.add(CommunicationTemplate(
            name="Balance reminder", media="email", subject="Account {{ accounts[0].number }}",
            content="Dear {{ contact.name }}, your balance is {{ accounts[0].balance }}."))
    await login(page, live_server, "ada", PASSWORD)
    await page.goto(f"/cc/actions/create-communication?contact={c.id}")
    await page.select_option("#template", label="Balance reminder")
    await page.wait_for_selector("#f-subject[value='Account A-314']")
    content = await page.input_value("#f-content")
    assert content == "Dear Ζωή Κωνσταντίνου, your balance is 31.40."
    await page.select_option("#f-direction", "outgoing")
    await page.select_option("#f-media", "email")
    await page.screenshot(path=os.path.join(artifacts, "1-template.png"), full_page=True)
    await page.click("button[value=draft]")
    await page.wait_for_url(f"**/cc/contacts/{c.id}#section-customer")
    await page.click("[data-testid=communications] a:has-text('Account A-314')")
    assert "draft" in await page.locator("h1").inner_text()
    await page.fill("#f-content", content + " Thank you.")
    await page.click("button[value=complete]")
    await page.wait_for_selector(".cc-content")
    assert "completed" in await page.locator("h1").inner_text()
    assert "Thank you." in await page.locator(".cc-content").inner_text()
    await page.screenshot(path=os.path.join(artifacts, "2-completed.png"), full_page=True)
    assert no_script_errors(browser_console) == []
