"""WSGI entry: ``gunicorn -k gevent wsgi:app`` (never with --preload); ``flask --app wsgi`` loads it too.

gevent is patched before anything imports psycopg, so psycopg picks its cooperative
wait function (it chooses once, when ``psycopg.waiting`` is imported); under ``flask run``
and the CLI we leave threads alone. Settings and logging come from the environment here,
the only place the web process reads it.
"""
import os

GEVENT = not os.environ.get("FLASK_RUN_FROM_CLI")
if GEVENT:
    from gevent import monkey

    monkey.patch_all()

from messenger import create_app  # noqa: E402
from messenger.config import configure_logging  # noqa: E402
from messenger.config import settings_from_env  # noqa: E402

settings = settings_from_env()
configure_logging(settings)
app = create_app(settings)

if GEVENT:
    import psycopg.waiting  # noqa: E402

    # If psycopg was imported before the patch it would block the whole worker on every query.
    if psycopg.waiting.wait is getattr(psycopg.waiting, "wait_c", None):
        raise RuntimeError("psycopg was imported before gevent patched the standard library: every query would "
                           "block the worker (never run gunicorn with --preload)")
