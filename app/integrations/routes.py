"""Integrations: the list, one integration's page with its tabs, create, edit and delete."""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..access import admin_required, current_tenant_id
from ..accounts import ValidationFailed
from ..auth.forms import EmptyForm
from ..extensions import db
from ..pagination import paginate_offset
from . import bp, connections, scope, service
from .forms import DeleteForm, IntegrationForm

# Endpoints of the connect wizard (app/connect); their buttons show only once it is installed.
CONNECT_ENDPOINTS = ("connect.test", "connect.start", "connect.resume")
CONFLICT = ("Someone else saved this integration after you opened it. Nothing was saved. Your input "
            "is kept below: check it against the current settings, then save again to overwrite them.")


def connect_endpoints() -> set[str]:
    """The wizard endpoints that exist in this installation."""
    return {name for name in CONNECT_ENDPOINTS if name in current_app.view_functions}


def connections_tab(integration) -> dict[str, Any]:
    """The Connections tab: searched, paged, with linked-account counts."""
    q = (request.args.get("q") or "").strip()[:200]
    tenant_id = scope.connection_tenant_filter(current_user)
    stmt = connections.connections_query(integration, tenant_id, q)
    page = paginate_offset(stmt, request.args.get("page"), current_app.config["PAGE_SIZE"])
    return {"q": q, "page": page, "counts": connections.linked_counts(c.id for c in page.items),
            "show_tenant": tenant_id is None, "may_add": current_tenant_id() is not None}


@bp.route("/")
@admin_required
def index():
    """The integrations this administrator may see."""
    page = paginate_offset(scope.visible_integrations(current_user), request.args.get("page"),
                           current_app.config["PAGE_SIZE"])
    counts = connections.connection_counts((i.id for i in page.items),
                                           scope.connection_tenant_filter(current_user))
    return render_template("integrations/index.html", page=page, counts=counts)


@bp.route("/<int:integration_id>")
@admin_required
def view(integration_id: int):
    """One integration: its details, and the Settings or Connections tab."""
    integration = scope.visible_integration_or_404(integration_id)
    tab = "connections" if request.args.get("tab") == "connections" else "settings"
    extra = connections_tab(integration) if tab == "connections" else service.settings_summary(integration)
    return render_template("integrations/view.html", integration=integration, tab=tab,
                           may_edit=scope.can_edit(current_user, integration), form=EmptyForm(),
                           delete_form=DeleteForm(), endpoints=connect_endpoints(),
                           status_labels=connections.STATUS_LABELS, **extra)


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def create():
    """A new integration: system-wide for the service provider, the admin's tenant's otherwise."""
    form = IntegrationForm()
    owner = None if current_user.is_system_admin else current_user.tenant
    if form.validate_on_submit():
        try:
            integration = service.create_integration(
                form.to_input(), owner=owner, allow_custom=scope.may_use_custom_authority(current_user))
        except ValidationFailed as exc:
            db.session.rollback()
            form.add_errors(exc.errors)
        else:
            db.session.commit()
            flash(f"Integration “{integration.name}” created. Register its redirect URI in Entra ID.",
                  "success")
            return redirect(url_for(".view", integration_id=integration.id))
    return render_template("integrations/form.html", form=form, integration=None, owner=owner)


@bp.route("/<int:integration_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(integration_id: int):
    """Change an integration; the client secret is replaced only when a new one is typed."""
    integration = scope.editable_integration_or_404(integration_id)
    form = IntegrationForm(obj=integration if request.method == "GET" else None)
    if request.method == "GET":
        form.client_secret.data, form.version.data = "", integration.version
    elif form.validate_on_submit():
        try:
            changed = service.update_integration(
                integration, form.to_input(), expected_version=form.version.data,
                allow_custom=scope.may_use_custom_authority(current_user))
        except ValidationFailed as exc:
            db.session.rollback()
            form.add_errors(exc.errors)
        except service.EditConflict:
            db.session.rollback()
            integration = scope.editable_integration_or_404(integration_id)
            form.version.data = integration.version  # saving again is now a deliberate overwrite
            flash(CONFLICT, "warning")
        else:
            db.session.commit()
            flash("Integration saved." if changed else "No changes to save.", "success")
            return redirect(url_for(".view", integration_id=integration_id))
    return render_template("integrations/form.html", form=form, integration=integration,
                           owner=integration.owner_tenant)


@bp.route("/<int:integration_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(integration_id: int):
    """Delete; with connections, only from the second confirmation page that lists them."""
    integration = scope.editable_integration_or_404(integration_id)
    form = DeleteForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        outcome = service.delete_integration(integration, form.confirm_connections.data or None)
        if outcome.ok:
            db.session.commit()
            flash(outcome.message, "success")
            return redirect(url_for(".index"))
        db.session.rollback()
        flash(outcome.message, "warning")
        return redirect(url_for(".delete", integration_id=integration_id))
    listed = service.connections_of(integration)
    form.confirm_connections.data = service.confirmation_token(listed)
    return render_template("integrations/confirm_delete.html", integration=integration, form=form,
                           connections=listed, status_labels=connections.STATUS_LABELS)
