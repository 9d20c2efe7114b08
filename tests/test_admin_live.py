"""Admin changes reach live clients without a restart: widget config from a running server, routing, capacity."""
from __future__ import annotations

import json
import urllib.request

import pytest

from messenger.services import assignment
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.assignment_helpers import conv
from tests.assignment_helpers import work
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.test_admin_inboxes import inbox_form

pytestmark = pytest.mark.committing


def _config(server, token: str) -> dict:  # type: ignore[no-untyped-def]
    with urllib.request.urlopen(f"{server.url}/widget/api/v1/config?inbox={token}", timeout=10) as resp:
        return json.loads(resp.read())


def test_widget_config_served_by_a_running_server_changes_when_the_admin_saves(app, live_server) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox(name="Before", greeting="Old greeting")
    assert _config(live_server, inbox.website_token)["greeting"] == "Old greeting"
    resp = post_form(client, f"/admin/inboxes/{inbox.id}", inbox_form(
        name="After", greeting="New greeting", color="#00aa00", prechat_enabled=None, business_hours_enabled=None,
        allowed_origins=live_server.url))
    assert resp.status_code == 302
    config = _config(live_server, inbox.website_token)
    assert (config["name"], config["greeting"], config["color"]) == ("After", "New greeting", "#00aa00")
    assert config["prechat"]["enabled"] is False and config["business_hours"]["enabled"] is False


def test_raising_inbox_capacity_assigns_waiting_conversations_at_once(app) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox(auto_assignment=True, capacity=0)
    op = make_user(inboxes=[inbox])
    waiting = make_conversation(inbox).id
    work(app)
    assert conv(waiting).assignee_id is None and assignment.queue_position(waiting) == 1
    form = inbox_form(name=inbox.name, capacity="1", assignment_policy="round_robin", members=[str(op.id)])
    assert post_form(client, f"/admin/inboxes/{inbox.id}", form).status_code == 302
    work(app)
    assert conv(waiting).assignee_id == op.id


def test_turning_auto_assignment_on_routes_the_waiting_conversation(app) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox(auto_assignment=False)
    op = make_user(inboxes=[inbox])
    waiting = make_conversation(inbox).id
    work(app)
    assert conv(waiting).assignee_id is None
    form = inbox_form(name=inbox.name, capacity="", members=[str(op.id)])
    assert post_form(client, f"/admin/inboxes/{inbox.id}", form).status_code == 302
    work(app)
    assert conv(waiting).assignee_id == op.id
