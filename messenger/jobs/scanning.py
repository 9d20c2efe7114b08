"""Scanning job (queue ``scanning``): thin, the service decides.

``ScannerUnavailable`` propagates so RQ retries the job with the backoff set by
``services.attachments.request_scan``; the file stays ``pending`` meanwhile.
"""
from __future__ import annotations

from messenger.services import attachments


def scan_attachment(attachment_id: int) -> str:
    """Scan one uploaded attachment and settle its status."""
    return attachments.scan_attachment(attachment_id)


def sweep_attachments() -> dict[str, int]:
    """Periodic: schedule the next sweep, re-enqueue stuck scans, purge old unsent uploads."""
    attachments.schedule_sweep()
    return attachments.sweep()
