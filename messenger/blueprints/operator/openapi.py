"""``GET /api/openapi.json``: the API description, built from the live URL map."""
from __future__ import annotations

from flask import current_app
from flask import jsonify
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator.blueprint import bp
from messenger.openapi import build_spec


@bp.route("/api/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(build_spec(current_app))
