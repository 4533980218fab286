"""Password Policy (view, Edit Configuration) and Check access: read a form, call the service."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from .. import clock
from ..access import current_tenant_id, get_scoped_or_404, scoped, tenant_admin_required
from ..extensions import db
from ..models import User
from . import bp, service
from .forms import DOMAIN_MISMATCH_NOTE, MANDATORY_NOTE, RESTRICTED_DOMAINS_HELP, PolicyForm
from .preview import access_report, connection_facts

STALE_MESSAGE = ("Someone else changed the password policy while you were editing, so your changes "
                 "were not saved. The saved settings are shown above; your entries are kept below. "
                 "Save again to replace the saved settings with yours.")
SAVED_MESSAGES = {
    None: "Password policy saved.",
    "mandatory": ("Password policy saved. Single Sign-On is now Mandatory: password sessions of this "
                  "tenant's users have ended, yours included if you signed in with a password; "
                  "sign in with Microsoft."),
}
SEARCH_LIMIT = 20


def _policy():
    """The current tenant's policy (tenant_admin_required guarantees there is a tenant)."""
    return service.policy_for_tenant(current_tenant_id())


@bp.route("/password-policy")
@tenant_admin_required
def view():
    """The read view with Edit Configuration."""
    connections = connection_facts(current_tenant_id())
    return render_template("password_policy/view.html", policy=_policy(), connections=connections)


@bp.route("/password-policy/edit", methods=["GET", "POST"])
@tenant_admin_required
def edit():
    """Edit Configuration; restricting SSO changes are confirmed after a lockout preview."""
    policy = _policy()
    if request.method == "GET":
        form = PolicyForm(data={**service.snapshot(policy), "domains": policy.restricted_domains or [],
                                "version": policy.version or ""})
        return _edit_page(form, policy)
    form = PolicyForm()
    if form.edit_domain_list(request.form) or "back" in request.form:
        return _edit_page(form, policy)
    valid = form.validate() & form.check_domain_entries()  # both run, so every error shows at once
    if not valid:
        return _edit_page(form, policy), 422
    outcome = service.submit(policy, form.values(), tenant_id=current_tenant_id(), actor=current_user,
                             version=form.version.data, confirmed=form.confirm.data == "1", now=clock.now())
    return _after_submit(form, policy, outcome)


def _after_submit(form: PolicyForm, policy, outcome: service.Outcome):
    """Turn the service's outcome into a page: saved, stale, refused or the confirmation."""
    if outcome.status == service.SAVED:
        try:
            db.session.commit()
        except (StaleDataError, IntegrityError):  # another save won the race between read and write
            db.session.rollback()
            outcome = service.Outcome(service.STALE)
            policy = _policy()
        else:
            mode = outcome.changes.get("after", {}).get("sso_mode")  # present only when it changed
            flash(SAVED_MESSAGES.get(mode, SAVED_MESSAGES[None]), "success")
            return redirect(url_for("password_policy.view"))
    if outcome.status == service.UNCHANGED:
        flash("Nothing changed.", "info")
        return redirect(url_for("password_policy.view"))
    if outcome.status == service.CONFIRM:
        return render_template("password_policy/confirm.html", form=form, preview=outcome.preview,
                               policy=policy)
    if outcome.status == service.STALE:
        form.version.data = str(policy.version or "")
        return _edit_page(form, policy, stale=True), 409
    return _edit_page(form, policy, refusal=outcome.decision), 422


def _edit_page(form: PolicyForm, policy, *, stale: bool = False, refusal=None):
    """The edit form, with the saved settings when they moved underneath the admin."""
    return render_template("password_policy/edit.html", form=form, policy=policy, stale=stale,
                           stale_message=STALE_MESSAGE, refusal=refusal,
                           connections=connection_facts(current_tenant_id()),
                           help_domains=RESTRICTED_DOMAINS_HELP, note_mandatory=MANDATORY_NOTE,
                           note_mismatch=DOMAIN_MISMATCH_NOTE)


@bp.route("/check-access")
@tenant_admin_required
def check_access():
    """Pick a user; see whether password and Microsoft sign-in would work today, and why."""
    q = (request.args.get("q") or "").strip()[:254]
    matches = []
    if q:
        prefix = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = list(db.session.scalars(
            scoped(User).where(or_(User.login_key.like(prefix, escape="\\"),
                                   User.email_key.like(prefix, escape="\\")))
            .order_by(User.login_key).limit(SEARCH_LIMIT)))
    report = None
    if (user_id := request.args.get("user", type=int)) is not None:
        report = access_report(get_scoped_or_404(User, user_id), _policy(), clock.now())
    return render_template("password_policy/check_access.html", q=q, matches=matches, report=report,
                           limit=SEARCH_LIMIT)
