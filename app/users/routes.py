"""Users views: read the form, call app/users/service.py, then flash, redirect or render."""
from __future__ import annotations

from types import SimpleNamespace

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import clock
from ..access import current_tenant, current_tenant_id, get_scoped_or_404, scoped, tenant_admin_required
from ..accounts import ValidationFailed
from ..auth.forms import EmptyForm
from ..extensions import db
from ..models import Connection, PasswordPolicy, User
from ..passwords import describe_problems, password_problems
from . import bp, listing, service
from .forms import DeleteForm, UserForm


@bp.route("/")
@tenant_admin_required
def index():
    """The tenant's users: search, sort and keyset pages."""
    req = listing.parse_request(request.args)
    page = listing.users_page(scoped(User), current_tenant_id(), req, current_app.config["PAGE_SIZE"])
    return render_template("users/index.html", page=page, sorts=listing.SORTS)


@bp.route("/new", methods=["GET", "POST"])
@tenant_admin_required
def create():
    """Add a user to the tenant."""
    form = UserForm()
    if form.validate_on_submit():
        try:
            user = service.create(current_tenant(), form.to_input(), clock.today())
            service.commit()
        except ValidationFailed as exc:
            db.session.rollback()
            form.show_errors(exc.errors)
        else:
            flash(f"User {user.login} created.", "success")
            return redirect(url_for("users.view", user_id=user.id))
    return _render_form(form, None)


@bp.route("/<int:user_id>")
@tenant_admin_required
def view(user_id: int):
    """One user's details, warnings, 2-step status and Microsoft links."""
    user = get_scoped_or_404(User, user_id)
    links = service.links_of(user)
    return render_template("users/view.html", user=user, links=links, form=EmptyForm(),
                           **_access_context(_subject(user), bool(links)))


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@tenant_admin_required
def edit(user_id: int):
    """Change a user; refuses to overwrite a change someone else saved meanwhile."""
    user = get_scoped_or_404(User, user_id)
    form, conflict = UserForm(obj=user), False
    if form.validate_on_submit():
        try:
            saved = service.update(user, current_tenant(), form.to_input(), actor=current_user,
                                   loaded_version=form.version.data, today=clock.today())
            service.commit()
        except service.Conflict:
            db.session.rollback()
            user, conflict = get_scoped_or_404(User, user_id), True
            form.version.data = user.version  # saving again, after review, applies the changes
        except ValidationFailed as exc:
            db.session.rollback()
            form.show_errors(exc.errors)
        else:
            flash(_saved_message(user, saved), "success")
            return redirect(url_for("users.view", user_id=user.id))
    return _render_form(form, user, conflict)


@bp.route("/<int:user_id>/delete", methods=["GET", "POST"])
@tenant_admin_required
def delete(user_id: int):
    """Confirm, then delete a user."""
    user = get_scoped_or_404(User, user_id)
    form = DeleteForm(version=user.version)
    if form.validate_on_submit():
        login = user.login
        try:
            service.delete(user, actor=current_user, loaded_version=form.version.data, today=clock.today())
            service.commit()
        except service.Conflict:
            db.session.rollback()
            flash("This user was changed by someone else meanwhile. Review the current values "
                  "before deleting.", "warning")
        except service.Refused as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            flash(f"User {login} deleted.", "success")
            return redirect(url_for("users.index"))
        return redirect(url_for("users.view", user_id=user_id))
    return render_template("users/delete.html", user=user, form=form)


@bp.route("/<int:user_id>/reset-two-step", methods=["POST"])
@tenant_admin_required
def reset_two_step(user_id: int):
    """Forget the user's authenticator app, so they set it up again at next sign-in."""
    user = get_scoped_or_404(User, user_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        done = service.reset_two_step(user)
        service.commit()
    except service.Conflict:
        done = None
        flash("This user was changed by someone else meanwhile; try again.", "warning")
    if done is not None:
        flash(f"2-step verification of {user.login} was reset: they set it up again at their next "
              "sign-in." if done else f"{user.login} has not set up 2-step verification.",
              "success" if done else "info")
    return redirect(url_for("users.view", user_id=user_id))


def _subject(user: User) -> SimpleNamespace:
    """The saved user as the warnings read it (whether a password is set, never the hash)."""
    return SimpleNamespace(email=user.email, web_access=user.web_access, valid_till=user.valid_till,
                           auth_type=user.auth_type, require_2fa=user.require_2fa,
                           has_password=bool(user.password_hash))


def _access_context(subject: SimpleNamespace, has_link: bool) -> dict:
    """The tenant's policy and the guide's warnings for this user (saved or as typed)."""
    policy = db.session.scalars(scoped(PasswordPolicy)).first()
    connections = list(db.session.scalars(scoped(Connection)))
    warnings = service.form_warnings(subject, policy, connections, has_link, clock.now())
    return {"policy": policy, "warnings": warnings,
            "password_rules": describe_problems(password_problems("", policy))}


def _render_form(form: UserForm, user: User | None, conflict: bool = False):
    """The create or edit page, with the warnings for the values shown."""
    links = service.links_of(user) if user else []
    # A new user's form has nothing to warn about a missing password: it is being typed.
    has_password = user is None or bool(user.password_hash)
    context = _access_context(form.subject(has_password), bool(links))
    return render_template("users/form.html", form=form, user=user, links=links, conflict=conflict,
                           conflict_message=service.CONFLICT, **context)


@bp.context_processor
def _notes() -> dict:
    """The guide's fixed notes, for the users templates."""
    return {"notes": {"sso_email": service.SSO_EMAIL, "two_step_off": service.TWO_STEP_OFF,
                      "sso_implicit": service.SSO_IMPLICIT}}


def _saved_message(user: User, saved: service.Saved) -> str:
    """What the flash says after a save."""
    parts = [f"User {user.login} saved."]
    if saved.links_removed:
        parts.append("Their linked Microsoft account was removed: the next Microsoft sign-in must "
                     "match the new email.")
    if saved.sessions_ended:
        parts.append("They were signed out everywhere.")
    return " ".join(parts)
