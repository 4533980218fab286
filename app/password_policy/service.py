"""Password policy decisions: the Mandatory safeguards, confirmation, saving and the SSO reset."""
# Plain functions over a tenant id and plain values, so tests and the CLI use them without HTTP:
# views pass current_tenant_id() (app/access.py), and every query here filters on that tenant.
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Optional

from sqlalchemy import select

from .. import audit
from ..auth import rules
from ..auth.rules import Decision
from ..extensions import db
from ..models import (
    CONN_CONNECTED,
    SSO_DISABLED,
    SSO_ENABLED,
    SSO_MANDATORY,
    Connection,
    Integration,
    LinkedAccount,
    PasswordPolicy,
    Tenant,
)
from .preview import Preview, lockout_preview

POLICY_FIELDS = ("sso_mode", "restricted_domains", "min_length", "require_upper", "require_lower",
                 "require_digit", "require_symbol", "max_failed_attempts", "lockout_minutes")
SSO_FIELDS = ("sso_mode", "restricted_domains")
# The column defaults of PasswordPolicy, for a tenant whose policy row is missing.
DEFAULTS: dict[str, Any] = {"sso_mode": SSO_ENABLED, "restricted_domains": [], "min_length": 10,
                            "require_upper": True, "require_lower": True, "require_digit": True,
                            "require_symbol": False, "max_failed_attempts": 5, "lockout_minutes": 15,
                            "totp_enabled": False}

# Stable reason codes of the safeguards (shown on the page; the same words everywhere).
NEEDS_CONNECTION = "mandatory_needs_connection"
NEEDS_OWN_LINK = "mandatory_needs_own_link"
WOULD_BLOCK_YOU = "mandatory_would_block_you"
SAFEGUARD_MESSAGES = {
    NEEDS_CONNECTION: ("Single Sign-On cannot be Mandatory: this tenant has no connected Microsoft "
                       "organization. Connect it first (Administration > System > Integrations, "
                       "+ Add Connection) and make sure its status is Connected."),
    NEEDS_OWN_LINK: ("Single Sign-On cannot be Mandatory: your own Microsoft account is not linked to "
                     "your user yet, so you could lock yourself out. Sign in with Microsoft once (or "
                     "link your account on your profile), then try again."),
    WOULD_BLOCK_YOU: "Single Sign-On cannot be Mandatory with these settings: you could not sign in "
                     "with Microsoft yourself.",
}

# Who the audit log names when the break-glass reset runs from the server console.
CONSOLE = SimpleNamespace(id=None, login="server console")

# Outcome statuses of submit().
SAVED, UNCHANGED, STALE, REFUSED, CONFIRM = "saved", "unchanged", "stale", "refused", "confirm"


@dataclass
class Outcome:
    """What submitting the policy form came to."""

    status: str
    decision: Optional[Decision] = None
    preview: Optional[Preview] = None
    changes: dict[str, Any] = field(default_factory=dict)


def policy_for_tenant(tenant_id: int) -> PasswordPolicy:
    """The tenant's policy; a missing row reads as the defaults (added to the session on save)."""
    policy = db.session.scalars(select(PasswordPolicy).where(PasswordPolicy.tenant_id == tenant_id)).first()
    return policy or PasswordPolicy(tenant_id=tenant_id, version=None, **{k: (list(v) if isinstance(v, list) else v)
                                                                         for k, v in DEFAULTS.items()})


def snapshot(policy: Any) -> dict[str, Any]:
    """The policy's values as a plain dict (a copy: later edits must not change it)."""
    values = {name: getattr(policy, name) for name in POLICY_FIELDS}
    values["restricted_domains"] = list(values["restricted_domains"] or [])
    return values


def usable_connections(tenant_id: int) -> list[Connection]:
    """The tenant's connections that Microsoft sign-in can use: connected, integration enabled."""
    return list(db.session.scalars(
        select(Connection).join(Integration, Connection.integration_id == Integration.id)
        .where(Connection.tenant_id == tenant_id, Connection.status == CONN_CONNECTED,
               Integration.enabled.is_(True)).order_by(Connection.id)))


def linked_user_ids(connection_ids: list[int], user_id: int | None = None) -> set[int]:
    """Users with a LinkedAccount on one of these connections (optionally only this user)."""
    if not connection_ids:
        return set()
    stmt = select(LinkedAccount.user_id).where(LinkedAccount.connection_id.in_(connection_ids))
    if user_id is not None:
        stmt = stmt.where(LinkedAccount.user_id == user_id)
    return set(db.session.scalars(stmt))


def mandatory_safeguard(tenant_id: int, actor: Any, proposed: dict[str, Any], now: dt.datetime) -> Decision:
    """No self-lockout: Mandatory needs a connected organization and the admin's own Microsoft link."""
    # A service provider acting for the tenant is exempt from the own-link rule (they keep password
    # sign-in as break glass) but not from the connection rule (the tenant's users need a way in).
    connections = usable_connections(tenant_id)
    if not connections:
        return Decision(False, NEEDS_CONNECTION, SAFEGUARD_MESSAGES[NEEDS_CONNECTION])
    if getattr(actor, "is_system_admin", False):
        return Decision.of(True, rules.OK)
    if not linked_user_ids([c.id for c in connections], actor.id):
        return Decision(False, NEEDS_OWN_LINK, SAFEGUARD_MESSAGES[NEEDS_OWN_LINK])
    may = rules.user_may_use_microsoft(actor, proposed, now)
    if not may.allowed:
        return Decision(False, WOULD_BLOCK_YOU, f"{SAFEGUARD_MESSAGES[WOULD_BLOCK_YOU]} {may.message}",
                        {"rule": may.reason})
    return Decision.of(True, rules.OK)


def needs_safeguard(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """The safeguard runs when the result is Mandatory and an SSO setting changes."""
    return after["sso_mode"] == SSO_MANDATORY and any(before[k] != after[k] for k in SSO_FIELDS)


def needs_confirmation(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Changes that can take access away are confirmed after seeing who would lose it."""
    mode_restricts = after["sso_mode"] != before["sso_mode"] and after["sso_mode"] in (SSO_MANDATORY, SSO_DISABLED)
    domains_restrict = bool(after["restricted_domains"]) and after["restricted_domains"] != before["restricted_domains"]
    return mode_restricts or domains_restrict


def submit(policy: PasswordPolicy, values: dict[str, Any], *, tenant_id: int, actor: Any,
           version: str | None, confirmed: bool, now: dt.datetime) -> Outcome:
    """Decide a policy form that passed field validation: stale, refused, confirm, or saved."""
    # On SAVED the changes are in the session with their audit event; the caller commits.
    if policy.version is not None and str(version or "") != str(policy.version):
        return Outcome(STALE)
    before = snapshot(policy)
    after = {name: values[name] for name in POLICY_FIELDS}
    if before == after:
        return Outcome(UNCHANGED)
    if needs_safeguard(before, after):
        decision = mandatory_safeguard(tenant_id, actor, after, now)
        if not decision.allowed:
            return Outcome(REFUSED, decision=decision)
    if needs_confirmation(before, after):
        preview = lockout_preview(tenant_id, before, after, now)
        if not confirmed:
            return Outcome(CONFIRM, preview=preview)
        return Outcome(SAVED, changes=apply(policy, after, tenant_id, actor,
                                            {"locked_out": preview.locked_out.count,
                                             "lose_microsoft": preview.microsoft_only.count}))
    return Outcome(SAVED, changes=apply(policy, after, tenant_id, actor))


def apply(policy: PasswordPolicy, after: dict[str, Any], tenant_id: int, actor: Any,
          impact: dict[str, int] | None = None) -> dict[str, Any]:
    """Write the values and audit "policy.updated" with before/after of what changed."""
    before = snapshot(policy)
    for name in POLICY_FIELDS:
        value = after[name]
        setattr(policy, name, list(value) if isinstance(value, list) else value)
    if policy.id is None:
        db.session.add(policy)
    details = audit.changes(before, after)
    if impact:
        details["impact"] = impact
    audit.record("policy.updated", tenant_id=tenant_id, target_type="password_policy",
                 target_label="Password Policy", details=details, actor=actor)
    return details


def reset_sso(tenant: Tenant, actor: Any = None) -> dict[str, Any]:
    """Break glass: SSO back to Enabled, no restricted domains, audited; returns the old settings."""
    # The one implementation behind the Tenants page button and `flask sso reset`; the caller commits.
    policy = policy_for_tenant(tenant.id)
    if policy.id is None:
        db.session.add(policy)
    before = {"sso_mode": policy.sso_mode, "restricted_domains": list(policy.restricted_domains or [])}
    after = {"sso_mode": SSO_ENABLED, "restricted_domains": []}
    policy.sso_mode = SSO_ENABLED
    policy.restricted_domains = []
    # Recorded even when nothing changed: a break-glass use is itself worth knowing about.
    audit.record("sso.reset", tenant_id=tenant.id, target=tenant, target_label=tenant.name,
                 details={"before": before, "after": after}, actor=actor)
    return before
