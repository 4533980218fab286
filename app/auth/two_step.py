"""The 2-step verification step of password sign-in: set up an authenticator once, then a code.

routes.login leaves session["pending_2fa"] = {uid, sv, next, at, enrol} when the rules ask for a
code; nothing is signed in until the code is right. The pending state lasts PENDING_SECONDS.
"""
from __future__ import annotations

from typing import Optional

from flask import flash, redirect, render_template, session, url_for
from flask_wtf import FlaskForm
from wtforms import StringField

from .. import audit, clock, crypto
from ..extensions import db
from ..models import User
from ..security import safe_next
from . import bp, rules, totp
from .routes import PENDING_2FA
from .service import policy_for, start_session


class CodeForm(FlaskForm):
    """The 6-digit code from the authenticator app."""

    code = StringField("Code")


def pending_user() -> Optional[User]:
    """The user waiting for their code, if the pending sign-in is still valid and allowed."""
    pending = session.get(PENDING_2FA)
    if not isinstance(pending, dict) or not isinstance(pending.get("uid"), int):
        return None
    now = clock.now()
    if now.timestamp() - float(pending.get("at") or 0) > totp.PENDING_SECONDS:
        return None
    user = db.session.get(User, pending["uid"])
    # An admin who disabled the user, changed the password or switched them to Single Sign-On
    # meanwhile bumped the session version: the half-finished sign-in ends too.
    if user is None or user.session_version != pending.get("sv"):
        return None
    if not rules.password_allowed(user, policy_for(user), now).allowed:
        return None
    return user


def setup_secret(key: str, holder: dict) -> str:
    """The secret being set up, kept encrypted in the session until a code confirms it."""
    secret = crypto.decrypt(holder.get(key)) if holder.get(key) else None
    if not secret:
        secret = totp.new_secret()
        holder[key] = crypto.encrypt(secret)
        session.modified = True
    return secret


@bp.route("/login/two-step", methods=["GET", "POST"])
def two_step():
    """Ask for the code (after setting up the authenticator app the first time)."""
    user = pending_user()
    if user is None:
        session.pop(PENDING_2FA, None)
        flash("Your sign-in expired or is no longer valid. Sign in again.", "warning")
        return redirect(url_for("auth.login"))
    enrol = not totp.is_enrolled(user)
    secret = setup_secret("secret", session[PENDING_2FA]) if enrol else totp.stored_secret(user)
    form, error = CodeForm(), None
    if form.validate_on_submit():
        reason = totp.check_code(user, secret, form.code.data, clock.now(), enrol=enrol, purpose="sign_in")
        db.session.commit()
        if reason == totp.OK:
            return _finish(user)
        error, form.code.data = totp.MESSAGES[reason], ""
        if reason == totp.RATE_LIMITED:
            return _render(user, form, enrol, secret, error), 429
    return _render(user, form, enrol, secret, error)


def _render(user: User, form: CodeForm, enrol: bool, secret: Optional[str], error: Optional[str]):
    """The code page; with the QR code and the key while setting up."""
    setup = None
    if enrol and secret:
        setup = {"qr": totp.qr_data_uri(totp.provisioning_uri(secret, user)), "key": totp.grouped(secret)}
    return render_template("auth/two_step.html", form=form, setup=setup, error=error, user=user)


def _finish(user: User):
    """The code was right: sign in on a fresh session and go where the user was going."""
    target = safe_next(session.get(PENDING_2FA, {}).get("next"), url_for("main.home"))
    audit.record("sign_in.two_step", tenant_id=user.tenant_id, target=user, actor=user,
                 details={"method": "password", "reason": rules.OK})
    start_session(user, "password")
    db.session.commit()
    return redirect(target)
