"""One reopen rule (``conversations.reopen``) for every path: an operator's status change,
an operator's "reopen and send", and a visitor's message. Real RQ worker, Redis, PostgreSQL.
"""
from __future__ import annotations

import uuid

import pytest

from messenger.errors import Conflict
from messenger.services import assignment
from messenger.services import conversations as conv_service
from messenger.services import messages as msg_service
from tests.assignment_helpers import conv
from tests.assignment_helpers import set_user
from tests.assignment_helpers import work
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor

pytestmark = pytest.mark.committing


def test_an_operator_reopening_an_unassigned_resolved_conversation_puts_it_back_in_the_queue(app):
    """Resolving cleared ``waiting_since``; reopening must put it back in the queue, or nobody ever gets it."""
    inbox = make_inbox(auto_assignment=True)
    op = make_user(inboxes=[inbox], availability="offline")
    c = make_conversation(inbox).id
    work(app)
    assert conv(c).assignee_id is None and assignment.queue_position(c) == 1
    conv_service.change_status(op, c, "resolved")
    assert conv(c).waiting_since is None
    set_user(op.id, availability="online")
    conv_service.change_status(op, c, "open")
    assert conv(c).waiting_since is not None and assignment.queue_position(c) == 1
    work(app)
    assert conv(c).assignee_id == op.id and conv(c).status == "open"


def test_an_operator_reopening_never_hands_it_back_to_an_offline_assignee(app):
    """The same rule as a visitor's reopen: an offline assignee loses it, the router places it."""
    inbox = make_inbox(auto_assignment=True)
    gone, present = make_user(inboxes=[inbox]), make_user(inboxes=[inbox])
    c = make_conversation(inbox).id
    work(app)
    assert conv(c).assignee_id == gone.id
    conv_service.change_status(gone, c, "resolved")
    set_user(gone.id, availability="offline")
    conv_service.change_status(present, c, "open")
    assert conv(c).assignee_id is None and conv(c).previous_assignee_id == gone.id
    work(app)
    assert conv(c).assignee_id == present.id


def test_the_assignee_reopening_their_own_conversation_keeps_it(app):
    """They are evidently present even when their availability says busy; capacity still holds."""
    inbox = make_inbox(auto_assignment=True)
    op = make_user(inboxes=[inbox])
    visitor, _ = make_visitor(inbox)
    c = make_conversation(inbox, visitor).id
    work(app)
    conv_service.change_status(op, c, "resolved")
    set_user(op.id, availability="busy")
    sent = msg_service.send_operator_message(op, c, "Reopening with an answer", str(uuid.uuid4()), reopen=True)
    assert sent.created
    row = conv(c)
    assert row.status == "open" and row.assignee_id == op.id and row.resolved_at is None


def test_a_visitor_writing_to_an_old_resolved_conversation_while_another_is_open_gets_a_conflict(app):
    """One conversation in progress per contact: a clear 409, not a unique-index error."""
    inbox = make_inbox()
    visitor, _ = make_visitor(inbox)
    old = make_conversation(inbox, visitor).id
    op = make_user(inboxes=[inbox])
    conv_service.change_status(op, old, "resolved")
    current = make_conversation(inbox, visitor).id
    assert current != old
    with pytest.raises(Conflict) as err:
        msg_service.send_visitor_message(visitor, old, "Hello again", str(uuid.uuid4()))
    assert err.value.code == "other_conversation_active"
    assert conv(old).status == "resolved" and conv(current).status == "open"
