"""Operator blueprint: login, the panel page, the operator JSON API and stream, health.

The blueprint object lives here, not in the package ``__init__``, so that no view
module imports the package that imports it (an import cycle).
"""
from flask import Blueprint

bp = Blueprint("operator", __name__)
