"""Webhook jobs (queue ``webhooks``): thin wrappers over ``services.webhooks``.

``deliver`` claims its delivery row with a lease before sending, so a twin enqueued by
the sweeper (or a manual redelivery) never sends the same attempt twice at once.
"""
from __future__ import annotations

from messenger.extensions import db
from messenger.jobs import catalog
from messenger.jobs import job
from messenger.services import webhooks


@job(catalog.WEBHOOK_DELIVER)
def deliver(delivery_id: int) -> str:
    """One attempt of one webhook delivery (the service schedules the retry)."""
    try:
        return webhooks.deliver(delivery_id)
    finally:
        db.session.rollback()
