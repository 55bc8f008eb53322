import asyncio
import socket
import time

import pytest
from aiohttp import web

from callcontrol.ari import AriClient
from callcontrol.ari.errors import (
    AriError,
    AriUnavailable,
    BadRequest,
    Conflict,
    Forbidden,
    MalformedResponse,
    NotAllowed,
    NotFound,
    ServerError,
    Unauthorized,
    Unprocessable,
)
from callcontrol.config import AriConfig


async def _start(aiohttp_server, handler, timeout=0.5):
    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", handler)
    server = await aiohttp_server(app)
    return AriConfig(url=str(server.make_url("/ari")), request_timeout=timeout)


def _free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# status, body as the errors trace recorded it, expected class and message
ERRORS = [
    (400, {"message": "DTMF is required"}, BadRequest, "DTMF is required"),
    (401, {"message": "Authentication required"}, Unauthorized, "Authentication required"),
    (403, {"message": "The recording file could not be opened"}, Forbidden,
     "The recording file could not be opened"),
    (404, {"message": "Channel not found"}, NotFound, "Channel not found"),
    (405, {"message": "Invalid method"}, NotAllowed, "Invalid method"),
    (409, {"message": "Channel not in Stasis application"}, Conflict,
     "Channel not in Stasis application"),
    (422, {"message": "specified format is unknown on this system"}, Unprocessable,
     "specified format is unknown on this system"),
    (500, {"error": "Allocation failed"}, ServerError, "Allocation failed"),
    (503, "Service Unavailable", ServerError, "Service Unavailable"),
]


@pytest.mark.parametrize(("status", "body", "cls", "message"), ERRORS,
                         ids=[str(e[0]) for e in ERRORS])
async def test_error_status_becomes_typed_exception_with_message(
        aiohttp_server, status, body, cls, message):
    async def handler(request):
        if isinstance(body, str):
            return web.Response(status=status, text=body)
        return web.json_response(body, status=status)

    async with AriClient(await _start(aiohttp_server, handler)) as client:
        with pytest.raises(cls) as info:
            await client.channels.answer("no-such-channel")
    assert info.value.status == status
    assert info.value.message == message
    assert (info.value.method, info.value.path) == ("POST", "/channels/no-such-channel/answer")
    assert isinstance(info.value, AriError)
    assert str(status) in str(info.value)


async def test_success_with_a_body_that_is_not_the_model_raises_malformed(aiohttp_server):
    async def handler(request):
        return web.json_response({"unexpected": True})

    async with AriClient(await _start(aiohttp_server, handler)) as client:
        with pytest.raises(MalformedResponse) as info:
            await client.channels.get("c1")
    assert "unexpected" in info.value.message


async def test_server_that_never_answers_raises_unavailable_after_request_timeout(
        aiohttp_server):
    async def handler(request):
        await asyncio.sleep(5)
        return web.Response()

    async with AriClient(await _start(aiohttp_server, handler, timeout=0.2)) as client:
        started = time.monotonic()
        with pytest.raises(AriUnavailable) as info:
            await client.channels.list()
        elapsed = time.monotonic() - started
    assert info.value.status is None
    assert "0.2" in info.value.message
    assert 0.15 < elapsed < 1.5


async def test_connection_refused_raises_unavailable():
    config = AriConfig(url=f"http://127.0.0.1:{_free_port()}/ari", request_timeout=1)
    async with AriClient(config) as client:
        with pytest.raises(AriUnavailable) as info:
            await client.channels.hangup("c1")
    assert info.value.status is None
    assert info.value.method == "DELETE"


async def test_credentials_from_config_are_sent_as_basic_auth(aiohttp_server):
    async def handler(request):
        return web.json_response({"auth": request.headers.get("Authorization", "")})

    config = await _start(aiohttp_server, handler)
    async with AriClient(config) as client:
        body = await client.asterisk.info()
    # callcontrol:callcontrol, the lab default
    assert body["auth"] == "Basic Y2FsbGNvbnRyb2w6Y2FsbGNvbnRyb2w="


async def test_ids_arrive_intact_as_one_path_segment(aiohttp_server):
    seen = []

    async def handler(request):
        seen.append(request.path)
        return web.Response(status=204)

    async with AriClient(await _start(aiohttp_server, handler)) as client:
        await client.channels.answer("Local-x;1")
        await client.recordings.stop("rec with space?")
    assert seen == ["/ari/channels/Local-x;1/answer", "/ari/recordings/live/rec with space?/stop"]


async def test_path_segments_keep_colons_and_encode_plus(aiohttp_server):
    seen = []

    async def handler(request):
        seen.append((request.raw_path, request.path))
        return web.Response(status=204)

    async with AriClient(await _start(aiohttp_server, handler)) as client:
        await client.bridges.destroy("callcontrol:17.5-br")
        await client.recordings.delete_stored("call-+35799")
    assert seen == [("/ari/bridges/callcontrol:17.5-br", "/ari/bridges/callcontrol:17.5-br"),
                    ("/ari/recordings/stored/call-%2B35799", "/ari/recordings/stored/call-+35799")]


def test_the_quoter_encodes_exactly_as_urllib_quote():
    """The fast path (a value that needs no encoding goes as it is) changes nothing on the
    wire: every value comes out as urllib's quote makes it, for each safe set used."""
    import random
    from urllib.parse import quote

    from callcontrol.ari.client import QUERY_SAFE
    from callcontrol.ari.params import quoter

    rng = random.Random(8)
    alphabet = ("abcXYZ019_.-~:@/?!$'()*,+ %&=#;[]\\^`{}|\"<>\t\u00e9\u2603\U0001f4de"
                "\x00\x7f")
    values = ["", "callcontrol", "callcontrol:1733-a1u5", "PJSIP/1001", "agent,c:1", "wav",
              "+35799123456", "a b", "x%41", "caf\u00e9", "]", "^", "-", "\\"]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
               for _ in range(3000)]
    for safe in ("", ":@", QUERY_SAFE):
        fast = quoter(safe)
        for value in values:
            assert fast(value) == quote(value, safe=safe), (safe, value)
