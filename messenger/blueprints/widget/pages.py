"""Pages around the widget: the demo page where a site embeds it."""
from __future__ import annotations

import sqlalchemy as sa
from flask import make_response
from flask import render_template
from flask.typing import ResponseReturnValue

from messenger.blueprints.widget.blueprint import bp
from messenger.extensions import db
from messenger.models import Inbox
from messenger.security.headers import csp_embedding_widget


@bp.record_once
def _register_demo(state) -> None:  # type: ignore[no-untyped-def]
    state.app.add_url_rule("/demo", "demo", demo_page)


def demo_page() -> ResponseReturnValue:
    """A sample customer page with the first inbox's widget embedded (and the second inbox's, if any)."""
    inboxes = list(db.session.scalars(sa.select(Inbox).order_by(Inbox.id).limit(2)))
    response = make_response(render_template("widget/demo.html", inbox=inboxes[0] if inboxes else None,
                                             second=inboxes[1] if len(inboxes) > 1 else None))
    response.headers["Content-Security-Policy"] = csp_embedding_widget()
    return response
