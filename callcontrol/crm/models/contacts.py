"""The contact aggregate: contact information, phones, e-mails, addresses, relations, notes."""

from __future__ import annotations

import secrets
import unicodedata
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from callcontrol.crm.models.base import Base, Timestamps

KINDS = ("person", "company")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_contact_code() -> str:
    return "C-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


#: Letters that carry their "accent" in the letter itself, so Unicode decomposition keeps
#: them: a caller typing "Lukasz" or "Lodz" expects "Łukasz" and "Łódź".
_BASE_LETTERS = str.maketrans({
    "ł": "l", "đ": "d", "ð": "d", "ø": "o", "æ": "ae", "œ": "oe", "ħ": "h", "ı": "i",
    "þ": "th", "ŧ": "t", "ŀ": "l",
})
#: Characters whose folded form differs from plain NFKD-and-strip: names containing them
#: are re-folded by migration 0003fd when this table changes.
FOLD_SPECIAL = "łŁđĐðÐøØæÆœŒħĦıþÞŧŦŀĿ"


def fold(text: str | None) -> str:
    """Lower-case, accents stripped: the form 'Like' searches compare.

    Greek loses its tonos and final sigma, Cyrillic ё becomes е, Polish ł becomes l.
    """
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(
        _BASE_LETTERS)


def display_name_of(kind: str | None, first: str | None, middle: str | None,
                    last: str | None, company: str | None) -> str:
    """A contact's name as people read it: the company's, or the person's name parts."""
    if kind == "company":
        return company or ""
    return " ".join(p for p in (first, middle, last) if p)


def search_name_of(kind: str | None, first: str | None, middle: str | None,
                   last: str | None, company: str | None) -> str:
    """What 'Like' name searches compare (``contacts.search_name``): the folded display
    name, plus a person's company when they have one."""
    display = display_name_of(kind, first, middle, last, company)
    extra = company if company and company != display else None
    return fold(" ".join(p for p in (display, extra) if p))[:400]


class ImmutableFieldError(ValueError):
    """A contact's kind or code may not change after creation."""


class Contact(Timestamps, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        CheckConstraint("kind IN ('person', 'company')", name="kind"),
        Index(
            "ix_contacts_search_name_trgm", "search_name",
            postgresql_using="gin", postgresql_ops={"search_name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, default=new_contact_code)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    company_name: Mapped[str | None] = mapped_column(String(200))
    search_name: Mapped[str] = mapped_column(String(400), default="")
    language: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    vip: Mapped[bool] = mapped_column(Boolean, default=False)

    phones: Mapped[list[Phone]] = relationship(back_populates="contact", cascade="all")
    emails: Mapped[list[Email]] = relationship(cascade="all")
    addresses: Mapped[list[Address]] = relationship(cascade="all")

    @property
    def display_name(self) -> str:
        return display_name_of(self.kind, self.first_name, self.middle_name, self.last_name,
                               self.company_name)

    @validates("kind", "code")
    def _immutable(self, key: str, value: str) -> str:
        current = self.__dict__.get(key)
        if current is not None and current != value:
            raise ImmutableFieldError(f"contact {key} is immutable")
        if key == "kind" and value not in KINDS:
            raise ValueError(f"contact kind must be one of {KINDS}")
        return value


def _refresh_search_name(_mapper: object, _conn: object, target: Contact) -> None:
    target.search_name = search_name_of(target.kind, target.first_name, target.middle_name,
                                        target.last_name, target.company_name)


event.listen(Contact, "before_insert", _refresh_search_name)
event.listen(Contact, "before_update", _refresh_search_name)


class Phone(Base):
    __tablename__ = "phones"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    raw: Mapped[str] = mapped_column(String(64))
    e164: Mapped[str | None] = mapped_column(String(20), index=True)
    type: Mapped[str] = mapped_column(String(16), default="mobile")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    contact: Mapped[Contact] = relationship(back_populates="phones")


class Email(Base):
    __tablename__ = "emails"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    address: Mapped[str] = mapped_column(String(254), index=True)
    type: Mapped[str] = mapped_column(String(16), default="personal")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class Address(Base):
    __tablename__ = "addresses"
    __table_args__ = (
        CheckConstraint("type IN ('subscription', 'billing', 'other')", name="type"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    type: Mapped[str] = mapped_column(String(16))
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20), index=True)
    district: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class RelatedContact(Base):
    __tablename__ = "related_contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    related_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    relation: Mapped[str] = mapped_column(String(50))


class FlashNote(Timestamps, Base):
    """An urgent note shown on the screen pop until it expires."""

    __tablename__ = "flash_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts_receivable.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column()


class AccessToken(Timestamps, Base):
    """A customer-facing token or card number, searchable from the Communication Centre."""

    __tablename__ = "access_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(32), default="card")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
