"""The Connect service (Microsoft) wizard and Test a Connection."""
from flask import Blueprint

bp = Blueprint("connect", __name__, url_prefix="/admin")

from . import routes  # noqa: E402,F401
