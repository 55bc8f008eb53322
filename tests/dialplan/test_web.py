"""The dialplan editor through HTTP: roles, CSRF, check-before-save, versions, diff,
rollback, and the ARI reload against a fake Asterisk."""

from __future__ import annotations

import base64
import dataclasses
import re
from types import SimpleNamespace

import pytest
from aiohttp import web

from callcontrol.app import build_app
from callcontrol.config import load_config
from callcontrol.crm.users import create_user
from callcontrol.dialplan import web as dialplan_web
from callcontrol.web.auth import SESSIONS

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


ROLES = {"eve": "engineer", "ada": "admin", "al": "agent"}


class Client:
    def __init__(self, client, sessions) -> None:
        self.http = client
        self.sessions = sessions

    async def csrf(self, path: str = "/login") -> str:
        found = CSRF.search(await (await self.http.get(path)).text())
        assert found, path
        return found.group(1)

    async def login(self, username: str) -> None:
        async with self.sessions() as session, session.begin():
            await create_user(session, username, PASSWORD, ROLES[username])
        data = {"csrf_token": await self.csrf(), "username": username, "password": PASSWORD}
        resp = await self.http.post("/login", data=data, allow_redirects=False)
        assert resp.status in (302, 303), await resp.text()

    async def post(self, path: str, **fields) -> object:
        fields.setdefault("csrf_token", await self.csrf("/dialplan"))
        return await self.http.post(path, data=fields, allow_redirects=False)

    async def text(self, path: str) -> str:
        resp = await self.http.get(path)
        assert resp.status == 200, resp.status
        return await resp.text()


@pytest.fixture
async def fake_ari(aiohttp_server):
    calls: list[tuple[str, str, str]] = []
    fake = SimpleNamespace(calls=calls, refuse=False)

    async def module(request: web.Request) -> web.Response:
        calls.append((request.method, request.match_info["name"],
                      request.headers.get("Authorization", "")))
        if fake.refuse:
            return web.json_response({"message": "Module could not be found"}, status=404)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_put("/ari/asterisk/modules/{name}", module)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("/ari"))
    return fake


async def _client(tmp_path, aiohttp_client, *, ari_url=None, connected=False):
    from callcontrol.crm.migrate import upgrade_async

    env = {"CALLCONTROL_VAR_DIR": str(tmp_path / "var"),
           "CALLCONTROL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"}
    if ari_url:
        env["CALLCONTROL_ARI_URL"] = ari_url
    config = load_config(env)
    await upgrade_async(config.database_url)
    app = build_app(config, ari_state=SimpleNamespace(connected=connected),
                    setups=[dialplan_web.setup])
    client = await aiohttp_client(app)
    return Client(client, app[SESSIONS]), config


@pytest.fixture
async def engineer(tmp_path, aiohttp_client):
    client, _ = await _client(tmp_path, aiohttp_client)
    await client.login("eve")
    return client


async def test_engineer_sees_every_file_with_its_shipped_version(engineer):
    page = await engineer.text("/dialplan")
    for name in ("extensions.conf", "pjsip.conf", "ari.conf", "http.conf"):
        assert f'href="/dialplan/{name}"' in page
    assert "(shipped)" in page and "Not connected to Asterisk" in page


async def test_agent_gets_403_and_anonymous_is_sent_to_sign_in(tmp_path, aiohttp_client):
    client, _ = await _client(tmp_path, aiohttp_client)
    anonymous = await client.http.get("/dialplan/extensions.conf", allow_redirects=False)
    assert anonymous.status in (302, 303) and "/login" in anonymous.headers["Location"]
    await client.login("al")
    for path in ("/dialplan", "/dialplan/extensions.conf", "/dialplan/extensions.conf/diff"):
        assert (await client.http.get(path)).status == 403
    token = CSRF.search(await (await client.http.get("/dialplan")).text()).group(1)
    for path in ("/dialplan/extensions.conf", "/dialplan/extensions.conf/rollback",
                 "/dialplan/reload"):
        resp = await client.post(path, text="x", version="1", csrf_token=token)
        assert resp.status == 403, path


async def test_admin_may_edit_too(tmp_path, aiohttp_client):
    client, _ = await _client(tmp_path, aiohttp_client)
    await client.login("ada")
    assert "Check and save" in await client.text("/dialplan/http.conf")


async def test_broken_edit_is_refused_with_the_checkers_message_and_nothing_saved(engineer):
    page = await engineer.text("/dialplan/extensions.conf")
    original = (await engineer.text("/dialplan/extensions.conf")).count("Version ")
    broken = _textarea(page).replace("Stasis(callcontrol,inbound,${EXTEN},vip)",
                                     "Stasis(elsewhere,inbound,${EXTEN},vip)")
    resp = await engineer.post("/dialplan/extensions.conf", text=broken, base="1")
    body = await resp.text()
    assert resp.status == 422
    assert "Stasis() names &#39;elsewhere&#39;, expected the configured application" in body
    assert re.search(r"extensions\.conf:\d+: Stasis", body)
    assert "Stasis(elsewhere" in _textarea(body)  # the edit is kept for fixing
    after = await engineer.text("/dialplan/extensions.conf")
    assert "Stasis(elsewhere" not in after and after.count("Version ") == original


async def test_linter_errors_are_shown_too(engineer):
    text = _textarea(await engineer.text("/dialplan/extensions.conf"))
    resp = await engineer.post("/dialplan/extensions.conf",
                               text=text.replace("NoOp(Inbound", "NoSuchApp(Inbound"))
    assert resp.status == 422 and "E_APP_MISSING" in await resp.text()


async def test_check_only_does_not_save(engineer):
    text = _textarea(await engineer.text("/dialplan/http.conf"))
    resp = await engineer.post("/dialplan/http.conf/check", text=text + "; note\n")
    assert resp.status == 200 and "found no problems" in await resp.text()
    assert "; note" not in _textarea(await engineer.text("/dialplan/http.conf"))


async def test_good_edit_is_saved_with_who_and_a_diff_and_rollback_restores(engineer):
    original = _textarea(await engineer.text("/dialplan/extensions.conf"))
    edited = original.replace("Dial(PJSIP/${EXTEN}@trunk,60)", "Dial(PJSIP/${EXTEN}@trunk,45)")
    resp = await engineer.post("/dialplan/extensions.conf", text=edited, base="1")
    assert resp.status == 303 and resp.headers["Location"] == "/dialplan/extensions.conf?saved=2"
    page = await engineer.text("/dialplan/extensions.conf?saved=2")
    assert "Saved version 2." in page and "eve" in page and _textarea(page) == edited
    diff = await engineer.text("/dialplan/extensions.conf/diff")
    assert '<span class="dp-del">- same =&gt; n,Dial(PJSIP/${EXTEN}@trunk,60)</span>' in diff
    assert '<span class="dp-add">+ same =&gt; n,Dial(PJSIP/${EXTEN}@trunk,45)</span>' in diff
    resp = await engineer.post("/dialplan/extensions.conf/rollback", version="1")
    assert resp.headers["Location"] == "/dialplan/extensions.conf?saved=3&restored=1"
    page = await engineer.text(resp.headers["Location"])
    assert "Restored version 1 as version 3." in page and _textarea(page) == original


async def test_stale_edit_is_refused(engineer):
    text = _textarea(await engineer.text("/dialplan/http.conf"))
    assert (await engineer.post("/dialplan/http.conf", text=text + ";a\n", base="1")).status == 303
    resp = await engineer.post("/dialplan/http.conf", text=text + ";b\n", base="1")
    assert resp.status == 409 and "saved as version 2 by eve" in await resp.text()


async def test_post_without_csrf_token_is_refused(engineer):
    resp = await engineer.http.post("/dialplan/http.conf", data={"text": "x"})
    assert resp.status == 403
    assert "; sneaky" not in _textarea(await engineer.text("/dialplan/http.conf"))


async def test_unknown_file_and_bad_versions(engineer):
    assert (await engineer.http.get("/dialplan/modules.conf")).status == 404
    assert (await engineer.http.get("/dialplan/http.conf/diff?from=1&to=7")).status == 404
    assert (await engineer.http.get("/dialplan/http.conf/diff?from=x")).status == 400
    assert (await engineer.post("/dialplan/http.conf/rollback", version="9")).status == 404


async def test_file_content_is_escaped(engineer):
    text = _textarea(await engineer.text("/dialplan/http.conf"))
    resp = await engineer.post("/dialplan/http.conf", text=text + "; </textarea><script>x\n")
    assert resp.status == 303
    page = await engineer.text("/dialplan/http.conf")
    assert "<script>x" not in page and "&lt;/textarea&gt;&lt;script&gt;x" in page


async def test_reload_without_asterisk_says_not_connected(engineer):
    resp = await engineer.post("/dialplan/reload", module="pbx_config.so")
    assert resp.status == 503 and "Not connected to Asterisk" in await resp.text()


async def test_reload_asks_asterisk_over_ari_with_the_configured_user(
        tmp_path, aiohttp_client, fake_ari):
    client, config = await _client(tmp_path, aiohttp_client, ari_url=fake_ari.url,
                                   connected=True)
    await client.login("eve")
    resp = await client.post("/dialplan/reload", module="pbx_config.so")
    assert resp.status == 200 and "Asterisk reloaded pbx_config.so." in await resp.text()
    auth = "Basic " + base64.b64encode(b"callcontrol:callcontrol").decode()
    assert fake_ari.calls == [("PUT", "pbx_config.so", auth)]
    assert (await client.post("/dialplan/reload", module="../../x")).status == 400


async def test_reload_of_pjsip_and_an_unreachable_asterisk(tmp_path, aiohttp_client, fake_ari):
    from callcontrol.dialplan.reload import reload_module
    config = load_config({"CALLCONTROL_ARI_URL": fake_ari.url,
                          "CALLCONTROL_VAR_DIR": str(tmp_path)})
    result = await reload_module(dataclasses.replace(config.ari), "res_pjsip.so",
                                 SimpleNamespace(connected=True))
    assert result.ok and fake_ari.calls[-1][:2] == ("PUT", "res_pjsip.so")
    fake_ari.refuse = True
    result = await reload_module(config.ari, "pbx_config.so", SimpleNamespace(connected=True))
    assert result.message == ("Asterisk refused to reload pbx_config.so: 404 "
                              "Module could not be found")
    down = dataclasses.replace(config.ari, url="http://127.0.0.1:9/ari", request_timeout=1)
    result = await reload_module(down, "pbx_config.so", SimpleNamespace(connected=True))
    assert not result.ok and "did not answer" in result.message


def _textarea(page: str) -> str:
    import html
    found = re.search(r'<textarea id="dp-text"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no editor on the page"
    return html.unescape(found.group(1))
