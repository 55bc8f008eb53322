"""A recording ARI HTTP server for unit tests: it stores every request and answers with
what the test queued (JSON body from the traces, 204, bytes or an error)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from callcontrol.ari import AriClient
from callcontrol.config import AriConfig

CHANNEL = {
    "id": "1795347291.1", "name": "Local/+35722000000@from-pstn-00000000;2", "state": "Ring",
    "protocol_id": "", "caller": {"name": "", "number": "+35799123456"},
    "connected": {"name": "", "number": "+35799123456"}, "accountcode": "",
    "dialplan": {"context": "from-pstn", "exten": "+35722000000", "priority": 2,
                 "app_name": "Stasis", "app_data": "callcontrol,inbound,+35722000000"},
    "creationtime": "2026-11-22T11:34:51.373+0000", "language": "en",
}
BRIDGE = {
    "id": "d4d60445-c56b-435a-91cc-2daf9c6bef46", "technology": "softmix",
    "bridge_type": "mixing", "bridge_class": "stasis", "creator": "Stasis",
    "name": "call-1795347291.1", "channels": ["1795347291.1", "1795347291.2"],
    "creationtime": "2026-11-22T11:34:51.375+0000", "video_mode": "talker",
}
LIVE = {"name": "call-1795347291", "format": "wav", "state": "queued",
        "target_uri": "bridge:d4d60445-c56b-435a-91cc-2daf9c6bef46"}
STORED = {"name": "call-1795347291", "format": "wav"}
PLAYBACK = {"id": "pb-1", "media_uri": "sound:hello-world", "target_uri": "channel:c1",
            "language": "en", "state": "queued"}
ENDPOINT = {"technology": "PJSIP", "resource": "sipp", "state": "online", "channel_ids": []}
APPLICATION = {"name": "callcontrol", "channel_ids": ["c1"], "bridge_ids": [],
               "endpoint_ids": [], "device_names": [], "events_allowed": [],
               "events_disallowed": []}
DEVICE = {"name": "Stasis:agent-1001", "state": "INUSE"}


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth: str


@dataclass
class FakeAri:
    requests: list[Seen] = field(default_factory=list)
    # (status, body): body dict/list -> JSON, bytes -> raw, None -> empty
    reply: tuple[int, Any] = (204, None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        text = await request.text()
        self.requests.append(Seen(request.method, request.path, dict(request.query),
                                  json.loads(text) if text else None,
                                  request.headers.get("Authorization", "")))
        status, body = self.reply
        if body is None:
            return web.Response(status=status)
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, content_type="audio/wav")
        return web.json_response(body, status=status)


@pytest.fixture
async def fake_ari(aiohttp_server):
    fake = FakeAri()
    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", fake.handle)
    server = await aiohttp_server(app)
    config = AriConfig(url=str(server.make_url("/ari")), request_timeout=2.0)
    client = AriClient(config)
    yield fake, client
    await client.close()
