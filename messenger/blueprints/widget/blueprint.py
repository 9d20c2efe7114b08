"""Widget blueprint: the public widget API, the chat frame, the loader, the visitor stream.

Visitors authenticate with a signed visitor token, not a cookie, so CSRF does not apply
(csrf.exempt); every request is checked against the inbox's allowed origins instead.

The blueprint object lives here, not in the package ``__init__``, so that no view
module imports the package that imports it (an import cycle).
"""
from flask import Blueprint

from messenger.extensions import csrf

bp = Blueprint("widget", __name__)
csrf.exempt(bp)
