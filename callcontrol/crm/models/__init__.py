"""All CRM models, re-exported: ``from callcontrol.crm.models import Contact``."""

from callcontrol.crm.models.base import Base, utcnow
from callcontrol.crm.models.comms import Communication, CommunicationTemplate
from callcontrol.crm.models.contacts import (
    AccessToken,
    Address,
    Contact,
    Email,
    FlashNote,
    ImmutableFieldError,
    Phone,
    RelatedContact,
    fold,
    new_contact_code,
)
from callcontrol.crm.models.finance import (
    AccountReceivable,
    Bill,
    FinancialTransaction,
    InstalledItem,
    Payment,
    Subscription,
    SubscriptionService,
    Voucher,
    Wallet,
)
from callcontrol.crm.models.rewards import (
    CustomerEvent,
    RewardParticipant,
    RewardScheme,
    RewardTransaction,
)
from callcontrol.crm.models.users import (
    ROLES,
    AgentStateChange,
    ApiToken,
    AuditEntry,
    CommunicationCentreDefinition,
    User,
)
from callcontrol.crm.models.work import Activity, Job, Lead, Notification, ServiceRequest

__all__ = [
    "ROLES", "AccessToken", "AccountReceivable", "Activity", "Address", "AgentStateChange",
    "ApiToken", "AuditEntry", "Base", "Bill", "Communication", "CommunicationCentreDefinition",
    "CommunicationTemplate", "Contact", "CustomerEvent", "Email", "FinancialTransaction",
    "FlashNote",
    "ImmutableFieldError", "InstalledItem", "Job", "Lead", "Notification", "Payment", "Phone",
    "RelatedContact", "RewardParticipant", "RewardScheme", "RewardTransaction",
    "ServiceRequest", "Subscription", "SubscriptionService", "User", "Voucher", "Wallet",
    "fold", "new_contact_code", "utcnow",
]
