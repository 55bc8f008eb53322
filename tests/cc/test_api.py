"""The JSON API: bearer auth, the definition's rules enforced, no secrets leaked."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from callcontrol.crm.models import Bill, Voucher
from callcontrol.crm.models import CommunicationCentreDefinition as Definition
from tests.cc import factories as f


async def world(app):
    async with app.sessions() as session, session.begin():
        c = await f.person(session, "Maria", "Papadopoulou", email="m@example.com")
        acc = await f.account(session, c, "A-1")
        session.add(Bill(account_id=acc.id, number="B-1", amount=Decimal("9.99")))
        session.add(Voucher(contact_id=c.id, serial_number="V-1", secret_number="TOPSECRET",
                            value=Decimal(5), state="used"))
        return c.id


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_api_needs_authentication(cc_app) -> None:
    resp = await cc_app.client.get("/api/v1/cc/search", params={"q": "x"})
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"


async def test_search_contact_and_action_over_the_api(cc_app) -> None:
    token = await cc_app.token("bot")
    cid = await world(cc_app)
    resp = await cc_app.client.get("/api/v1/cc/search", headers=bearer(token),
                                   params={"field": "contact.name", "q": "%opou%"})
    body = await resp.json()
    assert resp.status == 200 and [i["id"] for i in body["items"]] == [cid]
    resp = await cc_app.client.get(f"/api/v1/cc/contacts/{cid}", headers=bearer(token))
    body = await resp.json()
    assert body["contact"]["display_name"] == "Maria Papadopoulou"
    assert body["financials"]["bills"][str(body["financials"]["accounts"]["rows"][0]["id"])][0][
        "amount"] == "9.99"
    assert [v["serial_number"] for v in body["financials"]["vouchers"]["rows"]] == ["V-1"]
    assert "secret_number" not in body["financials"]["vouchers"]["rows"][0]
    assert "TOPSECRET" not in await resp.text()
    resp = await cc_app.client.post("/api/v1/cc/actions/take-lead", headers=bearer(token),
                                    json={"contact": cid, "subject": "Fibre", "source": "web"})
    assert resp.status == 201 and (await resp.json())["entity"] == "lead"


async def test_api_validation_and_bad_requests(cc_app) -> None:
    token = await cc_app.token("bot")
    cid = await world(cc_app)
    resp = await cc_app.client.post("/api/v1/cc/actions/take-lead", headers=bearer(token),
                                    json={"contact": cid, "source": "psychic"})
    body = await resp.json()
    assert resp.status == 422 and set(body["details"]["fields"]) == {"subject", "source"}
    resp = await cc_app.client.post("/api/v1/cc/actions/take-lead", headers=bearer(token),
                                    data="not json")
    assert resp.status == 400
    resp = await cc_app.client.get("/api/v1/cc/search", headers=bearer(token),
                                   params={"field": "contact.name", "q": "%_%' --", "op": "~"})
    assert resp.status == 422
    resp = await cc_app.client.get(f"/api/v1/cc/contacts/{cid}", headers=bearer(token),
                                   params={"sections": "info,secrets"})
    assert resp.status == 400
    resp = await cc_app.client.get("/api/v1/cc/contacts/424242", headers=bearer(token))
    assert resp.status == 404


async def test_fields_and_actions_the_definition_disables_are_refused(cc_app) -> None:
    token = await cc_app.token("bot")
    cid = await world(cc_app)
    await cc_app.client.get("/api/v1/cc/communications", headers=bearer(token))
    async with cc_app.sessions() as session, session.begin():
        d = await session.scalar(select(Definition).where(Definition.active.is_(True)))
        d.allowed_actions = ["log-person"]
        d.search_fields = {"quick": ["contact.phone"], "advanced": ["contact.code"]}
    resp = await cc_app.client.post("/api/v1/cc/actions/take-lead", headers=bearer(token),
                                    json={"contact": cid, "subject": "x", "source": "web"})
    assert resp.status == 403
    resp = await cc_app.client.get("/api/v1/cc/search", headers=bearer(token),
                                   params={"field": "contact.name", "q": "maria"})
    assert resp.status == 422 and "not enabled" in (await resp.json())["message"]
    resp = await cc_app.client.get("/api/v1/cc/search/advanced", headers=bearer(token),
                                   params={"contact.name": "maria"})
    assert resp.status == 422


async def test_session_writes_to_the_api_need_the_csrf_header(cc_app) -> None:
    token = await cc_app.login("ada")
    cid = await world(cc_app)
    payload = {"contact": cid, "subject": "x", "source": "web"}
    resp = await cc_app.client.post("/api/v1/cc/actions/take-lead", json=payload)
    assert resp.status == 403
    resp = await cc_app.client.post("/api/v1/cc/actions/take-lead", json=payload,
                                    headers={"X-CSRF-Token": token})
    assert resp.status == 201


async def test_the_openapi_description_lists_every_route(cc_app) -> None:
    token = await cc_app.token("bot")
    resp = await cc_app.client.get("/api/v1/cc/openapi.json", headers=bearer(token))
    doc = await resp.json()
    routes = {r.resource.canonical for r in cc_app.client.app.router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/api/v1/cc/")}
    assert doc["openapi"].startswith("3.") and routes - {"/api/v1/cc/openapi.json"} == set(
        doc["paths"])
