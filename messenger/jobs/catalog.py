"""Every job services enqueue, by address: queue, retries, TTLs and job-id schemes.

Services enqueue through these refs (``ASSIGN.delay(conversation_id)``) and never import the
job modules, which import the services. ``tests/test_import_graph.py`` checks that every
address names a function decorated with its ref.

Assignment job ids (RQ 3): ``assign_conversation`` / ``drain_queue`` / ``requeue_operator``
get random ids. A fixed id with ``result_ttl=0`` would let a finishing job delete its
re-enqueued twin, and ``unique=True`` would drop a request that arrives while the same job
is running (it may have read the database before that request's commit). Drains are
coalesced instead by a Redis key the job clears as it starts (``services.routing``).
Escalation timers are ``escalate-<id>-<token>`` (one per assignment, so a first reply
cancels exactly that one); sweeps use one id per time slot, so concurrent chains collapse.
"""
from __future__ import annotations

from messenger.jobs import JobRef

ASSIGNMENT_QUEUE = "assignment"
_ASSIGNMENT = "messenger.jobs.assignment"
# Every assignment job: no stored result (idempotent, nothing reads it), retried on a transient
# failure (database restart), and a failed one kept a week for inspection.
_FAILURE_TTL_S = 7 * 24 * 3600
_RETRY_S = (1, 5, 15)


def _assignment_job(name: str) -> JobRef:
    return JobRef(f"{_ASSIGNMENT}.{name}", ASSIGNMENT_QUEUE, result_ttl=0, failure_ttl=_FAILURE_TTL_S,
                  retry=_RETRY_S)


ASSIGN = _assignment_job("assign_conversation")
DRAIN_QUEUE = _assignment_job("drain_queue")
ESCALATE = _assignment_job("escalate")
REQUEUE_OPERATOR = _assignment_job("requeue_operator")
REQUEUE_REMOVED_MEMBER = _assignment_job("requeue_removed_member")
SWEEP_ASSIGNMENTS = JobRef(f"{_ASSIGNMENT}.sweep_assignments", ASSIGNMENT_QUEUE, result_ttl=0)
SWEEP_ASSIGNMENTS_NAME = "assignment-sweep"
SWEEP_ASSIGNMENTS_INTERVAL_S = 60

# Integrations. A webhook delivery schedules its own retries (backoff + jitter, in PostgreSQL);
# e-mails are retried by RQ on an SMTP failure, except offline replies, which the sweep retries
# after the job released its claim.
WEBHOOK_DRAIN = JobRef("messenger.jobs.webhooks.drain", "webhooks", result_ttl=0, failure_ttl=_FAILURE_TTL_S)
_MAIL_RETRY_S = (30, 120, 600, 1800)
SEND_EMAIL = JobRef("messenger.jobs.mail.send_email", "default", failure_ttl=_FAILURE_TTL_S, retry=_MAIL_RETRY_S)
SEND_REPLY_EMAIL = JobRef("messenger.jobs.mail.send_reply_email", "default", result_ttl=0,
                          failure_ttl=_FAILURE_TTL_S)
SEND_TRANSCRIPT = JobRef("messenger.jobs.mail.send_transcript", "default", failure_ttl=_FAILURE_TTL_S,
                         retry=_MAIL_RETRY_S)
SEND_ACCOUNT_LINK = JobRef("messenger.jobs.mail.send_account_link", "default", failure_ttl=_FAILURE_TTL_S,
                           retry=_MAIL_RETRY_S)
APPLY_RETENTION = JobRef("messenger.jobs.data.apply_retention", "default", result_ttl=0, failure_ttl=_FAILURE_TTL_S)

ALL = (ASSIGN, DRAIN_QUEUE, ESCALATE, REQUEUE_OPERATOR, REQUEUE_REMOVED_MEMBER, SWEEP_ASSIGNMENTS, WEBHOOK_DRAIN,
       SEND_EMAIL, SEND_REPLY_EMAIL, SEND_TRANSCRIPT, SEND_ACCOUNT_LINK, APPLY_RETENTION)


def escalation_job_id(conversation_id: int, token: str) -> str:
    """RQ job id of one escalation timer (unique per assignment, so cancelling is exact)."""
    return f"escalate-{conversation_id}-{token}"
