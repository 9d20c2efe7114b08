"""gunicorn settings read from the working directory (command-line flags still win).

- SIGTERM (and HUP, which replaces workers) stops a worker gracefully: it stops accepting,
  finishes in-flight requests, and its SSE streams end at once with a final ``retry:`` and
  ``event: closed {"reason": "shutdown"}``, so clients reconnect to the new workers instead
  of hanging until ``--graceful-timeout``.
- With ``PROMETHEUS_MULTIPROC_DIR`` set, a worker that exits has its live gauges (open
  streams) removed from the shared metrics directory, so ``/metrics`` sums live workers only.
"""
import os
import signal


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    graceful_exit = worker.handle_exit

    def handle_exit(sig, frame):  # type: ignore[no-untyped-def]
        graceful_exit(sig, frame)
        import gevent

        from messenger.realtime.hub import drain_streams

        gevent.spawn(drain_streams)

    signal.signal(signal.SIGTERM, handle_exit)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
