"""gunicorn settings read from the working directory (command-line flags still win).

With ``PROMETHEUS_MULTIPROC_DIR`` set, a worker that exits has its live gauges (open
streams) removed from the shared metrics directory, so ``/metrics`` sums live workers only.
"""
import os


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
