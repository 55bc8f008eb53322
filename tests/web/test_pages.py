from yarl import URL

from callcontrol.web.pages import nav_for

PASSWORD = "correct horse battery"  # the password tests/web/conftest.py gives users


class FakeUser:
    def __init__(self, role: str) -> None:
        self.role = role


async def _page_as(web_app, username: str, role: str, path: str = "/test/page"):
    await web_app.user(username, role=role)
    assert (await web_app.login(username)).status == 303
    resp = await web_app.client.get(path)
    return resp, await resp.text()


async def test_a_hostile_username_is_shown_escaped(web_app):
    resp, html = await _page_as(web_app, "<script>alert(1)</script>", "agent")
    assert resp.status == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html


async def test_agent_sees_only_the_communication_centre(web_app):
    _, html = await _page_as(web_app, "ada", "agent")
    assert 'href="/cc"' in html
    assert 'href="/cc/definitions"' not in html and 'href="/dialplan"' not in html


async def test_supervisor_sees_definitions_but_not_the_dialplan(web_app):
    _, html = await _page_as(web_app, "sue", "supervisor")
    assert 'href="/cc/definitions"' in html and 'href="/dialplan"' not in html


async def test_engineer_sees_the_dialplan_but_not_definitions(web_app):
    _, html = await _page_as(web_app, "eve", "engineer")
    assert 'href="/dialplan"' in html and 'href="/cc/definitions"' not in html


async def test_admin_sees_every_link(web_app):
    _, html = await _page_as(web_app, "root", "admin")
    for href in ("/cc", "/cc/definitions", "/dialplan"):
        assert f'href="{href}"' in html


async def test_a_domains_own_link_follows_its_roles_and_marks_the_current_page(web_app):
    _, html = await _page_as(web_app, "root", "admin")
    assert '<a href="/test/page" aria-current="page">Test tools</a>' in html
    _, html = await _page_as(web_app, "ada", "agent")
    assert "Test tools" not in html


def test_the_longest_matching_link_is_current():
    items = nav_for(FakeUser("admin"), "/cc/definitions/3")
    assert [i["href"] for i in items if i["current"]] == ["/cc/definitions"]
    items = nav_for(FakeUser("admin"), "/cc/contacts/3")
    assert [i["href"] for i in items if i["current"]] == ["/cc"]
    assert not any(i["current"] for i in nav_for(FakeUser("admin"), "/ccx"))
    assert nav_for(None, "/cc") == []


async def test_the_page_layout_has_landmarks_csrf_meta_and_htmx_config(web_app):
    _, html = await _page_as(web_app, "ada", "agent")
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html and '<nav class="mainnav" aria-label="Main">' in html
    assert '<meta name="csrf-token" content="' in html
    assert '"allowEval": false' in html
    assert "<script>" not in html  # no inline script: the CSP would block it


async def test_a_user_without_the_role_gets_the_403_page(web_app):
    resp, html = await _page_as(web_app, "ada", "agent", "/test/admin")
    assert resp.status == 403 and resp.content_type == "text/html"
    assert "Not allowed" in html and "admin" in html
    assert '<span class="who-name">ada</span>' in html  # still signed in, top bar intact


async def test_the_role_page_opens_for_the_role(web_app):
    resp, _ = await _page_as(web_app, "root", "admin", "/test/admin")
    assert resp.status == 200


async def test_unknown_page_gets_the_404_page_and_unknown_api_json(web_app):
    resp = await web_app.client.get("/no/such/page")
    assert resp.status == 404 and "Page not found" in await resp.text()
    api = await web_app.client.get("/api/no/such/thing")
    assert api.status in (401, 404) and api.content_type == "application/json"


async def test_a_crashing_page_gets_the_500_page_without_details(web_app):
    resp = await web_app.client.get("/test/boom")
    html = await resp.text()
    assert resp.status == 500 and "Something went wrong" in html
    assert "a bug in a page handler" not in html and "Traceback" not in html


async def test_wrong_method_on_a_page_gets_405_with_allow(web_app):
    resp = await web_app.client.put("/login")
    assert resp.status == 405 and "GET" in resp.headers["Allow"]


async def test_static_files_and_vendored_scripts_are_served(web_app):
    for path in ("/static/app.css", "/static/app.js", "/static/vendor/htmx-2.0.4.min.js",
                 "/static/vendor/alpinejs-csp-3.17.4.min.js"):
        resp = await web_app.client.get(path, allow_redirects=False)
        assert resp.status == 200, path
    assert (await web_app.client.get("/static/../callcontrol/app.py")).status == 404


async def test_user_from_request_reads_the_cookie_or_a_bearer_token(web_app):
    whoami = web_app.client.get
    assert await (await whoami("/test/whoami")).json() == {"user": None}
    await web_app.user("ada")
    await web_app.login("ada")
    assert await (await whoami("/test/whoami")).json() == {"user": "ada"}
    token = await web_app.token("robot")
    resp = await whoami("/test/whoami", headers={"Authorization": f"Bearer {token}"})
    assert await resp.json() == {"user": "robot"}


async def test_a_flash_message_shows_once_escaped_after_the_redirect(web_app):
    await web_app.user("ada")
    await web_app.login("ada")
    token = await web_app.csrf("/test/page")
    resp = await web_app.client.post("/test/flash", data={"csrf_token": token})
    html = await resp.text()
    assert str(resp.url).endswith("/test/page")
    assert '<div class="alert alert-ok" role="status">Saved &lt;b&gt;it&lt;/b&gt;.</div>' in html
    again = await (await web_app.client.get("/test/page")).text()
    assert "Saved &lt;b&gt;it" not in again


async def test_pages_are_not_cached(web_app):
    resp, _ = await _page_as(web_app, "ada", "agent")
    assert resp.headers["Cache-Control"] == "no-store"


async def test_an_htmx_request_without_a_session_sends_the_tab_to_sign_in(web_app):
    resp = await web_app.client.get("/test/page", allow_redirects=False, headers={
        "HX-Request": "true", "HX-Current-URL": "http://cc.example/cc/contacts/7?tab=jobs"})
    assert resp.status == 401
    target = URL(resp.headers["HX-Redirect"])
    assert target.path == "/login" and target.query["next"] == "/cc/contacts/7?tab=jobs"


async def test_a_handlers_own_error_text_is_shown_escaped_on_the_page(web_app):
    resp = await web_app.client.get("/test/refuse")
    html = await resp.text()
    assert resp.status == 400 and resp.content_type == "text/html"
    assert "kind must be &lt;known&gt; or shared" in html
