"""Loading the signed-in user: session version, account state and session lifetimes."""
from __future__ import annotations

from flask import Flask, current_app, session
from flask_login import current_user, logout_user

from . import clock
from .auth import rules
from .extensions import db, login_manager
from sqlalchemy import select

from .models import AUTH_PASSWORD, SSO_MANDATORY, PasswordPolicy, User


@login_manager.user_loader
def load_user(login_id: str):
    """Resolve "<id>:<session_version>"; a stale version or an unusable account ends the session."""
    try:
        user_id, version = (int(part) for part in login_id.split(":", 1))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or user.session_version != version:
        return None
    if rules.account_state(user, clock.now()):
        return None
    if session.get("auth_method") == "password" and _password_no_longer_allowed(user):
        return None
    return user


def _password_no_longer_allowed(user: User) -> bool:
    """A password session ends when the user's own rules stop allowing passwords (Mandatory SSO,
    or the user switched to Single Sign-On); Microsoft sessions of the same user go on."""
    if user.is_system_admin:
        return False
    if user.auth_type != AUTH_PASSWORD:
        return True
    mode = db.session.scalar(select(PasswordPolicy.sso_mode).where(PasswordPolicy.tenant_id == user.tenant_id))
    return mode == SSO_MANDATORY


def init_app(app: Flask) -> None:
    """Enforce idle and absolute lifetimes on every request of a signed-in user."""
    from .security import session_expired

    @app.before_request
    def _lifetimes():
        if "_user_id" not in session:
            return
        cfg = current_app.config
        if session_expired(clock.now(), cfg["SESSION_IDLE_MINUTES"], cfg["PERMANENT_SESSION_LIFETIME"]):
            if current_user.is_authenticated:
                logout_user()
            session.clear()
