"""Admin blueprint: server-rendered settings pages (Flask-WTF forms) under ``/admin/``.

Every endpoint of this blueprint is admins-only by construction: the ``before_request``
hook below runs before any view, so a page added later cannot forget the check.
A signed-out visitor is sent to the sign-in page; a signed-in agent gets 403.

The blueprint object lives here, not in the package ``__init__``, so that no view
module imports the package that imports it (an import cycle).
"""
from flask import Blueprint
from flask import g
from flask import redirect
from flask import request
from flask import url_for
from flask.typing import ResponseReturnValue

from messenger.errors import Forbidden

bp = Blueprint("admin", __name__)


@bp.before_request
def _admins_only() -> ResponseReturnValue | None:
    operator = g.get("operator")
    if operator is None:
        return redirect(url_for("operator.login", next=request.full_path if request.args else request.path))
    if operator.role != "admin":
        raise Forbidden("Admins only.")
    return None
