"""The sign-in rules of DESIGN §4: pure functions over plain values, each returning a Decision.

Views, the Check access page, the user form warnings and the audit log all use these; nothing
else decides who may sign in. Inputs are duck-typed (ORM rows or simple objects/dicts in tests).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from .domains import domain_in, email_domain

# Stable reason codes (audit log, tests and the Check access page rely on these strings).
OK = "ok"
UNKNOWN_LOGIN = "unknown_login"
WEB_ACCESS_DISABLED = "web_access_disabled"
EXPIRED = "expired"
LOCKED = "locked"
SSO_ONLY = "sso_only"
SSO_MANDATORY = "sso_mandatory"
BAD_PASSWORD = "bad_password"
NO_PASSWORD = "no_password"
TOTP_REQUIRED = "totp_required"
TOTP_ENROL = "totp_enrol_required"
SSO_DISABLED = "sso_disabled"
ORG_NOT_CONNECTED = "org_not_connected"
CONNECTION_NOT_ACTIVE = "connection_not_active"
INTEGRATION_DISABLED = "integration_disabled"
NOT_LINKED = "not_linked"
NO_EMAIL_CLAIM = "no_email_claim"
EMAIL_UNVERIFIED = "email_domain_unverified"
NO_MATCHING_USER = "no_matching_user"
DOMAIN_NOT_ALLOWED = "domain_not_allowed"
WRONG_TENANT = "wrong_tenant"

# Plain words for administrators (Check access page, audit log). Sign-in pages show less.
EXPLANATIONS = {
    OK: "Allowed.",
    UNKNOWN_LOGIN: "No user has this login.",
    WEB_ACCESS_DISABLED: "Web portal access is disabled for this user.",
    EXPIRED: "The user's Valid till date has passed.",
    LOCKED: "The account is locked after too many failed password attempts.",
    SSO_ONLY: "The user's authentication type is Single Sign-On: passwords are not accepted.",
    SSO_MANDATORY: "Single Sign-On is Mandatory for this tenant: passwords are not accepted.",
    BAD_PASSWORD: "The password was wrong.",
    NO_PASSWORD: "The user has no password set.",
    TOTP_REQUIRED: "Password accepted; a 2-step verification code is required next.",
    TOTP_ENROL: "Password accepted; the user must set up 2-step verification next.",
    SSO_DISABLED: "Single Sign-On is Disabled for this tenant.",
    ORG_NOT_CONNECTED: "The user's Microsoft organization is not connected to this tenant.",
    CONNECTION_NOT_ACTIVE: "The connection to the Microsoft organization is not active.",
    INTEGRATION_DISABLED: "The integration used by the connection is disabled.",
    NOT_LINKED: "No Microsoft account is linked to this user and automatic activation is off.",
    NO_EMAIL_CLAIM: "Microsoft sent no email address for this account, so it cannot be matched.",
    EMAIL_UNVERIFIED: ("The email address is not on a verified domain of the Microsoft organization, "
                       "so it cannot be trusted to identify the user."),
    NO_MATCHING_USER: "No user of this tenant has the email Microsoft sent.",
    DOMAIN_NOT_ALLOWED: "The user's email domain is not one of the tenant's restricted domains.",
    WRONG_TENANT: "The linked account belongs to another tenant.",
}


@dataclass(frozen=True)
class Decision:
    """The outcome of a rule: allowed or not, a stable reason code and plain words."""

    allowed: bool
    reason: str
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, allowed: bool, reason: str, **data: Any) -> "Decision":
        """Build a decision with the standard explanation for its reason."""
        return cls(allowed, reason, EXPLANATIONS.get(reason, reason), data)


def _g(obj: Any, name: str, default: Any = None) -> Any:
    """Read an attribute or a key, so rows, simple objects and dicts all work."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def sso_mode(policy: Any) -> str:
    """The tenant's SSO mode; no policy (or no mode) means the default, Enabled."""
    return _g(policy, "sso_mode") or "enabled"


def sso_allowed_by_mode(policy: Any) -> bool:
    """Rule 1 of Microsoft sign-in: only Enabled and Mandatory allow it (anything else refuses)."""
    return sso_mode(policy) in ("enabled", "mandatory")


def account_state(user: Any, now: dt.datetime) -> Optional[str]:
    """The reason an account cannot be used at all right now, or None."""
    if not _g(user, "web_access", True):
        return WEB_ACCESS_DISABLED
    valid_till = _g(user, "valid_till")
    if valid_till is not None and now.date() > valid_till:
        return EXPIRED
    return None


def is_locked(user: Any, now: dt.datetime) -> bool:
    """True while a lockout from failed password attempts lasts."""
    locked_until = _g(user, "locked_until")
    return locked_until is not None and locked_until > now


def password_allowed(user: Any, policy: Any, now: dt.datetime) -> Decision:
    """Rules 1–4 of password sign-in: whether this user may use a password at all today."""
    if user is None:
        return Decision.of(False, UNKNOWN_LOGIN)
    state = account_state(user, now)
    if state:
        return Decision.of(False, state)
    if is_locked(user, now):
        return Decision.of(False, LOCKED)
    if _g(user, "role") == "system_admin":
        # Break glass: the service provider always keeps password sign-in.
        return Decision.of(True, OK) if _g(user, "password_hash") else Decision.of(False, NO_PASSWORD)
    if _g(user, "auth_type") != "password":
        return Decision.of(False, SSO_ONLY)
    if sso_mode(policy) == "mandatory":
        return Decision.of(False, SSO_MANDATORY)
    if not _g(user, "password_hash"):
        return Decision.of(False, NO_PASSWORD)
    return Decision.of(True, OK)


def password_sign_in(user: Any, policy: Any, password_ok: bool, now: dt.datetime) -> Decision:
    """All password rules (DESIGN §4, 1–6), given whether the typed password verified."""
    allowed = password_allowed(user, policy, now)
    if not allowed.allowed:
        return allowed
    if not password_ok:
        return Decision.of(False, BAD_PASSWORD)
    if needs_totp(user, policy):
        enrolled = bool(_g(user, "totp_secret_enc")) and bool(_g(user, "totp_confirmed"))
        return Decision.of(True, TOTP_REQUIRED if enrolled else TOTP_ENROL)
    return Decision.of(True, OK)


def needs_totp(user: Any, policy: Any) -> bool:
    """2-step verification applies when the user requires it and the tenant has it enabled."""
    return bool(_g(user, "require_2fa")) and bool(_g(policy, "totp_enabled"))


def connection_usable(connection: Any, integration: Any) -> Decision:
    """Rule 2 of Microsoft sign-in: the organization's connection is connected and enabled."""
    if connection is None:
        return Decision.of(False, ORG_NOT_CONNECTED)
    if _g(connection, "status") != "connected":
        return Decision.of(False, CONNECTION_NOT_ACTIVE)
    if integration is None:
        integration = _g(connection, "integration")
    if integration is not None and not _g(integration, "enabled", True):
        return Decision.of(False, INTEGRATION_DISABLED)
    return Decision.of(True, OK)


def email_is_verified(claims: dict[str, Any], verified_domains: list[str]) -> bool:
    """The email claim may identify someone only if its domain is verified for the organization.

    Guards against the "nOAuth" takeover: `email` is mutable and unverified in Entra ID. DESIGN §4
    demands the domain be one of the organization's verified domains (read at connect time);
    `xms_edov` cannot stand in for that, but an explicit "not verified" from Microsoft refuses.
    """
    email = claims.get("email") or ""
    if not email_domain(email):
        return False
    if claims.get("xms_edov") in (False, "false", "False", "0", 0):
        return False
    return domain_in(email, verified_domains or [])


def user_may_use_microsoft(user: Any, policy: Any, now: dt.datetime) -> Decision:
    """Rules 1, 4, 5 and 6 for a known user (no token needed)."""
    if not sso_allowed_by_mode(policy):
        return Decision.of(False, SSO_DISABLED)
    state = account_state(user, now)
    if state:
        return Decision.of(False, state)
    domains = _g(policy, "restricted_domains") or []
    if domains and not domain_in(_g(user, "email"), domains):
        return Decision.of(False, DOMAIN_NOT_ALLOWED)
    return Decision.of(True, OK)


def microsoft_sign_in(
    *,
    connection: Any,
    integration: Any,
    policy: Any,
    claims: dict[str, Any],
    linked_user: Any,
    email_user: Any,
    now: dt.datetime,
) -> Decision:
    """All Microsoft rules (DESIGN §4) for a validated token.

    `connection` is the one found by the token's tid (it decides the tenant), `linked_user` the
    user found by an existing link (tid + oid), `email_user` the tenant user whose email equals
    the email claim (looked up only to be used here, under the guard). On success, data has
    `user` and `create_link` (True when the match was by email).
    """
    usable = connection_usable(connection, integration)
    if not usable.allowed:
        return usable
    if not sso_allowed_by_mode(policy):
        return Decision.of(False, SSO_DISABLED)
    user, create_link = linked_user, False
    if user is not None and _g(user, "tenant_id") != _g(connection, "tenant_id"):
        return Decision.of(False, WRONG_TENANT)
    if user is None:
        if not _g(connection, "auto_activation"):
            return Decision.of(False, NOT_LINKED)
        if not claims.get("email"):
            return Decision.of(False, NO_EMAIL_CLAIM)
        if not email_is_verified(claims, _g(connection, "verified_domains") or []):
            return Decision.of(False, EMAIL_UNVERIFIED)
        claimed = claims["email"].strip().lower()
        if email_user is None or (_g(email_user, "email") or "").strip().lower() != claimed:
            return Decision.of(False, NO_MATCHING_USER)
        if _g(email_user, "tenant_id") != _g(connection, "tenant_id"):
            return Decision.of(False, NO_MATCHING_USER)
        user, create_link = email_user, True
    may = user_may_use_microsoft(user, policy, now)
    if not may.allowed:
        return Decision.of(False, may.reason, user=user)
    return Decision.of(True, OK, user=user, create_link=create_link)


def could_use_microsoft_today(
    user: Any, policy: Any, connections: list[Any], has_link: bool, now: dt.datetime
) -> Decision:
    """Whether this user could sign in with Microsoft today, before any token exists.

    `connections` are the tenant's connections (with their integration's `enabled` readable as
    `integration_enabled` or via `.integration`); `has_link` means a link on one of the usable
    ones. Without a link, automatic activation and a verified email domain on some connected
    organization are needed. Reasons come in DESIGN §4 order (the SSO mode first).
    """
    if not sso_allowed_by_mode(policy):
        return Decision.of(False, SSO_DISABLED)
    usable = [
        c
        for c in connections
        if _g(c, "status") == "connected"
        and _g(c, "integration_enabled", _g(_g(c, "integration"), "enabled", True))
    ]
    if not usable:
        return Decision.of(False, ORG_NOT_CONNECTED)
    if not has_link:
        auto = [c for c in usable if _g(c, "auto_activation")]
        if not auto:
            return Decision.of(False, NOT_LINKED)
        if not any(domain_in(_g(user, "email"), _g(c, "verified_domains") or []) for c in auto):
            return Decision.of(False, EMAIL_UNVERIFIED)
    return user_may_use_microsoft(user, policy, now)


def could_use_password_today(user: Any, policy: Any, now: dt.datetime) -> Decision:
    """Whether this user could sign in with a password today (before a password is typed)."""
    return password_allowed(user, policy, now)


def could_sign_in_today(
    user: Any, policy: Any, connections: list[Any], has_link: bool, now: dt.datetime
) -> Decision:
    """Whether the user has any way in today; data has the `password` and `microsoft` decisions."""
    by_password = could_use_password_today(user, policy, now)
    by_microsoft = could_use_microsoft_today(user, policy, connections, has_link, now)
    allowed = by_password.allowed or by_microsoft.allowed
    reason = OK if allowed else by_microsoft.reason
    return Decision.of(allowed, reason, password=by_password, microsoft=by_microsoft)
