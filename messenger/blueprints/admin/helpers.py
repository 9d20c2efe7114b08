"""What every admin page shares: the navigation, form handling, the acting admin.

- ``NAV`` lists the admin pages in menu order; an entry shows (in the side menu and on
  the home page, with its count) only once its endpoint exists, so a page another area
  has not landed yet is never a dead link. Add a page: a view named ``admin.<name>`` in
  this blueprint, plus one ``NavItem`` here.
- ``run_form(form, action)``, ``form_status``, ``get_or_404`` (from
  ``blueprints/formkit.py``, shared with the operator's own pages) validate a Flask-WTF
  form (CSRF included), call the service, and turn a ``ValidationError(field=...)`` /
  ``Conflict(field=...)`` into an error next to that field. Nothing is saved on error
  because the service raised inside its transaction.
- ``actor_id()`` / ``actor_ip()`` are what services take for the audit log.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask import g
from flask import url_for
from flask_babel import lazy_gettext as _l

from messenger import models
from messenger.blueprints.formkit import field_error as field_error
from messenger.blueprints.formkit import form_status as form_status
from messenger.blueprints.formkit import get_or_404 as get_or_404
from messenger.blueprints.formkit import run_form as run_form
from messenger.extensions import db
from messenger.models import CannedResponse
from messenger.models import User
from messenger.security.ratelimit import client_ip


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # a lazy string: translated when rendered
    count: Callable[[], int] | None = None
    hint: Any = ""


def _count(model_name: str, *where: Any) -> Callable[[], int]:
    def count() -> int:
        model = getattr(models, model_name)
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0)
    return count


def _count_active_users() -> int:
    return _count("User", User.active.is_(True))()


def _count_shared_canned() -> int:
    return _count("CannedResponse", CannedResponse.owner_user_id.is_(None))()


NAV: list[NavItem] = [
    NavItem("admin.inboxes", _l("Inboxes"), _count("Inbox"), _l("Widget settings, hours, routing, embed code")),
    NavItem("admin.operators", _l("Operators"), _count_active_users, _l("Invite, roles, capacity, membership")),
    NavItem("admin.teams", _l("Teams"), _count("Team"), _l("Groups of operators for routing")),
    NavItem("admin.labels", _l("Labels"), _count("Label"), _l("Tags operators put on conversations")),
    NavItem("admin.canned_responses", _l("Canned responses"), _count_shared_canned,
            _l("Shared replies inserted with /shortcut")),
    NavItem("admin.reports", _l("Reports"), None, _l("Response times, volumes, satisfaction")),
    NavItem("admin.live", _l("Live view"), None, _l("Who is online, queues, load")),
    NavItem("admin.blocks", _l("Blocks"), None, _l("Blocked visitors and IP ranges")),
    NavItem("admin.webhooks", _l("Webhooks"), None, _l("Events sent to your systems")),
    NavItem("admin.api_tokens", _l("API tokens"), None, _l("Tokens for the operator API")),
    NavItem("admin.data_requests_page", _l("Data requests"), None, _l("Export or erase a contact's data")),
    NavItem("admin.audit", _l("Audit log"), _count("AuditLog"), _l("Who changed what, when, from where")),
]


def nav_items() -> list[NavItem]:
    """The NAV entries whose page exists in this app."""
    return [item for item in NAV if item.endpoint in current_app.view_functions]


def nav_url(item: NavItem) -> str:
    return url_for(item.endpoint)


def actor_id() -> int:
    """The signed-in admin's id (the blueprint guarantees there is one)."""
    return int(g.operator.id)


def actor_ip() -> str:
    return client_ip()
