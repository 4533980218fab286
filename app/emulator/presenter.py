"""The presenter page: change the directory live during a demo (front channel, loopback only)."""
import hmac

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from .common import get_state, http_base, https_base
from .state import TAMPER_MODES, is_admin

bp = Blueprint("presenter", __name__, url_prefix="/_presenter")


@bp.before_request
def check_csrf():
    """POSTs must carry the per-process token printed in the page (a demo tool, but still no CSRF)."""
    if request.method == "POST":
        expected = current_app.config["PRESENTER_CSRF"]
        if not hmac.compare_digest(request.form.get("csrf_token", ""), expected):
            abort(400, "The form has expired; reload the presenter page.")


def _consent_status(state, tid, client_id):
    """A short description of an app's consent in an organization."""
    sp = state.service_principal(tid, client_id)
    if sp is None:
        return "Not consented"
    if sp["admin_consent"]:
        return "Admin consent granted"
    members = {u["oid"] for u in state.users(tid)}
    count = sum(1 for oid in members if state.user_consented(oid, client_id))
    return f"User consent ({count} user{'s' if count != 1 else ''})"


@bp.get("")
def index():
    """Organizations, their users and the apps' consent, with the actions a presenter needs."""
    state = get_state()
    orgs = []
    for org in state.organizations():
        apps = [{"app": app, "status": _consent_status(state, org["tid"], app["client_id"])}
                for app in state.apps()]
        users = [dict(u, admin=is_admin(u), verified=state.email_verified(u))
                 for u in state.users(org["tid"])]
        orgs.append({"org": org, "apps": apps, "users": users})
    return render_template("presenter.html", orgs=orgs, csrf_token=current_app.config["PRESENTER_CSRF"],
                           tamper=state.tamper, tamper_modes=sorted(TAMPER_MODES), delay=state.delay,
                           https_base=https_base(), http_base=http_base())


def _org_name(tid):
    """The name of an organization, or 404 for an unknown tenant id."""
    org = get_state().org(tid)
    if org is None:
        abort(404)
    return org["name"]


def _user_name(oid):
    """The display name of a user, or 404 for an unknown object id."""
    user = get_state().user(oid)
    if user is None:
        abort(404)
    return user["display_name"]


def _done(message):
    """Flash a confirmation and go back to the page (post/redirect/get)."""
    flash(message)
    return redirect(url_for("presenter.index"))


@bp.post("/revoke")
def revoke():
    """Remove an app's consent (service principal and user consents) from an organization."""
    name = _org_name(request.form["tid"])
    get_state().revoke_consent(request.form["tid"], request.form["client_id"])
    return _done(f"Consent revoked in {name}.")


@bp.post("/grant")
def grant():
    """Grant tenant-wide admin consent for an app in an organization."""
    name = _org_name(request.form["tid"])
    get_state().grant_admin_consent(request.form["tid"], request.form["client_id"])
    return _done(f"Admin consent granted in {name}.")


@bp.post("/email")
def email():
    """Change a user's mail attribute (what the next id token's email claim says)."""
    name = _user_name(request.form["oid"])
    get_state().set_user_email(request.form["oid"], request.form.get("email", ""))
    return _done(f"Email of {name} changed.")


@bp.post("/enabled")
def enabled():
    """Disable or enable a user's sign-in."""
    name, enable = _user_name(request.form["oid"]), request.form.get("enabled") == "1"
    get_state().set_user_enabled(request.form["oid"], enable)
    return _done(f"{name} {'enabled' if enable else 'disabled'}.")


@bp.post("/tamper")
def tamper():
    """Switch a token defect on or off (to show the portal refusing a forged or broken token)."""
    mode = request.form.get("mode") or None
    if mode is not None and mode not in TAMPER_MODES:
        abort(400)
    get_state().set_tamper(mode)
    return _done(f"Token tampering: {mode or 'off'}.")


@bp.post("/reset")
def reset():
    """Put the directory back to its seed (registered apps stay)."""
    get_state().reset()
    return _done("Directory reset to the seed.")
