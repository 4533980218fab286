"""Integrations (Microsoft Entra app registrations), their connections and linked accounts."""
from flask import Blueprint

bp = Blueprint("integrations", __name__, url_prefix="/admin/integrations")

from . import routes, routes_connections  # noqa: E402,F401
