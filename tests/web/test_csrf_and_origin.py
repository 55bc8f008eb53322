from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from callcontrol.web.csrf import ALLOWED_ORIGINS, check_origin

PASSWORD = "correct horse battery"  # the password tests/web/conftest.py gives users


async def _signed_in(web_app, role="agent"):
    await web_app.user("ada", role=role)
    resp = await web_app.login("ada")
    assert resp.status == 303
    return await web_app.csrf("/test/page")


async def test_cookie_post_without_a_token_is_refused_with_the_403_page(web_app):
    await _signed_in(web_app)
    resp = await web_app.client.post("/test/echo", data={"note": "hi"})
    assert resp.status == 403
    assert resp.content_type == "text/html"
    assert "security token is missing or out of date" in await resp.text()


async def test_cookie_post_with_a_wrong_token_is_refused(web_app):
    await _signed_in(web_app)
    resp = await web_app.client.post("/test/echo", data={"note": "hi", "csrf_token": "forged"})
    assert resp.status == 403


async def test_cookie_post_with_the_form_field_is_accepted(web_app):
    token = await _signed_in(web_app)
    resp = await web_app.client.post("/test/echo", data={"note": "hi", "csrf_token": token})
    assert resp.status == 200
    assert await resp.json() == {"user": "ada", "note": "hi"}


async def test_cookie_post_with_the_header_is_accepted(web_app):
    token = await _signed_in(web_app)
    resp = await web_app.client.post("/test/echo", data={"note": "x"},
                                     headers={"X-CSRF-Token": token})
    assert resp.status == 200


async def test_cookie_api_post_without_a_token_gets_403_json(web_app):
    await _signed_in(web_app)
    resp = await web_app.client.post("/api/test/echo", json={"a": 1})
    assert resp.status == 403
    assert (await resp.json())["error"] == "csrf-failed"


async def test_another_sessions_token_is_refused(web_app, aiohttp_client):
    token = await _signed_in(web_app)
    other = await aiohttp_client(web_app.client.server)
    await web_app.user("bob")
    data = {"csrf_token": await _csrf(other), "username": "bob", "password": PASSWORD}
    assert (await other.post("/login", data=data, allow_redirects=False)).status == 303
    resp = await other.post("/test/echo", data={"csrf_token": token})
    assert resp.status == 403


async def _csrf(client):
    import re

    html = await (await client.get("/login")).text()
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


async def test_bearer_token_requests_are_exempt_from_csrf(web_app):
    token = await web_app.token("robot", role="admin")
    resp = await web_app.client.post("/api/test/echo", data={"note": "from a script"},
                                     headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert await resp.json() == {"user": "robot", "note": "from a script"}


async def test_a_bad_bearer_token_is_401_even_with_a_session(web_app):
    await _signed_in(web_app)
    resp = await web_app.client.get("/api/test/echo", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401


def _request(origin: str | None, host: str = "cc.example:8080", allowed=()):
    app = web.Application()
    app[ALLOWED_ORIGINS] = allowed
    headers = {"Host": host}
    if origin is not None:
        headers["Origin"] = origin
    return make_mocked_request("GET", "/api/v1/ws", headers=headers, app=app)


def test_origin_of_the_same_host_is_accepted():
    assert check_origin(_request("http://cc.example:8080"))
    assert check_origin(_request("https://cc.example:8080"))


def test_foreign_and_opaque_origins_are_refused():
    assert not check_origin(_request("http://evil.example"))
    assert not check_origin(_request("http://cc.example:9999"))
    assert not check_origin(_request("null"))
    assert not check_origin(_request("http://cc.example.evil.example:8080"))


def test_configured_origins_are_accepted_exactly():
    allowed = ("https://desk.example",)
    assert check_origin(_request("https://desk.example", allowed=allowed))
    assert not check_origin(_request("http://desk.example", allowed=allowed))
    assert not check_origin(_request("https://desk.example:444", allowed=allowed))


def test_a_request_without_origin_is_not_cross_site():
    assert check_origin(_request(None))


async def test_a_multipart_form_carries_the_token_as_a_field(web_app):
    from aiohttp import FormData

    token = await _signed_in(web_app)
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("note", "with a file")
    form.add_field("upload", b"[globals]\n", filename="extensions.conf")
    resp = await web_app.client.post("/test/echo", data=form)
    assert resp.status == 200 and (await resp.json())["note"] == "with a file"
    form = FormData()
    form.add_field("upload", b"x", filename="x.conf")
    assert (await web_app.client.post("/test/echo", data=form)).status == 403


async def test_static_files_are_served_without_a_user_lookup(web_app, monkeypatch):
    from callcontrol.web import auth

    await _signed_in(web_app)
    looked_up = []
    real = auth._session_user

    async def counting(request):
        looked_up.append(request.path)
        return await real(request)

    monkeypatch.setattr(auth, "_session_user", counting)
    assert (await web_app.client.get("/static/app.css")).status == 200
    assert (await web_app.client.get("/test/page")).status == 200
    assert looked_up == ["/test/page"]
