"""Messenger: a self-hosted customer-support live chat.

``create_app`` builds the Flask application from the settings it is given (extensions,
blueprints, error handlers, security headers, the CLI). It reads no environment and sets
up no logging: the entry points do, through ``messenger.config``.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

__all__ = ["create_app"]


def create_app(settings: Mapping[str, Any]) -> Flask:
    """Create an app from complete settings (``config.settings_from_env()``; tests add overrides)."""
    from messenger.assets import serve_assets
    from messenger.assets import static_version

    version = static_version()
    app = Flask(__name__, instance_path=str(settings["INSTANCE_PATH"]), static_url_path=f"/static/{version}")
    app.config.update(settings)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        raise RuntimeError("DATABASE_URL is not set (make run starts an embedded PostgreSQL and sets it)")

    init_extensions(app)
    from messenger import metrics

    metrics.init_app(app)
    init_blueprints(app)
    from messenger.errors import register_error_handlers

    register_error_handlers(app)
    from messenger.security.headers import apply_security_headers

    app.after_request(apply_security_headers)
    serve_assets(app, version)
    from messenger.cli import cli

    app.cli.add_command(cli)
    return app


def init_extensions(app: Flask) -> None:
    """Bind db, migrations, CSRF, the rate limiter and Redis/RQ to the app."""
    from redis import Redis

    from messenger.extensions import babel
    from messenger.extensions import csrf
    from messenger.extensions import db
    from messenger.extensions import limiter
    from messenger.extensions import migrate

    db.init_app(app)
    from messenger.realtime import sequencer

    with app.app_context():
        sequencer.install(app, db.engine)  # events are numbered after each commit (docs/event-log.md)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    from messenger.security.bodies import apply_body_limit
    from messenger.security.hostile import refuse_hostile_values
    from messenger.security.hosts import enforce_host_split
    from messenger.security.hosts import loader_url
    from messenger.security.hosts import widget_url

    # First: a separate widget origin serves only the widget (and the panel host never serves it).
    app.before_request(enforce_host_split)
    # Before CSRF (which reads form bodies): every body is capped whatever its encoding.
    app.before_request(apply_body_limit)
    # Then: NUL bytes, absurd nesting and NaN/Infinity are a 422 naming the field before any view.
    app.before_request(refuse_hostile_values)
    app.jinja_env.globals.update(widget_url=widget_url, widget_loader_url=loader_url)
    csrf.init_app(app)
    from messenger.i18n import select_locale

    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(Path(__file__).resolve().parent / "translations"))
    redis_url = app.config["REDIS_URL"]
    if redis_url:
        app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url if not redis_url.startswith("unix") else
                              "redis+" + redis_url)
        app.extensions["redis"] = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
    else:
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
        app.extensions["redis"] = None
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 2, "socket_timeout": 2})
    # Redis down must not take chat down (docs/architecture.md): limits then fail open.
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)


def init_blueprints(app: Flask) -> None:
    """Register the three audiences' blueprints and the inbound e-mail endpoint."""
    from messenger.blueprints.admin import bp as admin_bp
    from messenger.blueprints.inbound import bp as inbound_bp
    from messenger.blueprints.operator import bp as operator_bp
    from messenger.blueprints.widget import bp as widget_bp

    app.register_blueprint(operator_bp)
    app.register_blueprint(widget_bp, url_prefix="/widget")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(inbound_bp)
