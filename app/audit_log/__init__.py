"""Audit log: the tenant's changes and sign-in decisions, filtered and paged."""
from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")

from . import routes  # noqa: E402,F401
