import os

import pytest

from callcontrol.web.pages import page as page_handler
from callcontrol.web.pages import render

pytestmark = pytest.mark.browser


@page_handler
async def start_page(request):
    return await render(request, "base.html", {})


@page_handler(roles=("admin",))
async def admin_fragment(request):
    return await render(request, "partials/notice.html", {"message": "secret"})


@pytest.fixture
def live_server_setups():
    def routes(app):
        app.router.add_get("/test/start", start_page)
        app.router.add_get("/test/admin-fragment", admin_fragment)
    return [routes]


async def test_sign_in_with_the_keyboard_only_lands_with_the_name_in_the_top_bar(
        page, live_server, browser_console, artifacts):
    await live_server.create_user("ada.agent", "password-123", "agent")
    await page.goto("/test/start")
    assert "/login" in page.url
    await page.screenshot(path=os.path.join(artifacts, "sign-in.png"))
    # The skip link comes first, then the form; autofocus is on the username field.
    assert await page.evaluate("document.activeElement.id") == "username"
    await page.keyboard.type("ada.agent")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "password"
    await page.keyboard.type("password-123")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert page.url == f"{live_server.url}/test/start"
    topbar = page.locator("header.topbar")
    assert await topbar.locator(".who-name").inner_text() == "ada.agent"
    assert await topbar.locator(".role-badge").text_content() == "agent"
    await page.screenshot(path=os.path.join(artifacts, "signed-in.png"))
    # htmx and Alpine loaded under the self-only CSP without a single violation.
    assert await page.evaluate("typeof htmx === 'object' && typeof Alpine === 'object'")
    assert await page.evaluate("htmx.config.allowEval") is False
    # (Other parts' widgets in the top bar may log their own errors here: the desk's
    # websocket is not served by this test app.)
    assert [m for m in browser_console if "Content Security Policy" in m] == []


async def test_a_wrong_password_shows_the_message_and_keeps_the_username(
        page, live_server, artifacts):
    await live_server.create_user("eve", "password-123", "engineer")
    await page.goto("/login")
    await page.fill("#username", "eve")
    await page.fill("#password", "not-her-password")
    await page.click("button[type=submit]")
    assert await page.locator("[role=alert]").inner_text() == "Wrong username or password."
    assert await page.input_value("#username") == "eve"
    assert await page.input_value("#password") == ""
    assert await page.evaluate("document.activeElement.id") == "password"  # type again
    await page.screenshot(path=os.path.join(artifacts, "wrong-password.png"))


async def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_main(page, live_server, login):
    await live_server.create_user("bob", "password-123", "agent")
    await login(page, live_server, "bob", "password-123")
    await page.goto("/test/start")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to main content"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"


async def test_htmx_requests_carry_the_csrf_header(page, live_server, login):
    await live_server.create_user("cy", "password-123", "agent")
    await login(page, live_server, "cy", "password-123")
    await page.goto("/test/start")
    status = await page.evaluate("""() => new Promise(resolve => {
        document.body.addEventListener('htmx:afterRequest',
            e => resolve(e.detail.xhr.status), {once: true});
        htmx.ajax('POST', '/logout', {target: 'body', swap: 'none'});
    })""")
    # /logout answers 303 to a page; without the header it would have been 403.
    assert status == 200
    await page.goto("/test/start")
    assert "/login" in page.url


async def test_a_refused_htmx_request_shows_the_reason_as_a_toast(page, live_server, login):
    await live_server.create_user("dee", "password-123", "agent")
    await login(page, live_server, "dee", "password-123")
    await page.goto("/test/start")
    await page.evaluate("htmx.ajax('GET', '/test/admin-fragment', {target: '#main'})")
    toast = page.locator("#toasts .toast")
    await toast.wait_for()
    assert "this needs one of the roles: admin" in await toast.inner_text()
    assert "secret" not in await page.locator("#main").inner_text()
    await toast.locator("button").click()
    assert await toast.count() == 0
