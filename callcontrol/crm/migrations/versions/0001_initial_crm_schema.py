"""initial CRM schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 07:21:15.872380
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcontrol.crm.models.base import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "communication_centre_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("number_of_records", sa.Integer(), nullable=True),
        sa.Column("default_search_operator", sa.String(length=8), nullable=False),
        sa.Column("communications_limit", sa.Integer(), nullable=True),
        sa.Column("search_fields", sa.JSON(), nullable=False),
        sa.Column("allowed_actions", sa.JSON(), nullable=False),
        sa.Column("cti_provider", sa.String(length=16), nullable=True),
        sa.Column("cti_host", sa.String(length=255), nullable=True),
        sa.Column("cti_port", sa.Integer(), nullable=True),
        sa.Column("cti_username", sa.String(length=100), nullable=True),
        sa.Column("cti_password_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("log_unhandled_events", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.CheckConstraint(
            "cti_provider IN ('asterisk', 'event_listener')",
            name=op.f("ck_communication_centre_definitions_cti"),
        ),
        sa.CheckConstraint(
            "default_search_operator IN ('=', 'like')",
            name=op.f("ck_communication_centre_definitions_operator"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communication_centre_definitions")),
        sa.UniqueConstraint("name", name=op.f("uq_communication_centre_definitions_name")),
    )
    with op.batch_alter_table("communication_centre_definitions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_communication_centre_definitions_one_active",
            ["active"],
            unique=True,
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )

    op.create_table(
        "communication_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("media", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communication_templates")),
        sa.UniqueConstraint("name", name=op.f("uq_communication_templates_name")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=32), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("middle_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("search_name", sa.String(length=400), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("vip", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.CheckConstraint("kind IN ('person', 'company')", name=op.f("ck_contacts_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("code", name=op.f("uq_contacts_code")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contacts_search_name_trgm",
            ["search_name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        )

    op.create_table(
        "reward_schemes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_schemes")),
        sa.UniqueConstraint("name", name=op.f("uq_reward_schemes_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("extension", sa.String(length=16), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.CheckConstraint(
            "role IN ('agent', 'supervisor', 'admin', 'engineer')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("extension", name=op.f("uq_users_extension")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_access_tokens_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_tokens")),
        sa.UniqueConstraint("number", name=op.f("uq_access_tokens_number")),
    )
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_access_tokens_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "accounts_receivable",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_accounts_receivable_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts_receivable")),
        sa.UniqueConstraint("number", name=op.f("uq_accounts_receivable_number")),
    )
    with op.batch_alter_table("accounts_receivable", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounts_receivable_contact_id"), ["contact_id"], unique=False
        )

    op.create_table(
        "addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("line1", sa.String(length=200), nullable=False),
        sa.Column("line2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("district", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "type IN ('subscription', 'billing', 'other')", name=op.f("ck_addresses_type")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_addresses_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_addresses")),
    )
    with op.batch_alter_table("addresses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_addresses_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_addresses_postal_code"), ["postal_code"], unique=False)

    op.create_table(
        "agent_state_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agent_state_changes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_state_changes")),
    )
    with op.batch_alter_table("agent_state_changes", schema=None) as batch_op:
        batch_op.create_index("ix_agent_state_changes_user_at", ["user_id", "at"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "last_used_at", UTCDateTime(), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=True),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_audit_entries_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entries_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entries_user_id"), ["user_id"], unique=False)

    op.create_table(
        "communications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("media", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("caller_number", sa.String(length=32), nullable=True),
        sa.Column("called_number", sa.String(length=32), nullable=True),
        sa.Column(
            "started_at", UTCDateTime(), nullable=True
        ),
        sa.Column(
            "answered_at", UTCDateTime(), nullable=True
        ),
        sa.Column(
            "ended_at", UTCDateTime(), nullable=True
        ),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("hangup_cause", sa.String(length=64), nullable=True),
        sa.Column("recording", sa.String(length=255), nullable=True),
        sa.Column("recording_pauses", sa.JSON(), nullable=True),
        sa.Column("transfers", sa.JSON(), nullable=True),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound')", name=op.f("ck_communications_direction")
        ),
        sa.CheckConstraint("state IN ('draft', 'completed')", name=op.f("ck_communications_state")),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_communications_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_communications_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["communications.id"],
            name=op.f("fk_communications_parent_id_communications"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communications")),
    )
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_communications_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_communications_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_communications_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_communications_parent_id"), ["parent_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_communications_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_emails_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emails")),
    )
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emails_address"), ["address"], unique=False)
        batch_op.create_index(batch_op.f("ix_emails_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["users.id"],
            name=op.f("fk_jobs_assigned_to_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_jobs_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_state"), ["state"], unique=False)

    op.create_table(
        "leads",
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["users.id"],
            name=op.f("fk_leads_assigned_to_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_leads_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_state"), ["state"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["users.id"],
            name=op.f("fk_notifications_assigned_to_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_notifications_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_notifications_state"), ["state"], unique=False)

    op.create_table(
        "phones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("raw", sa.String(length=64), nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_phones_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phones")),
    )
    with op.batch_alter_table("phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_phones_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_phones_e164"), ["e164"], unique=False)

    op.create_table(
        "related_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_related_contacts_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["related_id"],
            ["contacts.id"],
            name=op.f("fk_related_contacts_related_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_related_contacts")),
    )
    with op.batch_alter_table("related_contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_related_contacts_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_related_contacts_related_id"), ["related_id"], unique=False
        )

    op.create_table(
        "reward_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("scheme_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("points", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_reward_participants_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scheme_id"],
            ["reward_schemes.id"],
            name=op.f("fk_reward_participants_scheme_id_reward_schemes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_participants")),
        sa.UniqueConstraint("number", name=op.f("uq_reward_participants_number")),
    )
    with op.batch_alter_table("reward_participants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reward_participants_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reward_participants_scheme_id"), ["scheme_id"], unique=False
        )

    op.create_table(
        "service_requests",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["users.id"],
            name=op.f("fk_service_requests_assigned_to_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_service_requests_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
        sa.UniqueConstraint("number", name=op.f("uq_service_requests_number")),
    )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_requests_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_service_requests_state"), ["state"], unique=False)

    op.create_table(
        "vouchers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("serial_number", sa.String(length=32), nullable=False),
        sa.Column("secret_number", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_vouchers_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("secret_number", name=op.f("uq_vouchers_secret_number")),
        sa.UniqueConstraint("serial_number", name=op.f("uq_vouchers_serial_number")),
    )
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vouchers_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "activities",
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("service_request_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assigned_to_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["assigned_to_id"],
            ["users.id"],
            name=op.f("fk_activities_assigned_to_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_activities_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_activities_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["service_request_id"],
            ["service_requests.id"],
            name=op.f("fk_activities_service_request_id_service_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activities_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activities_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_activities_service_request_id"), ["service_request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_activities_state"), ["state"], unique=False)

    op.create_table(
        "bills",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column(
            "issued_at", UTCDateTime(), nullable=False
        ),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts_receivable.id"],
            name=op.f("fk_bills_account_id_accounts_receivable"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bills")),
        sa.UniqueConstraint("number", name=op.f("uq_bills_number")),
    )
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bills_account_id"), ["account_id"], unique=False)

    op.create_table(
        "financial_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column(
            "posted_at", UTCDateTime(), nullable=False
        ),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts_receivable.id"],
            name=op.f("fk_financial_transactions_account_id_accounts_receivable"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_financial_transactions")),
    )
    with op.batch_alter_table("financial_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_financial_transactions_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "flash_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "expires_at", UTCDateTime(), nullable=True
        ),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts_receivable.id"],
            name=op.f("fk_flash_notes_account_id_accounts_receivable"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_flash_notes_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flash_notes")),
    )
    with op.batch_alter_table("flash_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flash_notes_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_flash_notes_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column(
            "paid_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts_receivable.id"],
            name=op.f("fk_payments_account_id_accounts_receivable"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_account_id"), ["account_id"], unique=False)

    op.create_table(
        "reward_transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "type IN ('award', 'spend', 'expiration')", name=op.f("ck_reward_transactions_type")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["reward_participants.id"],
            name=op.f("fk_reward_transactions_participant_id_reward_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reward_transactions")),
    )
    with op.batch_alter_table("reward_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reward_transactions_participant_id"), ["participant_id"], unique=False
        )

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("billing_terms", sa.String(length=64), nullable=True),
        sa.Column(
            "started_at", UTCDateTime(), nullable=True
        ),
        sa.Column(
            "created_at", UTCDateTime(), nullable=False
        ),
        sa.Column(
            "updated_at", UTCDateTime(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts_receivable.id"],
            name=op.f("fk_subscriptions_account_id_accounts_receivable"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("number", name=op.f("uq_subscriptions_number")),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscriptions_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "wallets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts_receivable.id"],
            name=op.f("fk_wallets_account_id_accounts_receivable"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallets")),
        sa.UniqueConstraint("number", name=op.f("uq_wallets_number")),
    )
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallets_account_id"), ["account_id"], unique=False)

    op.create_table(
        "installed_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("serial_number", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_installed_items_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installed_items")),
    )
    with op.batch_alter_table("installed_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_installed_items_serial_number"), ["serial_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_installed_items_subscription_id"), ["subscription_id"], unique=False
        )

    op.create_table(
        "subscription_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["subscriptions.id"],
            name=op.f("fk_subscription_services_subscription_id_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_services")),
    )
    with op.batch_alter_table("subscription_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_services_subscription_id"),
            ["subscription_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_services_subscription_id"))

    op.drop_table("subscription_services")
    with op.batch_alter_table("installed_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_installed_items_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_installed_items_serial_number"))

    op.drop_table("installed_items")
    with op.batch_alter_table("wallets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallets_account_id"))

    op.drop_table("wallets")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_account_id"))

    op.drop_table("subscriptions")
    with op.batch_alter_table("reward_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_transactions_participant_id"))

    op.drop_table("reward_transactions")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_account_id"))

    op.drop_table("payments")
    with op.batch_alter_table("flash_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flash_notes_contact_id"))
        batch_op.drop_index(batch_op.f("ix_flash_notes_account_id"))

    op.drop_table("flash_notes")
    with op.batch_alter_table("financial_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_financial_transactions_account_id"))

    op.drop_table("financial_transactions")
    with op.batch_alter_table("bills", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bills_account_id"))

    op.drop_table("bills")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_state"))
        batch_op.drop_index(batch_op.f("ix_activities_service_request_id"))
        batch_op.drop_index(batch_op.f("ix_activities_job_id"))
        batch_op.drop_index(batch_op.f("ix_activities_contact_id"))

    op.drop_table("activities")
    with op.batch_alter_table("vouchers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vouchers_contact_id"))

    op.drop_table("vouchers")
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_requests_state"))
        batch_op.drop_index(batch_op.f("ix_service_requests_contact_id"))

    op.drop_table("service_requests")
    with op.batch_alter_table("reward_participants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reward_participants_scheme_id"))
        batch_op.drop_index(batch_op.f("ix_reward_participants_contact_id"))

    op.drop_table("reward_participants")
    with op.batch_alter_table("related_contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_related_contacts_related_id"))
        batch_op.drop_index(batch_op.f("ix_related_contacts_contact_id"))

    op.drop_table("related_contacts")
    with op.batch_alter_table("phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phones_e164"))
        batch_op.drop_index(batch_op.f("ix_phones_contact_id"))

    op.drop_table("phones")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_state"))
        batch_op.drop_index(batch_op.f("ix_notifications_contact_id"))

    op.drop_table("notifications")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_state"))
        batch_op.drop_index(batch_op.f("ix_leads_contact_id"))

    op.drop_table("leads")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_state"))
        batch_op.drop_index(batch_op.f("ix_jobs_contact_id"))

    op.drop_table("jobs")
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emails_contact_id"))
        batch_op.drop_index(batch_op.f("ix_emails_address"))

    op.drop_table("emails")
    with op.batch_alter_table("communications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_communications_started_at"))
        batch_op.drop_index(batch_op.f("ix_communications_parent_id"))
        batch_op.drop_index(batch_op.f("ix_communications_contact_id"))
        batch_op.drop_index(batch_op.f("ix_communications_call_id"))
        batch_op.drop_index(batch_op.f("ix_communications_agent_id"))

    op.drop_table("communications")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_at"))

    op.drop_table("audit_entries")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("agent_state_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_agent_state_changes_user_at")

    op.drop_table("agent_state_changes")
    with op.batch_alter_table("addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_addresses_postal_code"))
        batch_op.drop_index(batch_op.f("ix_addresses_contact_id"))

    op.drop_table("addresses")
    with op.batch_alter_table("accounts_receivable", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_receivable_contact_id"))

    op.drop_table("accounts_receivable")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_tokens_contact_id"))

    op.drop_table("access_tokens")
    op.drop_table("users")
    op.drop_table("reward_schemes")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_contacts_search_name_trgm",
            postgresql_using="gin",
            postgresql_ops={"search_name": "gin_trgm_ops"},
        )

    op.drop_table("contacts")
    op.drop_table("communication_templates")
    with op.batch_alter_table("communication_centre_definitions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_communication_centre_definitions_one_active",
            postgresql_where=sa.text("active"),
            sqlite_where=sa.text("active"),
        )

    op.drop_table("communication_centre_definitions")
