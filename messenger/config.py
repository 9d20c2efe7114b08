"""Settings, read from the environment in one place, with their defaults.

Nothing here runs at import. The entry points (``wsgi.py``, which the ``flask --app wsgi``
CLI loads too, ``worker.py`` and the ``make run`` runner) call ``settings_from_env`` and
``configure_logging``; ``create_app`` only receives the result, and the rest of the code
reads ``current_app.config``. Every variable read here is in the README's configuration
table (``tests/test_config.py`` checks both ways).
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str | None, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    return int(value)


def normalise_database_url(url: str) -> str:
    """Return a SQLAlchemy URL that uses psycopg 3 (``postgresql+psycopg://``)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def libpq_url(url: str) -> str:
    """Return the plain libpq form of a database URL (for psycopg.connect)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def instance_path(environ: Mapping[str, str]) -> Path:
    """The per-install data directory: ``MESSENGER_INSTANCE``, else ``./instance``."""
    return Path(environ.get("MESSENGER_INSTANCE") or Path.cwd() / "instance").resolve()


def _secret_key(instance_path: Path, environ: Mapping[str, str]) -> str:
    if environ.get("SECRET_KEY"):
        return environ["SECRET_KEY"]
    # A per-install key kept under instance/ so sessions survive restarts.
    path = instance_path / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        instance_path.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


def load_settings(environ: Mapping[str, str], instance_path: Path) -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    database_url = environ.get("DATABASE_URL", "")
    max_upload = _int(environ.get("MAX_UPLOAD_BYTES"), 40 * 1024 * 1024)
    settings: dict[str, Any] = {
        "INSTANCE_PATH": str(instance_path),
        "LOG_LEVEL": (environ.get("LOG_LEVEL") or "INFO").strip().upper(),
        "SECRET_KEY": _secret_key(instance_path, environ),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url) if database_url else None,
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "pool_pre_ping": True,
            "pool_size": _int(environ.get("DB_POOL_SIZE"), 10),
            "max_overflow": _int(environ.get("DB_MAX_OVERFLOW"), 20),
        },
        "REDIS_URL": environ.get("REDIS_URL", ""),
        "BASE_URL": environ.get("BASE_URL", ""),
        "WIDGET_BASE_URL": environ.get("WIDGET_BASE_URL", ""),
        # Sessions and cookies.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(environ.get("SECURE_COOKIES"), False),
        "PERMANENT_SESSION_LIFETIME": _int(environ.get("SESSION_LIFETIME_S"), 7 * 24 * 3600),
        "WTF_CSRF_TIME_LIMIT": None,
        # Bodies and uploads.
        "MAX_CONTENT_LENGTH": max_upload + 64 * 1024,
        "MAX_FILE_BYTES": max_upload,
        "MAX_IMAGE_BYTES": _int(environ.get("MAX_IMAGE_BYTES"), 10 * 1024 * 1024),
        "MAX_IMAGE_PIXELS": _int(environ.get("MAX_IMAGE_PIXELS"), 40_000_000),
        "THUMBNAIL_PX": _int(environ.get("THUMBNAIL_PX"), 320),
        "ZIP_MAX_UNCOMPRESSED": _int(environ.get("ZIP_MAX_UNCOMPRESSED"), 200 * 1024 * 1024),
        "ZIP_MAX_MEMBERS": _int(environ.get("ZIP_MAX_MEMBERS"), 1000),
        "UPLOAD_DIR": environ.get("UPLOAD_DIR", str(instance_path / "uploads")),
        "UNSENT_UPLOAD_TTL_S": _int(environ.get("UNSENT_UPLOAD_TTL_S"), 24 * 3600),
        # Virus scanning.
        "CLAMD_SOCKET": environ.get("CLAMD_SOCKET", ""),
        "CLAMD_HOST": environ.get("CLAMD_HOST", ""),
        "CLAMD_TIMEOUT_S": _int(environ.get("CLAMD_TIMEOUT_S"), 60),
        "SCAN_RETRY_INTERVALS": environ.get("SCAN_RETRY_INTERVALS", "10,30,60,120,300,600,900"),
        "SCAN_STALE_AFTER_S": _int(environ.get("SCAN_STALE_AFTER_S"), 3600),
        # Realtime.
        "SSE_HEARTBEAT_S": _int(environ.get("SSE_HEARTBEAT_S"), 15),
        "SSE_NAMED_HEARTBEAT_S": _int(environ.get("SSE_NAMED_HEARTBEAT_S"), 60),
        "SSE_RETRY_MS": _int(environ.get("SSE_RETRY_MS"), 3000),
        "SSE_QUEUE_SIZE": _int(environ.get("SSE_QUEUE_SIZE"), 256),
        "LONGPOLL_WAIT_S": _int(environ.get("LONGPOLL_WAIT_S"), 25),
        "PRESENCE_GRACE_S": _int(environ.get("PRESENCE_GRACE_S"), 30),
        "HUB_POLL_S": _int(environ.get("HUB_POLL_S"), 2),
        "SEQUENCER_POLL_MS": _int(environ.get("SEQUENCER_POLL_MS"), 500),
        "HUB_RING_SIZE": _int(environ.get("HUB_RING_SIZE"), 4096),
        "STREAMS_PER_VISITOR": _int(environ.get("STREAMS_PER_VISITOR"), 5),
        "STREAMS_PER_OPERATOR": _int(environ.get("STREAMS_PER_OPERATOR"), 20),
        "STREAMS_PER_IP": _int(environ.get("STREAMS_PER_IP"), 200),
        "STREAM_TICKET_TTL_S": _int(environ.get("STREAM_TICKET_TTL_S"), 60),
        "VISITOR_TOKEN_TTL_S": _int(environ.get("VISITOR_TOKEN_TTL_S"), 180 * 24 * 3600),
        # Rate limits (Flask-Limiter strings).
        "RATELIMIT_ENABLED": _bool(environ.get("RATELIMIT_ENABLED"), True),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": environ.get("LOGIN_RATE_LIMIT", "10 per minute; 100 per hour"),
        "LOGIN_FREE_FAILURES": _int(environ.get("LOGIN_FREE_FAILURES"), 3),
        "LOGIN_MAX_DELAY_S": _int(environ.get("LOGIN_MAX_DELAY_S"), 300),
        "LOGIN_ACCOUNT_FAILURES": _int(environ.get("LOGIN_ACCOUNT_FAILURES"), 50),
        "LOGIN_ACCOUNT_WINDOW_S": _int(environ.get("LOGIN_ACCOUNT_WINDOW_S"), 3600),
        "WIDGET_RATE_LIMIT": environ.get("WIDGET_RATE_LIMIT", "120 per minute"),
        "WIDGET_POLL_RATE_LIMIT": environ.get("WIDGET_POLL_RATE_LIMIT", "300 per minute"),
        "WIDGET_IP_RATE_LIMIT": environ.get("WIDGET_IP_RATE_LIMIT", "600 per minute"),
        "WIDGET_SESSION_RATE_LIMIT": environ.get("WIDGET_SESSION_RATE_LIMIT", "60 per hour"),
        "QUEUE_CACHE_MS": _int(environ.get("QUEUE_CACHE_MS"), 1500),
        "SPAM_MIN_FIRST_MESSAGE_S": _int(environ.get("SPAM_MIN_FIRST_MESSAGE_S"), 2),
        "SPAM_MAX_OPEN_PER_IP": _int(environ.get("SPAM_MAX_OPEN_PER_IP"), 10),
        "TYPING_RATE_LIMIT": environ.get("TYPING_RATE_LIMIT", "60 per minute"),
        "PRESENCE_RATE_LIMIT": environ.get("PRESENCE_RATE_LIMIT", "30 per minute"),
        "UPLOAD_RATE_LIMIT": environ.get("UPLOAD_RATE_LIMIT", "30 per minute"),
        "OPERATOR_UPLOAD_RATE_LIMIT": environ.get("OPERATOR_UPLOAD_RATE_LIMIT", "120 per minute"),
        "ATTACHMENT_DOWNLOAD_RATE_LIMIT": environ.get("ATTACHMENT_DOWNLOAD_RATE_LIMIT", "300 per minute"),
        "ATTACHMENT_URL_TTL_S": _int(environ.get("ATTACHMENT_URL_TTL_S"), 120),
        "TRUSTED_PROXIES": _int(environ.get("TRUSTED_PROXIES"), 0),
        # Integrations (docs/integrations.md).
        "WEBHOOK_ALLOW_PRIVATE": _bool(environ.get("WEBHOOK_ALLOW_PRIVATE"), False),
        "WEBHOOK_TIMEOUT_S": _int(environ.get("WEBHOOK_TIMEOUT_S"), 10),
        "WEBHOOK_RETRY_INTERVALS": environ.get("WEBHOOK_RETRY_INTERVALS", "30,120,600,1800,5400,14400,43200"),
        "WEBHOOK_MAX_FAILURES": _int(environ.get("WEBHOOK_MAX_FAILURES"), 20),
        "WEBHOOK_CA_BUNDLE": environ.get("WEBHOOK_CA_BUNDLE", ""),  # PEM CAs trusted besides the system's
        "INTEGRATIONS_POLL_S": _int(environ.get("INTEGRATIONS_POLL_S"), 5),
        "SMTP_HOST": environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _int(environ.get("SMTP_PORT"), 587),
        "SMTP_USER": environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool(environ.get("SMTP_STARTTLS"), True),
        "SMTP_SSL": _bool(environ.get("SMTP_SSL"), False),
        "SMTP_TIMEOUT_S": _int(environ.get("SMTP_TIMEOUT_S"), 20),
        "MAIL_FROM": environ.get("MAIL_FROM", "messenger@localhost"),
        "EMAIL_REPLY_DELAY_S": _int(environ.get("EMAIL_REPLY_DELAY_S"), 60),
        "INBOUND_EMAIL_DOMAIN": environ.get("INBOUND_EMAIL_DOMAIN", ""),
        "INBOUND_EMAIL_SECRET": environ.get("INBOUND_EMAIL_SECRET", ""),
        "RETENTION_DAYS": _int(environ.get("RETENTION_DAYS"), 0),
        "TRANSCRIPT_RATE_LIMIT": environ.get("TRANSCRIPT_RATE_LIMIT", "5 per hour"),
        # Operations: readiness thresholds, event-log retention, the worker's repair tick.
        "READY_MAX_HUB_LAG_S": _int(environ.get("READY_MAX_HUB_LAG_S"), 15),
        "READY_MAX_WORKER_AGE_S": _int(environ.get("READY_MAX_WORKER_AGE_S"), 120),
        "READY_CHECK_WORKER": _bool(environ.get("READY_CHECK_WORKER"), True),
        "READY_MIN_FREE_BYTES": _int(environ.get("READY_MIN_FREE_BYTES"), 256 * 1024 * 1024),
        "METRICS_TOKEN": environ.get("METRICS_TOKEN", ""),
        "EVENT_RETENTION_HOURS": _int(environ.get("EVENT_RETENTION_HOURS"), 7 * 24),
        "REPAIR_INTERVAL_S": _int(environ.get("REPAIR_INTERVAL_S"), 30),
        "PROMETHEUS_MULTIPROC_DIR": environ.get("PROMETHEUS_MULTIPROC_DIR", ""),
        "LOG_FORMAT": (environ.get("LOG_FORMAT") or "json").strip().lower(),
    }
    return settings


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The app's settings from the process environment: what the entry points pass to ``create_app``."""
    environ = os.environ if environ is None else environ
    return load_settings(environ, instance_path(environ))


def configure_logging(settings: Mapping[str, Any]) -> None:
    """Root logging at ``LOG_LEVEL`` in ``LOG_FORMAT`` (json or text), with request ids (``messenger.logs``);
    called by the entry points only (the app never configures logging)."""
    from messenger.logs import configure_logging as configure

    configure(settings["LOG_LEVEL"], settings.get("LOG_FORMAT", "json"))


@dataclass(frozen=True)
class RunSettings:
    """What ``make run`` and ``flask messenger seed-demo`` read besides the app's settings."""

    instance: Path
    host: str
    port: int
    base_url: str
    web_workers: int
    worker_connections: int
    admin_email: str
    admin_password: str | None


def run_settings(environ: Mapping[str, str]) -> RunSettings:
    """Where ``make run`` listens, its process counts, and the demo admin it seeds."""
    host = environ.get("HOST", "127.0.0.1")
    port = _int(environ.get("PORT"), 8000)
    return RunSettings(instance=instance_path(environ), host=host, port=port,
                       base_url=environ.get("BASE_URL") or f"http://{host}:{port}",
                       web_workers=_int(environ.get("WEB_WORKERS"), 2),
                       worker_connections=_int(environ.get("WORKER_CONNECTIONS"), 4000),
                       admin_email=environ.get("ADMIN_EMAIL", "admin@example.com"),
                       admin_password=environ.get("ADMIN_PASSWORD") or None)
