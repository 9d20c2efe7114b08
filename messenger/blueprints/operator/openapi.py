"""``GET /api/openapi.json``: the API description, built from the live URL map and the typed contracts;
``GET /api/docs``: the same document as a readable page."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask import jsonify
from flask import render_template
from flask.typing import ResponseReturnValue

from messenger.api_docs import page_context
from messenger.blueprints.operator.blueprint import bp
from messenger.openapi import build_spec


def _spec() -> dict[str, Any]:
    """The document, built once per app (routes and models do not change while it runs)."""
    spec = current_app.extensions.get("openapi_spec")
    if spec is None:
        spec = current_app.extensions["openapi_spec"] = build_spec(current_app)
    return spec


@bp.route("/api/openapi.json")
def openapi_document() -> ResponseReturnValue:
    return jsonify(_spec())


@bp.route("/api/docs")
def api_docs() -> ResponseReturnValue:
    return render_template("api_docs.html", **page_context(_spec()))
