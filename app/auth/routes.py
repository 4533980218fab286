"""Sign-in and sign-out views: read the form, call the service, show the outcome."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from .. import audit, clock
from ..extensions import db
from ..security import safe_next
from ..models import Integration
from . import bp, microsoft, rules, sso_routes
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
    elif not form.password.data and (realm := sso_routes.realm_integration(form.login.data)):
        # An email of an organization that signs in with Microsoft and no password: go there
        # (works without JavaScript; CSRFProtect has already checked this POST).
        return sso_routes.begin_sign_in(realm, form.login.data, form.next.data)
    if form.validate_on_submit():
        outcome = password_sign_in(form.login.data, form.password.data, request.remote_addr or "")
        db.session.commit()
        decision, user = outcome.decision, outcome.user
        target = safe_next(form.next.data, url_for("main.home"))
        if decision.reason == RATE_LIMITED:
            return login_page(form, decision.message + " Wait a few minutes and try again.", 429)
        if not decision.allowed:
            form.password.data = ""
            return login_page(form, FAILED)
        if decision.reason in (rules.TOTP_REQUIRED, rules.TOTP_ENROL):
            session.clear()
            session[PENDING_2FA] = {"uid": user.id, "sv": user.session_version, "next": target,
                                    "at": clock.now().timestamp(), "enrol": decision.reason == rules.TOTP_ENROL}
            return redirect(url_for("auth.two_step"))
        start_session(user, "password")
        db.session.commit()
        return redirect(target)
    return login_page(form)


def login_page(form: LoginForm, error: str | None = None, status: int = 200):
    """The login page, with a Sign in with Microsoft button per enabled integration."""
    return render_template("auth/login.html", form=form, error=error,
                           integrations=sso_routes.enabled_integrations()), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out: a POST with a CSRF token, so no other site can sign a user out."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    integration_id = session.get("sso_integration_id") if session.get("auth_method") == "microsoft" else None
    if current_user.is_authenticated:
        audit.record("sign_out", tenant_id=current_user.tenant_id, target=current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You have been signed out.", "success")
    if integration_id:
        return redirect(url_for("auth.signed_out", integration=integration_id))
    return redirect(url_for("auth.login"))


@bp.route("/signed-out")
def signed_out():
    """After a Microsoft session: offer to sign out of Microsoft too (the portal session is gone)."""
    integration = db.session.get(Integration, request.args.get("integration", type=int) or 0)
    if integration is None or current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    info = sso_routes.snapshot(integration)
    db.session.commit()
    return render_template("auth/signed_out.html",
                           microsoft_logout=microsoft.logout_url(info, url_for("auth.login", _external=True)))


@bp.app_context_processor
def _logout_form():
    """Every page's Sign out button needs a CSRF token."""
    return {"logout_form": EmptyForm()}
