"""Admin blueprint: server-rendered settings pages (Flask-WTF forms) under ``/admin/``.

Every endpoint of this blueprint is admins-only by construction: the ``before_request``
hook below runs before any view, so a page added later cannot forget the check.
A signed-out visitor is sent to the sign-in page; a signed-in agent gets 403.
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


from messenger.blueprints.admin import api_tokens  # noqa: E402,F401
from messenger.blueprints.admin import audit  # noqa: E402,F401
from messenger.blueprints.admin import catalog  # noqa: E402,F401
from messenger.blueprints.admin import inboxes  # noqa: E402,F401
from messenger.blueprints.admin import operators  # noqa: E402,F401
from messenger.blueprints.admin import views  # noqa: E402,F401
from messenger.blueprints.admin import webhooks  # noqa: E402,F401
