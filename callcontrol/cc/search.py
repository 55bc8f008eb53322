"""Quick, advanced and communications search: the pure query layer of the Centre.

Every criterion becomes a bound SQL condition (see :mod:`callcontrol.cc.like`); criteria on
a related table become ``contacts.id IN (SELECT contact_id ...)`` so PostgreSQL can use its
trigram indexes and SQLite its FTS5 trigram table (``cc_contacts_fts``).

Results come in name order (``search_name``, then id). On PostgreSQL a search whose
criteria are the name and related tables only is keyed on ``cc_contacts_search`` (migration
0006cs: ``contact_id`` and ``search_name``, kept in step by triggers, with its own trigram
index): the matches are found and sorted in that narrow table, and ``contacts`` is read for
the one page shown instead of for every match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    column,
    false,
    func,
    literal_column,
    select,
)
from sqlalchemy import table as sql_table
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.fields import ADDRESS_SCOPES, FIELDS, SearchField
from callcontrol.cc.like import LikeTerm, SearchInputError, clean, like_token, like_words
from callcontrol.cc.like import parse_like as parse_like
from callcontrol.cc.settings import Settings
from callcontrol.crm.models import (
    AccessToken,
    AccountReceivable,
    Address,
    Communication,
    Contact,
    Email,
    Phone,
    RewardParticipant,
    RewardScheme,
    Subscription,
    fold,
)
from callcontrol.crm.phones import normalise

OPERATORS = ("=", "like")
FTS_TABLE = "cc_contacts_fts"
FTS_MIN = 3  # a trigram index needs three characters
SEARCH_TABLE = "cc_contacts_search"
_KEYS = sql_table(SEARCH_TABLE, column("contact_id", Integer), column("search_name", String))


@dataclass(frozen=True)
class Criterion:
    field: str
    value: str
    operator: str = "like"


@dataclass(frozen=True)
class Hit:
    id: int
    code: str
    name: str
    kind: str
    vip: bool
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class ResultPage:
    items: list[Any]
    page: int
    page_size: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _operator(op: str | None, settings: Settings) -> str:
    op = (op or settings.default_operator).strip().lower()
    if op not in OPERATORS:
        raise SearchInputError("the operator must be '=' or 'Like'")
    return op


def _text_clause(col: ColumnElement[str], field: SearchField, op: str, value: str,
                 fts: bool) -> ColumnElement[bool]:
    """One text criterion; ``col`` is already folded/lowered like the value will be."""
    folded = fold(value) if field.key == "contact.name" else value.lower()
    if op == "=":
        return col == folded
    term = parse_like(folded)
    clause = like_words(col, term) if field.kind == "words" else like_token(col, term)
    if fts and len(term.text) >= FTS_MIN:
        return and_(Contact.id.in_(_fts_candidates(term)), clause)
    return clause


def _fts_candidates(term: LikeTerm) -> Select[Any]:
    """Rows of the SQLite trigram index that contain the text (refined by the LIKE)."""
    fts = sql_table(FTS_TABLE, column("rowid"))
    phrase = '"' + term.text.replace('"', '""') + '"'
    return select(fts.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(phrase))


def _phone_clause(op: str, value: str, region: str) -> ColumnElement[bool]:
    if op == "=":
        e164 = normalise(value, region)
        if e164 is None:
            raise SearchInputError(f"{value!r} is not a valid phone number")
        return Phone.e164 == e164
    term = parse_like(value)
    digits = "".join(c for c in term.text if c.isdigit())
    if not digits:
        raise SearchInputError("type some digits of the phone number")
    prefix = "+" if term.mode == "prefix" else ""
    return like_token(Phone.e164, LikeTerm(term.mode, prefix + digits))


# field key -> (source table key, the column compared); sources other than "contact" are
# joined through their contact id.
_COLUMNS: dict[str, Any] = {
    "contact.name": Contact.search_name,
    "contact.code": func.lower(Contact.code),
    "contact.email": func.lower(Email.address),
    "address.line1": func.lower(Address.line1),
    "address.city": func.lower(Address.city),
    "address.postal_code": func.lower(Address.postal_code),
    "address.country": func.lower(Address.country),
    "account.number": func.lower(AccountReceivable.number),
    "subscription.number": func.lower(Subscription.number),
    "subscription.billing_terms": func.lower(Subscription.billing_terms),
    "access_token.number": func.lower(AccessToken.number),
    "reward_participant.number": func.lower(RewardParticipant.number),
    "reward_participant.scheme": func.lower(RewardScheme.name),
}
_SOURCE = {"contact.phone": "phone", "contact.email": "email"}


def _source(key: str) -> str:
    return _SOURCE.get(key, key.split(".", 1)[0])


def _clause(c: Criterion, settings: Settings, fts: bool,
            name: ColumnElement[str]) -> ColumnElement[bool]:
    field = FIELDS[c.field]
    value = clean(c.value)
    if field.kind == "phone":
        return _phone_clause(c.operator, value, settings.region)
    if field.kind == "choice":
        if value not in field.choices:
            raise SearchInputError(f"{field.label} must be one of {', '.join(field.choices)}")
        return Contact.kind == value
    if c.field == "contact.name":
        return _text_clause(name, field, c.operator, value, fts)
    return _text_clause(_COLUMNS[c.field], field, c.operator, value, False)


def _contact_ids(source: str, clauses: list[ColumnElement[bool]],
                 address_scope: str) -> Select[Any]:
    if source == "phone":
        return select(Phone.contact_id).where(*clauses)
    if source == "email":
        return select(Email.contact_id).where(*clauses)
    if source == "address":
        if address_scope != "any":
            clauses = [*clauses, Address.type == address_scope]
        return select(Address.contact_id).where(*clauses)
    if source == "account":
        return select(AccountReceivable.contact_id).where(*clauses)
    if source == "subscription":
        return (select(AccountReceivable.contact_id)
                .join(Subscription, Subscription.account_id == AccountReceivable.id)
                .where(*clauses))
    if source == "access_token":
        return select(AccessToken.contact_id).where(*clauses)
    return (select(RewardParticipant.contact_id)
            .join(RewardScheme, RewardScheme.id == RewardParticipant.scheme_id)
            .where(*clauses))


def build_filter(criteria: list[Criterion], settings: Settings, *, fts: bool,
                 address_scope: str = "any", keyed: bool = False) -> list[ColumnElement[bool]]:
    """All criteria must hold; criteria of one section hold on the same related row.

    ``keyed``: the conditions are on ``cc_contacts_search`` instead of ``contacts`` (the
    name and related tables only, see :func:`keyable`; PostgreSQL, never with ``fts``).
    """
    if address_scope not in ADDRESS_SCOPES:
        raise SearchInputError(f"address scope must be one of {', '.join(ADDRESS_SCOPES)}")
    if keyed and (fts or not keyable(criteria)):
        raise ValueError("only name and related-table criteria can be keyed, never with FTS")
    name, contact_id = ((_KEYS.c.search_name, _KEYS.c.contact_id) if keyed
                        else (Contact.search_name, Contact.id))
    grouped: dict[str, list[ColumnElement[bool]]] = defaultdict(list)
    for c in criteria:
        grouped[_source(c.field)].append(_clause(c, settings, fts, name))
    where = list(grouped.pop("contact", []))
    for source, clauses in grouped.items():
        where.append(contact_id.in_(_contact_ids(source, clauses, address_scope)))
    return where


def keyable(criteria: list[Criterion]) -> bool:
    """Whether every criterion can be answered from ``cc_contacts_search``: the name, or a
    related table (joined through the contact id); not the code or the type."""
    return all(c.field == "contact.name" or _source(c.field) != "contact" for c in criteria)


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _is_sqlite(session: AsyncSession) -> bool:
    return _dialect(session) == "sqlite"


async def _search(session: AsyncSession, criteria: list[Criterion], settings: Settings,
                  page: int, address_scope: str = "any") -> ResultPage:
    sqlite = _is_sqlite(session)
    keyed = _dialect(session) == "postgresql" and keyable(criteria)
    where = build_filter(criteria, settings, fts=sqlite, address_scope=address_scope,
                         keyed=keyed)
    return await _run(session, where, page, settings, keyed=keyed)


_RESULT_COLUMNS = (Contact.id, Contact.code, Contact.kind, Contact.vip, Contact.first_name,
                   Contact.middle_name, Contact.last_name, Contact.company_name)


def _page_query(where: list[ColumnElement[bool]], offset: int, limit: int,
                keyed: bool) -> Select[Any]:
    """One page of contacts in name order (``search_name``, then id), each with its default
    (else first) phone and e-mail, in one statement.

    Keyed: the conditions are on ``cc_contacts_search``; the matches are sorted and cut to
    the page there, and only the page's contacts are read (the same order: the table holds
    each contact's ``search_name``). The phone and e-mail are looked up for the page's rows
    only, outside the sorted and limited query.
    """
    if keyed:
        keys = (select(_KEYS.c.contact_id, _KEYS.c.search_name).where(*where)
                .order_by(_KEYS.c.search_name, _KEYS.c.contact_id)
                .offset(offset).limit(limit).subquery("page_keys"))
        page = (select(*_RESULT_COLUMNS, keys.c.search_name.label("sort_name"))
                .select_from(Contact).join(keys, keys.c.contact_id == Contact.id)
                .subquery("page"))
    else:
        page = (select(*_RESULT_COLUMNS, Contact.search_name.label("sort_name"))
                .where(*where).order_by(Contact.search_name, Contact.id)
                .offset(offset).limit(limit).subquery("page"))
    phone = (select(Phone.raw).where(Phone.contact_id == page.c.id)
             .order_by(Phone.is_default.desc(), Phone.id).limit(1).scalar_subquery())
    email = (select(Email.address).where(Email.contact_id == page.c.id)
             .order_by(Email.is_default.desc(), Email.id).limit(1).scalar_subquery())
    return (select(*(page.c[c.key] for c in _RESULT_COLUMNS), phone.label("phone"),
                   email.label("email"))
            .order_by(page.c.sort_name, page.c.id))


async def _run(session: AsyncSession, where: list[ColumnElement[bool]], page: int,
               settings: Settings, *, keyed: bool = False) -> ResultPage:
    size = settings.page_size
    rows = (await session.execute(
        _page_query(where, (page - 1) * size, size + 1, keyed))).all()
    hits = [Hit(r.id, r.code, _name(r), r.kind, r.vip, r.phone, r.email) for r in rows[:size]]
    return ResultPage(hits, page, size, len(rows) > size)


def _name(r: Any) -> str:
    if r.kind == "company":
        return r.company_name or ""
    return " ".join(p for p in (r.first_name, r.middle_name, r.last_name) if p)


def _page(page: int | str | None) -> int:
    try:
        number = int(page or 1)
    except (TypeError, ValueError):
        raise SearchInputError("the page must be a number") from None
    if not 1 <= number <= 10_000:
        raise SearchInputError("the page must be between 1 and 10000")
    return number


async def quick_search(session: AsyncSession, settings: Settings, field: str, value: str,
                       operator: str | None = None, page: int | str | None = 1) -> ResultPage:
    """One field (enabled for quick search by the definition), an operator and a value."""
    if field not in settings.quick_fields:
        raise SearchInputError(f"{field!r} is not enabled for quick search")
    criterion = Criterion(field, value, _operator(operator, settings))
    return await _search(session, [criterion], settings, _page(page))


async def advanced_search(session: AsyncSession, settings: Settings,
                          values: Mapping[str, str], operator: str | None = None,
                          address_scope: str = "any",
                          page: int | str | None = 1) -> ResultPage:
    """Every non-empty criterion (of the fields the definition enables) must hold."""
    op = _operator(operator, settings)
    criteria = []
    for key, value in values.items():
        if not (value or "").strip():
            continue
        if key not in settings.advanced_fields:
            raise SearchInputError(f"{key!r} is not enabled for advanced search")
        criteria.append(Criterion(key, value, op))
    if not criteria:
        raise SearchInputError("fill in at least one criterion")
    return await _search(session, criteria, settings, _page(page), address_scope or "any")


@dataclass(frozen=True)
class CommunicationHit:
    id: int
    created_at: Any
    direction: str
    media: str
    subject: str
    state: str
    contact_id: int | None
    contact_name: str | None


async def communications_search(session: AsyncSession, settings: Settings, user_id: int,
                                page: int | str | None = 1) -> ResultPage:
    """The latest communications the user created, newest first, up to the definition's limit."""
    number, size = _page(page), settings.page_size
    offset = (number - 1) * size
    limit = settings.communications_limit
    take = size + 1 if limit is None else max(0, min(size + 1, limit - offset))
    query = (select(Communication, Contact).outerjoin(
        Contact, Contact.id == Communication.contact_id)
        .where(Communication.agent_id == user_id)
        .order_by(Communication.created_at.desc(), Communication.id.desc())
        .offset(offset).limit(take))
    if take == 0:
        query = query.where(false())
    rows = (await session.execute(query)).all()
    has_next = len(rows) > size
    items = [CommunicationHit(m.id, m.created_at, m.direction, m.media, m.subject, m.state,
                              m.contact_id, c.display_name if c else None)
             for m, c in rows[:size]]
    return ResultPage(items, number, size, has_next)
