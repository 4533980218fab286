"""Connections of an integration: disconnect, reconnect, discard, and their linked accounts."""
from __future__ import annotations

from typing import Callable

from flask import abort, current_app, flash, redirect, render_template, request, url_for

from ..access import admin_required
from ..auth.forms import EmptyForm
from ..extensions import db
from ..pagination import paginate_offset
from . import bp, connections, scope
from .service import Outcome


def carry_out(action: Callable[..., Outcome], *args) -> Outcome:
    """Check the CSRF token, run an action, commit it or roll it back, and flash its words."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    outcome = action(*args)
    if outcome.ok:
        db.session.commit()
    else:
        db.session.rollback()
    flash(outcome.message, "success" if outcome.ok else "warning")
    return outcome


def back_to_connections(integration_id: int):
    """The integration's Connections tab."""
    return redirect(url_for(".view", integration_id=integration_id, tab="connections"))


@bp.route("/connections/<int:connection_id>/disconnect", methods=["POST"])
@admin_required
def disconnect(connection_id: int):
    """Disconnect: the organization's users stop signing in with Microsoft through it."""
    connection = scope.visible_connection_or_404(connection_id)
    integration_id = connection.integration_id
    carry_out(connections.disconnect, connection)
    return back_to_connections(integration_id)


@bp.route("/connections/<int:connection_id>/reconnect", methods=["POST"])
@admin_required
def reconnect(connection_id: int):
    """Reconnect a disconnected connection."""
    connection = scope.visible_connection_or_404(connection_id)
    integration_id = connection.integration_id
    carry_out(connections.reconnect, connection)
    return back_to_connections(integration_id)


@bp.route("/connections/<int:connection_id>/discard", methods=["POST"])
@admin_required
def discard(connection_id: int):
    """Discard a connection the wizard left pending."""
    connection = scope.visible_connection_or_404(connection_id)
    integration_id = connection.integration_id
    carry_out(connections.discard, connection)
    return back_to_connections(integration_id)


@bp.route("/connections/<int:connection_id>/linked-accounts")
@admin_required
def linked_accounts(connection_id: int):
    """The portal users linked to Microsoft accounts through one connection."""
    connection = scope.visible_connection_or_404(connection_id)
    q = (request.args.get("q") or "").strip()[:200]
    page = paginate_offset(connections.linked_accounts_query(connection, q), request.args.get("page"),
                           current_app.config["PAGE_SIZE"])
    return render_template("integrations/linked_accounts.html", connection=connection,
                           integration=connection.integration, page=page, q=q, form=EmptyForm(),
                           status_labels=connections.STATUS_LABELS, label=connections.label(connection))


@bp.route("/connections/<int:connection_id>/linked-accounts/<int:link_id>/unlink", methods=["POST"])
@admin_required
def unlink(connection_id: int, link_id: int):
    """Remove one user's link; their next Microsoft sign-in must match them again."""
    connection = scope.visible_connection_or_404(connection_id)
    carry_out(connections.unlink, scope.visible_link_or_404(connection, link_id))
    return redirect(url_for(".linked_accounts", connection_id=connection_id))
