"""Profile decisions: what a user may change about their own account, and the change itself."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from flask import current_app
from sqlalchemy import select

from .. import audit
from ..extensions import db
from ..models import AUTH_PASSWORD, LinkedAccount, PasswordPolicy, User
from ..passwords import describe_problems, hash_password, password_problems, verify_password
from ..security import hit_rate_limit


@dataclass
class TwoStepStatus:
    """What the profile says about 2-step verification, and whether set-up is offered."""

    text: str
    can_set_up: bool = False


def policy_of(user: User) -> Optional[PasswordPolicy]:
    """The user's tenant policy (None for the service provider)."""
    if user.tenant_id is None:
        return None
    stmt = select(PasswordPolicy).where(PasswordPolicy.tenant_id == user.tenant_id)
    return db.session.scalars(stmt).first()


def linked_accounts(user: User) -> list[LinkedAccount]:
    """The user's own Microsoft links."""
    return list(db.session.scalars(select(LinkedAccount).where(LinkedAccount.user_id == user.id)
                                   .order_by(LinkedAccount.id)))


def has_password_sign_in(user: User) -> bool:
    """Password users and the service provider have a password to change; SSO users do not."""
    return user.is_system_admin or user.auth_type == AUTH_PASSWORD


def two_step_status(user: User, policy: Any) -> TwoStepStatus:
    """The user's 2-step verification as plain words."""
    if not has_password_sign_in(user):
        return TwoStepStatus("Not used: you sign in with Microsoft (Single Sign-On).")
    if not user.require_2fa:
        return TwoStepStatus("Not required for your account.")
    if not getattr(policy, "totp_enabled", False):
        return TwoStepStatus("Required for your account, but 2-step verification is currently disabled "
                             "for your organization.")
    if user.totp_confirmed and user.totp_secret_enc:
        return TwoStepStatus("On: after your password you enter a code from your authenticator app.")
    return TwoStepStatus("Required, but not set up yet.", can_set_up=True)


def change_password(user: User, current: str, new: str, repeat: str, policy: Any) -> dict[str, str]:
    """Change the user's own password: field errors, or {} after the change (caller commits).

    A success bumps the session version, so every other session of the user ends.
    """
    cfg = current_app.config
    if hit_rate_limit(f"password_change:{user.id}", cfg["PASSWORD_CHANGE_ATTEMPTS"],
                      cfg["PASSWORD_CHANGE_WINDOW_SECONDS"]):
        return {"current_password": "Too many attempts. Wait a few minutes and try again."}
    if not has_password_sign_in(user):
        return {"current_password": "Your account signs in with Single Sign-On and has no password."}
    if not verify_password(user.password_hash, current or ""):
        return {"current_password": "The current password is not right."}
    errors: dict[str, str] = {}
    if problems := password_problems(new or "", policy):
        errors["new_password"] = describe_problems(problems)
    elif new == current:
        errors["new_password"] = "Choose a password different from the current one."
    if new != repeat:
        errors["new_password_repeat"] = "The two new passwords are not the same."
    if errors:
        return errors
    user.password_hash = hash_password(new)
    user.session_version += 1
    audit.record("user.password_changed", tenant_id=user.tenant_id, target=user, actor=user,
                 details={"by": "self", "sessions_ended": ["password_changed"]})
    return {}
