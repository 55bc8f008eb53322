import asyncio
import socket

import pytest
from aiohttp import web

from callcontrol.ari.client import AriClient
from callcontrol.ari.errors import AriUnavailable, Conflict, NotFound, Unauthorized
from callcontrol.config import AriConfig


async def _start(aiohttp_server, handler):
    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", handler)
    server = await aiohttp_server(app)
    return AriConfig(url=str(server.make_url("/ari")), request_timeout=0.5)


@pytest.mark.parametrize(("status", "cls"), [(404, NotFound), (409, Conflict), (401, Unauthorized)])
async def test_error_status_becomes_typed_exception_with_message(aiohttp_server, status, cls):
    async def handler(request):
        return web.json_response({"message": "Channel not found"}, status=status)

    async with AriClient(await _start(aiohttp_server, handler)) as client:
        with pytest.raises(cls) as info:
            await client.request("GET", "/channels/nope")
    assert info.value.status == status
    assert info.value.message == "Channel not found"
    assert info.value.path == "/channels/nope"


async def test_success_returns_parsed_json(aiohttp_server):
    async def handler(request):
        return web.json_response({"asterisk_id": request.match_info["tail"]})

    async with AriClient(await _start(aiohttp_server, handler)) as client:
        assert await client.request("GET", "/asterisk/info") == {"asterisk_id": "asterisk/info"}


async def test_server_that_never_answers_raises_unavailable(aiohttp_server):
    async def handler(request):
        await asyncio.sleep(5)
        return web.Response()

    async with AriClient(await _start(aiohttp_server, handler)) as client:
        with pytest.raises(AriUnavailable):
            await client.request("GET", "/channels", timeout=0.2)


async def test_connection_refused_raises_unavailable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    async with AriClient(AriConfig(url=f"http://127.0.0.1:{port}/ari")) as client:
        with pytest.raises(AriUnavailable) as info:
            await client.request("GET", "/channels")
    assert info.value.status is None


async def test_credentials_from_config_are_sent_as_basic_auth(aiohttp_server):
    async def handler(request):
        return web.json_response({"auth": request.headers.get("Authorization", "")})

    config = await _start(aiohttp_server, handler)
    async with AriClient(config) as client:
        body = await client.request("GET", "/asterisk/info")
    assert body["auth"].startswith("Basic ")
    assert body["auth"] != "Basic "
