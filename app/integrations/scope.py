"""Who sees and changes which integrations and connections; another tenant's ids answer 404."""
from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload

from ..access import current_tenant_id
from ..extensions import db
from ..models import ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN, Connection, Integration, LinkedAccount


def can_view(user: Any, integration: Integration) -> bool:
    """Service providers see all; a tenant admin sees system-wide ones and their tenant's own."""
    if user.role == ROLE_SYSTEM_ADMIN:
        return True
    return user.role == ROLE_TENANT_ADMIN and integration.owner_tenant_id in (None, user.tenant_id)


def can_edit(user: Any, integration: Integration) -> bool:
    """Service providers change any; a tenant admin only the ones their tenant owns."""
    if user.role == ROLE_SYSTEM_ADMIN:
        return True
    return (user.role == ROLE_TENANT_ADMIN and integration.owner_tenant_id is not None
            and integration.owner_tenant_id == user.tenant_id)


def may_use_custom_authority(user: Any) -> bool:
    """A custom authority makes the server call the URL it names: service providers only."""
    return user.role == ROLE_SYSTEM_ADMIN


def connection_tenant_filter(user: Any) -> int | None:
    """Whose connections a list shows: the admin's tenant; a provider's chosen one (None: all)."""
    if user.role == ROLE_SYSTEM_ADMIN:
        return current_tenant_id()
    return user.tenant_id


def can_view_connection(user: Any, connection: Connection) -> bool:
    """A tenant admin acts only on their tenant's connections of integrations they can see."""
    if user.role == ROLE_SYSTEM_ADMIN:
        return True
    return (user.role == ROLE_TENANT_ADMIN and connection.tenant_id == user.tenant_id
            and can_view(user, connection.integration))


def visible_integrations(user: Any) -> Select:
    """select(Integration) limited to what the user may see, system-wide ones first."""
    stmt = (select(Integration).options(selectinload(Integration.owner_tenant))
            .order_by(Integration.owner_tenant_id.is_not(None), Integration.name, Integration.id))
    if user.role == ROLE_SYSTEM_ADMIN:
        return stmt
    return stmt.where(or_(Integration.owner_tenant_id.is_(None),
                          Integration.owner_tenant_id == user.tenant_id))


def visible_integration_or_404(integration_id: int) -> Integration:
    """The integration if the current user may see it; otherwise 404 (not even its existence)."""
    integration = db.session.get(Integration, integration_id)
    if integration is None or not can_view(current_user, integration):
        abort(404)
    return integration


def editable_integration_or_404(integration_id: int) -> Integration:
    """The integration if the current user may change it: 404 if unseen, 403 if read-only."""
    integration = visible_integration_or_404(integration_id)
    if not can_edit(current_user, integration):
        abort(403)
    return integration


def visible_connection_or_404(connection_id: int) -> Connection:
    """A connection the current user may act on; another tenant's answers 404."""
    connection = db.session.get(Connection, connection_id)
    if connection is None or not can_view_connection(current_user, connection):
        abort(404)
    return connection


def visible_link_or_404(connection: Connection, link_id: int) -> LinkedAccount:
    """A linked account of that (already checked) connection."""
    link = db.session.get(LinkedAccount, link_id)
    if link is None or link.connection_id != connection.id:
        abort(404)
    return link
