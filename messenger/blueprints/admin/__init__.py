"""Admin blueprint: server-rendered settings pages (Flask-WTF forms) under ``/admin/``.

Every endpoint of this blueprint is admins-only by construction: the ``before_request``
hook below runs before any view, so a page added later cannot forget the check.
A signed-out visitor is sent to the sign-in page; a signed-in agent gets 403.

View modules register their routes on ``blueprint.bp`` (never import this package, which
imports them: that would be an import cycle); list each new one here.
"""
from messenger.blueprints.admin import api_tokens  # noqa: F401
from messenger.blueprints.admin import audit  # noqa: F401
from messenger.blueprints.admin import blocks  # noqa: F401
from messenger.blueprints.admin import catalog  # noqa: F401
from messenger.blueprints.admin import data_requests  # noqa: F401
from messenger.blueprints.admin import inboxes  # noqa: F401
from messenger.blueprints.admin import live  # noqa: F401
from messenger.blueprints.admin import operators  # noqa: F401
from messenger.blueprints.admin import reports  # noqa: F401
from messenger.blueprints.admin import views  # noqa: F401
from messenger.blueprints.admin import webhooks  # noqa: F401
from messenger.blueprints.admin.blueprint import bp

__all__ = ["bp"]
