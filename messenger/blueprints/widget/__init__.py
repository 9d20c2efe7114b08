"""Widget blueprint: the public widget API, the chat frame, the loader, the visitor stream.

Visitors authenticate with a signed visitor token, not a cookie, so CSRF does not apply
(csrf.exempt); every request is checked against the inbox's allowed origins instead.
"""
from flask import Blueprint

from messenger.extensions import csrf

bp = Blueprint("widget", __name__)
csrf.exempt(bp)

from messenger.blueprints.widget import api  # noqa: E402,F401
from messenger.blueprints.widget import attachments  # noqa: E402,F401
from messenger.blueprints.widget import frame  # noqa: E402,F401
from messenger.blueprints.widget import pages  # noqa: E402,F401
from messenger.blueprints.widget import stream  # noqa: E402,F401
