"""Sign-in and sign-out views: read the form, call the service, show the outcome."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from .. import audit, clock
from ..extensions import db
from ..security import safe_next
from . import bp, rules
from .forms import EmptyForm, LoginForm
from .service import RATE_LIMITED, password_sign_in, start_session

# One message for every refusal: nothing tells which logins exist or why one failed.
FAILED = "Invalid login or password."
PENDING_2FA = "pending_2fa"


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Login and Password (and, when integrations exist, Sign in with Microsoft)."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next"), url_for("main.home")))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        outcome = password_sign_in(form.login.data, form.password.data, request.remote_addr or "")
        db.session.commit()
        decision, user = outcome.decision, outcome.user
        target = safe_next(form.next.data, url_for("main.home"))
        if decision.reason == RATE_LIMITED:
            return render_template("auth/login.html", form=form, error=decision.message
                                   + " Wait a few minutes and try again."), 429
        if not decision.allowed:
            form.password.data = ""
            return render_template("auth/login.html", form=form, error=FAILED), 200
        if decision.reason in (rules.TOTP_REQUIRED, rules.TOTP_ENROL):
            session.clear()
            session[PENDING_2FA] = {"uid": user.id, "sv": user.session_version, "next": target,
                                    "at": clock.now().timestamp(), "enrol": decision.reason == rules.TOTP_ENROL}
            return redirect(url_for("auth.two_step"))
        start_session(user, "password")
        db.session.commit()
        return redirect(target)
    return render_template("auth/login.html", form=form, error=None)


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out: a POST with a CSRF token, so no other site can sign a user out."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        audit.record("sign_out", tenant_id=current_user.tenant_id, target=current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have been signed out.", "success")
    return redirect(url_for("auth.login"))


@bp.app_context_processor
def _logout_form():
    """Every page's Sign out button needs a CSRF token."""
    return {"logout_form": EmptyForm()}
