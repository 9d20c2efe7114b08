"""Canned responses: shared ones (admins) and each operator's own (the operator).

A short code is unique among the shared ones and, separately, among one operator's own;
an operator's own code may shadow a shared one (the composer lists both, own first).
"""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.i18n import N_
from messenger.models import CannedResponse
from messenger.services import audit
from messenger.services import naming

SHORT_CODE_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
MAX_CONTENT = 5000
CANNED_LOCK = 72_722


def clean_short_code(value: object) -> str:
    code = str(value or "").strip().lstrip("/").lower()
    if not code:
        raise ValidationError(N_("This field is required."), field="short_code")
    if not SHORT_CODE_RE.match(code):
        raise ValidationError(N_("Use 1-64 lower-case letters, digits, - or _."), field="short_code")
    return code


def clean_content(value: object) -> str:
    content = str(value or "").replace("\r\n", "\n").strip()
    if not content:
        raise ValidationError(N_("This field is required."), field="content")
    if len(content) > MAX_CONTENT:
        raise ValidationError(N_("Too long."), field="content", limit=MAX_CONTENT)
    return content


def list_canned(owner_id: int | None) -> list[CannedResponse]:
    """The shared responses (``owner_id`` None) or one operator's own, by short code."""
    owner = CannedResponse.owner_user_id.is_(None) if owner_id is None else CannedResponse.owner_user_id == owner_id
    return list(db.session.scalars(sa.select(CannedResponse).where(owner).order_by(CannedResponse.short_code)))


def get_canned(owner_id: int | None, canned_id: int) -> CannedResponse:
    """A response of this owner (None: shared); anybody else's is a 404."""
    found = db.session.get(CannedResponse, canned_id)
    if found is None or found.owner_user_id != owner_id:
        raise NotFound("No such canned response.")
    return found


def save_canned(actor_id: int, owner_id: int | None, canned_id: int | None, *, short_code: str, content: str,
                ip: str | None = None) -> CannedResponse:
    """Create or update a shared (``owner_id`` None) or personal canned response."""
    code = clean_short_code(short_code)
    text = clean_content(content)
    try:
        with transaction():
            db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(CANNED_LOCK, owner_id or 0)))
            owner = (CannedResponse.owner_user_id.is_(None) if owner_id is None
                     else CannedResponse.owner_user_id == owner_id)
            clash = sa.select(CannedResponse.id).where(owner, CannedResponse.short_code == code)
            if canned_id is not None:
                clash = clash.where(CannedResponse.id != canned_id)
            if db.session.scalar(clash.limit(1)) is not None:
                raise _code_taken()
            if canned_id is None:
                canned = CannedResponse(short_code=code, content=text, owner_user_id=owner_id)
                db.session.add(canned)
                db.session.flush()
            else:
                canned = get_canned(owner_id, canned_id)
                canned.short_code, canned.content = code, text
            audit.record(actor_id, "canned.create" if canned_id is None else "canned.update", "canned_response",
                         canned.id, ip=ip, short_code=code, personal=owner_id is not None)
    except IntegrityError as exc:
        if naming.is_unique_violation(exc, "uq_canned_responses_shared_code") or naming.is_unique_violation(
                exc, "uq_canned_responses_owner_code"):
            raise _code_taken() from exc
        raise
    return canned


def delete_canned(actor_id: int, owner_id: int | None, canned_id: int, *, ip: str | None = None) -> None:
    with transaction():
        canned = get_canned(owner_id, canned_id)
        audit.record(actor_id, "canned.delete", "canned_response", canned.id, ip=ip, short_code=canned.short_code,
                     personal=owner_id is not None)
        db.session.delete(canned)


def _code_taken() -> Conflict:
    return Conflict(N_("This shortcut is already taken."), code="taken", field="short_code")


def for_composer(user_id: int, prefix: str = "", limit: int = 50) -> list[dict[str, Any]]:
    """The operator's own and the shared responses whose code starts with ``prefix``; own first on a tie."""
    prefix = prefix.strip().lower()[:64]
    query = sa.select(CannedResponse.id, CannedResponse.short_code, CannedResponse.content,
                      CannedResponse.owner_user_id).where(
        sa.or_(CannedResponse.owner_user_id.is_(None), CannedResponse.owner_user_id == user_id))
    if prefix:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(CannedResponse.short_code.like(escaped + "%", escape="\\"))
    rows = db.session.execute(query.order_by(CannedResponse.short_code,
                                             CannedResponse.owner_user_id.is_(None))
                              .limit(max(1, min(limit, 200)))).all()
    return [{"id": r[0], "short_code": r[1], "content": r[2], "personal": r[3] is not None} for r in rows]
