"""The seeds' 'Like' rules, table-driven, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callcontrol.cc.like import SearchInputError, parse_like
from callcontrol.cc.search import quick_search
from callcontrol.cc.settings import Settings
from callcontrol.crm.models import Contact
from tests.cc import factories as f

NAMES = {
    "maria": ("Maria", "Papadopoulou"),
    "marios": ("Marios", "Christou"),
    "anna": ("Anna Maria", "Nowak"),
    "gloria": ("Gloria", "Estefan"),
    "zoe": ("Zoë", "Marić"),
    "greek": ("Μαρία", "Παπαδοπούλου"),
    "russian": ("Дмитрий", "Мариинский"),
    "polish": ("Zofia", "Łukasiewicz"),
    "under": ("Tom", "Under_score"),
    "html": ("<script>alert(1)</script>", "O'Brien"),
    "hyphen": ("Anne-Sophie", "Nowak-Kowalska"),
}

# (operator, value, the contacts it must find - exactly)
LIKE_TABLE = [
    ("like", "Mar", {"maria", "marios", "anna", "zoe"}),
    ("like", "mar", {"maria", "marios", "anna", "zoe"}),
    ("like", "Ma%", {"maria", "marios", "anna", "zoe"}),
    ("like", "%ria", {"maria", "anna", "gloria"}),
    ("like", "%ari%", {"maria", "marios", "anna", "zoe"}),
    ("like", "%ARI%", {"maria", "marios", "anna", "zoe"}),
    ("like", "Papa", {"maria"}),                     # second word, start
    ("like", "apa", set()),                          # not at a word start
    ("like", "sophie", {"hyphen"}),                  # hyphens separate words too
    ("like", "%nowak", {"anna", "hyphen"}),
    ("like", "kowal", {"hyphen"}),
    ("like", "%apa%", {"maria"}),
    ("like", "%stou", {"marios"}),
    ("like", "maric", {"zoe"}),                      # accent-insensitive: Marić
    ("like", "ZOË", {"zoe"}),
    ("like", "μαρ", {"greek"}),                      # Greek, case and tonos folded
    ("like", "ΜΑΡΙΑ", {"greek"}),
    ("like", "%πουλου", {"greek"}),
    ("like", "Мари", {"russian"}),                   # Cyrillic
    ("like", "%ИНСКИЙ", {"russian"}),
    ("like", "łukas", {"polish"}),
    ("like", "ŁUKASIEWICZ", {"polish"}),
    ("like", "under_", {"under"}),                   # literal underscore
    ("like", "%r_s%", {"under"}),                    # '_' is no wildcard: Christou not found
    ("like", "%r%s%", set()),                        # inner '%' is literal
    ("like", "50%", {"deals"}),
    ("like", "%50% off%", {"deals"}),                # literal '%' inside
    ("like", "%off\\_%", set()),                     # backslash is literal too
    ("like", "<script>", {"html"}),
    ("like", "o'brien", {"html"}),
    ("like", "'; DROP TABLE contacts; --", set()),
    ("like", "%' OR '1'='1", set()),
    ("=", "maria papadopoulou", {"maria"}),
    ("=", "MARIA PAPADOPOULOU", {"maria"}),
    ("=", "maria", set()),                           # '=' is an exact match of the name
    ("=", "μαρια παπαδοπουλου", {"greek"}),
]


@pytest.fixture
async def people(db):
    async with db.sessions() as session, session.begin():
        ids = {key: (await f.person(session, first, last)).id
               for key, (first, last) in NAMES.items()}
        ids["deals"] = (await f.company(session, "50% Off_Deals Ltd")).id
    return ids


async def test_like_rules_follow_the_seeds_exactly(db, people) -> None:
    settings = Settings(number_of_records=50)
    by_id = {v: k for k, v in people.items()}
    wrong = []
    async with db.sessions() as session:
        for op, value, expected in LIKE_TABLE:
            page = await quick_search(session, settings, "contact.name", value, op)
            found = {by_id[h.id] for h in page.items}
            if found != expected:
                wrong.append((op, value, sorted(found), sorted(expected)))
    assert wrong == []


@pytest.mark.parametrize("value", ["%", "%%", "   ", "", "x" * 201, "a\x00b", "%  %"])
def test_values_that_cannot_be_searched_get_a_clear_error(value) -> None:
    with pytest.raises(SearchInputError):
        parse_like(value)


@pytest.mark.parametrize(("value", "mode", "text"), [
    ("Mar", "prefix", "Mar"), ("Ma%", "prefix", "Ma"), ("%ria", "suffix", "ria"),
    ("%ari%", "contains", "ari"), ("%50%%", "contains", "50%"), ("a_b", "prefix", "a_b"),
])
def test_parse_like_modes(value, mode, text) -> None:
    term = parse_like(value)
    assert (term.mode, term.text) == (mode, text)


async def test_hostile_strings_leave_the_database_intact(db, people) -> None:
    hostile = ["'; DROP TABLE contacts; --", "\" OR 1=1 --", "%_%", "\\", "' || '",
               "NEAR(a b)", "\"unterminated", "x" * 200, "a*", "col:value", "^start"]
    async with db.sessions() as session:
        for value in hostile:
            for op in ("like", "="):
                await quick_search(session, Settings(), "contact.name", value, op)
        with pytest.raises(SearchInputError):
            await quick_search(session, Settings(), "contact.name", "x" * 10_000, "like")
        count = await session.scalar(select(func.count()).select_from(Contact))
    assert count == len(people)


async def test_search_finds_names_changed_after_creation(db, people) -> None:
    async with db.sessions() as session, session.begin():
        contact = await session.get(Contact, people["gloria"])
        contact.last_name = "Vandersloot"
    async with db.sessions() as session:
        found = await quick_search(session, Settings(), "contact.name", "%dersl%", "like")
        gone = await quick_search(session, Settings(), "contact.name", "estefan", "like")
    assert [h.id for h in found.items] == [people["gloria"]]
    assert gone.items == []
