"""Sign in with Microsoft as a service: find the connection and user, apply the rules, link.

Called by the callback with validated claims; never talks to Microsoft itself (the callback
fetches what is needed before, outside any database transaction).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from .. import audit, clock
from ..extensions import db
from ..models import (
    CONN_CONNECTED,
    ROLE_TENANT_ADMIN,
    Connection,
    Integration,
    LinkedAccount,
    PasswordPolicy,
    User,
)
from . import rules
from .domains import email_domain

AUTO_ACTIVATE_REFUSED = "auto_activate_refused"


@dataclass
class SsoOutcome:
    """The decision, the user it concerns and the connection that decided the tenant."""

    decision: rules.Decision
    user: Optional[User] = None
    connection: Optional[Connection] = None


def connection_for(integration_id: int, tid: str) -> Optional[Connection]:
    """The connection of this organization through this integration (at most one exists)."""
    return db.session.scalars(select(Connection).where(
        Connection.integration_id == integration_id, Connection.org_tid == tid)).first()


def auto_activation_candidate(claims: dict[str, Any], verified_domains: list[str]) -> Optional[User]:
    """The one tenant admin whose email is the token's (verified) email, for Auto-Activate SSO."""
    email = (claims.get("email") or "").lower()
    if not rules.email_is_verified(claims, verified_domains):
        return None
    admins = db.session.scalars(select(User).where(User.email_key == email,
                                                   User.role == ROLE_TENANT_ADMIN).limit(2)).all()
    return admins[0] if len(admins) == 1 else None


def auto_activate(integration: Integration, claims: dict[str, Any], org: dict[str, Any]) -> Optional[Connection]:
    """Create the organization's connection on the spot (DESIGN §4), or None when not allowed."""
    domains = [d["name"].lower() for d in org.get("verifiedDomains", []) if d.get("name")]
    admin = auto_activation_candidate(claims, domains)
    if admin is None:
        return None
    connection = Connection(
        integration_id=integration.id, tenant_id=admin.tenant_id, org_tid=claims["tid"],
        org_name=org.get("displayName") or "", verified_domains=domains,
        authorized_by_name=claims.get("name") or admin.display_name, authorized_by_email=claims.get("email") or "",
        admin_sub=claims.get("sub") or "", admin_oid=claims.get("oid") or "",
        auto_activation=True, status=CONN_CONNECTED, last_check_at=clock.now())
    db.session.add(connection)
    db.session.flush()
    audit.record("connection.auto_activated", tenant_id=admin.tenant_id, target=connection, actor=admin,
                 target_label=connection.org_name,
                 details={"tid": claims["tid"], "oid": claims.get("oid"), "integration": integration.name})
    return connection


def sign_in(integration: Integration, claims: dict[str, Any], org: Optional[dict[str, Any]] = None) -> SsoOutcome:
    """Apply the Microsoft sign-in rules to validated claims; create the link on a guarded match."""
    tid, oid = claims["tid"], claims["oid"]
    connection = connection_for(integration.id, tid)
    if connection is None and integration.auto_activate and org is not None:
        connection = auto_activate(integration, claims, org)
    policy = link = linked_user = email_user = None
    if connection is not None:
        policy = db.session.scalars(select(PasswordPolicy).where(
            PasswordPolicy.tenant_id == connection.tenant_id)).first()
        link = db.session.scalars(select(LinkedAccount).where(
            LinkedAccount.connection_id == connection.id, LinkedAccount.oid == oid)).first()
        linked_user = link.user if link else None
        if link is None and claims.get("email"):
            email_user = db.session.scalars(select(User).where(
                User.tenant_id == connection.tenant_id,
                User.email_key == func.lower(claims["email"]))).first()
    decision = rules.microsoft_sign_in(connection=connection, integration=integration, policy=policy,
                                       claims=claims, linked_user=linked_user, email_user=email_user,
                                       now=clock.now())
    if connection is None and integration.auto_activate:
        decision = rules.Decision(False, rules.ORG_NOT_CONNECTED, decision.message,
                                  {"auto_activate": AUTO_ACTIVATE_REFUSED})
    user = decision.data.get("user")
    if decision.allowed and decision.data.get("create_link"):
        link = create_link(connection, user, claims)
        if link is None:  # another sign-in of the same person linked first
            return sign_in(integration, claims, None)
    if decision.allowed:
        db.session.execute(update(LinkedAccount).where(LinkedAccount.id == link.id)
                           .values(last_used_at=clock.now()))
    record_decision(decision, connection, user, claims)
    return SsoOutcome(decision, user, connection)


def create_link(connection: Connection, user: User, claims: dict[str, Any]) -> Optional[LinkedAccount]:
    """Link the Microsoft account to the user; None when a concurrent sign-in already did."""
    link = LinkedAccount(connection_id=connection.id, user_id=user.id, oid=claims["oid"],
                         sub=claims.get("sub") or "", email_at_link=claims.get("email") or "",
                         name_at_link=claims.get("name") or "", linked_at=clock.now())
    try:
        with db.session.begin_nested():
            db.session.add(link)
    except IntegrityError:
        return None
    audit.record("link.created", tenant_id=user.tenant_id, target=user, actor=user,
                 details={"tid": claims["tid"], "oid": claims["oid"], "email": claims.get("email"),
                          "how": "automatic activation (email match)"})
    return link


def record_decision(decision: rules.Decision, connection: Optional[Connection], user: Optional[User],
                    claims: dict[str, Any]) -> None:
    """Audit a Microsoft sign-in decision with its reason, tid and oid (never tokens)."""
    details = {"method": "microsoft", "reason": decision.reason, "tid": claims.get("tid"),
               "oid": claims.get("oid"), "email_domain": email_domain(claims.get("email"))}
    if decision.data.get("auto_activate"):
        details["auto_activate"] = decision.data["auto_activate"]
    audit.record("sign_in.microsoft" if decision.allowed else "sign_in.refused",
                 tenant_id=connection.tenant_id if connection else None, target=user, actor=user,
                 target_label=user.login if user else (claims.get("preferred_username") or "")[:150],
                 details=details)


def needs_org_info(integration: Integration, tid: str) -> bool:
    """Whether the callback must read the organization from Graph first (auto-activation)."""
    return bool(integration.auto_activate) and connection_for(integration.id, tid) is None
