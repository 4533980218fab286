"""The audit log: one function that every change and sign-in decision goes through."""
from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEvent

# Keys whose values never reach the log, whatever a caller passes.
_SECRET_KEYS = {"password", "password_hash", "client_secret", "client_secret_enc", "totp_secret",
                "totp_secret_enc", "code", "id_token", "access_token", "token", "refresh_token"}


def _scrub(value: Any) -> Any:
    """Drop secret-looking keys at any depth."""
    if isinstance(value, dict):
        return {k: ("[redacted]" if k in _SECRET_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def record(
    action: str,
    *,
    tenant_id: int | None,
    target: Any = None,
    target_type: str = "",
    target_label: str = "",
    details: dict[str, Any] | None = None,
    actor: Any = None,
) -> AuditEvent:
    """Add an audit event to the current transaction (committed with the change it records)."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    event = AuditEvent(
        tenant_id=tenant_id,
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "login", "") or "",
        action=action,
        target_type=target_type or (type(target).__name__.lower() if target is not None else ""),
        target_id=getattr(target, "id", None),
        target_label=target_label or getattr(target, "login", None) or getattr(target, "name", "") or "",
        details=_scrub(details or {}),
        client_addr=(request.remote_addr or "") if has_request_context() else "cli",
    )
    db.session.add(event)
    return event


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Before/after values of the fields that changed."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {"before": {k: before.get(k) for k in keys}, "after": {k: after.get(k) for k in keys}}
