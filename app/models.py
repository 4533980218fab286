"""The shared data model of DESIGN §3, one module for every blueprint."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import clock
from .extensions import db

ROLE_SYSTEM_ADMIN = "system_admin"
ROLE_TENANT_ADMIN = "tenant_admin"
ROLE_USER = "user"
ROLES = (ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN, ROLE_USER)
ROLE_LABELS = {
    ROLE_SYSTEM_ADMIN: "Service provider",
    ROLE_TENANT_ADMIN: "Tenant administrator",
    ROLE_USER: "User",
}

AUTH_PASSWORD = "password"
AUTH_SSO = "sso"
AUTH_TYPE_LABELS = {AUTH_PASSWORD: "Password", AUTH_SSO: "Single Sign-On"}

SSO_ENABLED = "enabled"
SSO_DISABLED = "disabled"
SSO_MANDATORY = "mandatory"
SSO_MODES = (SSO_ENABLED, SSO_DISABLED, SSO_MANDATORY)
SSO_MODE_LABELS = {SSO_ENABLED: "Enabled", SSO_DISABLED: "Disabled", SSO_MANDATORY: "Mandatory"}

CONN_PENDING = "pending"
CONN_CONNECTED = "connected"
CONN_ERROR = "error"
CONN_DISCONNECTED = "disconnected"
CONNECTION_STATUSES = (CONN_PENDING, CONN_CONNECTED, CONN_ERROR, CONN_DISCONNECTED)

CLOUDS = ("public", "usgov", "china", "custom")


def _now() -> dt.datetime:
    return clock.now()


class Tenant(db.Model):
    """A customer of the service provider; owns users, policy and connections."""

    __tablename__ = "tenant"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)

    policy: Mapped[Optional["PasswordPolicy"]] = relationship(
        back_populates="tenant", uselist=False, cascade="all, delete-orphan"
    )


class User(db.Model):
    """A person who signs in; tenant is None for service-provider accounts."""

    __tablename__ = "user"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email_key", name="uq_user_tenant_email"),
        Index("ix_user_tenant_login", "tenant_id", "login_key"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"))
    login: Mapped[str] = mapped_column(String(150))
    # Lower-cased copies carry the case-insensitive uniqueness portably (SQLite and PostgreSQL).
    login_key: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20), default=ROLE_USER)
    password_hash: Mapped[Optional[str]] = mapped_column(String(255))
    web_access: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_type: Mapped[str] = mapped_column(String(10), default=AUTH_PASSWORD)
    require_2fa: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_secret_enc: Mapped[Optional[str]] = mapped_column(Text)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last accepted TOTP time step: a code is single-use within its window.
    totp_last_step: Mapped[Optional[int]] = mapped_column(Integer)
    valid_till: Mapped[Optional[dt.date]] = mapped_column(Date)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    last_login_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    # Part of the login id: bumping it ends every existing session of the user.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    # Optimistic locking: two admins editing one user cannot silently overwrite each other.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)

    tenant: Mapped[Optional[Tenant]] = relationship()
    __mapper_args__ = {"version_id_col": version}

    def set_login(self, login: str) -> None:
        """Set the login and its case-insensitive key."""
        self.login = login
        self.login_key = login.lower()

    def set_email(self, email: str) -> None:
        """Set the email as entered and its lower-cased key."""
        self.email = email
        self.email_key = email.lower()

    @property
    def is_system_admin(self) -> bool:
        """True for the service provider's accounts."""
        return self.role == ROLE_SYSTEM_ADMIN

    @property
    def is_admin(self) -> bool:
        """True for anyone who may open the Administration menu."""
        return self.role in (ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN)

    # Flask-Login protocol: the login id carries the session version.
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """Login id "<id>:<session_version>" so a version bump ends sessions."""
        return f"{self.id}:{self.session_version}"


# The users list pages by keyset over (tenant, sort key, id) and sorts by these keys (issue 3;
# created by migration 0002). lower(display_name) gives a case-insensitive sort by name.
Index("ix_user_tenant_login_id", User.tenant_id, User.login_key, User.id)
Index("ix_user_tenant_email_id", User.tenant_id, User.email_key, User.id)
Index("ix_user_tenant_name", User.tenant_id, func.lower(User.display_name), User.id)
Index("ix_user_tenant_last_login", User.tenant_id, User.last_login_at, User.id)


class PasswordPolicy(db.Model):
    """One per tenant: SSO mode, restricted domains, password rules, 2-step switch."""

    __tablename__ = "password_policy"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), unique=True)
    sso_mode: Mapped[str] = mapped_column(String(10), default=SSO_ENABLED)
    restricted_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    min_length: Mapped[int] = mapped_column(Integer, default=10)
    require_upper: Mapped[bool] = mapped_column(Boolean, default=True)
    require_lower: Mapped[bool] = mapped_column(Boolean, default=True)
    require_digit: Mapped[bool] = mapped_column(Boolean, default=True)
    require_symbol: Mapped[bool] = mapped_column(Boolean, default=False)
    max_failed_attempts: Mapped[int] = mapped_column(Integer, default=5)
    lockout_minutes: Mapped[int] = mapped_column(Integer, default=15)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    tenant: Mapped[Tenant] = relationship(back_populates="policy")
    __mapper_args__ = {"version_id_col": version}


class Integration(db.Model):
    """A Microsoft Entra app registration the portal signs in through."""

    __tablename__ = "integration"
    id: Mapped[int] = mapped_column(primary_key=True)
    # None: system-wide (the service provider's multi-tenant app); else the owning tenant.
    owner_tenant_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("tenant.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    service: Mapped[str] = mapped_column(String(40), default="Single Sign-On")
    platform: Mapped[str] = mapped_column(String(40), default="Microsoft")
    description: Mapped[str] = mapped_column(Text, default="")
    app_domain: Mapped[str] = mapped_column(String(255), default="")
    client_id: Mapped[str] = mapped_column(String(100))
    client_secret_enc: Mapped[Optional[str]] = mapped_column(Text)
    cloud: Mapped[str] = mapped_column(String(10), default="public")
    authority_url: Mapped[Optional[str]] = mapped_column(String(500))
    graph_endpoint: Mapped[Optional[str]] = mapped_column(String(500))
    ca_bundle: Mapped[Optional[str]] = mapped_column(String(500))
    auto_activate: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    version: Mapped[int] = mapped_column(Integer, default=1)

    owner_tenant: Mapped[Optional[Tenant]] = relationship()
    __mapper_args__ = {"version_id_col": version}


class Connection(db.Model):
    """One Microsoft organization connected to one tenant through one integration."""

    __tablename__ = "connection"
    __table_args__ = (
        UniqueConstraint("integration_id", "org_tid", name="uq_connection_integration_org"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integration.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
    org_tid: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    org_name: Mapped[str] = mapped_column(String(255), default="")
    verified_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    authorized_by_name: Mapped[str] = mapped_column(String(200), default="")
    authorized_by_email: Mapped[str] = mapped_column(String(254), default="")
    admin_sub: Mapped[str] = mapped_column(String(200), default="")
    admin_oid: Mapped[str] = mapped_column(String(64), default="")
    auto_activation: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(15), default=CONN_PENDING)
    last_check_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, onupdate=_now)

    integration: Mapped[Integration] = relationship()
    tenant: Mapped[Tenant] = relationship()


class LinkedAccount(db.Model):
    """A portal user's Microsoft account, keyed by the organization's tid and the user's oid."""

    __tablename__ = "linked_account"
    __table_args__ = (
        UniqueConstraint("connection_id", "oid", name="uq_linked_account_connection_oid"),
        UniqueConstraint("connection_id", "user_id", name="uq_linked_account_connection_user"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    oid: Mapped[str] = mapped_column(String(64))
    sub: Mapped[str] = mapped_column(String(200), default="")
    email_at_link: Mapped[str] = mapped_column(String(254), default="")
    name_at_link: Mapped[str] = mapped_column(String(200), default="")
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    last_used_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    connection: Mapped[Connection] = relationship()
    user: Mapped[User] = relationship()


class AuditEvent(db.Model):
    """Append-only record of a change or a sign-in decision."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_tenant_time", "tenant_id", "created_at"),
        Index("ix_audit_event_action", "action"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign keys: the log outlives the tenants and users it names.
    tenant_id: Mapped[Optional[int]] = mapped_column(Integer)
    actor_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    target_label: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client_addr: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, index=True)


class AuthFlow(db.Model):
    """A pending round trip to Microsoft, keyed by its state and tied to one browser session.

    Kept in the database, not the cookie, so the PKCE verifier never reaches the browser and
    any worker or server can finish the flow.
    """

    __tablename__ = "auth_flow"
    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    browser_key: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    integration_id: Mapped[Optional[int]] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class RateLimit(db.Model):
    """A fixed-window counter shared by every worker (sign-in and code attempts)."""

    __tablename__ = "rate_limit"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(DateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)
