import pytest
from aiohttp import web

from callcontrol.ari.channels import ChannelsApi
from callcontrol.ari.client import AriClient
from callcontrol.config import AriConfig


async def test_hangup_sends_reason_and_rejects_unknown_reason_locally(aiohttp_server):
    seen = []

    async def handler(request):
        seen.append((request.method, request.path, dict(request.query)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", handler)
    server = await aiohttp_server(app)
    async with AriClient(AriConfig(url=str(server.make_url("/ari")))) as client:
        channels = ChannelsApi(client)
        await channels.hangup("c1", reason="busy")
        with pytest.raises(ValueError):
            await channels.hangup("c1", reason="bogus")
    assert seen == [("DELETE", "/ari/channels/c1", {"reason": "busy"})]
