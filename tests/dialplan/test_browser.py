"""An engineer edits the dialplan in Chromium; an agent cannot open the page."""

from __future__ import annotations

import os

import pytest

from callcontrol.dialplan import web as dialplan_web

pytestmark = pytest.mark.browser
PASSWORD = "password-123"


@pytest.fixture
def live_server_setups():
    return [dialplan_web.setup]


async def test_engineer_edits_is_refused_saves_diffs_and_rolls_back(
        page, live_server, login, browser_console, artifacts):
    await live_server.create_user("eve", PASSWORD, "engineer")
    failed: list[str] = []
    page.on("response", lambda r: r.status == 404 and failed.append(r.url))
    await login(page, live_server, "eve", PASSWORD)
    await page.goto("/dialplan")
    await page.screenshot(path=os.path.join(artifacts, "index.png"), full_page=True)
    await page.click("text=extensions.conf")
    editor = page.get_by_test_id("dp-text")
    original = await editor.input_value()
    assert await page.locator(".dp-gutter").inner_text() != ""  # line numbers drawn

    # A broken edit (unbalanced parenthesis) is refused with asterisklint's message.
    await editor.fill(original.replace("NoOp(Inbound ${CALLERID(num)} -> ${EXTEN})",
                                       "NoOp(Inbound ${CALLERID(num)} -> ${EXTEN}"))
    async with page.expect_navigation():
        await editor.press("Control+s")
    findings = page.get_by_test_id("dp-findings")
    assert "W_APP_BALANCE" in await findings.inner_text()
    assert "extensions.conf:" in await findings.inner_text()
    await page.screenshot(path=os.path.join(artifacts, "refused.png"), full_page=True)
    assert len(await page.get_by_test_id("dp-versions").locator("li").all()) == 1

    # Clicking the finding selects that line in the editor.
    await findings.locator("a").first.click()
    selected = await editor.evaluate("t => t.value.slice(t.selectionStart, t.selectionEnd)")
    assert selected.startswith("exten => _X.,1,NoOp(Inbound")

    # A good edit is saved as version 2 by eve.
    edited = original.replace("Dial(PJSIP/${EXTEN}@trunk,60)", "Dial(PJSIP/${EXTEN}@trunk,45)")
    await editor.fill(edited)
    async with page.expect_navigation():
        await page.get_by_test_id("dp-save").click()
    assert "Saved version 2." in await page.locator("main [role=status]").inner_text()
    versions = page.get_by_test_id("dp-versions")
    assert "Version 2" in await versions.inner_text() and "eve" in await versions.inner_text()

    # The diff shows the change.
    await versions.locator("a", has_text="Changes").first.click()
    diff = page.get_by_test_id("dp-diff")
    assert "- same => n,Dial(PJSIP/${EXTEN}@trunk,60)" in await diff.inner_text()
    assert "+ same => n,Dial(PJSIP/${EXTEN}@trunk,45)" in await diff.inner_text()
    await page.screenshot(path=os.path.join(artifacts, "diff.png"), full_page=True)

    # Rollback restores version 1 as version 3.
    await page.goto("/dialplan/extensions.conf")
    async with page.expect_navigation():
        await page.get_by_test_id("dp-restore-1").click()
    notice = page.locator("main [role=status]")
    assert "Restored version 1 as version 3." in await notice.inner_text()
    assert await page.get_by_test_id("dp-text").input_value() == original
    # Our script and stylesheet load and run under the CSP (other widgets on the top bar
    # are not this test's business).
    assert not [m for m in browser_console if "dialplan" in m], browser_console
    assert not [url for url in failed if "/static/dialplan/" in url], failed


async def test_agent_cannot_open_the_dialplan_page(page, live_server, login):
    await live_server.create_user("al", PASSWORD, "agent")
    await login(page, live_server, "al", PASSWORD)
    response = await page.goto("/dialplan/extensions.conf")
    assert response.status == 403
    assert await page.locator("#dp-text").count() == 0
    assert await page.locator("nav a", has_text="Dialplan").count() == 0
