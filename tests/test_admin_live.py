"""Admin changes reach live clients without a restart (widget config from a running server, routing,
capacity), and admin actions racing each other for real (threads, each with its own session)."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from datetime import timezone

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import AccountLink
from messenger.models import Label
from messenger.services import accounts
from messenger.services import assignment
from messenger.services import labels as label_service
from messenger.services import messages as msg_service
from messenger.services import operators as operator_service
from messenger.services.widget import DAYS
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.assignment_helpers import activities
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


def _start_session(server, token: str, origin: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    request = urllib.request.Request(f"{server.url}/widget/api/v1/session", method="POST",
                                     data=json.dumps({"inbox": token}).encode(),
                                     headers={"Content-Type": "application/json", "Origin": origin})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_business_hours_and_allowed_origins_change_on_a_running_server(app, live_server) -> None:
    """No process keeps an inbox's hours or origins: each admin save is what the next request sees."""
    client, _ = signed_in(app)
    inbox = make_inbox(name="Shop", origins=["https://old-shop.example"])
    today = datetime.now(timezone.utc).weekday()
    always = {f"hours_{day}": "00:00-24:00" for day in DAYS}
    # Only the day after tomorrow: closed for the next 24 hours whenever the test runs.
    later = {f"hours_{day}": "" for day in DAYS} | {f"hours_{DAYS[(today + 2) % 7]}": "09:00-17:00"}

    def save(origins: str, hours: dict[str, str]) -> None:
        form = inbox_form(name="Shop", timezone="UTC", allowed_origins=origins, prechat_enabled=None,
                          assignment_policy="round_robin", members=None, **hours)
        resp = post_form(client, f"/admin/inboxes/{inbox.id}", form)
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]

    assert _start_session(live_server, inbox.website_token, "https://new-shop.example") == (
        403, {"error": "origin_not_allowed", "message": "This site may not use this chat."})
    save("https://new-shop.example", always)
    status, body = _start_session(live_server, inbox.website_token, "https://new-shop.example")
    assert status == 201 and body["config"]["business_hours"]["open"] is True
    assert _start_session(live_server, inbox.website_token, "https://old-shop.example")[0] == 403
    assert _config(live_server, inbox.website_token)["business_hours"]["open"] is True

    save("https://old-shop.example", later)
    assert _config(live_server, inbox.website_token)["business_hours"]["open"] is False
    assert _start_session(live_server, inbox.website_token, "https://new-shop.example")[0] == 403
    assert _start_session(live_server, inbox.website_token, "https://old-shop.example")[0] == 201


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


def test_raising_an_operators_capacity_assigns_waiting_conversations_at_once(app) -> None:
    client, _ = signed_in(app)
    inbox = make_inbox(auto_assignment=True)
    op = make_user(inboxes=[inbox], capacity=0)
    waiting = make_conversation(inbox).id
    work(app)
    assert conv(waiting).assignee_id is None
    form = {"name": op.name, "role": "agent", "capacity": "2", "inboxes": [str(inbox.id)]}
    assert post_form(client, f"/admin/operators/{op.id}", form).status_code == 302
    work(app)
    assert conv(waiting).assignee_id == op.id


def _at_once(app, *calls):  # type: ignore[no-untyped-def]
    """Run each call in its own thread and app context, released together; their results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[i] = calls[i]()
            except Exception as exc:  # noqa: BLE001 - the outcome under test
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_removing_an_operator_from_an_inbox_sends_their_conversations_back_to_the_queue(app) -> None:
    client, _ = signed_in(app)
    inbox, other = make_inbox(auto_assignment=True, name="Shop"), make_inbox(auto_assignment=True)
    leaving = make_user(inboxes=[inbox, other], name="Lena Leaving")
    waiting, answered, elsewhere = make_conversation(inbox).id, make_conversation(inbox).id, make_conversation(other).id
    work(app)
    assert {conv(c).assignee_id for c in (waiting, answered, elsewhere)} == {leaving.id}
    msg_service.send_operator_message(leaving, answered, "Let me check that for you", str(uuid.uuid4()))
    assert conv(answered).waiting_since is None  # answered: deactivation would leave it, removal must not
    staying = make_user(inboxes=[inbox], name="Sam Staying")

    # The operator's edit page: Shop unticked, the other inbox kept.
    resp = post_form(client, f"/admin/operators/{leaving.id}", {
        "name": leaving.name, "role": "agent", "capacity": "10", "inboxes": [str(other.id)]})
    assert resp.status_code == 302
    work(app)
    for conversation_id in (waiting, answered):
        assert conv(conversation_id).assignee_id == staying.id  # back in the queue, routed again at once
        [line] = activities(conversation_id, "requeue")
        assert line.content == "Lena Leaving was removed from the inbox: the conversation is back in the queue"
        assert line.content_attributes["reason"] == "removed_from_inbox"
        assert line.content_attributes["previous_assignee_id"] == leaving.id
    assert conv(elsewhere).assignee_id == leaving.id and not activities(elsewhere, "requeue")

    # The inbox's members list: Sam removed there; nobody else serves Shop, so both wait in its queue.
    form = inbox_form(name=inbox.name, assignment_policy="round_robin", members=None)
    assert post_form(client, f"/admin/inboxes/{inbox.id}", form).status_code == 302
    work(app)
    assert conv(waiting).assignee_id is None and conv(answered).assignee_id is None
    assert {assignment.queue_position(waiting), assignment.queue_position(answered)} == {1, 2}


def test_an_operator_added_back_before_the_requeue_runs_keeps_their_conversations(app) -> None:
    inbox = make_inbox(auto_assignment=True)
    agent = make_user(inboxes=[inbox])
    waiting = make_conversation(inbox).id
    work(app)
    operator_service.update_operator(None, agent.id, name=agent.name, role="agent", capacity=10, inbox_ids=[],
                                     team_ids=[])
    operator_service.update_operator(None, agent.id, name=agent.name, role="agent", capacity=10,
                                     inbox_ids=[inbox.id], team_ids=[])
    work(app)  # the requeue job finds them a member again
    assert conv(waiting).assignee_id == agent.id and not activities(waiting, "requeue")


def test_the_sweep_requeues_what_a_lost_removal_job_left_with_an_agent(app) -> None:
    inbox = make_inbox(auto_assignment=True)
    agent = make_user(inboxes=[inbox])
    admin = make_user(role="admin")
    mine = make_conversation(inbox).id
    admins = make_conversation(make_inbox(), assignee_id=admin.id).id  # an admin may hold any inbox's conversation
    work(app)
    assert conv(mine).assignee_id == agent.id
    operator_service.update_operator(None, agent.id, name=agent.name, role="agent", capacity=10, inbox_ids=[],
                                     team_ids=[])
    app.extensions["redis"].flushdb()  # Redis lost the requeue job
    assert conv(mine).assignee_id == agent.id
    assert assignment.sweep()["requeued"] == 1
    assert conv(mine).assignee_id is None and [a.content_attributes["reason"] for a in activities(mine, "requeue")] == [
        "removed_from_inbox"]
    assert conv(admins).assignee_id == admin.id  # not a member, but an admin: left alone
    assert assignment.sweep()["requeued"] == 0


def test_two_admins_creating_the_same_label_at_once_get_one_label(app) -> None:
    admin_id = make_user(role="admin").id  # plain ints only: ORM objects belong to this thread's session
    for round_ in range(3):
        # Names differ in case only: the unique index alone would let both in; the check under the lock does not.
        names = (f"Urgent {round_}", f"URGENT {round_}")
        results = _at_once(app, *[lambda n=n: label_service.save_label(admin_id, None, name=n, color="#aa0000")
                                  for n in names])
        assert sorted(type(r).__name__ for r in results) == ["Conflict", "Label"], results
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Label).where(
            sa.func.lower(Label.name) == names[0].lower())) == 1


def test_one_link_submitted_from_two_tabs_at_once_sets_one_password(app) -> None:
    admin_id = make_user(role="admin").id
    link = operator_service.invite_operator(admin_id, name="Tab Test", email=f"tabs-{admin_id}@example.com",
                                            role="agent", capacity=3, inbox_ids=[], team_ids=[])
    results = _at_once(app, lambda: accounts.accept_link(link.token, "first password"),
                       lambda: accounts.accept_link(link.token, "second password"))
    assert sorted(type(r).__name__ for r in results) == ["LinkGone", "User"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AccountLink).where(
        AccountLink.used_at.is_not(None))) == 1
