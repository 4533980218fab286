"""Template globals: the menu, labels and small formatting filters."""
from __future__ import annotations

from flask import Flask
from flask_login import current_user

from . import models
from .access import current_tenant
from .navigation import admin_menu, link_to


def init_app(app: Flask) -> None:
    """Expose the helpers templates need."""

    app.add_template_global(link_to)

    @app.context_processor
    def _globals():
        menu = admin_menu(current_user.role) if current_user.is_authenticated and current_user.is_admin else []
        return {
            "admin_menu": menu,
            "acting_tenant": current_tenant() if current_user.is_authenticated else None,
            "ROLE_LABELS": models.ROLE_LABELS,
            "AUTH_TYPE_LABELS": models.AUTH_TYPE_LABELS,
            "SSO_MODE_LABELS": models.SSO_MODE_LABELS,
        }

    @app.template_filter("when")
    def _when(value):
        return value.strftime("%Y-%m-%d %H:%M") + " UTC" if value else "—"

    @app.template_filter("day")
    def _day(value):
        return value.isoformat() if value else "—"
