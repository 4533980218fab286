"""Connecting an organization: save the pending connection, finalize it, test connections.

Plain functions over rows and values; the views call Microsoft first (outside a transaction)
and hand the results here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import select

from .. import audit, clock
from ..auth.sso import connection_for
from ..extensions import db
from ..models import (
    CONN_CONNECTED,
    CONN_DISCONNECTED,
    CONN_ERROR,
    CONN_PENDING,
    Connection,
    Integration,
)

ELSEWHERE = "connected_to_another_tenant"


@dataclass
class OrgInfo:
    """What Step 1 learned: the organization and the admin who authorized it."""

    tid: str
    name: str
    verified_domains: list[str]
    admin_name: str
    admin_email: str
    admin_sub: str
    admin_oid: str

    @classmethod
    def from_token(cls, claims: dict[str, Any], org: dict[str, Any]) -> "OrgInfo":
        """Combine the validated id token and Graph /organization."""
        domains = sorted({d["name"].lower() for d in org.get("verifiedDomains", []) if d.get("name")})
        return cls(tid=claims["tid"], name=org.get("displayName") or claims["tid"], verified_domains=domains,
                   admin_name=claims.get("name") or "", admin_email=claims.get("email") or
                   claims.get("preferred_username") or "", admin_sub=claims.get("sub") or "",
                   admin_oid=claims.get("oid") or "")


@dataclass
class SaveResult:
    """The pending connection, or why none could be saved."""

    connection: Optional[Connection] = None
    error: str = ""


def save_pending(integration_id: int, tenant_id: int, info: OrgInfo) -> SaveResult:
    """Store the organization as soon as Step 1 returns (a closed tab loses nothing).

    One organization is connected at most once per integration: another tenant's connection
    refuses; this tenant's existing one is updated (and keeps its status until Finalize).
    """
    connection = connection_for(integration_id, info.tid)
    if connection is not None and connection.tenant_id != tenant_id:
        audit.record("connection.refused", tenant_id=tenant_id, details={"reason": ELSEWHERE, "tid": info.tid})
        return SaveResult(error=ELSEWHERE)
    created = connection is None
    if created:
        connection = Connection(integration_id=integration_id, tenant_id=tenant_id, org_tid=info.tid,
                                status=CONN_PENDING)
        db.session.add(connection)
    connection.org_name = info.name
    connection.verified_domains = info.verified_domains
    connection.authorized_by_name = info.admin_name
    connection.authorized_by_email = info.admin_email
    connection.admin_sub = info.admin_sub
    connection.admin_oid = info.admin_oid
    connection.last_check_at = clock.now()
    db.session.flush()
    audit.record("connection.pending" if created else "connection.reauthorized", tenant_id=tenant_id,
                 target=connection, target_label=connection.org_name,
                 details={"tid": info.tid, "authorized_by": info.admin_email,
                          "verified_domains": info.verified_domains})
    return SaveResult(connection)


def finalize(connection: Connection, auto_activation: bool) -> None:
    """Step 3: mark the connection connected with the chosen automatic activation."""
    before = {"status": connection.status, "auto_activation": connection.auto_activation}
    connection.auto_activation = auto_activation
    connection.status = CONN_CONNECTED
    connection.last_error = None
    connection.last_check_at = clock.now()
    audit.record("connection.connected", tenant_id=connection.tenant_id, target=connection,
                 target_label=connection.org_name,
                 details=audit.changes(before, {"status": connection.status, "auto_activation": auto_activation}))


@dataclass
class TestResult:
    """One connection's outcome in Test a Connection."""

    connection_id: int
    org_name: str
    ok: bool
    message: str
    steps: list[tuple[str, bool, str]] = field(default_factory=list)


TEST_MESSAGES = {
    "invalid_client": "The client secret no longer works (expired or replaced). Enter the current secret in Edit.",
    "unauthorized_client": "Microsoft no longer knows this app in the organization: consent was revoked or the app was removed.",
    "consent": "The organization's consent for the app was revoked. Ask its administrator to grant admin consent again.",
    "timeout": "Microsoft did not answer in time.",
    "unreachable": "Microsoft could not be reached.",
    "server_error": "Microsoft answered with an error.",
    "bad_response": "Microsoft sent an answer the portal could not read.",
    "config": "The integration is not configured completely.",
}


def describe_token_error(result: dict) -> str:
    """Turn a client-credentials error answer into plain words."""
    description = result.get("error_description") or ""
    codes = {str(c) for c in result.get("error_codes") or []}
    if codes & {"7000215", "7000222", "7000216"} or "AADSTS7000215" in description:
        return TEST_MESSAGES["invalid_client"]
    if codes & {"700016", "65001", "500011"} or "AADSTS700016" in description:
        return TEST_MESSAGES["unauthorized_client"] + f" ({description.split(':')[0]})"
    return f"Microsoft refused: {description or result.get('error')}"


def record_test(connection: Connection, result: TestResult) -> None:
    """Store a test's outcome on the connection (disconnected and pending ones keep their status)."""
    before = {"status": connection.status, "last_error": connection.last_error}
    connection.last_check_at = clock.now()
    if connection.status in (CONN_CONNECTED, CONN_ERROR):
        connection.status = CONN_CONNECTED if result.ok else CONN_ERROR
    connection.last_error = None if result.ok else result.message
    audit.record("connection.tested", tenant_id=connection.tenant_id, target=connection,
                 target_label=connection.org_name,
                 details={"ok": result.ok, **audit.changes(before, {"status": connection.status,
                                                                     "last_error": connection.last_error})})


def testable(integration: Integration, tenant_id: Optional[int]) -> list[Connection]:
    """The connections a Test a Connection run covers (a tenant admin: only their tenant's)."""
    q = select(Connection).where(Connection.integration_id == integration.id,
                                 Connection.status != CONN_DISCONNECTED, Connection.org_tid.is_not(None))
    if tenant_id is not None:
        q = q.where(Connection.tenant_id == tenant_id)
    return list(db.session.scalars(q.order_by(Connection.org_name)))
