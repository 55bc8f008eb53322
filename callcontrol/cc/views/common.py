"""What the Centre's page handlers share: the settings of the active definition, the
database session, and one-shot notices carried across a redirect."""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import get_session
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.app import CONFIG
from callcontrol.cc.definitions import active_definition
from callcontrol.cc.settings import Settings
from callcontrol.web.auth import SESSIONS

NOTICE = "cc_notice"
# Who may change customer records (engineers read the Centre, they do not serve customers).
WRITE_ROLES = ("agent", "supervisor", "admin")


async def load_settings(request: web.Request) -> Settings:
    async with request.app[SESSIONS]() as session, session.begin():
        return await settings_in(request, session)


async def settings_in(request: web.Request, session: AsyncSession) -> Settings:
    """The settings, read in the caller's transaction (which commits: the default
    definition is created when there is none)."""
    definition = await active_definition(session)
    return Settings.from_definition(definition, request.app[CONFIG].default_region)


def path_id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info.get(name, "")
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


def query_id(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 12:
        raise web.HTTPBadRequest(reason="the contact id must be a number")
    return int(value)


async def set_notice(request: web.Request, message: str) -> None:
    (await get_session(request))[NOTICE] = message[:300]


async def pop_notice(request: web.Request) -> str | None:
    session = await get_session(request)
    return session.pop(NOTICE, None)


def pager(request: web.Request, results: object) -> dict[str, str | None]:
    """Previous/next links that keep the current query and change only the page."""
    if results is None:
        return {"prev": None, "next": None}
    query = dict(request.query)

    def url(number: int) -> str:
        query["page"] = str(number)
        return str(request.rel_url.with_query(query))

    page_number = getattr(results, "page", 1)
    return {"prev": url(page_number - 1) if getattr(results, "has_previous", False) else None,
            "next": url(page_number + 1) if getattr(results, "has_next", False) else None}
