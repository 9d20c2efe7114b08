"""Widget blueprint: the public widget API, the chat frame, the loader, the visitor stream.

Visitors authenticate with a signed visitor token, not a cookie, so CSRF does not apply
(csrf.exempt); every request is checked against the inbox's allowed origins instead.

View modules register their routes on ``blueprint.bp`` (never import this package, which
imports them: that would be an import cycle); list each new one here.
"""
from messenger.blueprints.widget import api  # noqa: F401
from messenger.blueprints.widget import attachments  # noqa: F401
from messenger.blueprints.widget import frame  # noqa: F401
from messenger.blueprints.widget import pages  # noqa: F401
from messenger.blueprints.widget import stream  # noqa: F401
from messenger.blueprints.widget.blueprint import bp

__all__ = ["bp"]
