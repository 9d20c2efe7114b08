"""Contact events say what the API says about a block: ``blocked`` honours its expiry, plus ``blocked_until``.

The first use of the replaceable-objects recipe (migrations/replaceable.py): the new version
of ``messenger_contact_json`` replaces the one 0010 declared, and the downgrade restores it.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
from replaceable import ReplaceableObject

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CONTACT_JSON = ReplaceableObject("messenger_contact_json(c contacts)", """
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('id', c.id, 'name', c.name, 'email', c.email, 'phone', c.phone,
        'identifier', c.identifier, 'custom_attributes', c.custom_attributes,
        'blocked', c.blocked AND (c.blocked_until IS NULL OR c.blocked_until > now()),
        'blocked_until', c.blocked_until,
        'last_seen_at', c.last_seen_at, 'created_at', c.created_at)
$$""")


def upgrade() -> None:
    op.replace_function(CONTACT_JSON, replaces="0010.CONTACT_JSON")


def downgrade() -> None:
    op.replace_function(CONTACT_JSON, replace_with="0010.CONTACT_JSON")
