"""User management decisions: create, change, delete, reset 2-step, and the form's warnings.

Plain functions over rows the caller has already scoped to its tenant; views only call them and
show the outcome. Errors a person can cause raise ValidationFailed (field → message), Conflict
(someone else saved first) or Refused (an action that would lock someone out).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .. import accounts, audit
from ..accounts import NewUser, ValidationFailed
from ..auth import rules
from ..extensions import db
from ..models import AUTH_PASSWORD, AUTH_SSO, ROLE_TENANT_ADMIN, ROLE_USER, LinkedAccount, Tenant, User

EDITABLE_ROLES = (ROLE_USER, ROLE_TENANT_ADMIN)
# The product guide's words (SSO Administration 101), shown where they apply.
TWO_STEP_OFF = ("Warning! 2-step verification is not enabled in the Administration -> "
                "User Authentication -> 2-Step Verification")
SSO_EMAIL = "This has to be the same email configured for the user in Azure Entra ID."
SSO_IMPLICIT = "Important: If a user is set to Password, Single Sign-On is allowed for the user implicitly."
SSO_BLOCKED = "Warning! This user could not sign in with Microsoft today: "
NO_PASSWORD = ("This user has no password yet: until one is set, they can sign in only with "
               "Microsoft (Single Sign-On is allowed for Password users implicitly).")
CONFLICT = ("This user was changed by someone else while you were editing. Review the current "
            "values; your changes are shown below. Save again to apply them.")
UNLINK_NEEDED = ("Changing the email removes this user's linked Microsoft account, so their next "
                 "Microsoft sign-in must match the new email. Tick “Remove the linked Microsoft "
                 "account” to confirm.")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Conflict(Exception):
    """The row changed since the form was loaded (optimistic locking)."""


class Refused(Exception):
    """An action refused as a whole (the message says why)."""


@dataclass
class UserInput:
    """What an administrator typed into the user form."""

    login: str
    email: str
    display_name: str
    role: str = ROLE_USER
    web_access: bool = True
    auth_type: str = AUTH_PASSWORD
    require_2fa: bool = False
    valid_till: str = ""
    password: str = ""
    password_confirm: str = ""
    confirm_unlink: bool = False

    def new_user(self) -> NewUser:
        """The identity part, in the shape app/accounts.py validates."""
        return NewUser(login=self.login.strip(), email=self.email.strip(), display_name=self.display_name,
                       role=self.role, password=self.password or None, auth_type=self.auth_type)


@dataclass
class Saved:
    """What a change did besides the fields: sessions ended (and why), links removed."""

    sessions_ended: list[str]
    links_removed: int = 0


def parse_valid_till(raw: str, today: dt.date, current: Optional[dt.date] = None):
    """(date or None, error or None) for a yyyy-mm-dd field; a past date only if unchanged."""
    value = (raw or "").strip()
    if not value:
        return None, None
    if not DATE_RE.match(value):
        return None, "Enter the date as yyyy-mm-dd, for example 2027-12-31."
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None, "This date does not exist."
    if day < today and day != current:
        return None, ("Valid till cannot be in the past. To stop access now, clear "
                      "Web portal access.")
    return day, None


def input_errors(tenant: Tenant, data: UserInput, user: Optional[User], today: dt.date):
    """(field errors, parsed valid till) for a new user (user None) or a change."""
    errors = accounts.validate_user(tenant, data.new_user(), exclude_id=user.id if user else None)
    if data.role not in EDITABLE_ROLES:
        errors["role"] = "Choose User or Tenant administrator."
    valid_till, err = parse_valid_till(data.valid_till, today, user.valid_till if user else None)
    if err:
        errors["valid_till"] = err
    if data.auth_type == AUTH_PASSWORD and data.password and data.password != data.password_confirm:
        errors["password_confirm"] = "The two passwords are not the same."
    return errors, valid_till


def create(tenant: Tenant, data: UserInput, today: dt.date) -> User:
    """Validate and add a user of the tenant (caller commits); raises ValidationFailed."""
    errors, valid_till = input_errors(tenant, data, None, today)
    if errors:
        raise ValidationFailed(errors)
    new = data.new_user()
    new.extra = {"web_access": data.web_access, "require_2fa": data.require_2fa,
                 "valid_till": valid_till}
    return accounts.create_user(tenant, new)


def links_of(user: User) -> list[LinkedAccount]:
    """The user's Microsoft links (the user row is already tenant-scoped)."""
    return list(db.session.scalars(select(LinkedAccount).where(LinkedAccount.user_id == user.id)
                                   .order_by(LinkedAccount.id)))


def usable_admin(role: str, web_access: bool, valid_till: Optional[dt.date], today: dt.date) -> bool:
    """A tenant administrator who can still sign in."""
    return role == ROLE_TENANT_ADMIN and bool(web_access) and (valid_till is None or valid_till >= today)


def other_admin_exists(user: User, today: dt.date) -> bool:
    """Another usable tenant administrator in the user's tenant."""
    stmt = select(User.id).where(
        User.tenant_id == user.tenant_id, User.id != user.id, User.role == ROLE_TENANT_ADMIN,
        User.web_access.is_(True), or_(User.valid_till.is_(None), User.valid_till >= today)).limit(1)
    return db.session.scalar(stmt) is not None


def is_last_admin(user: User, today: dt.date) -> bool:
    """True when the tenant would have no usable administrator without this one."""
    usable = usable_admin(user.role, user.web_access, user.valid_till, today)
    return usable and not other_admin_exists(user, today)


def guard_errors(actor: Any, user: User, data: UserInput, valid_till: Optional[dt.date],
                 has_link: bool, today: dt.date) -> dict[str, str]:
    """Changes refused because they would lock out the admin making them or the whole tenant."""
    errors: dict[str, str] = {}
    email_changed = data.email.strip().lower() != user.email_key
    if actor is not None and actor.id == user.id:
        if not data.web_access:
            errors["web_access"] = "You cannot disable your own web portal access."
        if data.role != user.role:
            errors["role"] = "You cannot change your own role."
        if data.auth_type == AUTH_SSO and user.auth_type != AUTH_SSO and not has_link:
            errors["auth_type"] = ("You cannot switch yourself to Single Sign-On before a Microsoft "
                                   "account is linked to you (see your Profile).")
        if data.auth_type == AUTH_SSO and has_link and email_changed:
            errors["email"] = ("Changing your own email would remove the Microsoft link you sign in "
                               "with. Ask another administrator to change it.")
    stays_admin = usable_admin(data.role, data.web_access, valid_till, today)
    if not stays_admin and is_last_admin(user, today):
        field = "role" if data.role != ROLE_TENANT_ADMIN else "web_access"
        errors.setdefault(field, f"{user.login} is the tenant's last administrator who can sign in. "
                                 "Make another user a tenant administrator first.")
    return errors


def update(user: User, tenant: Tenant, data: UserInput, *, actor: Any, loaded_version: Any,
           today: dt.date) -> Saved:
    """Apply the form to the user (caller commits with commit()); raises on any refusal."""
    if str(loaded_version) != str(user.version):
        raise Conflict()
    errors, valid_till = input_errors(tenant, data, user, today)
    links = links_of(user)
    email_changed = data.email.strip().lower() != user.email_key
    for field, message in guard_errors(actor, user, data, valid_till, bool(links), today).items():
        errors.setdefault(field, message)
    if email_changed and links and not data.confirm_unlink:
        errors.setdefault("email", UNLINK_NEEDED)
    if errors:
        raise ValidationFailed(errors)
    before = accounts.user_snapshot(user)
    old_valid_till = user.valid_till
    accounts.update_user(user, tenant, data.new_user())
    user.web_access, user.require_2fa, user.valid_till = data.web_access, data.require_2fa, valid_till
    ended = _session_reasons(before, user, data, old_valid_till)
    if ended:
        user.session_version += 1  # part of the login id: every session of the user ends
    saved = Saved(ended)
    if email_changed and links:
        saved.links_removed = _remove_links(user, links, before["email"])
    details = audit.changes(before, accounts.user_snapshot(user))
    if ended:
        details["sessions_ended"] = ended
    if details["after"] or ended:
        audit.record("user.updated", tenant_id=user.tenant_id, target=user, details=details)
    return saved


def _session_reasons(before: dict, user: User, data: UserInput, old_valid_till) -> list[str]:
    """Why the user's existing sessions must end (empty: they go on)."""
    reasons = []
    if before["auth_type"] == AUTH_PASSWORD and user.auth_type == AUTH_SSO:
        reasons.append("switched_to_sso")
    if before["web_access"] and not user.web_access:
        reasons.append("web_access_disabled")
    if data.password and user.auth_type == AUTH_PASSWORD:
        reasons.append("password_changed")
    if user.valid_till and (old_valid_till is None or user.valid_till < old_valid_till):
        reasons.append("valid_till_shortened")
    return reasons


def _remove_links(user: User, links: list[LinkedAccount], old_email: str) -> int:
    """Delete the user's Microsoft links after an email change, and audit it."""
    audit.record("user.links_removed", tenant_id=user.tenant_id, target=user, details={
        "reason": "email_changed", "before": {"email": old_email}, "after": {"email": user.email},
        "links": [{"connection_id": link.connection_id, "oid": link.oid,
                   "email_at_link": link.email_at_link} for link in links]})
    for link in links:
        db.session.delete(link)
    return len(links)


def delete(user: User, *, actor: Any, loaded_version: Any, today: dt.date) -> None:
    """Delete a user (links go with it, by foreign-key cascade); caller commits with commit()."""
    if str(loaded_version) != str(user.version):
        raise Conflict()
    if actor is not None and actor.id == user.id:
        raise Refused("You cannot delete your own account.")
    if is_last_admin(user, today):
        raise Refused(f"{user.login} is the tenant's last administrator who can sign in. "
                      "Make another user a tenant administrator first.")
    audit.record("user.deleted", tenant_id=user.tenant_id, target=user,
                 details={"before": accounts.user_snapshot(user)})
    db.session.delete(user)


def reset_two_step(user: User) -> bool:
    """Forget the user's authenticator: they set up 2-step verification again at next sign-in."""
    if not user.totp_secret_enc and not user.totp_confirmed:
        return False
    user.totp_secret_enc, user.totp_confirmed, user.totp_last_step = None, False, None
    audit.record("user.two_step_reset", tenant_id=user.tenant_id, target=user,
                 details={"before": {"two_step_enrolled": True}, "after": {"two_step_enrolled": False}})
    return True


def commit() -> None:
    """Commit; a concurrent change or a clash of unique values becomes Conflict or ValidationFailed."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise Conflict() from None
    except IntegrityError as exc:
        db.session.rollback()
        text = str(exc.orig).lower()
        field = "login" if "login" in text else "email"
        message = f"Another user took this {field} a moment ago. Choose another."
        raise ValidationFailed({field: message}) from None


def form_warnings(subject: Any, policy: Any, connections: list[Any], has_link: bool,
                  now: dt.datetime) -> dict[str, str]:
    """The guide's warnings for the user as saved or as typed: key → words."""
    warnings: dict[str, str] = {}
    if getattr(subject, "require_2fa", False) and not getattr(policy, "totp_enabled", False):
        warnings["two_step"] = TWO_STEP_OFF
    decision = rules.could_use_microsoft_today(subject, policy, connections, has_link, now)
    if not decision.allowed:
        warnings["sso"] = SSO_BLOCKED + rules.EXPLANATIONS[decision.reason]
    password_user = getattr(subject, "auth_type", AUTH_PASSWORD) == AUTH_PASSWORD
    if password_user and not getattr(subject, "has_password", True):
        warnings["no_password"] = NO_PASSWORD
    return warnings
