"""Connections of an integration and their linked accounts: lists, searches and state changes."""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import contains_eager, selectinload

from .. import audit, clock
from ..extensions import db
from ..models import (CONN_CONNECTED, CONN_DISCONNECTED, CONN_ERROR, CONN_PENDING, Connection,
                      Integration, LinkedAccount, User)
from .service import Outcome

STATUS_LABELS = {CONN_PENDING: "Pending", CONN_CONNECTED: "Connected", CONN_ERROR: "Error",
                 CONN_DISCONNECTED: "Disconnected"}


def like_pattern(text: str) -> str:
    """A lower-cased contains-pattern where the user's % and _ match themselves."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def connections_query(integration: Integration, tenant_id: int | None, q: str = "") -> Select:
    """An integration's connections (one tenant's, or all with None), searched by org,
    authorized-by name or email, or the organization id."""
    stmt = (select(Connection).where(Connection.integration_id == integration.id)
            .options(selectinload(Connection.tenant)))
    if tenant_id is not None:
        stmt = stmt.where(Connection.tenant_id == tenant_id)
    if q:
        like = like_pattern(q)
        stmt = stmt.where(or_(*(func.lower(col).like(like, escape="\\") for col in (
            Connection.org_name, Connection.authorized_by_name, Connection.authorized_by_email,
            Connection.org_tid))))
    return stmt.order_by(func.lower(Connection.org_name), Connection.id)


def linked_counts(connection_ids: Iterable[int]) -> dict[int, int]:
    """Number of linked accounts per connection."""
    ids = list(connection_ids)
    if not ids:
        return {}
    return dict(db.session.execute(
        select(LinkedAccount.connection_id, func.count(LinkedAccount.id))
        .where(LinkedAccount.connection_id.in_(ids)).group_by(LinkedAccount.connection_id)).all())


def connection_counts(integration_ids: Iterable[int], tenant_id: int | None) -> dict[int, int]:
    """Number of connections per integration (one tenant's, or all with None)."""
    ids = list(integration_ids)
    if not ids:
        return {}
    stmt = (select(Connection.integration_id, func.count(Connection.id))
            .where(Connection.integration_id.in_(ids)).group_by(Connection.integration_id))
    if tenant_id is not None:
        stmt = stmt.where(Connection.tenant_id == tenant_id)
    return dict(db.session.execute(stmt).all())


def linked_accounts_query(connection: Connection, q: str = "") -> Select:
    """A connection's linked accounts with their portal users, searched by either side."""
    stmt = (select(LinkedAccount).join(User, User.id == LinkedAccount.user_id)
            .where(LinkedAccount.connection_id == connection.id)
            .options(contains_eager(LinkedAccount.user)))
    if q:
        like = like_pattern(q)
        stmt = stmt.where(or_(*(func.lower(col).like(like, escape="\\") for col in (
            User.login_key, User.display_name, User.email_key, LinkedAccount.email_at_link,
            LinkedAccount.name_at_link, LinkedAccount.oid))))
    return stmt.order_by(User.login_key, LinkedAccount.id)


def label(connection: Connection) -> str:
    """How a connection is named to people: its organization, else its id."""
    return connection.org_name or connection.org_tid or f"Connection {connection.id}"


def _record_status(action: str, connection: Connection, before: str) -> None:
    audit.record(action, tenant_id=connection.tenant_id, target=connection, target_label=label(connection),
                 details={"before": {"status": before}, "after": {"status": connection.status},
                          "integration_id": connection.integration_id, "org_tid": connection.org_tid})


def disconnect(connection: Connection) -> Outcome:
    """Stop a connection: its links stop signing anyone in at once (the rules require connected)."""
    if connection.status not in (CONN_CONNECTED, CONN_ERROR):
        return Outcome(False, "not_connected", f"“{label(connection)}” is not connected.")
    before = connection.status
    connection.status = CONN_DISCONNECTED
    connection.updated_at = clock.now()
    _record_status("connection.disconnected", connection, before)
    return Outcome(True, "disconnected", f"“{label(connection)}” is disconnected: its users can no "
                   "longer sign in with Microsoft through it.")


def reconnect(connection: Connection) -> Outcome:
    """Put a disconnected connection back in service, with its existing links."""
    if connection.status != CONN_DISCONNECTED:
        return Outcome(False, "not_disconnected", f"“{label(connection)}” is not disconnected.")
    if not connection.org_tid:
        return Outcome(False, "never_connected", f"“{label(connection)}” never finished connecting; "
                       "add the connection again instead.")
    connection.status = CONN_CONNECTED
    connection.last_error = None
    connection.updated_at = clock.now()
    _record_status("connection.reconnected", connection, CONN_DISCONNECTED)
    return Outcome(True, "reconnected", f"“{label(connection)}” is connected again.")


def discard(connection: Connection) -> Outcome:
    """Delete a connection the wizard left pending (a closed tab, a crash)."""
    if connection.status != CONN_PENDING:
        status = STATUS_LABELS.get(connection.status, connection.status)
        return Outcome(False, "not_pending", "Only a pending connection can be discarded; "
                       f"“{label(connection)}” is {status}.")
    audit.record("connection.discarded", tenant_id=connection.tenant_id, target=connection,
                 target_label=label(connection),
                 details={"integration_id": connection.integration_id, "org_tid": connection.org_tid,
                          "authorized_by_email": connection.authorized_by_email})
    db.session.delete(connection)
    return Outcome(True, "discarded", f"Pending connection “{label(connection)}” discarded.")


def unlink(link: LinkedAccount) -> Outcome:
    """Remove a user's Microsoft account link; their next Microsoft sign-in must match again."""
    connection, user = link.connection, link.user
    audit.record("link.removed", tenant_id=connection.tenant_id, target=user,
                 details={"connection_id": connection.id, "org_tid": connection.org_tid,
                          "oid": link.oid, "email_at_link": link.email_at_link, "by": "administrator"})
    db.session.delete(link)
    return Outcome(True, "unlinked", f"The Microsoft account {link.email_at_link or link.oid} is no "
                   f"longer linked to {user.login}.")
