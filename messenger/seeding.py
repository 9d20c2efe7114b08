"""Bulk data for benchmarks and scale tests: N conversations and M messages in seconds.

Everything is generated inside PostgreSQL with ``INSERT … SELECT generate_series`` in one
transaction. The event-log triggers are skipped for that transaction with
``SET LOCAL session_replication_role = replica`` (a seed is not news: no client should
receive a million ``message.created`` events, and the log stays small); because that
also skips the display-id trigger, display ids are computed here and the inboxes'
counters are moved past them, and messages get their inbox and its locale here (the
trigger that copies them is skipped too). The message GIN/btree indexes are rebuilt once after the
load, which is several times faster than maintaining them row by row. The reports' hourly
counts, also kept by triggers, are recounted once at the end.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import sqlalchemy as sa

from messenger.db import transaction
from messenger.extensions import db
from messenger.models import Inbox
from messenger.models import Label
from messenger.models import Team
from messenger.models import User
from messenger.services import inboxes as inbox_service
from messenger.services import users as user_service

logger = logging.getLogger(__name__)

GREETINGS = ["Hello", "Hi", "Good morning", "Hey", "Dear support", "Hi there", "Good evening", "Hello team"]
SUBJECTS = ["invoice", "order", "orders", "ordering", "invoices",
            "password", "subscription", "delivery", "refund", "account", "payment", "login",
            "upgrade", "coupon", "shipment", "warranty", "checkout", "profile", "export", "integration", "invoice pdf",
            "billing address", "license", "mobile app", "dashboard", "report", "webhook", "api key", "trial"]
PROBLEMS = ["is missing", "does not work", "was charged twice", "is late", "looks wrong", "cannot be found",
            "keeps failing", "was cancelled", "needs changing", "shows an error", "is stuck", "expired"]
NAMES = ["Anna", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kira", "Liam", "Maya",
         "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wang", "Xenia", "Yusuf", "Zoe"]
# Russian inboxes (every second one) get Russian text in several word forms, so stemming is exercised.
RU_GREETINGS = ["Здравствуйте", "Добрый день", "Привет", "Доброе утро", "Добрый вечер", "Здравствуйте, поддержка"]
RU_SUBJECTS = ["заказ", "заказы", "заказа", "счёт", "счета", "пароль", "пароля", "подписка", "подписки",
               "доставка", "доставки", "возврат", "возврата", "оплата", "оплаты", "аккаунт", "промокод",
               "промокода", "приложение", "отчёт", "отчёты", "интеграция", "лицензия", "гарантия"]
RU_PROBLEMS = ["не работает", "потерялся", "списали дважды", "задерживается", "выглядит неправильно",
               "не найти", "постоянно ломается", "отменили", "нужно изменить", "показывает ошибку", "завис",
               "истёк"]
SURNAMES = ["Smith", "Garcia", "Müller", "Rossi", "Dubois", "Kowalski", "Nguyen", "Silva", "Jensen", "Novak",
            "Haddad", "Tanaka", "Okafor", "Ivanova", "Lopez", "Schmidt", "Costa", "Berg", "Kim", "Patel"]


@dataclass(frozen=True, slots=True)
class SeedResult:
    conversations: int
    messages: int
    seconds: float
    inbox_ids: list[int]
    operator_ids: list[int]


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _get_or_create(model: type[Team] | type[Label], *, name: str) -> int:
    with transaction():
        found = db.session.scalar(sa.select(model.id).where(model.name == name))
        if found is None:
            row = model(name=name)
            db.session.add(row)
            db.session.flush()
            found = row.id
    return int(found)


def _operators(count: int, password: str, inbox_ids: list[int]) -> list[int]:
    """bench-op1 is an admin; the others are agents of every second inbox (an English and a Russian one)."""
    ids = []
    for n in range(1, count + 1):
        email = f"bench-op{n}@example.com"
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = user_service.create_user(None, name=f"{NAMES[n % len(NAMES)]} Operator", email=email,
                                            password=password, role="admin" if n == 1 else "agent")
        for idx, inbox_id in enumerate(inbox_ids):
            if n == 1 or len(inbox_ids) < 2 or (idx // 2) % 2 == n % 2:
                inbox_service.add_member(None, inbox_id, user.id)
        ids.append(user.id)
    return ids


def seed(conversations: int, messages_per_conversation: int, *, inboxes: int = 4, operators: int = 20,
         password: str = "bench-password", inbox_ids: list[int] | None = None,
         operator_ids: list[int] | None = None) -> SeedResult:
    """Create ``conversations`` conversations (one contact each) with ``messages_per_conversation`` messages."""
    started = time.monotonic()
    if inbox_ids is None:
        inbox_ids = [inbox_service.create_inbox(None, name=f"Bench inbox {n}", auto_assignment=False,
                                                locale="ru" if n % 2 == 0 else "en").id
                     for n in range(1, inboxes + 1)]
    if operator_ids is None:
        operator_ids = _operators(operators, password, inbox_ids)
    team_ids = [_get_or_create(Team, name=f"Bench team {i}") for i in (1, 2)]
    label_ids = [_get_or_create(Label, name=name) for name in ("vip", "billing", "bug")]
    k, n, per = len(inbox_ids), conversations, messages_per_conversation
    params = {"inboxes": inbox_ids, "ops": operator_ids, "n": n, "per": per, "teams": team_ids,
              "labels": label_ids}
    with transaction() as session:
        session.execute(sa.text("SET LOCAL session_replication_role = replica"))
        session.execute(sa.text("SET LOCAL maintenance_work_mem = '256MB'"))
        offsets = dict(session.execute(sa.select(Inbox.id, Inbox.next_display_id).where(Inbox.id.in_(inbox_ids)))
                       .tuples().all())
        session.execute(sa.text("CREATE TEMP TABLE seed_offsets (idx int, inbox_id int, base int) ON COMMIT DROP"))
        for idx, inbox_id in enumerate(inbox_ids):
            session.execute(sa.text("INSERT INTO seed_offsets VALUES (:i, :id, :base)"),
                            {"i": idx, "id": inbox_id, "base": offsets[inbox_id]})
        session.execute(sa.text("CREATE TEMP TABLE seed_contacts (rn bigint, id int) ON COMMIT DROP"))
        session.execute(sa.text(f"""
            WITH ins AS (
                INSERT INTO contacts (name, email, phone, created_at)
                SELECT ({_array(NAMES)})[1 + g % {len(NAMES)}] || ' '
                       || ({_array(SURNAMES)})[1 + (g / 7) % {len(SURNAMES)}],
                       'customer' || g || '-' || substr(md5(g::text), 1, 6) || '@example.com',
                       '+1 555 ' || lpad((g % 10000000)::text, 7, '0'),
                       now() - (g % 40000) * interval '1 minute'
                FROM generate_series(1, :n) g
                RETURNING id)
            INSERT INTO seed_contacts SELECT row_number() OVER (ORDER BY id), id FROM ins"""), params)
        session.execute(sa.text(f"""
            INSERT INTO conversations (inbox_id, contact_id, display_id, status, priority, assignee_id, team_id,
                                       created_at, updated_at, last_activity_at, waiting_since, unread_count,
                                       last_message_preview, last_message_type)
            SELECT o.inbox_id, c.id, o.base + (c.rn - 1) / {k},
                   s.status,
                   CASE WHEN c.rn % 7 = 0 THEN 1 + (c.rn % 4)::int ELSE 0 END,
                   CASE WHEN c.rn % 4 = 0 THEN NULL
                        ELSE (CAST(:ops AS int[]))[1 + (c.rn % cardinality(CAST(:ops AS int[])))] END,
                   CASE WHEN c.rn % 3 = 0 THEN (CAST(:teams AS int[]))[1 + (c.rn / 3) % 2] END,
                   t.activity - ((c.rn % 48) * interval '1 hour'), t.activity, t.activity,
                   CASE WHEN s.status IN ('open', 'pending') AND c.rn % 3 = 0 THEN t.activity END,
                   CASE WHEN c.rn % 5 = 0 THEN (c.rn % 4)::int ELSE 0 END,
                   ({_array(GREETINGS)})[1 + c.rn % {len(GREETINGS)}] || ', my ' ||
                   ({_array(SUBJECTS)})[1 + c.rn % {len(SUBJECTS)}] || ' ' ||
                   ({_array(PROBLEMS)})[1 + c.rn % {len(PROBLEMS)}],
                   'incoming'
            FROM seed_contacts c
            JOIN seed_offsets o ON o.idx = (c.rn - 1) % {k}
            CROSS JOIN LATERAL (SELECT CASE WHEN c.rn % 10 < 6 THEN 'open' WHEN c.rn % 10 = 6 THEN 'pending'
                                            WHEN c.rn % 10 = 7 THEN 'snoozed' ELSE 'resolved' END AS status) s
            CROSS JOIN LATERAL (SELECT now() - ((c.rn * 7919) % :n) * interval '20 seconds' AS activity) t"""),
            params)
        session.execute(sa.text("""
            INSERT INTO conversation_labels (conversation_id, label_id)
            SELECT id, (CAST(:labels AS int[]))[1 + (id / 10) % 3] FROM conversations
            WHERE inbox_id = ANY(CAST(:inboxes AS int[])) AND id % 10 = 0
            ON CONFLICT DO NOTHING"""), params)
        for inbox_id in inbox_ids:
            session.execute(sa.text("UPDATE inboxes SET next_display_id = coalesce((SELECT max(display_id) + 1 "
                                    "FROM conversations WHERE inbox_id = :id), 1) WHERE id = :id"), {"id": inbox_id})
        if per > 0:
            session.execute(sa.text("DROP INDEX IF EXISTS ix_messages_search"))
            session.execute(sa.text("DROP INDEX IF EXISTS ix_messages_conversation"))
            session.execute(sa.text(f"""
                INSERT INTO messages (conversation_id, inbox_id, locale, type, sender_user_id, sender_contact_id,
                                      content, status, created_at)
                SELECT cv.id, cv.inbox_id, ib.locale,
                       CASE WHEN i % 2 = 1 THEN 'incoming' ELSE 'outgoing' END,
                       CASE WHEN i % 2 = 0 THEN coalesce(cv.assignee_id, (CAST(:ops AS int[]))[1]) END,
                       CASE WHEN i % 2 = 1 THEN cv.contact_id END,
                       CASE WHEN i % 2 = 1 AND ib.locale = 'ru' THEN
                           ({_array(RU_GREETINGS)})[1 + (cv.id + i) % {len(RU_GREETINGS)}] || ', мой ' ||
                           ({_array(RU_SUBJECTS)})[1 + (cv.id * 3 + i) % {len(RU_SUBJECTS)}] || ' ' ||
                           ({_array(RU_PROBLEMS)})[1 + (cv.id + i * 5) % {len(RU_PROBLEMS)}] ||
                           '. Номер ' || upper(substr(md5((cv.id * 100 + i)::text), 1, 8)) || '.'
                       WHEN i % 2 = 1 THEN
                           ({_array(GREETINGS)})[1 + (cv.id + i) % {len(GREETINGS)}] || ', my ' ||
                           ({_array(SUBJECTS)})[1 + (cv.id * 3 + i) % {len(SUBJECTS)}] || ' ' ||
                           ({_array(PROBLEMS)})[1 + (cv.id + i * 5) % {len(PROBLEMS)}] ||
                           '. Reference ' || upper(substr(md5((cv.id * 100 + i)::text), 1, 8)) || '.'
                       WHEN ib.locale = 'ru' THEN 'Спасибо за подробности о вашем ' ||
                           ({_array(RU_SUBJECTS)})[1 + (cv.id + i * 7) % {len(RU_SUBJECTS)}] ||
                           ', проверяю обращение ' || cv.display_id || ' сейчас.'
                       ELSE 'Thanks for the details about your ' ||
                           ({_array(SUBJECTS)})[1 + (cv.id + i * 7) % {len(SUBJECTS)}] ||
                           ', I am checking case ' || cv.display_id || ' now.' END,
                       'read',
                       cv.created_at + i * interval '1 minute'
                FROM conversations cv
                JOIN inboxes ib ON ib.id = cv.inbox_id
                CROSS JOIN generate_series(1, :per) i
                WHERE cv.inbox_id = ANY(CAST(:inboxes AS int[]))
                ORDER BY cv.created_at + i * interval '1 minute'"""), params)   # ids follow time, as live ones do
            session.execute(sa.text("CREATE INDEX ix_messages_conversation ON messages (conversation_id, id DESC)"))
            session.execute(sa.text("CREATE INDEX ix_messages_search ON messages USING gin (search)"))
        # The triggers that keep the reports' counts were off too: count once.
        session.execute(sa.text("SELECT messenger_report_counts_rebuild()"))
    with transaction() as session:
        session.execute(sa.text("ANALYZE contacts"))
        session.execute(sa.text("ANALYZE conversations"))
        session.execute(sa.text("ANALYZE messages"))
    seconds = time.monotonic() - started
    logger.info("seeded %s conversations, %s messages in %.1fs", n, n * per, seconds)
    return SeedResult(n, n * per, seconds, inbox_ids, operator_ids)
