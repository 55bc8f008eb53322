"""Headless Chromium: quick search and an action driven with the keyboard only."""

from __future__ import annotations

import os

import pytest

from callcontrol import cc
from tests.cc import factories as f

pytestmark = pytest.mark.browser
PASSWORD = "password-123"


@pytest.fixture
def live_server_setups():
    return [cc.setup]


async def wait_for_focus(page, selector: str, seconds: float = 3.0) -> None:
    """Poll (wait_for_function would need 'unsafe-eval', which our CSP refuses)."""
    import asyncio

    for _ in range(int(seconds / 0.05)):
        if await page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{selector} never got the focus")


async def tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until ``selector`` has the focus (fails after ``limit`` presses)."""
    for _ in range(limit):
        if await page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


async def test_quick_search_and_plan_a_job_with_the_keyboard(
        page, live_server, login, artifacts, browser_console) -> None:
    await live_server.create_user("ada", PASSWORD, "agent")
    async with live_server.sessions() as session, session.begin():
        maria = await f.person(session, "Μαρία", "Papadopoulou", phone="+35799123456")
        await f.person(session, "Gloria", "Estefan")
    await login(page, live_server, "ada", PASSWORD)
    await page.goto("/cc")
    assert await page.evaluate("document.activeElement.id") == "q"  # autofocus
    await page.keyboard.type("%ρια")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#results a.cc-hit")
    hits = await page.locator("#results a.cc-hit").all_inner_texts()
    assert hits == ["Μαρία Papadopoulou"]
    await wait_for_focus(page, "a.cc-hit")
    assert await page.evaluate("document.activeElement.textContent") == "Μαρία Papadopoulou"
    await page.screenshot(path=os.path.join(artifacts, "quick-search.png"), full_page=True)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/cc/contacts/{maria.id}")
    await page.wait_for_selector("#section-work h2")  # loaded lazily by htmx
    await tab_to(page, "a[href*='/cc/actions/plan-job']")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/cc/actions/plan-job?contact=*")
    assert await page.evaluate("document.activeElement.id") == "f-type"
    await page.keyboard.press("Tab")  # leave the type empty: a clear error comes back
    await page.keyboard.type("Replace the dish")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#form-errors")
    assert "Job type is required" in await page.locator("#form-errors").inner_text()
    await page.focus("#f-type")
    await page.keyboard.type("Repair")
    await tab_to(page, "button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/cc/contacts/{maria.id}#section-work")
    await page.wait_for_selector("#section-work td:has-text('Replace the dish')")
    notice = await page.locator(".alert-info").first.inner_text()
    assert "Repair job" in notice
    await page.screenshot(path=os.path.join(artifacts, "job-planned.png"), full_page=True)
    # No CSP violation, no script error (the 422 of the refused form is expected).
    assert [m for m in browser_console if "status of 422" not in m] == []


async def test_lifecycle_tabs_switch_with_arrow_keys(page, live_server, login,
                                                     browser_console) -> None:
    from callcontrol.crm.models import Job

    await live_server.create_user("ada", PASSWORD, "agent")
    async with live_server.sessions() as session, session.begin():
        c = await f.person(session, "Anna", "Nowak")
        session.add_all([Job(contact_id=c.id, state="Pending", subject="open job"),
                         Job(contact_id=c.id, state="Completed", subject="done job")])
    await login(page, live_server, "ada", PASSWORD)
    await page.goto(f"/cc/contacts/{c.id}")
    await page.wait_for_selector("#jobs-open-tab")
    assert await page.locator("#jobs-open").is_visible()
    assert not await page.locator("#jobs-done").is_visible()
    await page.focus("#jobs-open-tab")
    await page.keyboard.press("ArrowRight")
    assert await page.locator("#jobs-done").is_visible()
    assert "done job" in await page.locator("#jobs-done").inner_text()
    assert await page.evaluate("document.activeElement.id") == "jobs-done-tab"
    assert browser_console == []


async def test_supervisor_creates_and_activates_a_definition(page, live_server, login,
                                                             artifacts, browser_console) -> None:
    await live_server.create_user("sue", PASSWORD, "supervisor")
    await login(page, live_server, "sue", PASSWORD)
    await page.goto("/cc/definitions")
    assert "Default" in await page.locator("table").inner_text()
    await page.click("text=New definition")
    await page.fill("#name", "Night shift")
    await page.fill("#number_of_records", "5")
    for box in await page.locator("input[name^='quick:']").all():  # start from the defaults
        await box.uncheck()
    for box in await page.locator("input[name='actions']").all():
        await box.uncheck()
    await page.check("#q-contact-phone")
    await page.fill("input[name='quick_order:contact.phone']", "1")
    await page.check("#q-contact-code")
    await page.fill("input[name='quick_order:contact.code']", "2")
    await page.check("input[value='log-person']")
    await page.select_option("#cti_provider", "asterisk")
    await page.fill("#cti_host", "pbx.example.org")
    await page.fill("#cti_port", "8088")
    await page.fill("#cti_username", "crm")
    await page.fill("#cti_password", "s3cret-pass")
    await page.screenshot(path=os.path.join(artifacts, "1-form.png"), full_page=True)
    await page.click("button:has-text('Save')")
    await page.wait_for_url("**/cc/definitions")
    await page.click("button:has-text('Activate Night shift')")
    await page.wait_for_selector(".alert-info")
    row = page.locator("tr", has_text="Night shift")
    assert "Active" in await row.inner_text()
    await page.screenshot(path=os.path.join(artifacts, "2-list.png"), full_page=True)
    await page.goto("/cc")
    assert await page.locator("#field option").all_inner_texts() == ["Phone number",
                                                                     "Contact code"]
    assert await page.locator(".cc-actions a").all_inner_texts() == ["Log person"]
    await page.goto("/cc/definitions")
    await page.click("a:has-text('Night shift')")
    assert await page.input_value("#cti_password") == ""  # never sent back to the browser
    assert "s3cret-pass" not in await page.content()
    assert browser_console == []


async def test_the_lazy_sections_load_together_each_in_its_place(page, live_server, login,
                                                                 browser_console) -> None:
    from decimal import Decimal

    from callcontrol.crm.models import Bill, Communication, Job

    await live_server.create_user("ada", PASSWORD, "agent")
    async with live_server.sessions() as session, session.begin():
        c = await f.person(session, "Anna", "Nowak")
        acc = await f.account(session, c, "A-77")
        await f.subscription(session, acc, "S-77")
        session.add_all([Bill(account_id=acc.id, number="B-77", amount=Decimal("3.50")),
                         Job(contact_id=c.id, state="Pending", subject="<b>fit</b> a dish"),
                         Communication(contact_id=c.id, direction="incoming",
                                       subject="asked about B-77")])
    await login(page, live_server, "ada", PASSWORD)
    requests: list[str] = []
    page.on("request", lambda r: "/sections" in r.url and requests.append(r.url))
    await page.goto(f"/cc/contacts/{c.id}")
    await page.wait_for_selector("#section-rewards h3#h-customer-events")
    expected = {"subscriptions": "S-77", "financials": "B-77", "work": "<b>fit</b> a dish",
                "customer": "asked about B-77", "rewards": "Not a rewards participant"}
    for name, text in expected.items():
        section = page.locator(f"#section-{name}")
        assert text in await section.inner_text(), name
        assert await section.locator("text=Show ").count() == 0, name  # placeholder replaced
        assert await section.locator("h2").count() == 1, name
    assert await page.locator("#section-work b").count() == 0  # escaped, not markup
    assert requests == [f"{live_server.url}/cc/contacts/{c.id}/sections"]
    await page.click("#jobs-open-tab")  # the swapped-in tabs work as before
    assert await page.locator("#jobs-open").is_visible()
    assert browser_console == []
