"""Profile views: the page, changing the password, setting up 2-step verification."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from .. import clock
from ..access import ACTING_TENANT_KEY
from ..auth import totp
from ..auth.service import start_session
from ..auth.two_step import CodeForm, setup_secret
from ..extensions import db
from ..passwords import describe_problems, password_problems
from . import bp
from .forms import PasswordChangeForm
from .service import change_password, has_password_sign_in, linked_accounts, policy_of, two_step_status

SETUP_KEY = "totp_setup"


@bp.route("/")
@login_required
def index():
    """The signed-in user's own account."""
    user = current_user._get_current_object()
    policy = policy_of(user)
    return render_template("profile/index.html", user=user, links=linked_accounts(user),
                           can_change_password=has_password_sign_in(user),
                           two_step=two_step_status(user, policy))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Change the own password; other sessions end, this one goes on."""
    user = current_user._get_current_object()
    if not has_password_sign_in(user):
        abort(404)
    policy, form = policy_of(user), PasswordChangeForm()
    if form.validate_on_submit():
        errors = change_password(user, form.current_password.data, form.new_password.data,
                                 form.new_password_repeat.data, policy)
        db.session.commit()  # also keeps the attempt count when the change was refused
        if not errors:
            _stay_signed_in(user)
            flash("Your password was changed. Your other sessions were signed out.", "success")
            return redirect(url_for("profile.index"))
        for name, message in errors.items():
            getattr(form, name).errors = [message]
    return render_template("profile/password.html", form=form,
                           rules=describe_problems(password_problems("", policy)))


@bp.route("/two-step", methods=["GET", "POST"])
@login_required
def two_step():
    """Set up an authenticator app when the account requires 2-step verification."""
    user = current_user._get_current_object()
    if not two_step_status(user, policy_of(user)).can_set_up:
        return redirect(url_for("profile.index"))
    holder = session.setdefault(SETUP_KEY, {})
    secret, form, error = setup_secret("secret", holder), CodeForm(), None
    if form.validate_on_submit():
        reason = totp.check_code(user, secret, form.code.data, clock.now(), enrol=True, purpose="profile")
        db.session.commit()
        if reason == totp.OK:
            session.pop(SETUP_KEY, None)
            flash("2-step verification is set up.", "success")
            return redirect(url_for("profile.index"))
        error, form.code.data = totp.MESSAGES[reason], ""
    setup = {"qr": totp.qr_data_uri(totp.provisioning_uri(secret, user)), "key": totp.grouped(secret)}
    return render_template("profile/two_step.html", form=form, setup=setup, error=error)


def _stay_signed_in(user) -> None:
    """A new session with the new session version, keeping how the user signed in."""
    method, acting = session.get("auth_method", "password"), session.get(ACTING_TENANT_KEY)
    start_session(user, method)
    if acting is not None:
        session[ACTING_TENANT_KEY] = acting
    db.session.commit()
