"""Administration > User Authentication: Password Policy, SSO governance and Check access."""
from flask import Blueprint

bp = Blueprint("password_policy", __name__, url_prefix="/admin/user-authentication")

from . import routes  # noqa: E402,F401
