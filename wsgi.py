"""WSGI entry: ``gunicorn -k gevent wsgi:app`` (never with --preload).

gevent is patched before anything imports psycopg, so psycopg picks its cooperative
wait function (it chooses once, when ``psycopg.waiting`` is imported); under ``flask run``
and the CLI we leave threads alone.
"""
import os

if not os.environ.get("FLASK_RUN_FROM_CLI") and os.environ.get("MESSENGER_NO_GEVENT") != "1":
    from gevent import monkey

    monkey.patch_all()

from messenger import create_app  # noqa: E402

app = create_app()

if not os.environ.get("FLASK_RUN_FROM_CLI") and os.environ.get("MESSENGER_NO_GEVENT") != "1":
    import psycopg.waiting  # noqa: E402

    # If psycopg was imported before the patch it would block the whole worker on every query.
    assert psycopg.waiting.wait is not getattr(psycopg.waiting, "wait_c", None), "psycopg imported before gevent"
