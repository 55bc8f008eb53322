"""'Add more information' and 'manage subscription' (the business examples of seed 001)."""

from __future__ import annotations

from sqlalchemy import select

from callcontrol.crm.models import (
    AccountReceivable,
    Address,
    AuditEntry,
    Bill,
    Email,
    SubscriptionService,
)
from tests.cc import factories as f


async def test_add_an_address_and_an_email_to_a_contact(cc_app) -> None:
    token = await cc_app.login("ada")
    async with cc_app.sessions() as session, session.begin():
        cid = (await f.person(session, "Jan", "Kowalski")).id
    html = await (await cc_app.client.get(f"/cc/contacts/{cid}/edit")).text()
    assert 'value="Kowalski"' in html
    form = {"first_name": "Jan", "last_name": "Kowalski", "new_email": "jan@example.pl",
            "new_address_type": "billing", "new_line1": "ul. Długa 5", "new_city": "Kraków",
            "new_postal_code": "31-147", "new_country": "pl"}
    resp = await cc_app.post(f"/cc/contacts/{cid}/edit", form, token)
    assert resp.status == 303
    async with cc_app.sessions() as session:
        address = await session.scalar(select(Address).where(Address.contact_id == cid))
        email = await session.scalar(select(Email.address).where(Email.contact_id == cid))
        audit = await session.scalar(select(AuditEntry).where(
            AuditEntry.action == "contact.update"))
    assert (address.city, address.country, email) == ("Kraków", "PL", "jan@example.pl")
    assert sorted(audit.details["changed"]) == ["address", "email"]
    page = await (await cc_app.client.get(f"/cc/contacts/{cid}")).text()
    assert "ul. Długa 5" in page and "jan@example.pl" in page


async def test_contact_editor_refuses_bad_input_and_keeps_it(cc_app) -> None:
    token = await cc_app.login("ada")
    async with cc_app.sessions() as session, session.begin():
        cid = (await f.person(session, "Jan", "Kowalski")).id
    form = {"first_name": "", "last_name": "K", "new_email": "nope", "new_city": "Kraków",
            "new_phone": "<script>"}
    resp = await cc_app.post(f"/cc/contacts/{cid}/edit", form, token)
    html = await resp.text()
    assert resp.status == 422
    for message in ("First name is required", "enter an e-mail address",
                    "enter a valid phone number"):
        assert message in html
    assert "&lt;script&gt;" in html and "<script>\"" not in html
    resp = await cc_app.post(f"/cc/contacts/{cid}/edit",
                             {"first_name": "Jan", "last_name": "K", "new_city": "Kraków"},
                             token)
    assert resp.status == 422 and "the street is needed" in await resp.text()


async def test_add_a_service_bill_the_subscription_then_pay_the_bill(cc_app) -> None:
    token = await cc_app.login("ada")
    async with cc_app.sessions() as session, session.begin():
        c = await f.person(session, "Eleni", "Georgiou")
        acc = await f.account(session, c, "A-7", balance="0")
        sub = await f.subscription(session, acc, "S-7")
        cid, aid, sid = c.id, acc.id, sub.id
    resp = await cc_app.post(f"/cc/subscriptions/{sid}/services",
                             {"name": "Sports HD", "kind": "optional"}, token)
    assert resp.status == 303
    bad = await cc_app.post(f"/cc/subscriptions/{sid}/bill", {"amount": "-3"}, token)
    assert bad.status == 422 and "more than zero" in await bad.text()
    resp = await cc_app.post(f"/cc/subscriptions/{sid}/bill", {"amount": "19.90"}, token)
    assert resp.status == 303
    async with cc_app.sessions() as session:
        bill = await session.scalar(select(Bill).where(Bill.account_id == aid))
        services = (await session.scalars(select(SubscriptionService.name))).all()
    assert services == ["Sports HD"] and str(bill.amount) == "19.90"
    resp = await cc_app.post("/cc/actions/pay-bill",
                             {"contact": cid, "bill": bill.id, "method": "card"}, token)
    assert resp.status == 303
    async with cc_app.sessions() as session:
        account = await session.get(AccountReceivable, aid)
        paid = await session.get(Bill, bill.id)
    assert str(account.balance) == "0.00" and paid.state == "paid"


async def test_engineers_read_but_do_not_change_customer_records(cc_app) -> None:
    token = await cc_app.login("eng", "engineer")
    async with cc_app.sessions() as session, session.begin():
        c = await f.person(session, "Jan", "Kowalski")
        acc = await f.account(session, c, "A-8")
        sub = await f.subscription(session, acc, "S-8")
        cid, sid = c.id, sub.id
    assert (await cc_app.client.get(f"/cc/contacts/{cid}")).status == 200
    for path, data in ((f"/cc/contacts/{cid}/edit", {"first_name": "X", "last_name": "Y"}),
                       (f"/cc/subscriptions/{sid}/services", {"name": "TV", "kind": "optional"}),
                       (f"/cc/subscriptions/{sid}/bill", {"amount": "1"}),
                       ("/cc/actions/log-person", {"first_name": "A", "last_name": "B"})):
        assert (await cc_app.post(path, data, token)).status == 403, path
