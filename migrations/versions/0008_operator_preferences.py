"""Operators' panel preferences: language and the last availability they chose.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    # NULL locale: follow the browser. NULL availability_choice: never chose (the panel asks).
    op.add_column("users", sa.Column("locale", sa.String(length=8), nullable=True))
    op.add_column("users", sa.Column("availability_choice", sa.String(length=8), nullable=True))
    op.create_check_constraint(op.f("ck_users_locale"), "users", "locale IS NULL OR locale IN ('en', 'ru')")
    op.create_check_constraint(op.f("ck_users_availability_choice"), "users",
                               "availability_choice IS NULL OR availability_choice IN ('online', 'busy', 'offline')")


def downgrade():
    op.drop_constraint(op.f("ck_users_availability_choice"), "users")
    op.drop_constraint(op.f("ck_users_locale"), "users")
    op.drop_column("users", "availability_choice")
    op.drop_column("users", "locale")
