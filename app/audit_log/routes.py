"""The audit log page: filters in the query string, keyset pages, tenant-scoped."""
from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import current_user

from ..access import tenant_admin_required
from . import bp, service


@bp.route("/")
@tenant_admin_required
def index():
    """Events of the current tenant (a service provider may switch to installation-wide ones)."""
    filters = service.parse_filters(request.args, may_see_installation=current_user.is_system_admin)
    result = service.page(service.filtered(filters), before=request.args.get("before", type=int),
                          after=request.args.get("after", type=int), size=current_app.config["PAGE_SIZE"])
    return render_template("audit_log/index.html", filters=filters, page=result,
                           actions=service.known_actions(filters.installation), describe=service.describe)
