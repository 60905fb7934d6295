"""The hub's own records: agencies, their connections, the event inbox and the links."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.crypto import new_token, vault
from hub.extensions import db


def utcnow() -> datetime:
    """Return the current time in UTC, without a time zone, as the database keeps it."""
    return datetime.now(UTC).replace(tzinfo=None)


class Agency(db.Model):
    """A home-care agency: one HubSpot portal and one ClearCare agency, kept in sync."""

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    #: Agency-level facts both connectors need: ``required_fields``,
    #: ``status_overrides`` and the like. Written by the core.
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    locations: Mapped[list[Location]] = relationship(
        back_populates="agency", order_by="Location.name", cascade="all, delete-orphan"
    )
    connections: Mapped[list[Connection]] = relationship(
        back_populates="agency", cascade="all, delete-orphan"
    )

    def connection(self, connector: str) -> Connection | None:
        """Return the agency's connection to a connector, if it has one."""
        return next((c for c in self.connections if c.connector == connector), None)

    @property
    def required_fields(self) -> list[str]:
        """Return the prospect fields the agency's care system requires."""
        return list(self.settings.get("required_fields", ["first_name", "last_name"]))

    @property
    def status_overrides(self) -> dict[str, dict[str, str]]:
        """Return native status values the agency set by hand, per connector."""
        return dict(self.settings.get("status_overrides", {}))

    def __repr__(self) -> str:
        return f"<Agency {self.slug}>"


class Location(db.Model):
    """One of an agency's care locations, as its care system names it."""

    __table_args__ = (sa.UniqueConstraint("agency_id", "remote_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    remote_id: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)

    agency: Mapped[Agency] = relationship(back_populates="locations")


class Role(enum.StrEnum):
    OPERATOR = "operator"
    ADMIN = "admin"


class User(db.Model):
    """Someone who signs in: an operator (all agencies) or an agency's admin."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default=Role.ADMIN.value)
    agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agency.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency | None] = relationship()


class SignInFailure(db.Model):
    """Wrong sign-ins in a row for one email, whether or not anyone has it, kept
    under a keyed hash of the email so the table names no one."""

    email_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Connection(db.Model):
    """One agency's link to one connector: credentials, settings, provisioned ids."""

    __table_args__ = (sa.UniqueConstraint("agency_id", "connector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    connector: Mapped[str] = mapped_column(sa.String(64))
    #: The settings that are not secret.
    settings: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: The secret settings, encrypted as one JSON document.
    credentials_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    #: What the connector keeps about the remote: provisioned ids, the portal id.
    state: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: Names the remote account for people, as ``connect`` said it.
    account: Mapped[str | None] = mapped_column(sa.String(200))
    connected_at: Mapped[datetime | None]
    credential_added_at: Mapped[datetime | None]
    credential_rotated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="connections")
    endpoints: Mapped[list[WebhookEndpoint]] = relationship(
        back_populates="connection", cascade="all, delete-orphan"
    )
    steps: Mapped[list[ProvisioningStep]] = relationship(
        back_populates="connection",
        cascade="all, delete-orphan",
        order_by="ProvisioningStep.position",
    )

    @property
    def credentials(self) -> dict[str, Any]:
        """Return the decrypted secret settings."""
        return vault().decrypt_json(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, value: dict[str, Any]) -> None:
        self.credentials_encrypted = vault().encrypt_json(value) if value else None

    def setting(self, name: str, default: Any = None) -> Any:
        """Return one setting, secret or not."""
        if name in (self.settings or {}):
            return self.settings[name]
        return self.credentials.get(name, default)

    def all_settings(self) -> dict[str, Any]:
        """Return every setting, the secret ones decrypted."""
        return {**(self.settings or {}), **self.credentials}

    def set_secret(self, name: str, value: str) -> None:
        """Store a secret the connector made up itself, such as a webhook header."""
        self.credentials = {**self.credentials, name: value}

    def update_state(self, **values: Any) -> None:
        """Merge values into :attr:`state`, so the change is saved."""
        self.state = {**(self.state or {}), **values}

    def endpoint(self, purpose: str) -> WebhookEndpoint | None:
        """Return the live webhook endpoint for a purpose, if there is one."""
        return next(
            (e for e in self.endpoints if e.purpose == purpose and not e.revoked_at),
            None,
        )

    def webhook_url(self, purpose: str) -> str:
        """Return the full URL a vendor calls for a purpose, making the endpoint once.

        :raises KeyError: when the connector has no such webhook purpose.
        """
        from flask import current_app

        endpoint = self.endpoint(purpose)
        if endpoint is None:
            endpoint, _ = WebhookEndpoint.issue(self, purpose)
        base = current_app.config["HUB_PUBLIC_URL"].rstrip("/")

        return f"{base}/hooks/{self.connector}/{endpoint.token}"


class WebhookEndpoint(db.Model):
    """One webhook URL: a connection, a purpose, and a secret token in its path."""

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        sa.ForeignKey("connection.id"), index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(64))
    #: A keyed hash of the token, to find the endpoint without storing the token.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: The token encrypted, to show the agency its URL again.
    token_encrypted: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    connection: Mapped[Connection] = relationship(back_populates="endpoints")

    @classmethod
    def issue(cls, connection: Connection, purpose: str) -> tuple[WebhookEndpoint, str]:
        """Add a new endpoint to a connection; return it and its token."""
        token = new_token()
        endpoint = cls(
            purpose=purpose,
            token_hash=vault().token_hash(token),
            token_encrypted=vault().encrypt(token),
        )
        connection.endpoints.append(endpoint)

        return endpoint, token

    @property
    def token(self) -> str:
        """Return the decrypted token."""
        return vault().decrypt(self.token_encrypted)


class SyncLink(db.Model):
    """One person known to the hub, and what it last wrote about them to each side."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    #: The hub's stable id for the person, stored on remote objects to make creates
    #: safe to retry.
    key: Mapped[str] = mapped_column(
        sa.String(36), unique=True, default=lambda: str(uuid.uuid4())
    )
    active: Mapped[bool] = mapped_column(default=True)
    #: By connector: the fingerprint of what the hub last wrote there (``name``),
    #: of what it sent (``name:sent``), the echo it awaits (``name:echo``), and when
    #: it last wrote there (``name:written``, an ISO time in UTC).
    fingerprints: Mapped[dict[str, str]] = mapped_column(sa.JSON, default=dict)
    #: What the hub last knew of the person on each connector, as a prospect.
    snapshots: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    #: A create the sync engine began on one side and has not recorded yet, such as
    #: ``create:clearcare``; a retry finishes it instead of starting another.
    intent: Mapped[str | None] = mapped_column(sa.String(100))
    intent_at: Mapped[datetime | None]

    refs: Mapped[list[RemoteRef]] = relationship(
        back_populates="link", cascade="all, delete-orphan"
    )

    def ids(self, connector: str) -> dict[str, str]:
        """Return the remote ids the person has on one connector, by kind."""
        return {r.kind: r.remote_id for r in self.refs if r.connector == connector}


class RemoteRef(db.Model):
    """One remote id of a linked person: the HubSpot contact, the ClearCare patient."""

    __table_args__ = (
        sa.UniqueConstraint("agency_id", "connector", "kind", "remote_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(sa.ForeignKey("sync_link.id"), index=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"))
    connector: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(32))
    remote_id: Mapped[str] = mapped_column(sa.String(64))

    link: Mapped[SyncLink] = relationship(back_populates="refs")


class EventStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    RETRY = "retry"
    NEEDS_ATTENTION = "needs_attention"
    #: Recognised as the echo of the hub's own write, or as changing nothing.
    DROPPED = "dropped"


class Event(db.Model):
    """The inbox: one change that arrived by webhook or poll, stored before it is
    acknowledged and processed by a worker later."""

    __table_args__ = (
        sa.UniqueConstraint("connection_id", "dedup_key"),
        sa.Index("ix_event_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("connection.id"))
    connector: Mapped[str] = mapped_column(sa.String(64))
    purpose: Mapped[str] = mapped_column(sa.String(64))
    #: Equal for two deliveries of one event; ``None`` when they cannot be told apart.
    dedup_key: Mapped[str | None] = mapped_column(sa.String(200))
    #: Events with one person key are processed one at a time, in order.
    person_key: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    #: The change, as ``Change.to_dict`` gives it.
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(
        sa.String(20), default=EventStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    #: The worker holding the lease, so only it can finish the event.
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    #: Times the event waited out a remote's rate limit; these use no attempt.
    deferrals: Mapped[int] = mapped_column(default=0, server_default="0")
    #: How processing ended, such as ``synced`` or ``echo``.
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]

    attempt_log: Mapped[list[EventAttempt]] = relationship(
        back_populates="event",
        order_by="EventAttempt.number",
        cascade="all, delete-orphan",
    )


class EventAttempt(db.Model):
    """One try at processing an event: when, by which worker, and how it ended."""

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("event.id"), index=True)
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(sa.String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(sa.String(32))
    error: Mapped[str | None] = mapped_column(sa.Text)

    event: Mapped[Event] = relationship(back_populates="attempt_log")


class ProvisioningJob(db.Model):
    """A request to provision an agency's connections, run by the sync worker."""

    __table_args__ = (sa.Index("ix_provisioning_job_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    status: Mapped[str] = mapped_column(
        sa.String(20), default=EventStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(sa.String(100))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None]


class AuditEntry(db.Model):
    """Who did what to an agency's setup and credentials, and when."""

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("agency.id"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    action: Mapped[str] = mapped_column(sa.String(64))
    #: The credential concerned, masked, such as ``pat-…1f2e``.
    credential: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User | None] = relationship()


class ProvisioningStep(db.Model):
    """Where one step of provisioning a connection stands, as ``report`` said."""

    __table_args__ = (sa.UniqueConstraint("connection_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(sa.ForeignKey("connection.id"))
    step: Mapped[str] = mapped_column(sa.String(64))
    position: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    detail: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    connection: Mapped[Connection] = relationship(back_populates="steps")


def mask(secret: str | None) -> str:
    """Return a secret with all but its last four characters hidden."""
    if not secret:
        return ""
    return "…" + secret[-4:] if len(secret) > 8 else "…"


class SyncCursor(db.Model):
    """Where one connection's reconciliation or backfill stands: its cursor and
    when it runs next."""

    __table_args__ = (sa.UniqueConstraint("connection_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        sa.ForeignKey("connection.id", ondelete="CASCADE"), index=True
    )
    #: ``reconcile`` or ``backfill``.
    kind: Mapped[str] = mapped_column(sa.String(32))
    #: What the connector said to ask from next time; ``None`` before the first run.
    cursor: Mapped[str | None] = mapped_column(sa.Text)
    last_run_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None]
    #: How many changes the last run stored, and how many it found in all.
    last_stored: Mapped[int] = mapped_column(default=0)
    last_found: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
