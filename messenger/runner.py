"""The dev runner behind ``make run``: embedded servers, migrate, seed, web + worker.

Starts an embedded PostgreSQL and Redis under ``instance/`` unless ``DATABASE_URL`` /
``REDIS_URL`` are set, migrates, seeds the demo admin and inbox, then runs gunicorn
(gevent, no --preload) and the RQ worker. Ctrl-C stops every process it started.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def main() -> int:
    instance = Path(os.environ.get("MESSENGER_INSTANCE", ROOT / "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["MESSENGER_INSTANCE"] = str(instance)
    port = int(env.get("PORT", "8000"))
    host = env.get("HOST", "127.0.0.1")
    base_url = env.setdefault("BASE_URL", f"http://{host}:{port}")
    stoppers = []
    from messenger.devservers import ensure_database
    from messenger.devservers import start_postgres
    from messenger.devservers import start_redis

    if not env.get("DATABASE_URL"):
        pg = start_postgres(instance / "postgres")
        env["DATABASE_URL"] = ensure_database(pg.url, "messenger")
        stoppers.append(("PostgreSQL", pg.stop))
    if not env.get("REDIS_URL"):
        redis = start_redis(instance / "redis")
        env["REDIS_URL"] = redis.url
        stoppers.append(("Redis", redis.stop))

    children: list[subprocess.Popen[bytes]] = []

    def shutdown(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        for name, stop in reversed(stoppers):
            print(f"stopping {name}", flush=True)
            stop()

    try:
        flask = [_bin("flask"), "--app", "wsgi"]
        subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True)
        login_file = instance / "demo_login.txt"
        if not env.get("ADMIN_PASSWORD") and not login_file.exists():
            env["ADMIN_PASSWORD"] = secrets.token_urlsafe(12)
        seeded = subprocess.run([*flask, "messenger", "seed-demo", "--base-url", base_url], env=env, cwd=ROOT,
                                check=True, capture_output=True, text=True).stdout
        login = next((line[len("login: "):] for line in seeded.splitlines() if line.startswith("login: ")), "")
        if "/" in login:
            login_file.write_text(login + "\n")
            login_file.chmod(0o600)
        elif login_file.exists():
            login = login_file.read_text().strip()
        workers = env.get("WEB_WORKERS", "2")
        children.append(subprocess.Popen(
            [_bin("gunicorn"), "-k", "gevent", "-w", workers, "-b", f"{host}:{port}",
             "--worker-connections", env.get("WORKER_CONNECTIONS", "4000"), "--timeout", "60",
             "--graceful-timeout", "5", "--access-logfile", "-", "wsgi:app"],
            env=env, cwd=ROOT, start_new_session=True))
        children.append(subprocess.Popen([sys.executable, "worker.py"], env=env, cwd=ROOT, start_new_session=True))
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
        time.sleep(1.0)
        print("\n" + "=" * 60, flush=True)
        print(f"  Messenger is running at {base_url}", flush=True)
        print(f"  Panel:     {base_url}/app", flush=True)
        print(f"  Demo page: {base_url}/demo", flush=True)
        print(f"  Login:     {login}", flush=True)
        print("  Stop with Ctrl-C", flush=True)
        print("=" * 60 + "\n", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a process exited; stopping everything", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        shutdown()


if __name__ == "__main__":
    sys.exit(main())
