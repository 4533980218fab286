"""Link and unlink a Microsoft account from the profile (the same callback as sign-in)."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import SelectChoice

from .. import audit, clock
from ..extensions import db
from ..models import CONN_CONNECTED, Connection, Integration, LinkedAccount
from ..navigation import link_to
from ..passwords import verify_password
from ..security import hit_rate_limit
from . import bp, flows, microsoft, sso, sso_routes
from .forms import EmptyForm, LinkForm

def linkable_integrations(user) -> list[Integration]:
    """Enabled integrations through which the user's tenant has a connected organization."""
    return list(db.session.scalars(
        select(Integration).join(Connection, Connection.integration_id == Integration.id)
        .where(Connection.tenant_id == user.tenant_id, Connection.status == CONN_CONNECTED,
               Integration.enabled.is_(True)).distinct().order_by(Integration.name)))


def my_links(user) -> list[LinkedAccount]:
    """The user's linked Microsoft accounts."""
    return list(db.session.scalars(select(LinkedAccount).where(LinkedAccount.user_id == user.id)
                                   .order_by(LinkedAccount.linked_at)))


@bp.route("/profile/microsoft", methods=["GET", "POST"])
@login_required
def microsoft_link():
    """Link Microsoft account: re-enter the password, then pick the account at Microsoft."""
    integrations = linkable_integrations(current_user)
    form = LinkForm()
    form.integration_id.choices = [SelectChoice(i.id, i.name) for i in integrations]
    if form.validate_on_submit():
        cfg = current_app.config  # re-entering the password is limited like changing it
        limited = hit_rate_limit(f"link:{current_user.id}", cfg["PASSWORD_CHANGE_ATTEMPTS"],
                                 cfg["PASSWORD_CHANGE_WINDOW_SECONDS"])
        ok = not limited and verify_password(current_user.password_hash, form.password.data)
        db.session.commit()
        if ok:
            integration = next(i for i in integrations if i.id == form.integration_id.data)
            return begin_link(sso_routes.snapshot(integration))
        form.password.errors.append("Too many attempts: wait a few minutes." if limited else "The password is not right.")
    profile = link_to("profile.index") or url_for("main.home")
    return render_template("auth/link.html", form=form, integrations=integrations, links=my_links(current_user),
                           unlink_form=EmptyForm(), back=profile,
                           breadcrumbs=[("Profile", profile), ("Microsoft account", None)])


def begin_link(info):
    """Start the linking round trip (the admin-chosen account is picked at Microsoft)."""
    context = {"user_id": current_user.id, "sv": current_user.session_version}
    db.session.commit()
    try:
        flow = microsoft.start_flow(info, prompt="select_account")
    except microsoft.ProviderError as exc:
        return sso_routes.provider_problem(exc, current_user.tenant_id, flows.LINK)
    flows.save(flows.LINK, info.id, flow, context)
    db.session.commit()
    return redirect(flow["auth_uri"])


def handle_link(info, payload: dict, query: dict):
    """Finish linking: the organization must be connected to the user's tenant; one link each way."""
    context = payload.get("context") or {}
    if not current_user.is_authenticated or current_user.id != context.get("user_id"):
        return sso_routes.problem("Linking could not be completed", "Sign in again and start from your profile.")
    if query.get("error"):
        return sso_routes.answer_error(info, query, flows.LINK)
    try:
        _, claims = sso_routes.redeem(info, payload, query)
    except microsoft.TokenInvalid as exc:
        return sso_routes.refuse_token(exc, flows.LINK)
    except microsoft.ProviderError as exc:
        return sso_routes.provider_problem(exc, current_user.tenant_id, flows.LINK)
    message = link_account(info, claims)
    db.session.commit()
    flash(message or "Your Microsoft account is linked: you can now use Sign in with Microsoft.",
          "danger" if message else "success")
    return redirect(url_for("auth.microsoft_link"))


def link_account(info, claims: dict) -> str | None:
    """Create the link, or return why it cannot be made."""
    connection = sso.connection_for(info.id, claims["tid"])
    if connection is None or connection.tenant_id != current_user.tenant_id or connection.status != CONN_CONNECTED:
        return "That Microsoft account's organization is not connected to your portal."
    existing = db.session.scalars(select(LinkedAccount).where(
        LinkedAccount.connection_id == connection.id,
        (LinkedAccount.oid == claims["oid"]) | (LinkedAccount.user_id == current_user.id))).first()
    if existing is not None and existing.user_id != current_user.id:
        audit.record("link.refused", tenant_id=current_user.tenant_id, target=current_user,
                     details={"reason": "oid_linked_to_another_user", "tid": claims["tid"], "oid": claims["oid"]})
        return "That Microsoft account is already linked to another portal user."
    if existing is not None:
        return ("Your account is already linked to a Microsoft account of this organization. "
                "Unlink it first to link another one.") if existing.oid != claims["oid"] else None
    db.session.add(LinkedAccount(connection_id=connection.id, user_id=current_user.id, oid=claims["oid"],
                                 sub=claims.get("sub") or "", email_at_link=claims.get("email") or "",
                                 name_at_link=claims.get("name") or "", linked_at=clock.now()))
    audit.record("link.created", tenant_id=current_user.tenant_id, target=current_user,
                 details={"tid": claims["tid"], "oid": claims["oid"], "email": claims.get("email"),
                          "how": "profile (password re-entered)"})
    return None


@bp.route("/profile/microsoft/<int:link_id>/unlink", methods=["POST"])
@login_required
def microsoft_unlink(link_id: int):
    """Unlink one of the user's own Microsoft accounts."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    link = db.session.scalars(select(LinkedAccount).where(LinkedAccount.id == link_id,
                                                          LinkedAccount.user_id == current_user.id)).first()
    if link is None:
        abort(404)
    audit.record("link.removed", tenant_id=current_user.tenant_id, target=current_user,
                 details={"oid": link.oid, "email": link.email_at_link, "by": "the user"})
    db.session.delete(link)
    db.session.commit()
    flash("Your Microsoft account is unlinked.", "success")
    return redirect(url_for("auth.microsoft_link"))


sso_routes.register_handler(flows.LINK, handle_link)
