"""Liveness and readiness checks: what ``/healthz`` reports and ``/readyz`` decides on.

Each check returns ``(ok, detail)``; readiness is the conjunction. Thresholds come from the
settings ``READY_MAX_HUB_LAG_S``, ``READY_MAX_WORKER_AGE_S`` (``READY_CHECK_WORKER``) and
``READY_MIN_FREE_BYTES``. Nothing here raises: a health endpoint reports, it never fails.
"""
from __future__ import annotations

import os
import shutil
from datetime import datetime
from datetime import timezone
from typing import Any

import sqlalchemy as sa
from flask import current_app
from rq import Worker

from messenger.extensions import db
from messenger.realtime.hub import get_hub
from messenger.realtime.hub import hub_status

Check = tuple[bool, Any]
_HUB_WAIT_S = 2.0


def database() -> Check:
    try:
        db.session.execute(sa.text("SELECT 1"))
        return True, "ok"
    except Exception as exc:
        db.session.rollback()
        return False, f"down: {type(exc).__name__}"


def redis() -> Check:
    client = current_app.extensions.get("redis")
    try:
        if client is None:
            raise RuntimeError("REDIS_URL is not set")
        client.ping()
        return True, "ok"
    except Exception as exc:
        return False, f"down: {type(exc).__name__}"


def hub(*, start: bool) -> Check:
    """This process's hub: listening, its log read not older than READY_MAX_HUB_LAG_S, NOTIFY queue sane.

    ``start`` starts the hub if no stream did yet (readiness: a fresh worker warms up).
    """
    if start:
        get_hub().wait_ready(_HUB_WAIT_S)
    status = hub_status()
    if status.get("state") == "not_started":
        return True, status
    max_lag = float(current_app.config["READY_MAX_HUB_LAG_S"])
    lag = status.get("lag_s")
    # A NOTIFY queue past half full means a listener is stuck in a transaction (reliability case 9 in docs/security.md).
    ok = (status.get("state") == "listening" and lag is not None and lag <= max_lag
          and status.get("notify_queue_usage", 0) <= 0.5)
    return ok, {**status, "max_lag_s": max_lag}


def worker() -> Check:
    """At least one RQ worker whose heartbeat is younger than READY_MAX_WORKER_AGE_S."""
    if not current_app.config["READY_CHECK_WORKER"]:
        return True, "not checked"
    client = current_app.extensions.get("redis")
    try:
        workers = Worker.all(connection=client) if client is not None else []
    except Exception as exc:
        return False, f"unknown: {type(exc).__name__}"
    now = datetime.now(timezone.utc)
    ages = []
    for w in workers:
        beat = w.last_heartbeat
        if beat is not None:
            ages.append((now - (beat if beat.tzinfo else beat.replace(tzinfo=timezone.utc))).total_seconds())
    max_age = float(current_app.config["READY_MAX_WORKER_AGE_S"])
    youngest = round(min(ages), 1) if ages else None
    return youngest is not None and youngest <= max_age, {"workers": len(workers), "heartbeat_age_s": youngest,
                                                           "max_age_s": max_age}


def disk() -> Check:
    """The upload directory exists, is writable and has READY_MIN_FREE_BYTES free."""
    path = str(current_app.config["UPLOAD_DIR"])
    try:
        os.makedirs(path, exist_ok=True)
        free = shutil.disk_usage(path).free
    except OSError as exc:
        return False, f"unusable: {type(exc).__name__}"
    minimum = int(current_app.config["READY_MIN_FREE_BYTES"])
    writable = os.access(path, os.W_OK)
    return free >= minimum and writable, {"free_bytes": free, "min_free_bytes": minimum, "writable": writable}


def report(checks: dict[str, Check]) -> tuple[dict[str, Any], list[str]]:
    """The JSON body and the names of the failing checks."""
    failing = [name for name, (ok, _) in checks.items() if not ok]
    body = {"status": "ok" if not failing else "fail", "failing": failing,
            **{name: detail for name, (_, detail) in checks.items()}}
    return body, failing


def liveness() -> dict[str, Any]:
    """For ``/healthz``: the process answers; dependencies reported for information only."""
    body, failing = report({"database": database(), "redis": redis(), "hub": hub(start=False)})
    body["status"] = "ok" if not failing else "degraded"
    return body


def readiness() -> tuple[dict[str, Any], bool]:
    """For ``/readyz``: every dependency this process needs to serve traffic."""
    body, failing = report({"database": database(), "redis": redis(), "hub": hub(start=True), "worker": worker(),
                            "disk": disk()})
    return body, not failing
