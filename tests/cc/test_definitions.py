"""Definitions: a default one, exactly one active (enforced by the database), validation."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from callcontrol.cc import definitions as defs
from callcontrol.cc.settings import Settings
from callcontrol.crm.models import AuditEntry
from callcontrol.crm.models import CommunicationCentreDefinition as Definition
from callcontrol.web.secrets import SecretBox

BOX = SecretBox(b"k" * 32)


def form(**extra: str) -> dict[str, str]:
    base = {"name": "Evening shift", "default_search_operator": "=", "number_of_records": "5",
            "communications_limit": "", "quick:contact.phone": "on",
            "quick_order:contact.phone": "2", "quick:contact.name": "on",
            "quick_order:contact.name": "1", "advanced:address.city": "on",
            "cti_provider": "asterisk", "cti_host": "pbx.example.org", "cti_port": "8088",
            "cti_username": "crm", "cti_password": "s3cret!"}
    base.update(extra)
    return base


async def test_a_default_definition_is_created_when_none_exists(db) -> None:
    async with db.sessions() as session, session.begin():
        first = await defs.active_definition(session)
    async with db.sessions() as session, session.begin():
        again = await defs.active_definition(session)
        count = await session.scalar(select(func.count()).select_from(Definition))
    assert first is not None and again is not None
    assert first.id == again.id and first.active and count == 1
    settings = Settings.from_definition(first)
    assert "contact.name" in settings.quick_fields and "pay-bill" in settings.allowed_actions


async def test_the_database_refuses_two_active_definitions(db) -> None:
    async with db.sessions() as session, session.begin():
        await defs.active_definition(session)
    with pytest.raises(IntegrityError):
        async with db.sessions() as session, session.begin():
            session.add(Definition(name="Second", active=True, search_fields={},
                                   allowed_actions=[]))


async def test_activating_one_deactivates_the_other_in_one_transaction(db) -> None:
    async with db.sessions() as session, session.begin():
        default = await defs.active_definition(session)
        other = await defs.save(session, defs.parse_form(form(), ["pay-bill"]), BOX, None)
    async with db.sessions() as session, session.begin():
        await defs.activate(session, other.id, None)
    async with db.sessions() as session:
        active = (await session.scalars(
            select(Definition.id).where(Definition.active.is_(True)))).all()
        audit = await session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "definition.activate"))
    assert active == [other.id] and default.id != other.id and audit == 1


async def test_form_keeps_field_order_and_encrypts_the_password(db) -> None:
    data = defs.parse_form(form(), ["pay-bill", "log-person"])
    assert data.values["search_fields"] == {"quick": ["contact.name", "contact.phone"],
                                            "advanced": ["address.city"]}
    assert data.values["allowed_actions"] == ["log-person", "pay-bill"]
    async with db.sessions() as session, session.begin():
        saved = await defs.save(session, data, BOX, None)
    assert saved.cti_password_encrypted and b"s3cret" not in saved.cti_password_encrypted
    assert defs.cti_password(saved, BOX) == "s3cret!"
    async with db.sessions() as session, session.begin():  # blank password keeps it
        kept = await defs.save(session, defs.parse_form(form(cti_password=""), []), BOX,
                               None, saved.id)
    assert defs.cti_password(kept, BOX) == "s3cret!"


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"default_search_operator": "~"}, "default_search_operator"),
    ({"number_of_records": "0"}, "number_of_records"),
    ({"number_of_records": "-3"}, "number_of_records"),
    ({"communications_limit": "lots"}, "communications_limit"),
    ({"cti_provider": "skype"}, "cti_provider"),
    ({"cti_host": "bad host;rm -rf"}, "cti_host"),
    ({"cti_port": "70000"}, "cti_port"),
    ({"cti_host": ""}, "cti_host"),
    ({"quick:contact.kind": "on"}, "quick:contact.kind"),
    ({"quick_order:contact.name": "first"}, "quick_order:contact.name"),
])
def test_invalid_definition_forms_name_the_field(changes, field) -> None:
    with pytest.raises(defs.DefinitionError) as caught:
        defs.parse_form(form(**changes), [])
    assert field in caught.value.errors


def test_unknown_actions_are_refused() -> None:
    with pytest.raises(defs.DefinitionError) as caught:
        defs.parse_form(form(), ["launch-missiles"])
    assert "allowed_actions" in caught.value.errors


async def test_names_are_unique_and_active_definitions_cannot_be_deleted(db) -> None:
    async with db.sessions() as session, session.begin():
        default = await defs.active_definition(session)
        with pytest.raises(defs.DefinitionError):
            await defs.save(session, defs.parse_form(form(name="Default"), []), BOX, None)
    async with db.sessions() as session, session.begin():
        with pytest.raises(defs.DefinitionError):
            await defs.delete(session, default.id, None)


def test_settings_ignore_unknown_keys_and_cap_pages() -> None:
    d = Definition(name="x", number_of_records=None, default_search_operator="=",
                   search_fields={"quick": ["contact.name", "evil.field"], "advanced": "x"},
                   allowed_actions=["pay-bill", "nope"], communications_limit=3)
    s = Settings.from_definition(d)
    assert s.quick_fields == ("contact.name",) and s.advanced_fields == ()
    assert s.allowed_actions == ("pay-bill",) and s.page_size == 100
    assert s.section_limit is None
