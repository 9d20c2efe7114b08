"""Security: operator sessions (logout ends one, "sign out everywhere" all), IP/range blocks,
block details on contacts, and identifiers only from verified identities.

Before this revision an anonymous visitor could claim an ``identifier`` without an HMAC;
such identifiers become the unverified attribute they always should have been, so no
unverified value can ever be a merge target (docs/security.md).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("ip", sa.String(64)),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_operator_sessions_user", "operator_sessions", ["user_id"])
    op.create_table(
        "ip_blocks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("network", pg.CIDR, nullable=False),
        sa.Column("reason", sa.String(255)),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
    )
    op.add_column("contacts", sa.Column("blocked_at", sa.DateTime(timezone=True)))
    op.add_column("contacts", sa.Column("blocked_reason", sa.String(255)))
    op.execute("""
        UPDATE contacts c
           SET custom_attributes = c.custom_attributes || jsonb_build_object('unverified_identifier', c.identifier),
               identifier = NULL
         WHERE c.identifier IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM contact_sessions s WHERE s.contact_id = c.id AND s.hmac_verified)
    """)


def downgrade() -> None:
    op.drop_column("contacts", "blocked_reason")
    op.drop_column("contacts", "blocked_at")
    op.drop_table("ip_blocks")
    op.drop_index("ix_operator_sessions_user", table_name="operator_sessions")
    op.drop_table("operator_sessions")
