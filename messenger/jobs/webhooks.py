"""Webhook jobs (queue ``webhooks``): thin wrappers over ``services.webhooks``.

``drain`` sends one webhook's due deliveries; each is claimed with a lease before sending,
so a twin drain (the sweeper's, a retry's, a manual redelivery's) never sends the same
attempt twice at once.
"""
from __future__ import annotations

from messenger.extensions import db
from messenger.jobs import catalog
from messenger.jobs import job
from messenger.services import webhooks


@job(catalog.WEBHOOK_DRAIN)
def drain(webhook_id: int) -> int:
    """Send the webhook's due deliveries (the service schedules retries); how many attempts."""
    try:
        return webhooks.drain(webhook_id)
    finally:
        db.session.rollback()
