"""The 2-Step Verification settings page."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm.exc import StaleDataError
from wtforms import HiddenField, RadioField, SelectChoice

from ..access import current_tenant_id, scoped, tenant_admin_required
from ..extensions import db
from ..models import PasswordPolicy
from . import bp
from .service import Conflict, policy_or_new, set_totp

ENABLED, DISABLED = "enabled", "disabled"


class TwoStepForm(FlaskForm):
    """The tenant's switch, with the version of the policy it was read at."""

    totp = RadioField("2-step verification",
                      choices=[SelectChoice(ENABLED, "Enabled"), SelectChoice(DISABLED, "Disabled")],
                      description="Users set to “Require 2-step verification for user login” enter a "
                                  "6-digit code from an authenticator app after their password.")
    version = HiddenField()


@bp.route("/", methods=["GET", "POST"])
@tenant_admin_required
def settings():
    """Show and change whether the tenant uses 2-step verification."""
    policy = policy_or_new(db.session.scalars(scoped(PasswordPolicy)).first(), current_tenant_id())
    form = TwoStepForm(totp=ENABLED if policy.totp_enabled else DISABLED, version=policy.version or "")
    if form.validate_on_submit():
        try:
            changed = set_totp(policy, form.totp.data == ENABLED, form.version.data, current_user)
            db.session.commit()
        except (Conflict, StaleDataError):
            db.session.rollback()
            flash("Someone else changed these settings meanwhile. Review them and save again.", "warning")
        else:
            state = "enabled" if policy.totp_enabled else "disabled"
            flash(f"2-step verification is {state}." if changed else "Nothing changed.",
                  "success" if changed else "info")
        return redirect(url_for("two_step.settings"))
    return render_template("two_step/settings.html", form=form, policy=policy)
