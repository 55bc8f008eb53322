"""Communications after creation: edit a draft, complete it, follow it up; templates whose
tags fill subject and content from the contact (sandboxed Jinja2, errors never a 500)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.actions.care import DIRECTIONS, MEDIA
from callcontrol.cc.actions.forms import ActionFailed, Field, validate
from callcontrol.cc.audit import record
from callcontrol.crm.models import (
    AccountReceivable,
    Communication,
    CommunicationTemplate,
    Contact,
    Job,
    Subscription,
    User,
)

EDIT_FIELDS = [
    Field("direction", "Direction", "choice", required=True, choices=DIRECTIONS),
    Field("media", "Media", "choice", required=True, choices=MEDIA),
    Field("category", "Category", max_length=64),
    Field("subject", "Subject", required=True),
    Field("content", "Content", "textarea", max_length=10000),
]
TEMPLATE_FIELDS = [
    Field("name", "Name", required=True, max_length=100),
    Field("media", "Media", "choice", required=True, choices=MEDIA),
    Field("subject", "Subject", max_length=200),
    Field("content", "Content", "textarea", max_length=20000),
]
_RECORDING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_OUTPUT = 100_000


class TemplateProblem(ValueError):
    """A template that cannot be rendered; the message says where and why."""


class _Sandbox(ImmutableSandboxedEnvironment):
    """No huge strings or numbers from ``*`` and ``**`` in a template (memory safety)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            raise TemplateProblem("the ** operator is not available in templates")
        if isinstance(left, str | list) and isinstance(right, int) and \
                len(left) * right > MAX_OUTPUT or isinstance(right, str | list) and \
                isinstance(left, int) and len(right) * left > MAX_OUTPUT:
            raise TemplateProblem("the template would produce too much text")
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False)
TAG_HELP = ("contact.name, contact.first_name, contact.last_name, contact.code, "
            "accounts[0].number / .balance / .currency, subscriptions[0].number / "
            ".billing_terms, jobs[0].subject / .state")


async def tag_values(session: AsyncSession, contact: Contact) -> dict[str, Any]:
    """What template tags can use: plain values only, never ORM objects."""
    accounts = (await session.scalars(select(AccountReceivable).where(
        AccountReceivable.contact_id == contact.id).order_by(AccountReceivable.id)
        .limit(20))).all()
    subs = (await session.scalars(select(Subscription).join(
        AccountReceivable, AccountReceivable.id == Subscription.account_id).where(
        AccountReceivable.contact_id == contact.id).order_by(Subscription.id).limit(20))).all()
    jobs = (await session.scalars(select(Job).where(Job.contact_id == contact.id)
                                  .order_by(Job.id.desc()).limit(20))).all()
    return {
        "contact": {"name": contact.display_name, "first_name": contact.first_name or "",
                    "last_name": contact.last_name or "", "code": contact.code,
                    "company_name": contact.company_name or ""},
        "accounts": [{"number": a.number, "balance": str(a.balance), "currency": a.currency}
                     for a in accounts],
        "subscriptions": [{"number": s.number, "state": s.state,
                           "billing_terms": s.billing_terms or ""} for s in subs],
        "jobs": [{"subject": j.subject, "state": j.state, "type": j.type or ""} for j in jobs],
    }


def render_text(source: str, values: Mapping[str, Any]) -> str:
    try:
        text = _ENV.from_string(source).render(values)
        if len(text) > MAX_OUTPUT:
            raise TemplateProblem("the template would produce too much text")
        return text
    except TemplateProblem:
        raise
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        raise TemplateProblem(f"the template cannot be used{where}: {exc.message or exc}") \
            from None
    except (ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateProblem(f"the template cannot be used: {exc}") from None


async def fill_from_template(session: AsyncSession, template_id: str,
                             contact: Contact) -> dict[str, str]:
    if not template_id.isdigit():
        raise ActionFailed({"template": "choose one of the templates"})
    template = await session.get(CommunicationTemplate, int(template_id))
    if template is None:
        raise ActionFailed({"template": "choose one of the templates"})
    values = await tag_values(session, contact)
    try:
        return {"subject": render_text(template.subject, values)[:200],
                "content": render_text(template.content, values), "media": template.media}
    except TemplateProblem as exc:
        raise ActionFailed({"template": str(exc)}) from None


async def template_options(session: AsyncSession, _contact: Any) -> list[tuple[str, str]]:
    rows = (await session.execute(select(CommunicationTemplate.id, CommunicationTemplate.name)
                                  .order_by(CommunicationTemplate.name).limit(200))).all()
    return [(str(i), name) for i, name in rows]


async def update(session: AsyncSession, user: User, comm: Communication,
                 form: Mapping[str, str], complete: bool, region: str) -> None:
    if comm.state == "completed":
        raise ActionFailed({"": "a completed communication can no longer be changed; "
                                "follow it up instead"})
    v = validate(EDIT_FIELDS, form, region, {})
    for name in ("direction", "media", "category", "subject", "content"):
        setattr(comm, name, v[name])
    if complete:
        comm.state = "completed"
    await session.flush()
    await record(session, user.id, "communication.complete" if complete else
                 "communication.update", "communication", comm.id)


async def follow_up(session: AsyncSession, user: User, comm: Communication) -> Communication:
    """A new draft linked to ``comm`` (its parent), for the same contact and category."""
    row = Communication(direction="outgoing", media=comm.media, category=comm.category,
                        subject=f"Follow-up: {comm.subject}"[:200], contact_id=comm.contact_id,
                        agent_id=user.id, parent_id=comm.id, state="draft")
    session.add(row)
    await session.flush()
    await record(session, user.id, "communication.follow_up", "communication", row.id,
                 {"parent": comm.id})
    return row


def recording_path(directory: Path, name: str | None) -> Path | None:
    """The recording's file inside ``directory``; None for a missing or unsafe name."""
    if not name or not _RECORDING.match(name) or ".." in name:
        return None
    path = directory / (name if name.endswith(".wav") else f"{name}.wav")
    return path if path.is_file() else None


async def save_template(session: AsyncSession, user: User, form: Mapping[str, str],
                        template_id: int | None, region: str) -> CommunicationTemplate:
    v = validate(TEMPLATE_FIELDS, form, region, {})
    for key in ("subject", "content"):
        try:
            _ENV.parse(v[key] or "")
        except TemplateError as exc:
            raise ActionFailed({key: f"the template does not parse: {exc}"}) from None
    clash = await session.scalar(select(CommunicationTemplate.id).where(
        CommunicationTemplate.name == v["name"],
        CommunicationTemplate.id != (template_id or -1)))
    if clash is not None:
        raise ActionFailed({"name": "another template already has this name"})
    row = CommunicationTemplate() if template_id is None else \
        await session.get(CommunicationTemplate, template_id)
    if row is None:
        raise LookupError(f"no template {template_id}")
    row.name, row.media = v["name"], v["media"]
    row.subject, row.content = v["subject"] or "", v["content"] or ""
    session.add(row)
    await session.flush()
    await record(session, user.id, "template.save", "template", row.id, {"name": row.name})
    return row
