"""Admin area: one-time account links, personal canned responses, per-inbox upload limit,
audit log filters.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE",
                                                         name="fk_account_links_user_id_users"), nullable=False),
        sa.Column("purpose", sa.String(8), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL",
                                                               name="fk_account_links_created_by_id_users")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_account_links"),
        sa.UniqueConstraint("token_hash", name="uq_account_links_token_hash"),
        sa.CheckConstraint("purpose IN ('invite', 'reset')", name="ck_account_links_purpose"),
    )
    op.create_index("ix_account_links_user_id", "account_links", ["user_id"])
    op.add_column("canned_responses", sa.Column(
        "owner_user_id", sa.Integer(),
        sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_canned_responses_owner_user_id_users")))
    op.drop_constraint("uq_canned_responses_short_code", "canned_responses", type_="unique")
    op.create_index("uq_canned_responses_shared_code", "canned_responses", ["short_code"], unique=True,
                    postgresql_where=sa.text("owner_user_id IS NULL"))
    op.create_index("uq_canned_responses_owner_code", "canned_responses", ["owner_user_id", "short_code"],
                    unique=True, postgresql_where=sa.text("owner_user_id IS NOT NULL"))
    op.add_column("inboxes", sa.Column("max_upload_bytes", sa.BigInteger()))
    op.create_check_constraint(op.f("ck_inboxes_max_upload_bytes"), "inboxes", "max_upload_bytes IS NULL OR max_upload_bytes > 0")
    op.create_index("ix_audit_log_action_created", "audit_log", ["action", sa.text("created_at DESC")])
    op.create_index("ix_audit_log_actor_created", "audit_log", ["actor_user_id", sa.text("created_at DESC")])


def downgrade() -> None:
    op.drop_index("ix_audit_log_actor_created", "audit_log")
    op.drop_index("ix_audit_log_action_created", "audit_log")
    op.drop_constraint(op.f("ck_inboxes_max_upload_bytes"), "inboxes", type_="check")
    op.drop_column("inboxes", "max_upload_bytes")
    op.drop_index("uq_canned_responses_owner_code", "canned_responses")
    op.drop_index("uq_canned_responses_shared_code", "canned_responses")
    op.execute("DELETE FROM canned_responses WHERE owner_user_id IS NOT NULL")
    op.create_unique_constraint("uq_canned_responses_short_code", "canned_responses", ["short_code"])
    op.drop_column("canned_responses", "owner_user_id")
    op.drop_index("ix_account_links_user_id", "account_links")
    op.drop_table("account_links")
