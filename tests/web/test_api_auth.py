import dataclasses

from aiohttp import web

from callcontrol.app import build_app
from callcontrol.config import load_config
from callcontrol.crm.users import create_api_token, create_user
from callcontrol.web.auth import current_user, requires


@requires("admin")
async def admin_only(request: web.Request) -> web.Response:
    return web.json_response({"user": current_user(request).username})


def _routes(app: web.Application) -> None:
    app.router.add_get("/api/admin-only", admin_only)


async def _client(db, aiohttp_client, tmp_path):
    config = dataclasses.replace(load_config({"CALLCONTROL_VAR_DIR": str(tmp_path)}),
                                 database_url=db.url)
    return await aiohttp_client(build_app(config, setups=[_routes]))


async def _token(db, username, role):
    async with db.sessions() as session, session.begin():
        user = await create_user(session, username, "password-123", role)
        return await create_api_token(session, user)


async def test_bearer_token_of_an_admin_reaches_an_admin_route(db, aiohttp_client, tmp_path):
    token = await _token(db, "ada", "admin")
    client = await _client(db, aiohttp_client, tmp_path)
    resp = await client.get("/api/admin-only", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200 and (await resp.json())["user"] == "ada"


async def test_agent_gets_403_and_bad_token_gets_401_json(db, aiohttp_client, tmp_path):
    token = await _token(db, "bob", "agent")
    client = await _client(db, aiohttp_client, tmp_path)
    resp = await client.get("/api/admin-only", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 403
    resp = await client.get("/api/admin-only", headers={"Authorization": "Bearer nope"})
    body = await resp.json()
    assert resp.status == 401 and set(body) >= {"error", "message"}
    assert (await client.get("/api/admin-only")).status == 401
