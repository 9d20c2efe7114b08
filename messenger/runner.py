"""The dev runner behind ``make run``: embedded servers, migrate, seed, web + worker.

Starts an embedded PostgreSQL and Redis under ``instance/`` unless ``DATABASE_URL`` /
``REDIS_URL`` are set, migrates, seeds the demo admin and inbox, then runs gunicorn
(gevent, no --preload) and the RQ worker. A child that dies (the web server, the worker,
the embedded Redis) is restarted with exponential backoff and the log says so; only
Ctrl-C or SIGTERM stops everything, and then every process it started.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from messenger.config import RunSettings
from messenger.config import run_settings
from messenger.processes import kill_tree
from messenger.processes import stop_tree

ROOT = Path(__file__).resolve().parent.parent
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
HEALTHY_AFTER_S = 30.0  # a child that ran this long restarts with the first backoff again


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def log(text: str) -> None:
    print(f"runner: {text}", flush=True)


@dataclass
class Child:
    """One supervised process: ``start`` launches it (in its own process group) and returns it."""

    name: str
    start: Callable[[], subprocess.Popen[bytes] | None]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_FIRST_S
    restart_at: float | None = None
    restarts: int = 0

    def launch(self) -> None:
        self.process = self.start()
        self.started_at = time.monotonic()
        self.restart_at = None
        if self.process is not None:
            log(f"{self.name} started (pid {self.process.pid})")

    def check(self, now: float) -> None:
        """Notice an exit (schedule a restart with backoff) or perform a due restart."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restarts += 1
                self.launch()
            return
        process = self.process
        if process is None or process.poll() is None:
            return
        code = process.returncode
        how = f"signal {-code}" if code < 0 else f"code {code}"
        kill_tree(process)  # its own children (gunicorn workers, an RQ scheduler or work horse) go too
        if now - self.started_at >= HEALTHY_AFTER_S:
            self.backoff = BACKOFF_FIRST_S
        log(f"{self.name} exited ({how}); restarting in {self.backoff:.0f}s")
        self.restart_at = now + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX_S)

    def stop(self, deadline: float) -> None:
        if self.process is not None:
            stop_tree(self.process, grace=max(0.1, deadline - time.monotonic()))


def _popen(argv: list[str], env: dict[str, str]) -> Callable[[], subprocess.Popen[bytes]]:
    return lambda: subprocess.Popen(argv, env=env, cwd=ROOT, start_new_session=True)


def _web_argv(settings: RunSettings) -> list[str]:
    return [_bin("gunicorn"), "-k", "gevent", "-w", str(settings.web_workers), "-b",
            f"{settings.host}:{settings.port}", "--worker-connections", str(settings.worker_connections),
            "--timeout", "60", "--graceful-timeout", "5", "wsgi:app"]


def _seed(env: dict[str, str], settings: RunSettings) -> str:
    """Migrate, seed the demo admin and inbox; the login line to print."""
    flask = [_bin("flask"), "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True)
    login_file = settings.instance / "demo_login.txt"
    if settings.admin_password is None and not login_file.exists():
        env["ADMIN_PASSWORD"] = secrets.token_urlsafe(12)
    seeded = subprocess.run([*flask, "messenger", "seed-demo", "--base-url", settings.base_url], env=env, cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    login = next((line[len("login: "):] for line in seeded.splitlines() if line.startswith("login: ")), "")
    if "/" in login:
        login_file.write_text(login + "\n")
        login_file.chmod(0o600)
    elif login_file.exists():
        login = login_file.read_text().strip()
    return login


def _banner(base_url: str, login: str) -> None:
    print("\n" + "=" * 60, flush=True)
    print(f"  Messenger is running at {base_url}", flush=True)
    print(f"  Panel:     {base_url}/app", flush=True)
    print(f"  Demo page: {base_url}/demo", flush=True)
    print(f"  Login:     {login}", flush=True)
    print("  Stop with Ctrl-C", flush=True)
    print("=" * 60 + "\n", flush=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    settings = run_settings(os.environ)
    instance = settings.instance
    instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MESSENGER_INSTANCE=str(instance), BASE_URL=settings.base_url)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background, where SIGINT comes ignored
    stoppers: list[tuple[str, Callable[[], None]]] = []
    children: list[Child] = []
    from messenger.devservers import ensure_database
    from messenger.devservers import start_postgres
    from messenger.devservers import start_redis

    try:
        if not env.get("DATABASE_URL"):
            pg = start_postgres(instance / "postgres")
            env["DATABASE_URL"] = ensure_database(pg.url, "messenger")
            stoppers.append(("PostgreSQL", pg.stop))
        if not env.get("REDIS_URL"):
            redis = start_redis(instance / "redis")
            env["REDIS_URL"] = redis.url
            if redis.process is not None:  # ours: supervised like the others (its AOF keeps the jobs)
                children.append(Child("redis", lambda: start_redis(instance / "redis").process,
                                      process=redis.process, started_at=time.monotonic()))
            else:  # one left running by an earlier run
                stoppers.append(("Redis", redis.stop))
        login = _seed(env, settings)
        metrics_dir = instance / "metrics"  # web workers share their Prometheus series here
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        web_env = dict(env, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
        for name, argv, child_env in (("web", _web_argv(settings), web_env),
                                      ("worker", [sys.executable, "worker.py"], env)):
            child = Child(name, _popen(argv, child_env))
            child.launch()
            children.append(child)
        time.sleep(1.0)
        _banner(settings.base_url, login)
        while True:
            now = time.monotonic()
            for child in children:
                child.check(now)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        deadline = time.monotonic() + 10
        for child in reversed(children):
            if child.name != "redis":
                child.stop(deadline)
        for child in children:
            if child.name == "redis":
                child.stop(deadline)
        for name, stop in reversed(stoppers):
            print(f"stopping {name}", flush=True)
            stop()


if __name__ == "__main__":
    sys.exit(main())
