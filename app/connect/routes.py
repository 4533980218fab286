"""Connect service (Microsoft): Step 1. Getting started · Step 2. Configure · Step 3. Finish."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from .. import audit
from ..access import admin_required, current_tenant_id, get_scoped_or_404, tenant_admin_required
from ..auth import flows, microsoft, sso_routes
from ..auth.forms import EmptyForm
from ..extensions import db
from ..integrations import clouds
from ..navigation import link_to
from ..integrations.scope import visible_integration_or_404
from ..models import CONN_PENDING, Connection, Integration
from . import bp, service
from .forms import ConfigureForm

STEPS = ("Step 1. Getting started", "Step 2. Configure", "Step 3. Finish")


def connectable_integration_or_404(integration_id: int) -> Integration:
    """An integration the chosen tenant may connect through: system-wide or its own (a service
    provider acting for a tenant may not use another tenant's integration)."""
    integration = db.session.scalars(select(Integration).where(
        Integration.id == integration_id,
        or_(Integration.owner_tenant_id.is_(None), Integration.owner_tenant_id == current_tenant_id()),
    )).first()
    if integration is None:
        abort(404)
    return integration


def crumbs(integration: Integration | None = None):
    """Administration > System > Integrations (> the integration)."""
    trail = [("Administration", None), ("System", None), ("Integrations", link_to("integrations.index"))]
    if integration is not None:
        trail.append((integration.name, link_to("integrations.view", integration_id=integration.id)))
    return trail + [("Connect service (Microsoft)", None)]


@bp.route("/integrations/<int:integration_id>/connect", methods=["GET", "POST"])
@tenant_admin_required
def start(integration_id: int):
    """Step 1: explain, then Continue sends the admin to Microsoft to pick an admin account."""
    integration = connectable_integration_or_404(integration_id)
    form = EmptyForm()
    if form.validate_on_submit():
        return begin_connect(sso_routes.snapshot(integration), {})
    return render_template("connect/step1.html", integration=integration, form=form, steps=STEPS,
                           step=1, breadcrumbs=crumbs(integration), enabled=integration.enabled)


def begin_connect(info, context: dict):
    """Start the wizard's round trip with prompt=select_account."""
    tenant_id, user_id = current_tenant_id(), current_user.id
    db.session.commit()
    try:
        flow = microsoft.start_flow(info, prompt="select_account")
    except microsoft.ProviderError as exc:
        return sso_routes.provider_problem(exc, tenant_id, flows.CONNECT)
    flows.save(flows.CONNECT, info.id, flow, {**context, "tenant_id": tenant_id, "user_id": user_id})
    db.session.commit()
    return redirect(flow["auth_uri"])


def handle_connect(info, payload: dict, query: dict):
    """The callback of Step 1: read the organization, save the pending connection, go to Step 2."""
    context = payload.get("context") or {}
    if not current_user.is_authenticated or current_user.id != context.get("user_id"):
        return sso_routes.problem("This connection could not be completed",
                                  "Sign in to the portal as the administrator who started the wizard, then start again.")
    if query.get("error"):
        return approval_page(info, query)
    try:
        result, claims = sso_routes.redeem(info, payload, query)
        db.session.commit()
        orgs = microsoft.graph_get(info, result["access_token"], "/v1.0/organization").get("value") or [{}]
    except microsoft.TokenInvalid as exc:
        return sso_routes.refuse_token(exc, flows.CONNECT)
    except microsoft.ProviderError as exc:
        if exc.kind in sso_routes.PROVIDER_MESSAGES:
            return sso_routes.provider_problem(exc, context.get("tenant_id"), flows.CONNECT)
        return approval_page(info, {"error": exc.kind, "error_description": exc.description})
    saved = service.save_pending(info.id, context["tenant_id"], service.OrgInfo.from_token(claims, orgs[0]))
    db.session.commit()
    if saved.error:
        return sso_routes.problem("This organization is already connected",
                                  "This Microsoft organization is already connected to another tenant of this "
                                  "portal through this integration, so it cannot be connected here. Contact "
                                  "your service provider if this is unexpected.", status=409,
                                  actions=[("Back to the integration", link_to("integrations.view", integration_id=info.id)
                                            or url_for("main.home"))])
    return redirect(url_for("connect.configure", connection_id=saved.connection.id))


def approval_page(info, query: dict):
    """Approval required / cancelled, in plain words, with the admin-consent way forward."""
    sso_routes.answer_error(info, query, flows.CONNECT)  # audits
    cancelled = query.get("error") == "access_denied" and not sso_routes.consent_problem(query)
    return render_template("connect/approval.html", info=info, cancelled=cancelled,
                           code=microsoft.aadsts_code(query.get("error_description")),
                           consent_url=clouds.admin_consent_url(info), form=EmptyForm(), steps=STEPS, step=1,
                           breadcrumbs=crumbs()), 400


@bp.route("/integrations/<int:integration_id>/admin-consent", methods=["POST"])
@tenant_admin_required
def admin_consent(integration_id: int):
    """Send an admin to Microsoft's tenant-wide consent page; the wizard continues afterwards."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    info = sso_routes.snapshot(connectable_integration_or_404(integration_id))
    state = flows.save(flows.ADMIN_CONSENT, info.id, None, {"then": flows.CONNECT, "tenant_id": current_tenant_id(),
                                                             "user_id": current_user.id})
    db.session.commit()
    return redirect(microsoft.admin_consent_url(info, "organizations", state))


@bp.route("/connections/<int:connection_id>/configure", methods=["GET", "POST"])
@tenant_admin_required
def configure(connection_id: int):
    """Step 2: Automatic activation, then Continue finalizes."""
    connection = get_scoped_or_404(Connection, connection_id)
    form = ConfigureForm(obj=connection)
    if form.validate_on_submit():
        service.finalize(connection, form.auto_activation.data)
        db.session.commit()
        return redirect(url_for("connect.finish", connection_id=connection.id))
    return render_template("connect/step2.html", connection=connection, form=form, steps=STEPS, step=2,
                           breadcrumbs=crumbs(connection.integration))


@bp.route("/connections/<int:connection_id>/finish")
@tenant_admin_required
def finish(connection_id: int):
    """Step 3: progress and the result of each step."""
    connection = get_scoped_or_404(Connection, connection_id)
    return render_template("connect/step3.html", connection=connection, steps=STEPS, step=3,
                           breadcrumbs=crumbs(connection.integration))


@bp.route("/connections/<int:connection_id>/resume", methods=["POST"])
@tenant_admin_required
def resume(connection_id: int):
    """Resume a pending connection at Step 2 (its organization was saved at Step 1)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    connection = get_scoped_or_404(Connection, connection_id)
    if connection.status != CONN_PENDING:
        flash("This connection is not pending any more.", "info")
    return redirect(url_for("connect.configure", connection_id=connection.id))


@bp.route("/integrations/<int:integration_id>/test", methods=["POST"])
@admin_required
def test(integration_id: int):
    """Test a Connection: a client-credentials token and a discovery check per connection.

    A tenant admin tests their tenant's connections; the service provider tests them all.
    """
    if not EmptyForm().validate_on_submit():
        abort(400)
    if current_user.is_system_admin:
        integration, scope = visible_integration_or_404(integration_id), None
    else:
        integration, scope = connectable_integration_or_404(integration_id), current_tenant_id()
    targets = [(c.id, c.org_tid, c.org_name) for c in service.testable(integration, scope)]
    info = sso_routes.snapshot(integration)
    db.session.commit()  # the checks below call Microsoft; no transaction may stay open
    results = [run_test(info, *target) for target in targets]
    for result in results:
        service.record_test(db.session.get(Connection, result.connection_id), result)
    audit.record("integration.tested", tenant_id=current_tenant_id(), target=integration,
                 details={"connections": len(results), "failed": sum(not r.ok for r in results)})
    db.session.commit()
    return render_template("connect/test.html", integration=integration, results=results,
                           breadcrumbs=crumbs(integration)[:-1] + [("Test a Connection", None)])


def run_test(info, connection_id: int, tid: str, name: str) -> service.TestResult:
    """Check one organization: discovery for its tenant, then a client-credentials token."""
    steps: list[tuple[str, bool, str]] = []
    try:
        microsoft.discovery(info, tid)
        steps.append(("Discovery", True, "OK"))
        token = microsoft.client_credentials(info, tid)
    except microsoft.ProviderError as exc:
        message = service.TEST_MESSAGES.get(exc.kind, exc.kind)
        steps.append(("Discovery" if not steps else "Token", False, message))
        return service.TestResult(connection_id, name, False, message, steps)
    if "access_token" in token:
        steps.append(("Token", True, "OK"))
        return service.TestResult(connection_id, name, True, "Connected", steps)
    message = service.describe_token_error(token)
    steps.append(("Token", False, message))
    return service.TestResult(connection_id, name, False, message, steps)


sso_routes.register_handler(flows.CONNECT, handle_connect)
sso_routes.register_restart(flows.CONNECT, begin_connect)
