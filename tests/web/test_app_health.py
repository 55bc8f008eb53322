import dataclasses
import socket

from callcontrol.app import build_app
from callcontrol.config import load_config


class Ari:
    def __init__(self, connected: bool) -> None:
        self.connected = connected


def _config(db, tmp_path, **changes):
    base = load_config({"CALLCONTROL_VAR_DIR": str(tmp_path)})
    return dataclasses.replace(base, database_url=db.url, **changes)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_healthz_without_redis_or_ari_is_ok_with_the_in_process_bus(
        db, aiohttp_client, tmp_path):
    client = await aiohttp_client(build_app(_config(db, tmp_path)))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["redis"] == {"ok": True, "mode": "in-process"}
    assert body["checks"]["ari"] == {"configured": False}


async def test_healthz_is_503_when_ari_is_disconnected(db, aiohttp_client, tmp_path):
    client = await aiohttp_client(build_app(_config(db, tmp_path), ari_state=Ari(False)))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503 and body["status"] == "degraded"
    assert body["checks"]["ari"] == {"configured": True, "connected": False}
    metrics = await (await client.get("/metrics")).text()
    assert 'callcontrol_http_requests_total{method="GET",status="503"} 1' in metrics


async def test_healthz_pings_redis_through_the_bus(db, aiohttp_client, tmp_path, redis_url):
    app = build_app(_config(db, tmp_path, redis_url=redis_url), ari_state=Ari(True))
    client = await aiohttp_client(app)
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200
    assert body["checks"]["redis"] == {"ok": True, "mode": "redis"}


async def test_healthz_is_503_when_redis_is_down(db, aiohttp_client, tmp_path):
    down = f"redis://127.0.0.1:{_closed_port()}/0"
    client = await aiohttp_client(build_app(_config(db, tmp_path, redis_url=down)))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503 and body["status"] == "degraded"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["mode"] == "redis"
    assert body["checks"]["database"]["ok"] is True


async def test_healthz_is_503_when_the_database_is_down(aiohttp_client, tmp_path):
    base = load_config({"CALLCONTROL_VAR_DIR": str(tmp_path)})
    url = f"postgresql+asyncpg://nobody@127.0.0.1:{_closed_port()}/none"
    client = await aiohttp_client(build_app(dataclasses.replace(base, database_url=url)))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503
    assert body["checks"]["database"]["ok"] is False


async def test_healthz_and_metrics_need_no_sign_in(web_app):
    client = web_app.client
    assert (await client.get("/healthz", allow_redirects=False)).status == 200
    assert (await client.get("/metrics", allow_redirects=False)).status == 200


async def test_responses_carry_a_self_only_content_security_policy(web_app):
    client = web_app.client
    resp = await client.get("/api/nowhere")
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_hsts_only_over_https(web_app):
    client = web_app.client
    plain = await client.get("/healthz")
    assert "Strict-Transport-Security" not in plain.headers
    proxied = await client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=")
