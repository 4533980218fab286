"""Role checks and tenant scoping: the one place that decides who sees which rows."""
from __future__ import annotations

from functools import wraps
from typing import Any, TypeVar

from flask import abort, flash, g, redirect, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import Select, select

from .extensions import db
from .models import ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN, Tenant

M = TypeVar("M")
ACTING_TENANT_KEY = "acting_tenant_id"


def roles_required(*roles: str):
    """Allow only signed-in users with one of the roles (anonymous → login, others → 403)."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


admin_required = roles_required(ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN)
system_admin_required = roles_required(ROLE_SYSTEM_ADMIN)


def current_tenant_id() -> int | None:
    """The tenant the current user works in: their own, or the one a service provider chose."""
    if not current_user.is_authenticated:
        return None
    if current_user.role == ROLE_SYSTEM_ADMIN:
        return session.get(ACTING_TENANT_KEY)
    return current_user.tenant_id


def current_tenant() -> Tenant | None:
    """The Tenant row of current_tenant_id(), if any (read once per request)."""
    tid = current_tenant_id()
    if not tid:
        return None
    if getattr(g, "_tenant", None) is None or g._tenant.id != tid:
        g._tenant = db.session.get(Tenant, tid)
    return g._tenant


def tenant_admin_required(view):
    """Tenant administrators, and service providers once they have chosen a tenant."""

    @wraps(view)
    @admin_required
    def wrapped(*args, **kwargs):
        if current_tenant() is None:
            flash("Choose a tenant to manage first.", "info")
            return redirect(url_for("tenants.index"))
        return view(*args, **kwargs)

    return wrapped


def scoped(model: type[M], *, column: str = "tenant_id") -> Select:
    """select(model) limited to the current tenant; every tenant-scoped query starts here."""
    tid = current_tenant_id()
    if tid is None:
        abort(404)
    return select(model).where(getattr(model, column) == tid)


def get_scoped_or_404(model: type[M], ident: Any, *, column: str = "tenant_id") -> M:
    """One row of the current tenant by id; another tenant's id answers 404."""
    row = db.session.scalars(scoped(model, column=column).where(model.id == ident)).first()
    if row is None:
        abort(404)
    return row
