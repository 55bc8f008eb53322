"""Quick search on every field kind, advanced search, paging and the definition's caps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, text

from callcontrol.cc.like import SearchInputError
from callcontrol.cc.search import advanced_search, communications_search, quick_search
from callcontrol.cc.settings import Settings
from callcontrol.crm.models import Communication, Email, Phone, utcnow
from tests.cc import factories as f


@pytest.fixture
async def crowd(db):
    async with db.sessions() as session, session.begin():
        a = await f.person(session, "Anna", "Kowalska", phone="+48601234567",
                           email="Anna.K@Example.PL", code="C-ANNA0001")
        b = await f.person(session, "Boris", "Ivanov", phone="+35799111222",
                           email="boris@example.com", code="C-BORIS002")
        acc = await f.account(session, a, "A-0042")
        await f.subscription(session, acc, "S-9001", terms="yearly")
        await f.account(session, b, "A-0099")
        await f.address(session, a, "Kraków", "billing", "31-100")
        await f.address(session, b, "Kraków", "subscription", "31-200")
        await f.token(session, b, "TOK-777")
        await f.participant(session, a, "R-5150", scheme="Gold Club")
        return {"anna": a.id, "boris": b.id}


FIELD_TABLE = [
    ("contact.phone", "=", "+48 601 234 567", {"anna"}),
    ("contact.phone", "=", "0048601234567", {"anna"}),
    ("contact.phone", "like", "%1222", {"boris"}),
    ("contact.phone", "like", "357", {"boris"}),          # starts with the country code
    ("contact.phone", "like", "%234%", {"anna"}),
    ("contact.email", "like", "anna", {"anna"}),
    ("contact.email", "like", "%example%", {"anna", "boris"}),
    ("contact.email", "=", "ANNA.K@example.pl", {"anna"}),
    ("contact.code", "like", "c-bor", {"boris"}),
    ("contact.code", "=", "c-anna0001", {"anna"}),
    ("account.number", "like", "%42", {"anna"}),
    ("account.number", "like", "A-00", {"anna", "boris"}),
    ("subscription.number", "=", "s-9001", {"anna"}),
    ("access_token.number", "like", "%777", {"boris"}),
    ("reward_participant.number", "like", "r-51", {"anna"}),
    ("address.city", "like", "krak", {"anna", "boris"}),
    ("address.postal_code", "like", "%200", {"boris"}),
    ("reward_participant.scheme", "like", "club", {"anna"}),
    ("subscription.billing_terms", "=", "YEARLY", {"anna"}),
]

EVERY_FIELD = Settings(quick_fields=tuple(sorted({row[0] for row in FIELD_TABLE})))


async def test_each_quick_search_field(db, crowd) -> None:
    by_id = {v: k for k, v in crowd.items()}
    wrong = []
    async with db.sessions() as session:
        for field, op, value, expected in FIELD_TABLE:
            page = await quick_search(session, EVERY_FIELD, field, value, op)
            found = {by_id[h.id] for h in page.items}
            if found != expected:
                wrong.append((field, op, value, sorted(found)))
    assert wrong == []


async def test_bad_phone_values_are_explained(db, crowd) -> None:
    async with db.sessions() as session:
        with pytest.raises(SearchInputError, match="not a valid phone number"):
            await quick_search(session, EVERY_FIELD, "contact.phone", "call me", "=")
        with pytest.raises(SearchInputError, match="digits"):
            await quick_search(session, EVERY_FIELD, "contact.phone", "abc%", "like")


async def test_advanced_criteria_all_hold_and_address_scope(db, crowd) -> None:
    settings = Settings()
    async with db.sessions() as session:
        both = await advanced_search(session, settings, {"address.city": "krak"})
        billing = await advanced_search(session, settings, {"address.city": "krak"},
                                        address_scope="billing")
        combined = await advanced_search(session, settings, {
            "contact.name": "anna", "account.number": "a-0042", "contact.kind": "person"})
        contradict = await advanced_search(session, settings, {
            "contact.name": "anna", "access_token.number": "tok"})
        with pytest.raises(SearchInputError):
            await advanced_search(session, settings, {"contact.name": "  "})
        with pytest.raises(SearchInputError):
            await advanced_search(session, settings, {"contact.kind": "robot"})
        with pytest.raises(SearchInputError, match="not enabled"):
            await advanced_search(session, Settings(advanced_fields=("contact.name",)),
                                  {"address.city": "krak"})
    assert {h.id for h in both.items} == set(crowd.values())
    assert [h.id for h in billing.items] == [crowd["anna"]]
    assert [h.id for h in combined.items] == [crowd["anna"]]
    assert contradict.items == []


async def test_results_are_paged_by_the_number_of_records(db) -> None:
    async with db.sessions() as session, session.begin():
        for i in range(5):
            await f.person(session, "Jan", f"Nowak{i}")
    settings = Settings(number_of_records=2)
    async with db.sessions() as session:
        pages = [await quick_search(session, settings, "contact.name", "jan", "like", n)
                 for n in (1, 2, 3)]
        with pytest.raises(SearchInputError):
            await quick_search(session, settings, "contact.name", "jan", "like", "0")
        with pytest.raises(SearchInputError):
            await quick_search(session, settings, "contact.name", "jan", "like", "x")
    names = [[h.name for h in p.items] for p in pages]
    assert names == [["Jan Nowak0", "Jan Nowak1"], ["Jan Nowak2", "Jan Nowak3"],
                     ["Jan Nowak4"]]
    assert [p.has_next for p in pages] == [True, True, False]


async def test_communications_latest_first_limited_and_only_mine(db) -> None:
    async with db.sessions() as session, session.begin():
        me = await f.user(session, "me")
        other = await f.user(session, "other")
        c = await f.person(session, "Eva", "Novak")
        now = utcnow()
        for i in range(5):
            session.add(Communication(direction="incoming", subject=f"mine {i}",
                                      contact_id=c.id, agent_id=me.id,
                                      created_at=now + timedelta(minutes=i)))
        session.add(Communication(direction="incoming", subject="theirs", agent_id=other.id))
    async with db.sessions() as session:
        limited = Settings(number_of_records=2, communications_limit=3)
        first = await communications_search(session, limited, me.id, 1)
        second = await communications_search(session, limited, me.id, 2)
        everything = await communications_search(session, Settings(), me.id)
    assert [c.subject for c in first.items] == ["mine 4", "mine 3"] and first.has_next
    assert [c.subject for c in second.items] == ["mine 2"] and not second.has_next
    assert [c.subject for c in everything.items] == [f"mine {i}" for i in (4, 3, 2, 1, 0)]
    assert first.items[0].contact_name == "Eva Novak"


async def test_like_uses_the_trigram_index(db, crowd) -> None:
    """SQLite: the FTS5 trigram table is consulted; PostgreSQL: pg_trgm serves the query."""
    statements: list[str] = []

    def keep(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        async with db.sessions() as session:
            await quick_search(session, Settings(), "contact.name", "%owal%", "like")
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", keep)
    search_sql = next(s for s in statements if "search_name" in s)
    async with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert "cc_contacts_fts MATCH" in search_sql
            plan = (await conn.execute(text(
                "EXPLAIN QUERY PLAN SELECT rowid FROM cc_contacts_fts "
                "WHERE cc_contacts_fts MATCH '\"owal\"'"))).all()
            assert any("VIRTUAL TABLE INDEX" in str(row) for row in plan)
        else:  # the narrow copy of the names (0006cs), sorted there, then the page's contacts
            assert "FROM cc_contacts_search" in search_sql
            await conn.execute(text("SET enable_seqscan = off"))
            plan = (await conn.execute(text(
                "EXPLAIN SELECT contact_id FROM cc_contacts_search "
                "WHERE search_name LIKE '%owal%'"))).all()
            assert any("ix_cc_contacts_search_name_trgm" in str(row) for row in plan)
            plan = (await conn.execute(text(
                "EXPLAIN SELECT id FROM contacts WHERE search_name LIKE '%owal%'"))).all()
            assert any("ix_contacts_search_name_trgm" in str(row) for row in plan)


async def test_pages_are_in_name_then_id_order_whichever_table_answers(db) -> None:
    """Ties on the name go by id, page after page, whether PostgreSQL answers from
    ``cc_contacts_search`` (name and related tables) or from ``contacts`` (with the type)."""
    async with db.sessions() as session, session.begin():
        made = [await f.person(session, first, last, phone=f"+4860100000{i}")
                for i, (first, last) in enumerate([
                    ("Jan", "Nowak"), ("Anna", "Nowak"), ("Jan", "Nowak"), ("Ewa", "Zając"),
                    ("Jan", "Nowak"), ("Jan", "Nowak-Wiśniewski"), ("Jan", "Nowak")])]
        await f.company(session, "Nowak Jan Sp. z o.o.")
    people = sorted((c.search_name, c.id) for c in made if "nowak" in c.search_name)
    expected = [i for _, i in people]
    settings = Settings(number_of_records=2)

    async def every_page(search) -> list[int]:
        found, page = [], 1
        while True:
            result = await search(page)
            found += [h.id for h in result.items]
            if not result.has_next:
                return found
            page += 1

    async with db.sessions() as session:
        quick = await every_page(lambda n: quick_search(
            session, settings, "contact.name", "%owak%", "like", n))
        with_phone = await every_page(lambda n: advanced_search(
            session, settings, {"contact.name": "%owak%", "contact.phone": "4860"}, page=n))
        with_type = await every_page(lambda n: advanced_search(
            session, settings, {"contact.name": "%owak%", "contact.kind": "person"}, page=n))
    assert quick[:len(expected)] == expected and len(quick) == len(expected) + 1
    assert with_phone == expected
    assert with_type == expected


async def test_each_hit_shows_the_default_phone_and_e_mail_else_the_first(db) -> None:
    async with db.sessions() as session, session.begin():
        both = await f.person(session, "Olga", "Default")
        session.add_all([
            Phone(contact_id=both.id, raw="111", e164="+111", is_default=False),
            Phone(contact_id=both.id, raw="222", e164="+222", is_default=True),
            Phone(contact_id=both.id, raw="333", e164="+333", is_default=False),
            Email(contact_id=both.id, address="first@example.com", is_default=False),
            Email(contact_id=both.id, address="second@example.com", is_default=False)])
        await f.person(session, "Olga", "Nothing")
    settings = Settings()
    async with db.sessions() as session:
        quick = await quick_search(session, settings, "contact.name", "olga", "like")
        typed = await advanced_search(session, settings,
                                      {"contact.name": "olga", "contact.kind": "person"})
    for result in (quick, typed):
        assert [(h.name, h.phone, h.email) for h in result.items] == [
            ("Olga Default", "222", "first@example.com"), ("Olga Nothing", None, None)]
