"""``/healthz``: database, Redis and the realtime hub, as JSON; 503 naming what is down."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask import jsonify
from flask.typing import ResponseReturnValue

from messenger.blueprints.operator import bp
from messenger.extensions import db
from messenger.extensions import limiter


@bp.route("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    checks: dict[str, Any] = {}
    failing: list[str] = []
    try:
        db.session.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: this is the health endpoint
        db.session.rollback()
        checks["database"] = f"down: {type(exc).__name__}"
        failing.append("database")
    redis = current_app.extensions.get("redis")
    try:
        if redis is None:
            raise RuntimeError("REDIS_URL is not set")
        redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
        failing.append("redis")
    from messenger.realtime.hub import hub_status

    hub = hub_status()
    checks["hub"] = hub
    # A NOTIFY queue past half full means a listener is stuck in a transaction (reliability case 9).
    if hub.get("state") == "disconnected" or hub.get("notify_queue_usage", 0) > 0.5:
        failing.append("hub")
    body = {"status": "ok" if not failing else "fail", "failing": failing, **checks}
    return jsonify(body), (200 if not failing else 503)
