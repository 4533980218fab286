"""Administration > User Management > Users: list, search, create, edit, delete."""
from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/admin/users")

from . import routes  # noqa: E402,F401  (registers the views on bp)
