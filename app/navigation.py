"""The Administration menu of DESIGN §2, built from the endpoints that exist for this role.

Entries of pages not built yet are simply absent (never dead links): each is shown only when
its endpoint is registered and the current role may open it.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for

from .models import ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN

ADMINS = (ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN)


@dataclass(frozen=True)
class Entry:
    """One menu entry."""

    section: str
    label: str
    endpoint: str
    roles: tuple[str, ...] = ADMINS


def link_to(endpoint: str, **values) -> str | None:
    """url_for, or None when that page is not part of this build (never a dead link)."""
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


MENU = (
    Entry("Service provider", "Tenants", "tenants.index", (ROLE_SYSTEM_ADMIN,)),
    Entry("System", "Integrations", "integrations.index"),
    Entry("User Authentication", "Password Policy", "password_policy.view"),
    Entry("User Authentication", "2-Step Verification", "two_step.settings"),
    Entry("User Authentication", "Check access", "password_policy.check_access"),
    Entry("User Management", "Users", "users.index"),
    Entry("Audit", "Audit log", "audit.index"),
)


def admin_menu(role: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """Sections with (label, url) entries the role may open, in menu order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for entry in MENU:
        if role in entry.roles and entry.endpoint in current_app.view_functions:
            sections.setdefault(entry.section, []).append((entry.label, url_for(entry.endpoint)))
    return list(sections.items())
