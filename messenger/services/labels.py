"""Labels on conversations (the panel's label picker)."""
from __future__ import annotations

import sqlalchemy as sa

from messenger.db import transaction
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.models import Conversation
from messenger.models import ConversationLabel
from messenger.models import Label
from messenger.models import User
from messenger.services import conversations as conv_service

MAX_LABELS = 20


def parse_label_ids(value: object) -> list[int]:
    """A list of distinct positive integer label ids (at most 20)."""
    if not isinstance(value, list) or len(value) > MAX_LABELS:
        raise ValidationError(f"labels must be a list of at most {MAX_LABELS} ids.", field="labels")
    ids: list[int] = []
    for item in value:
        if not isinstance(item, int) or isinstance(item, bool) or item <= 0:
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
