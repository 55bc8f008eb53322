"""The action panel: only the actions the active definition enables, each validated,
persisted and recorded in the audit trail (who, when, what)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.actions import care, money, people
from callcontrol.cc.actions.base import Action, Context, Outcome
from callcontrol.cc.actions.forms import ActionFailed, Field, validate
from callcontrol.cc.audit import record
from callcontrol.cc.fields import ACTIONS as INFO

REGISTRY: dict[str, Action] = {a.slug: a for a in (*people.ACTIONS, *money.ACTIONS,
                                                    *care.ACTIONS)}
assert set(REGISTRY) == set(INFO), "every catalogued action has an implementation"

__all__ = ["REGISTRY", "ActionFailed", "ActionForbidden", "Context", "Outcome", "available",
           "form_options", "get_action", "run"]


class ActionForbidden(PermissionError):
    """The action is not enabled by the active definition, or not for this user's role."""


def available(ctx: Context) -> list[str]:
    """The actions to show: enabled, allowed for the role; with no contact chosen only the
    ones that need none (log a person or company, retrieve a voucher's secret)."""
    return [slug for slug in ctx.settings.allowed_actions
            if ctx.user.role in REGISTRY[slug].roles
            and (ctx.contact is not None or not INFO[slug].needs_contact)]


def get_action(slug: str, ctx: Context) -> Action:
    action = REGISTRY.get(slug)
    if action is None:
        raise LookupError(f"no action {slug!r}")
    if slug not in ctx.settings.allowed_actions:
        raise ActionForbidden(f"{INFO[slug].label} is not enabled in the active definition")
    if ctx.user.role not in action.roles:
        raise ActionForbidden(f"{INFO[slug].label} is not available to the role "
                              f"{ctx.user.role}")
    if INFO[slug].needs_contact and ctx.contact is None:
        raise ActionFailed({"": "choose a contact first"})
    return action


async def form_options(session: AsyncSession, action: Action,
                       ctx: Context) -> dict[str, list[tuple[str, str]]]:
    """The choices of each field: fixed ones, or the contact's records for selects."""
    options: dict[str, list[tuple[str, str]]] = {}
    for f in action.fields:
        if f.options is not None and ctx.contact is not None:
            options[f.name] = await f.options(session, ctx.contact)
        elif f.choices:
            options[f.name] = list(f.choices)
    return options


def _allowed(fields: list[Field], options: Mapping[str, list[tuple[str, str]]]
             ) -> dict[str, set[str]]:
    return {f.name: {value for value, _ in options.get(f.name, [])}
            for f in fields if f.kind == "select"}


async def run(session: AsyncSession, slug: str, ctx: Context,
              form: Mapping[str, str]) -> Outcome:
    """Validate ``form`` and perform the action; the caller commits the transaction."""
    action = get_action(slug, ctx)
    options = await form_options(session, action, ctx)
    values: dict[str, Any] = validate(action.fields, form, ctx.settings.region,
                                      _allowed(action.fields, options))
    submit = form.get("submit") or action.submit[0][0]
    if submit not in {name for name, _ in action.submit}:
        raise ActionFailed({"": "unknown submit button"})
    values["_submit"] = submit
    outcome = await action.perform(session, ctx, values)
    await record(session, ctx.user.id, f"action.{slug}", outcome.entity, outcome.entity_id,
                 {"contact_id": outcome.contact_id, "message": outcome.message})
    return outcome
