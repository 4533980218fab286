"""Every user's Profile: own details, password, 2-step verification, linked Microsoft accounts."""
from flask import Blueprint

bp = Blueprint("profile", __name__, url_prefix="/profile")

from . import routes  # noqa: E402,F401  (registers the views on bp)
