"""Operator blueprint: login, the panel page, the operator JSON API and stream, health."""
from flask import Blueprint

bp = Blueprint("operator", __name__)

from messenger.blueprints.operator import account  # noqa: E402,F401
from messenger.blueprints.operator import api  # noqa: E402,F401
from messenger.blueprints.operator import assignment_api  # noqa: E402,F401
from messenger.blueprints.operator import attachments  # noqa: E402,F401
from messenger.blueprints.operator import auth  # noqa: E402,F401
from messenger.blueprints.operator import canned  # noqa: E402,F401
from messenger.blueprints.operator import health  # noqa: E402,F401
from messenger.blueprints.operator import openapi  # noqa: E402,F401
from messenger.blueprints.operator import pages  # noqa: E402,F401
from messenger.blueprints.operator import stream  # noqa: E402,F401
from messenger.blueprints.operator import tokens  # noqa: E402,F401
