"""Customer-care actions on the chosen contact: activities, jobs, communications, requests,
leads. New records start in the first open state of their life cycle (seed 000)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.actions.base import Action, Context, Outcome, new_number
from callcontrol.cc.actions.forms import ActionFailed, Field
from callcontrol.crm.models import Activity, Communication, Job, Lead, ServiceRequest, utcnow

JOB_TYPES = tuple((t, t) for t in ("Installation", "Repair", "Maintenance", "Disconnection"))
PRIORITIES = (("low", "Low"), ("normal", "Normal"), ("high", "High"), ("urgent", "Urgent"))
SOURCES = tuple((s, s.title()) for s in ("phone", "web", "referral", "walk-in"))
DIRECTIONS = (("incoming", "Incoming"), ("outgoing", "Outgoing"))
MEDIA = (("phone", "Phone"), ("email", "E-mail"), ("sms", "SMS"), ("letter", "Letter"))

SUBJECT = Field("subject", "Subject", required=True)
DESCRIPTION = Field("description", "Description", "textarea", max_length=5000)


def _contact_id(ctx: Context) -> int:
    assert ctx.contact is not None
    return ctx.contact.id


async def schedule_activity(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    if v["due_at"] < utcnow().replace(second=0, microsecond=0):
        raise ActionFailed({"due_at": "the activity cannot be due in the past"})
    row = Activity(contact_id=_contact_id(ctx), state="Pending", subject=v["subject"],
                   description=v["description"], due_at=v["due_at"], assigned_to_id=ctx.user.id)
    session.add(row)
    await session.flush()
    return Outcome(f"Activity \u201c{row.subject}\u201d was scheduled", "activity", row.id,
                   row.contact_id, "customer")


async def plan_job(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    row = Job(contact_id=_contact_id(ctx), state="Pending", type=v["type"],
              subject=v["subject"], description=v["description"])
    session.add(row)
    await session.flush()
    return Outcome(f"{row.type} job \u201c{row.subject}\u201d was planned", "job", row.id,
                   row.contact_id, "work")


async def create_communication(session: AsyncSession, ctx: Context,
                               v: dict[str, Any]) -> Outcome:
    state = "completed" if v.get("_submit") == "complete" else "draft"
    row = Communication(contact_id=_contact_id(ctx), agent_id=ctx.user.id,
                        direction=v["direction"], media=v["media"], category=v["category"],
                        subject=v["subject"], content=v["content"], state=state,
                        started_at=utcnow())
    session.add(row)
    await session.flush()
    kept = "saved as a draft" if state == "draft" else "saved"
    return Outcome(f"Communication \u201c{row.subject}\u201d was {kept}", "communication",
                   row.id, row.contact_id, "customer")


async def raise_service_request(session: AsyncSession, ctx: Context,
                                v: dict[str, Any]) -> Outcome:
    row = ServiceRequest(contact_id=_contact_id(ctx), number=new_number("SR"),
                         state="Pending", subject=v["subject"], priority=v["priority"],
                         description=v["description"])
    session.add(row)
    await session.flush()
    return Outcome(f"Service request {row.number} was raised", "service_request", row.id,
                   row.contact_id, "work")


async def take_lead(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    row = Lead(contact_id=_contact_id(ctx), state="Pending", subject=v["subject"],
               source=v["source"], description=v["description"], assigned_to_id=ctx.user.id)
    session.add(row)
    await session.flush()
    return Outcome(f"Lead \u201c{row.subject}\u201d was taken", "lead", row.id,
                   row.contact_id, "customer")


ACTIONS = [
    Action("schedule-activity", [
        SUBJECT, Field("due_at", "Due", "datetime", required=True, max_length=32),
        DESCRIPTION], schedule_activity),
    Action("plan-job", [
        Field("type", "Job type", "choice", required=True, choices=JOB_TYPES), SUBJECT,
        DESCRIPTION], plan_job),
    Action("create-communication", [
        Field("direction", "Direction", "choice", required=True, choices=DIRECTIONS),
        Field("media", "Media", "choice", required=True, choices=MEDIA),
        Field("category", "Category", max_length=64), SUBJECT,
        Field("content", "Content", "textarea", max_length=10000)],
        create_communication, submit=(("draft", "Save as draft"), ("complete", "Save"))),
    Action("raise-service-request", [
        SUBJECT, Field("priority", "Priority", "choice", required=True, choices=PRIORITIES),
        DESCRIPTION], raise_service_request),
    Action("take-lead", [
        SUBJECT, Field("source", "Source", "choice", required=True, choices=SOURCES),
        DESCRIPTION], take_lead),
]
