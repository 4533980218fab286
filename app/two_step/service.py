"""Turning 2-step verification (TOTP) on or off for a tenant, audited, with optimistic locking."""
from __future__ import annotations

from typing import Any

from .. import audit
from ..extensions import db
from ..models import PasswordPolicy


class Conflict(Exception):
    """The policy changed since the page was loaded."""


def policy_or_new(policy: PasswordPolicy | None, tenant_id: int) -> PasswordPolicy:
    """The tenant's policy row (already read, tenant-scoped); a missing one is added with the
    defaults, saved only if the caller commits (a GET never does)."""
    if policy is None:
        policy = PasswordPolicy(tenant_id=tenant_id, restricted_domains=[], totp_enabled=False)
        db.session.add(policy)
    return policy


def set_totp(policy: PasswordPolicy, enabled: bool, loaded_version: Any, actor: Any = None) -> bool:
    """Switch TOTP for the policy's tenant; False when nothing changed. Raises Conflict."""
    if policy.version is not None and str(loaded_version or "") != str(policy.version):
        raise Conflict()
    if bool(policy.totp_enabled) == enabled:
        return False
    before = {"totp_enabled": bool(policy.totp_enabled)}
    policy.totp_enabled = enabled
    audit.record("policy.two_step_updated", tenant_id=policy.tenant_id, target_type="password_policy",
                 target_label="2-Step Verification", actor=actor,
                 details=audit.changes(before, {"totp_enabled": enabled}))
    return True
