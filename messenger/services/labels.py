"""Labels: the catalogue admins keep (unique names, colours) and the labels on conversations."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from messenger.db import transaction
from messenger.errors import NotFound
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import ConversationLabel
from messenger.models import Label
from messenger.models import User
from messenger.services import audit
from messenger.services import conversations as conv_service
from messenger.services import naming

MAX_LABELS = 20
LABEL_LOCK = 72_720  # advisory lock serialising label name checks


def parse_label_ids(value: object) -> list[int]:
    """A list of distinct positive integer label ids (at most 20)."""
    if not isinstance(value, list) or len(value) > MAX_LABELS:
        raise ValidationError(f"labels must be a list of at most {MAX_LABELS} ids.", field="labels")
    ids: list[int] = []
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or not 0 < item <= conv_service.MAX_ID:
            raise ValidationError("labels must be label ids.", field="labels")
        if item not in ids:
            ids.append(item)
    return ids


def set_labels(user: User, conversation_id: int, label_ids: object, *,
               expected_version: int | None = None) -> Conversation:
    """Replace the conversation's labels; unknown label ids are a 422."""
    ids = parse_label_ids(label_ids)
    with transaction():
        conv = conv_service.get_for_operator(user, conversation_id, lock=True)
        conv_service.check_version(conv, expected_version)
        known = set(db.session.scalars(sa.select(Label.id).where(Label.id.in_(ids)))) if ids else set()
        if len(known) != len(ids):
            raise ValidationError("Unknown label.", field="labels")
        current = set(db.session.scalars(sa.select(ConversationLabel.label_id)
                                         .where(ConversationLabel.conversation_id == conv.id)))
        if current == set(ids):
            return conv
        db.session.execute(sa.delete(ConversationLabel).where(ConversationLabel.conversation_id == conv.id,
                                                              ConversationLabel.label_id.not_in(ids)))
        for lid in set(ids) - current:
            db.session.add(ConversationLabel(conversation_id=conv.id, label_id=lid))
        conv_service.bump(conv)
    return conv


# --- admin: the label catalogue -------------------------------------------------------------

def _check_free(name: str, exclude_id: int | None = None) -> None:
    query = sa.select(Label.id).where(sa.func.lower(Label.name) == name.lower())
    if exclude_id is not None:
        query = query.where(Label.id != exclude_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise naming.taken()


def list_labels() -> list[tuple[Label, int]]:
    """Every label with the number of conversations carrying it, by name."""
    used = (sa.select(sa.func.count()).select_from(ConversationLabel)
            .where(ConversationLabel.label_id == Label.id).scalar_subquery())
    return [(row[0], int(row[1])) for row in db.session.execute(sa.select(Label, used).order_by(Label.name))]


def save_label(actor_id: int, label_id: int | None, *, name: str, color: str, ip: str | None = None) -> Label:
    """Create (``label_id`` None) or rename/recolour a label; names are unique ignoring case."""
    name = naming.clean_name(name, limit=64)
    color = naming.clean_color(color)
    try:
        with transaction():
            # One label name at a time: two admins creating "VIP" at once cannot both pass the check.
            db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(LABEL_LOCK)))
            _check_free(name, label_id)
            if label_id is None:
                label = Label(name=name, color=color)
                db.session.add(label)
                db.session.flush()
                audit.record(actor_id, "label.create", "label", label.id, ip=ip, name=name, color=color)
            else:
                found = db.session.get(Label, label_id, with_for_update=True)
                if found is None:
                    raise NotFound("No such label.")
                label = found
                changes = {k: v for k, v in (("name", name), ("color", color)) if getattr(label, k) != v}
                label.name, label.color = name, color
                audit.record(actor_id, "label.update", "label", label.id, ip=ip, **changes)
    except IntegrityError as exc:
        if naming.is_unique_violation(exc, "uq_labels_name"):
            raise naming.taken() from exc
        raise
    return label


def delete_label(actor_id: int, label_id: int, *, ip: str | None = None) -> None:
    """Delete a label; it disappears from every conversation (the panel updates on its next load)."""
    with transaction():
        label = db.session.get(Label, label_id, with_for_update=True)
        if label is None:
            raise NotFound("No such label.")
        audit.record(actor_id, "label.delete", "label", label.id, ip=ip, name=label.name)
        db.session.delete(label)
