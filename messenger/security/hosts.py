"""Two origins: the panel on ``BASE_URL``, the widget on ``WIDGET_BASE_URL`` (issue 14 item 9).

Everything a customer's visitors load — the loader, the chat frame, the widget API, the
visitor streams, their attachment downloads — can be served from its own origin, so that
a bug in code that renders visitor-facing content can never read or ride the operator's
session: browsers keep cookies per host, the panel's session cookie has no ``Domain``,
and with ``WIDGET_BASE_URL`` set each host answers only its own half:

- on the widget host, only ``/widget/…``, ``/static/…`` and the health probes exist
  (the panel, admin, login and operator API are 404 there);
- on any other host, ``/widget/…`` is 404: the frame never runs on the panel's origin
  (the static ``loader.js``, served by WhiteNoise before Flask, still answers there; what it
  loads comes from the origin it was loaded from, so it finds nothing).

Point both host names at the same server (one DNS name more, or the reverse proxy's
``server_name``); the proxy must pass the ``Host`` header through. Unset (the default,
and what ``make run`` uses), everything shares one origin as before.
"""
from __future__ import annotations

from flask import request

from messenger.errors import NotFound
from messenger.security.origins import normalise_origin
from messenger.security.origins import widget_origin

_BOTH = ("/healthz", "/readyz", "/metrics", "/favicon.ico")


def widget_url(path: str) -> str:
    """An absolute URL on the widget origin (relative to this site when there is no separate one)."""
    widget = widget_origin()
    return f"{widget}{path}" if widget else path


def loader_url() -> str:
    """The absolute URL of ``loader.js`` for embed codes (this host's when there is no widget origin)."""
    return f"{widget_origin() or request.host_url.rstrip('/')}/widget/loader.js"


def enforce_host_split() -> None:
    """``before_request``: with a separate widget origin, each host serves only its own half (404 otherwise)."""
    widget = widget_origin()
    if widget is None or request.path in _BOTH or request.path.startswith("/static/"):
        return
    on_widget_host = normalise_origin(request.host_url) == widget
    if on_widget_host != request.path.startswith("/widget/"):
        raise NotFound("Not found on this address.")
