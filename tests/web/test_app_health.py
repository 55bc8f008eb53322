import dataclasses

from callcontrol.app import build_app
from callcontrol.config import load_config


async def test_healthz_reports_database_ok_and_ari_disconnected(db, aiohttp_client, tmp_path):
    config = dataclasses.replace(load_config({"CALLCONTROL_VAR_DIR": str(tmp_path)}),
                                 database_url=db.url)
    client = await aiohttp_client(build_app(config))
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 503
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["ari"]["connected"] is False
    metrics = await (await client.get("/metrics")).text()
    assert 'callcontrol_http_requests_total{method="GET",status="503"} 1' in metrics


async def test_responses_carry_a_self_only_content_security_policy(db, aiohttp_client, tmp_path):
    config = dataclasses.replace(load_config({"CALLCONTROL_VAR_DIR": str(tmp_path)}),
                                 database_url=db.url)
    client = await aiohttp_client(build_app(config))
    resp = await client.get("/api/nowhere")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
