"""The service provider's Tenants page."""
from flask import Blueprint

bp = Blueprint("tenants", __name__, url_prefix="/admin/tenants")

from . import routes  # noqa: E402,F401
