"""Contacts search folds ё into е: "Семен" finds "Семён", and "Фёдор" finds "Федор".

Russian writers drop the dots of ё more often than not, so a contact is found whichever way
the operator types the name. The stored ``contacts.search`` vector is built from the text with
ё/Ё written as е/Е (``translate``, one character for one, so highlights still map onto the
original text), and the query is folded the same way (``services/search.py``). Messages need
nothing: their ``russian`` configuration already stems ё as е.

The column is dropped and added again, which rewrites the contacts table once (seconds for
100,000 contacts; docs/deploy.md).

Revision ID: 0020
Revises: 0019
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TEXT = ("coalesce(name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '') || ' ' "
        "|| coalesce(identifier, '')")
FOLDED = f"to_tsvector('simple', translate({TEXT}, 'ёЁ', 'еЕ'))"
PLAIN = f"to_tsvector('simple', {TEXT})"


def _rebuild(vector: str) -> None:
    op.drop_index("ix_contacts_search", table_name="contacts", postgresql_using="gin")
    op.drop_column("contacts", "search")
    op.add_column("contacts", sa.Column("search", postgresql.TSVECTOR(), sa.Computed(vector, persisted=True),
                                        nullable=False))
    op.create_index("ix_contacts_search", "contacts", ["search"], postgresql_using="gin")


def upgrade():
    _rebuild(FOLDED)


def downgrade():
    _rebuild(PLAIN)
