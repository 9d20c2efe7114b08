"""Data-request jobs (queue ``default``): the retention sweep."""
from __future__ import annotations

from messenger.extensions import db
from messenger.jobs import catalog
from messenger.jobs import job
from messenger.services import data_requests


@job(catalog.APPLY_RETENTION)
def apply_retention() -> int:
    """Erase conversations resolved more than ``RETENTION_DAYS`` ago."""
    try:
        return data_requests.apply_retention()
    finally:
        db.session.rollback()
