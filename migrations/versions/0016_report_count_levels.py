"""Reports: ``report_counts`` also keeps pre-summed levels, so a report without a filter (or with one)
reads one row per hour instead of one per hour × inbox × assignee × team.

Every change the triggers append (migration 0014) is now written at five levels, told apart
by the new ``level`` column (the other keys NULL where they are summed over):

- 0: hour × inbox × assignee × team (combined filters),
- 1: hour (no filter), 2: hour × inbox, 3: hour × assignee, 4: hour × team.

The trigger functions are 0014's with the level expansion added to their grouping; the
recount view, compaction and rebuild count the same levels, and the upgrade rebuilds the
table once.

Revision ID: 0016
Revises: 0015
"""
import importlib.util
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# 0014's source builders (which rows count, with which key and sign) are reused as they are.
_spec = importlib.util.spec_from_file_location("report_counts_0014", Path(__file__).with_name("0014_report_counts.py"))
assert _spec is not None and _spec.loader is not None
v14 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v14)

KEY = ("hour", "inbox_id", "assignee_id", "team_id")
COUNTS = v14.COUNTS
COLUMNS = ", ".join(KEY + COUNTS + ("level",))
LEVELS = """(0, r.inbox_id, r.assignee_id, r.team_id), (1, NULL, NULL, NULL), (2, r.inbox_id, NULL, NULL),
            (3, NULL, r.assignee_id, NULL), (4, NULL, NULL, r.team_id)"""


def _grouped(source: str) -> str:
    """Rows of ``source`` (at, kind, deleted_at, inbox_id, assignee_id, team_id, sign) summed per key and level."""
    sums = ", ".join(
        f"coalesce(sum(s.sign) FILTER (WHERE s.kind = '{col[:-3]}' AND s.quarter = {int(col[-2:]) // 15}), 0)::int"
        f" AS {col}" for col in COUNTS)
    return f"""SELECT date_trunc('hour', s.at, 'UTC') AS hour, s.inbox_id, s.assignee_id, s.team_id, {sums},
               s.level::smallint AS level
        FROM (SELECT r.at, r.kind, r.sign, l.*, extract(minute FROM r.at AT TIME ZONE 'UTC')::int / 15 AS quarter
              FROM ({source}) r(at, kind, deleted_at, inbox_id, assignee_id, team_id, sign)
              CROSS JOIN LATERAL (VALUES {LEVELS}) AS l(level, inbox_id, assignee_id, team_id)
              WHERE r.at IS NOT NULL AND r.kind IN ({v14.IN_KINDS}) AND r.deleted_at IS NULL) s
        GROUP BY 1, 2, 3, 4, s.level"""


def _add(source: str) -> str:
    nonzero = " OR ".join(f"g.{col} <> 0" for col in COUNTS)
    return f"""INSERT INTO report_count_deltas ({COLUMNS})
        SELECT * FROM ({_grouped(source)}) g WHERE {nonzero}"""


RECOUNT = ("CREATE VIEW report_counts_recount AS "
           + _grouped(f"{v14._messages('messages m', '1')} UNION ALL {v14._conversations('conversations c', '1')}"))

COMPACT = v14._compact(COLUMNS, f"{', '.join(KEY)}, {v14.SUMS}, level", "level, 1, 2, 3, 4")
REBUILD = v14._rebuild(COLUMNS)

MESSAGES_INSERTED = v14._function("messenger_report_counts_messages_inserted",
                                  f"{v14._lock('new_rows')};\n    {_add(v14._messages('new_rows m', '1'))}")
MESSAGES_DELETED = v14._function("messenger_report_counts_messages_deleted",
                                 f"{v14._lock('old_rows')};\n    {_add(v14._messages('old_rows m', '-1'))}")
MESSAGE_UPDATED = v14._function("messenger_report_counts_message_updated", f"""
    PERFORM 1 FROM conversations WHERE id IN (OLD.conversation_id, NEW.conversation_id) ORDER BY id FOR SHARE;
    {_add(v14._messages('''(VALUES (OLD.conversation_id, OLD.created_at, OLD.type, OLD.deleted_at, -1),
                                   (NEW.conversation_id, NEW.created_at, NEW.type, NEW.deleted_at, 1))
                           AS m(conversation_id, created_at, type, deleted_at, sign)''', 'm.sign'))}""")
CONVERSATIONS_INSERTED = v14._function("messenger_report_counts_conversations_inserted",
                                       _add(v14._conversations("new_rows c", "1")))
CONVERSATION_UPDATED = v14._function("messenger_report_counts_conversation_updated", _add(
    f"""{v14._conversations(v14._record('OLD'), '-1')} UNION ALL {v14._conversations(v14._record('NEW'), '1')}
        UNION ALL {v14._own_messages("(OLD.inbox_id, OLD.assignee_id, OLD.team_id, -1), "
                                     "(NEW.inbox_id, NEW.assignee_id, NEW.team_id, 1)")}
                  AND (OLD.inbox_id, OLD.assignee_id, OLD.team_id)
                      IS DISTINCT FROM (NEW.inbox_id, NEW.assignee_id, NEW.team_id)"""))
CONVERSATION_DELETING = v14._function("messenger_report_counts_conversation_deleting", _add(
    f"{v14._conversations(v14._record('OLD'), '-1')} UNION ALL "
    f"{v14._own_messages('(OLD.inbox_id, OLD.assignee_id, OLD.team_id, -1)')}"), result="OLD")

REPLACED = ("COMPACT", "REBUILD", "MESSAGES_INSERTED", "MESSAGES_DELETED", "MESSAGE_UPDATED", "CONVERSATIONS_INSERTED",
            "CONVERSATION_UPDATED", "CONVERSATION_DELETING")
TABLES = ("report_counts", "report_count_deltas")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("level", sa.SmallInteger(), server_default=sa.text("0"), nullable=False))
        op.alter_column(table, "inbox_id", nullable=True)
    op.drop_constraint("uq_report_counts_key", "report_counts")
    op.create_unique_constraint("uq_report_counts_key", "report_counts", ["level", *KEY],
                                postgresql_nulls_not_distinct=True)
    op.execute("DROP VIEW report_counts_recount")
    op.execute(RECOUNT)
    for name in REPLACED:
        op.replace_function(globals()[name], replaces=f"0014.{name}")
    op.execute("SELECT messenger_report_counts_rebuild()")
    op.execute("ANALYZE report_counts")


def downgrade() -> None:
    for name in REPLACED:
        op.replace_function(globals()[name], replace_with=f"0014.{name}")
    op.execute("DROP VIEW report_counts_recount")
    op.execute(v14.RECOUNT)
    op.drop_constraint("uq_report_counts_key", "report_counts")
    for table in TABLES:
        op.execute(f"DELETE FROM {table} WHERE level <> 0")
        op.drop_column(table, "level")
        op.alter_column(table, "inbox_id", nullable=False)
    op.create_unique_constraint("uq_report_counts_key", "report_counts", list(KEY), postgresql_nulls_not_distinct=True)
