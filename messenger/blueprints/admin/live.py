"""Live view: who is online, each operator's open conversations against capacity, the queue.

The page renders the state once; ``static/js/admin/live.js`` follows the operator event
stream (the panel's shared stream) and fetches ``/admin/live.json`` again after presence,
conversation and queue events.
"""
from __future__ import annotations

from flask import jsonify
from flask import render_template
from flask.typing import ResponseReturnValue

from messenger.blueprints.admin.blueprint import bp
from messenger.services import live as service


@bp.route("/live")
def live() -> ResponseReturnValue:
    return render_template("admin/live.html", state=service.snapshot())


@bp.route("/live.json")
def live_json() -> ResponseReturnValue:
    response = jsonify(service.snapshot())
    response.headers["Cache-Control"] = "no-store"
    return response
