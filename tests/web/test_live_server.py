from aiohttp import ClientSession, CookieJar


async def test_live_server_answers_on_its_url_with_a_migrated_database(live_server):
    await live_server.create_user("ada", "password-123", "agent", extension="201",
                                  device="PJSIP/201")
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        resp = await http.get(f"{live_server.url}/healthz")
        assert resp.status == 200
        assert (await resp.json())["checks"]["database"]["ok"] is True
        resp = await http.get(f"{live_server.url}/login")
        assert resp.status == 200 and "Sign in" in await resp.text()


async def test_factory_servers_can_share_one_database(live_server_factory, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first = await live_server_factory(database_url=url)
    second = await live_server_factory(database_url=url)
    assert first.url != second.url
    user = await first.create_user("bob", "password-123", "supervisor")
    from callcontrol.crm.models import User

    async with second.sessions() as session:
        assert (await session.get(User, user.id)).username == "bob"
