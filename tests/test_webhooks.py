"""Webhooks against a real local HTTP receiver: signature, retries, notes, SSRF, auto-disable.

These tests commit (events exist only after COMMIT) and run the pump and the delivery
job in-process; ``test_webhooks_worker.py`` runs the real worker process.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Webhook
from messenger.models import WebhookAttempt
from messenger.models import WebhookDelivery
from messenger.security import outbound
from messenger.services import conversations as conv_service
from messenger.services import messages as msg_service
from messenger.services import webhooks
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.receivers import WebhookReceiver

pytestmark = pytest.mark.committing
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver().start()
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def webhook_config(app) -> Iterator[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Private targets allowed (the receiver is on 127.0.0.1), instant retries."""
    keys = ("WEBHOOK_ALLOW_PRIVATE", "WEBHOOK_RETRY_INTERVALS", "WEBHOOK_MAX_FAILURES")
    saved = {k: app.config[k] for k in keys}
    app.config.update(WEBHOOK_ALLOW_PRIVATE=True, WEBHOOK_RETRY_INTERVALS="0,0,0,0,0,0,0")
    try:
        yield app.config
    finally:
        app.config.update(saved)


def documented_verifier():  # type: ignore[no-untyped-def]
    """The Python recipe from docs/integrations.md, executed as written."""
    text = (ROOT / "docs" / "integrations.md").read_text()
    code = re.search(r"```python\n(.*?def verify_messenger_signature.*?)```", text, re.S)
    assert code, "docs/integrations.md lost its Python verification recipe"
    namespace: dict[str, object] = {}
    exec(code.group(1), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_messenger_signature"]


def _admin():  # type: ignore[no-untyped-def]
    return make_user(role="admin")


def _deliver_all() -> None:
    """Pump, then run every due delivery once (what the worker does)."""
    webhooks.pump_all()
    for delivery_id in db.session.scalars(sa.select(WebhookDelivery.id).where(WebhookDelivery.status == "pending")
                                          .order_by(WebhookDelivery.id)).all():
        webhooks.deliver(delivery_id)


def _conversation_with_messages(operator_private: bool = False):  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    op = make_user(inboxes=[inbox])
    visitor, _ = make_visitor(inbox)
    sent = msg_service.send_visitor_message(visitor, None, "Hello, I need help", str(uuid.uuid4()))
    conv_id = sent.message.conversation_id
    msg_service.send_operator_message(op, conv_id, "Internal: VIP customer", str(uuid.uuid4()), private=True)
    msg_service.send_operator_message(op, conv_id, "Sure, how can I help?", str(uuid.uuid4()))
    return inbox, op, visitor, conv_id


def test_signed_delivery_verifies_with_the_documented_recipe(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    hook, secret = webhooks.create_webhook(_admin(), url=receiver.url, events=["message.created"])
    _conversation_with_messages()
    _deliver_all()
    got = receiver.wait_for(2)
    assert [r.json["payload"]["content"] for r in got] == ["Hello, I need help", "Sure, how can I help?"]
    verify = documented_verifier()
    for request in got:
        assert request.headers["X-Messenger-Event"] == "message.created"
        assert request.headers["Content-Type"] == "application/json"
        assert verify(secret, request.body, request.headers["X-Messenger-Signature"])
        assert not verify("whsec_wrong", request.body, request.headers["X-Messenger-Signature"])
        assert not verify(secret, request.body + b" ", request.headers["X-Messenger-Signature"])
        body = request.json
        assert set(body) == {"event", "id", "created_at", "payload"}
        delivery = db.session.get(WebhookDelivery, int(request.headers["X-Messenger-Delivery"]))
        assert delivery is not None and delivery.event_id == body["id"] and delivery.status == "success"
        assert delivery.response_code == 200 and delivery.duration_ms is not None
        assert delivery.response_body is not None and len(delivery.response_body) == 2048  # first 2 KB kept
    # A replayed (old) signature is refused by the recipe.
    stale = webhooks.sign(secret, got[0].body, 1_000_000)
    assert not verify(secret, got[0].body, stale)
    assert hook.secret not in str(db.session.get(Webhook, hook.id).events)


def test_failing_three_times_then_succeeding_delivers_exactly_once_more(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    receiver.script = [500, 503, 502]
    webhooks.create_webhook(_admin(), url=receiver.url, events=["conversation.created"])
    inbox = make_inbox()
    visitor, _ = make_visitor(inbox)
    conv, _ = conv_service.create_conversation(visitor)
    webhooks.pump_all()
    delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
    outcomes = [webhooks.deliver(delivery.id) for _ in range(6)]
    assert outcomes == ["retry", "retry", "retry", "success", "skipped", "skipped"]
    assert webhooks.sweep() == 0  # nothing left to re-enqueue
    requests = receiver.wait_for(4)
    assert len(requests) == 4 and {r.json["id"] for r in requests} == {delivery.event_id}
    assert all(r.json["payload"]["id"] == conv.id for r in requests)
    db.session.expire_all()
    attempts = db.session.scalars(sa.select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                  .order_by(WebhookAttempt.number)).all()
    assert [(a.number, a.response_code) for a in attempts] == [(1, 500), (2, 503), (3, 502), (4, 200)]
    assert all(a.response_body and a.response_body.startswith("status ") for a in attempts)
    delivery = db.session.get(WebhookDelivery, delivery.id)
    assert delivery.status == "success" and delivery.attempts == 4
    # /metrics counts the attempts (messenger_webhook_deliveries{outcome=...}).
    redis = app.extensions["redis"]
    assert [int(redis.get(f"messenger:metrics:webhook_deliveries:{o}") or 0) for o in ("delivered", "failed")] == [1, 3]


def test_retries_stop_after_the_last_interval_with_backoff_between(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    app.config["WEBHOOK_RETRY_INTERVALS"] = "0,0"
    receiver.default = 500
    webhooks.create_webhook(_admin(), url=receiver.url, events=["conversation.created"])
    conv_service.create_conversation(make_visitor(make_inbox())[0])
    webhooks.pump_all()
    delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
    assert [webhooks.deliver(delivery.id) for _ in range(4)] == ["retry", "retry", "failed", "skipped"]
    assert len(receiver.requests) == 3
    # The real schedule: about 8 attempts over a day, each wait with +-20 % jitter.
    intervals = webhooks.parse_intervals("30,120,600,1800,5400,14400,43200")
    assert len(intervals) + 1 == 8 and 0.7 * 86400 < sum(intervals) < 86400
    waits = [webhooks._backoff(1, intervals) for _ in range(50)]
    assert all(24 <= w <= 36 for w in waits) and len({round(w, 3) for w in waits}) > 1


def test_private_notes_are_sent_only_to_webhooks_that_opted_in(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    other = WebhookReceiver().start()
    try:
        admin = _admin()
        webhooks.create_webhook(admin, url=receiver.url, events=["message.created"])
        webhooks.create_webhook(admin, url=other.url, events=["message.created"], include_private=True)
        _conversation_with_messages()
        _deliver_all()
        plain = [r.json["payload"] for r in receiver.wait_for(2)]
        with_notes = [r.json["payload"] for r in other.wait_for(3)]
        assert [p["content"] for p in plain] == ["Hello, I need help", "Sure, how can I help?"]
        assert all(p["private"] is False for p in plain)
        assert "Internal: VIP customer" not in str([r.body for r in receiver.requests])
        assert [(p["content"], p["private"]) for p in with_notes] == [
            ("Hello, I need help", False), ("Internal: VIP customer", True), ("Sure, how can I help?", False)]
    finally:
        other.stop()


def test_events_map_to_the_chosen_webhook_events(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    webhooks.create_webhook(_admin(), url=receiver.url, events=[
        "conversation.created", "conversation.status_changed", "contact.created", "contact.updated"])
    inbox = make_inbox()
    op = make_user(role="admin", inboxes=[inbox])
    visitor, _ = make_visitor(inbox)
    conv, _ = conv_service.create_conversation(visitor)
    conv_service.change_status(op, conv.id, "resolved")
    from messenger.services import contacts

    contacts.update_contact(visitor, {"name": "Ada"})
    _deliver_all()
    got = receiver.wait_for(4)
    names = [r.json["event"] for r in got]
    assert names == ["contact.created", "conversation.created", "conversation.status_changed", "contact.updated"]
    status = got[2].json["payload"]
    assert status["status"] == "resolved" and status["previous_status"] == "open"
    assert got[3].json["payload"]["name"] == "Ada"


def test_nothing_is_sent_for_a_rolled_back_change(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    from messenger.db import transaction
    from messenger.models import Contact

    visitor, _ = make_visitor(make_inbox())
    webhooks.create_webhook(_admin(), url=receiver.url, events=["conversation.created", "contact.created"])
    with pytest.raises(RuntimeError):
        with transaction():
            conv_service.create_conversation(visitor)
            db.session.add(Contact(name="Never committed"))
            db.session.flush()
            raise RuntimeError("rolled back")
    _deliver_all()
    assert receiver.requests == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "169.254.169.254", "[::ffff:127.0.0.1]", "2130706433", "0x7f000001",
                                  "localhost", "[::1]", "10.1.2.3", "[fd00::1]", "224.0.0.1", "0.0.0.0"])
def test_private_and_metadata_addresses_are_refused(host):  # type: ignore[no-untyped-def]
    with pytest.raises(outbound.BlockedDestination):
        outbound.resolve(f"http://{host}:8080/hook", allow_private=False)


@pytest.mark.parametrize("host", ["169.254.169.254", "[fd00:ec2::254]", "224.0.0.1", "[::ffff:169.254.169.254]"])
def test_metadata_and_link_local_stay_refused_when_private_targets_are_allowed(host):  # type: ignore[no-untyped-def]
    with pytest.raises(outbound.BlockedDestination):
        outbound.resolve(f"http://{host}/", allow_private=True)
    assert outbound.resolve("http://127.0.0.1:9/", allow_private=True).address == "127.0.0.1"


def test_malformed_urls_are_refused():  # type: ignore[no-untyped-def]
    for url in ["ftp://example.com/", "http://user:pw@example.com/", "http:///nohost", "javascript:alert(1)",
                "http://exa mple.com/", "http://example.com:99999/", "x" * 3000]:
        with pytest.raises(outbound.BlockedDestination):
            outbound.parse_url(url)


@pytest.mark.parametrize("host", ["127.0.0.1", "169.254.169.254", "[::ffff:127.0.0.1]", "2130706433", "localhost"])
def test_ssrf_guard_refuses_at_send_time(app, receiver, webhook_config, host):  # type: ignore[no-untyped-def]
    """The URL was acceptable when saved (e.g. DNS answered differently): refused when sending."""
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    hook, _ = webhooks.create_webhook(_admin(), url="https://example.com/hook", events=["conversation.created"])
    url = f"http://{host}:{receiver.port}/hook"
    db.session.execute(sa.update(Webhook).where(Webhook.id == hook.id).values(url=url))
    db.session.commit()
    conv_service.create_conversation(make_visitor(make_inbox())[0])
    _deliver_all()
    delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
    assert receiver.requests == []
    attempt = db.session.scalars(sa.select(WebhookAttempt)).one()
    assert attempt.response_code is None and attempt.error.startswith("refused: ")
    assert delivery.status == "pending"  # retried later, refused again each time


def test_saving_a_private_url_is_a_field_error(app, webhook_config):  # type: ignore[no-untyped-def]
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    with pytest.raises(ValidationError) as err:
        webhooks.create_webhook(_admin(), url="http://2130706433/hook", events=["message.created"])
    assert err.value.details["field"] == "url" and "loopback" in err.value.message
    with pytest.raises(ValidationError) as err:
        webhooks.create_webhook(_admin(), url="https://example.com/", events=["message.deleted"])
    assert err.value.details["field"] == "events"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Webhook)) == 0


def test_redirects_are_not_followed(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    target = WebhookReceiver().start()
    try:
        receiver.script = [302]
        receiver.headers_out = {"Location": target.url}
        webhooks.create_webhook(_admin(), url=receiver.url, events=["conversation.created"])
        conv_service.create_conversation(make_visitor(make_inbox())[0])
        _deliver_all()
        assert len(receiver.requests) == 1 and target.requests == []
        delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
        assert delivery.response_code == 302 and delivery.status == "pending"
    finally:
        target.stop()


def test_twenty_consecutive_failures_disable_the_webhook_and_tell_admins(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    receiver.default = 500
    app.config["WEBHOOK_RETRY_INTERVALS"] = "3600"
    hook, _ = webhooks.create_webhook(_admin(), url=receiver.url, events=["conversation.created"])
    inbox = make_inbox()
    for _ in range(21):
        conv_service.create_conversation(make_visitor(inbox)[0])
    _deliver_all()
    db.session.expire_all()
    hook = db.session.get(Webhook, hook.id)
    assert len(receiver.requests) == 20  # the 21st was not sent: the webhook is off
    assert not hook.active and hook.consecutive_failures == 20
    assert "20 consecutive failed deliveries" in hook.disabled_reason
    assert [h.id for h in webhooks.disabled_webhooks()] == [hook.id]
    from messenger.models import AuditLog

    assert db.session.scalar(sa.select(AuditLog.action).where(AuditLog.action == "webhook.disabled"))


def test_a_slow_receiver_is_cut_off_at_the_timeout(app, receiver, webhook_config):  # type: ignore[no-untyped-def]
    app.config["WEBHOOK_TIMEOUT_S"] = 1
    receiver.delay_s = 4
    try:
        webhooks.create_webhook(_admin(), url=receiver.url, events=["conversation.created"])
        conv_service.create_conversation(make_visitor(make_inbox())[0])
        webhooks.pump_all()
        delivery = db.session.scalars(sa.select(WebhookDelivery)).one()
        assert webhooks.deliver(delivery.id) == "retry"
        attempt = db.session.scalars(sa.select(WebhookAttempt)).one()
        assert attempt.response_code is None and attempt.error == "timed out after 1 s"
        assert 900 <= attempt.duration_ms < 2500
    finally:
        app.config["WEBHOOK_TIMEOUT_S"] = 10
