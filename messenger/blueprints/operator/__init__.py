"""Operator blueprint: login, the panel page, the operator JSON API and stream, health.

View modules register their routes on ``blueprint.bp`` (never import this package, which
imports them: that would be an import cycle); list each new one here.
"""
from messenger.blueprints.operator import account  # noqa: F401
from messenger.blueprints.operator import api  # noqa: F401
from messenger.blueprints.operator import assignment_api  # noqa: F401
from messenger.blueprints.operator import attachments  # noqa: F401
from messenger.blueprints.operator import auth  # noqa: F401
from messenger.blueprints.operator import blocks_api  # noqa: F401
from messenger.blueprints.operator import canned  # noqa: F401
from messenger.blueprints.operator import data_api  # noqa: F401
from messenger.blueprints.operator import health  # noqa: F401
from messenger.blueprints.operator import openapi  # noqa: F401
from messenger.blueprints.operator import pages  # noqa: F401
from messenger.blueprints.operator import stream  # noqa: F401
from messenger.blueprints.operator import tokens  # noqa: F401
from messenger.blueprints.operator.blueprint import bp

__all__ = ["bp"]
