"""``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics`` (Prometheus); no sign-in.

``/healthz`` answers 200 whenever the process serves requests (its body reports the
database, Redis and the hub for information): a restart would not cure a database outage.
``/readyz`` answers 503 naming what is not ready (database, Redis, hub lag, worker
heartbeat, upload-dir space): a load balancer stops sending traffic meanwhile.
"""
from __future__ import annotations

import hmac

from flask import current_app
from flask import jsonify
from flask import request
from flask.typing import ResponseReturnValue

from messenger import metrics
from messenger.blueprints.operator.blueprint import bp
from messenger.errors import Unauthorized
from messenger.extensions import limiter
from messenger.realtime.hub import hub_status
from messenger.services import readiness


@bp.route("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    return jsonify(readiness.liveness())


@bp.route("/readyz")
@limiter.exempt
def readyz() -> ResponseReturnValue:
    body, ready = readiness.readiness()
    return jsonify(body), (200 if ready else 503)


@bp.route("/metrics")
@limiter.exempt
def prometheus_metrics() -> ResponseReturnValue:
    token = str(current_app.config.get("METRICS_TOKEN") or "")
    if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
        raise Unauthorized("A metrics token is required.")
    return metrics.render(current_app._get_current_object(), hub_status().get("lag_s"))  # type: ignore[attr-defined]
