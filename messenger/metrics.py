"""Prometheus metrics (``prometheus_client``), served at ``/metrics``.

Process-local series (streams, dispatch, HTTP latency) live in this process's registry;
with several gunicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` (``make run`` does) and each
scrape sums every worker's files. Series that belong to no web process are read at scrape
time from Redis: RQ queue lengths and failed jobs, and webhook deliveries, which the worker
counts with ``count_webhook_delivery`` (a Redis counter: the worker's forked job processes
could not keep a process-local one).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask
from flask import Response
from flask import current_app
from flask import g
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import REGISTRY
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Gauge
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from messenger.logs import bind_request_id
from messenger.logs import clear_request_id

logger = logging.getLogger(__name__)
access_log = logging.getLogger("messenger.access")

STREAMS = Gauge("messenger_streams_open", "Open SSE streams by audience (operator, visitor).", ["audience"],
                multiprocess_mode="livesum")
EVENTS_DISPATCHED = Counter("messenger_events_dispatched_total", "Event-log rows dispatched by the hubs.")
DISPATCH_LAG = Histogram("messenger_dispatch_lag_seconds", "From an event's commit to its dispatch by a hub.",
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
HUB_LAG = Gauge("messenger_hub_lag_seconds", "Seconds since the hub's last successful read of the log.",
                multiprocess_mode="max")
HTTP_LATENCY = Histogram("messenger_http_request_duration_seconds",
                         "Time to the response headers, by route (SSE: until the stream starts).",
                         ["method", "route", "status"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

WEBHOOK_OUTCOMES = ("delivered", "failed", "gave_up")
_WEBHOOK_KEY = "messenger:metrics:webhook_deliveries:{}"


def count_webhook_delivery(outcome: str) -> None:
    """Count one webhook delivery attempt's outcome (``delivered``, ``failed``, ``gave_up``); never raises."""
    redis = current_app.extensions.get("redis")
    try:
        if redis is not None:
            redis.incr(_WEBHOOK_KEY.format(outcome))
    except Exception:  # a metric must never fail a delivery
        logger.warning("could not count a webhook delivery (%s)", outcome)


class RedisCollector(Collector):
    """RQ queue lengths and failed jobs, and webhook deliveries, read from Redis at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from rq import Queue
        from rq.registry import FailedJobRegistry

        from messenger.jobs import QUEUES

        redis = self.app.extensions.get("redis")
        if redis is None:
            return
        queued = GaugeMetricFamily("messenger_rq_queue_length", "Jobs waiting in each RQ queue.", labels=["queue"])
        failed = GaugeMetricFamily("messenger_rq_failed_jobs", "Jobs in each queue's failed registry.",
                                   labels=["queue"])
        hooks = CounterMetricFamily("messenger_webhook_deliveries", "Webhook delivery attempts by outcome.",
                                    labels=["outcome"])
        try:
            for name in QUEUES:
                queue = Queue(name, connection=redis)
                queued.add_metric([name], queue.count)
                failed.add_metric([name], FailedJobRegistry(queue=queue).count)
            counts = redis.mget([_WEBHOOK_KEY.format(o) for o in WEBHOOK_OUTCOMES])
            for outcome, value in zip(WEBHOOK_OUTCOMES, counts, strict=True):
                hooks.add_metric([outcome], int(value or 0))
        except Exception as exc:  # Redis down: the scrape still answers with the rest
            logger.warning("metrics: Redis unavailable (%s)", type(exc).__name__)
            return
        yield queued
        yield failed
        yield hooks


def render(app: Flask, lag: float | None = None) -> Response:
    """The Prometheus text exposition of this process (or of all workers in multiprocess mode).

    ``lag``: the hub's dispatch lag, passed by the caller (the hub imports this module, so
    this module does not import the hub).
    """
    if lag is not None:
        HUB_LAG.set(lag)
    registry: CollectorRegistry = REGISTRY
    if app.config.get("PROMETHEUS_MULTIPROC_DIR"):  # prometheus_client reads the same variable
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    from_redis = CollectorRegistry()
    from_redis.register(RedisCollector(app))
    return Response(generate_latest(registry) + generate_latest(from_redis), mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Time every request by route and give it a request id (echoed in ``X-Request-ID``)."""

    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        g.request_id = bind_request_id(request.headers.get("X-Request-ID"))

    @app.after_request
    def _finish(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            route = request.url_rule.rule if request.url_rule is not None else "unmatched"
            elapsed = time.perf_counter() - started
            HTTP_LATENCY.labels(request.method, route, str(response.status_code)).observe(elapsed)
            access_log.info("%s %s %s", request.method, route, response.status_code, extra={
                "method": request.method, "route": route, "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1)})
        if g.get("request_id"):
            response.headers["X-Request-ID"] = g.request_id
        return response

    @app.teardown_request
    def _forget(_: BaseException | None) -> None:
        clear_request_id()
