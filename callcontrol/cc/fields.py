"""The catalogue of searchable fields and of actions a definition can enable.

A field key is ``<entity>.<field>``; the entities are the criteria sections of the seeds
(contact information, address, accounts receivable, subscriptions, access tokens, reward
participants). Keys are what definitions store, forms post and the API accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

ENTITIES: dict[str, str] = {
    "contact": "Contact information",
    "address": "Address",
    "account": "Accounts receivable",
    "subscription": "Subscriptions",
    "access_token": "Access tokens",
    "reward_participant": "Reward participants",
}

# How a value is compared: "words" (a name: 'Like' matches words), "token" (one word:
# numbers, codes, e-mail), "phone" (E.164 digits), "choice" (one of ``choices``).
KINDS = ("words", "token", "phone", "choice")


@dataclass(frozen=True)
class SearchField:
    key: str
    label: str
    kind: str
    quick: bool = True
    choices: tuple[str, ...] = ()

    @property
    def entity(self) -> str:
        return self.key.split(".", 1)[0]


FIELDS: dict[str, SearchField] = {f.key: f for f in (
    SearchField("contact.name", "Name", "words"),
    SearchField("contact.code", "Contact code", "token"),
    SearchField("contact.phone", "Phone number", "phone"),
    SearchField("contact.email", "E-mail", "token"),
    SearchField("contact.kind", "Type", "choice", quick=False, choices=("person", "company")),
    SearchField("address.line1", "Street", "words"),
    SearchField("address.city", "City", "words"),
    SearchField("address.postal_code", "Postal code", "token"),
    SearchField("address.country", "Country", "token"),
    SearchField("account.number", "Account number", "token"),
    SearchField("subscription.number", "Subscription number", "token"),
    SearchField("subscription.billing_terms", "Billing terms", "token"),
    SearchField("access_token.number", "Access token", "token"),
    SearchField("reward_participant.number", "Rewards participant number", "token"),
    SearchField("reward_participant.scheme", "Reward scheme", "words"),
)}

ADDRESS_SCOPES = ("any", "subscription", "billing")

DEFAULT_QUICK = ("contact.name", "contact.phone", "contact.code", "contact.email",
                 "account.number", "subscription.number", "access_token.number")
DEFAULT_ADVANCED = tuple(FIELDS)


@dataclass(frozen=True)
class ActionInfo:
    slug: str
    label: str
    needs_contact: bool


ACTIONS: dict[str, ActionInfo] = {a.slug: a for a in (
    ActionInfo("log-person", "Log person", False),
    ActionInfo("log-company", "Log company", False),
    ActionInfo("retrieve-voucher-secret", "Retrieve voucher secret number", False),
    ActionInfo("create-account", "Create accounts receivable", True),
    ActionInfo("become-subscriber", "Become subscriber", True),
    ActionInfo("pay-bill", "Pay a bill", True),
    ActionInfo("use-voucher", "Use voucher", True),
    ActionInfo("schedule-activity", "Schedule an activity", True),
    ActionInfo("plan-job", "Plan a job", True),
    ActionInfo("create-communication", "Create a communication", True),
    ActionInfo("raise-service-request", "Raise a service request", True),
    ActionInfo("take-lead", "Take a lead", True),
)}
