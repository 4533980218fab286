"""Tenants: list, create with a first admin, choose the tenant to manage."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from sqlalchemy import func, or_, select

from ..access import ACTING_TENANT_KEY, system_admin_required
from ..accounts import NewUser, ValidationFailed, create_tenant, create_user, slugify
from ..auth.forms import EmptyForm
from ..extensions import db
from ..models import ROLE_TENANT_ADMIN, Tenant, User
from ..pagination import paginate_offset
from ..password_policy.service import policy_for_tenant, reset_sso as reset_sso_settings
from . import bp
from .forms import TenantForm


@bp.route("/")
@system_admin_required
def index():
    """All tenants, searchable by name or slug, a page at a time."""
    q = (request.args.get("q") or "").strip()
    stmt = select(Tenant).order_by(Tenant.name, Tenant.id)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(func.lower(Tenant.name).like(like), Tenant.slug.like(like)))
    page = paginate_offset(stmt, request.args.get("page"), current_app.config["PAGE_SIZE"])
    counts = dict(db.session.execute(
        select(User.tenant_id, func.count(User.id))
        .where(User.tenant_id.in_([t.id for t in page.items])).group_by(User.tenant_id)
    ).all()) if page.items else {}
    return render_template("tenants/index.html", page=page, q=q, counts=counts, form=EmptyForm())


@bp.route("/new", methods=["GET", "POST"])
@system_admin_required
def create():
    """Create a tenant together with its first tenant administrator."""
    form = TenantForm()
    if form.validate_on_submit():
        try:
            tenant = create_tenant(form.name.data, form.slug.data or slugify(form.name.data))
            create_user(tenant, NewUser(login=form.admin_login.data.strip(),
                                        email=form.admin_email.data.strip(),
                                        display_name=form.admin_name.data,
                                        role=ROLE_TENANT_ADMIN, password=form.admin_password.data))
        except ValidationFailed as exc:
            db.session.rollback()
            mapping = {"login": "admin_login", "email": "admin_email", "display_name": "admin_name",
                       "password": "admin_password"}
            for name, message in exc.errors.items():
                getattr(form, mapping.get(name, name)).errors.append(message)
        else:
            db.session.commit()
            flash(f"Tenant “{tenant.name}” created with administrator {form.admin_login.data.strip()}.",
                  "success")
            return redirect(url_for("tenants.index"))
    return render_template("tenants/form.html", form=form)


@bp.route("/<int:tenant_id>/manage", methods=["POST"])
@system_admin_required
def manage(tenant_id: int):
    """Choose the tenant whose pages the service provider works on."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    tenant = db.session.get(Tenant, tenant_id) or abort(404)
    session[ACTING_TENANT_KEY] = tenant.id
    flash(f"You are now managing “{tenant.name}”.", "info")
    return redirect(url_for("main.home"))


@bp.route("/stop-managing", methods=["POST"])
@system_admin_required
def stop_managing():
    """Leave the chosen tenant."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    session.pop(ACTING_TENANT_KEY, None)
    return redirect(url_for("tenants.index"))


@bp.route("/<int:tenant_id>/reset-sso", methods=["GET", "POST"])
@system_admin_required
def reset_sso(tenant_id: int):
    """Break glass: confirm, then set the tenant's SSO back to Enabled with no restricted domains."""
    tenant = db.session.get(Tenant, tenant_id) or abort(404)
    form = EmptyForm()
    if form.validate_on_submit():
        reset_sso_settings(tenant)
        db.session.commit()
        flash(f"SSO settings of “{tenant.name}” reset: Single Sign-On is Enabled and restricted "
              "domains are cleared. Its users can sign in with their passwords again.", "success")
        return redirect(url_for("tenants.index"))
    return render_template("tenants/reset_sso.html", tenant=tenant, policy=policy_for_tenant(tenant.id),
                           form=form)
