"""The panel's contact sidebar exports a contact's data (any operator who sees the contact) and
erases a contact after a confirmation (admins only, as on the API); the empty labels menu links
admins to the labels page (docs/panel.md, docs/integrations.md "Data requests")."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import AuditLog
from messenger.models import Contact
from messenger.models import Conversation
from messenger.models import Message
from messenger.services import conversations as conv_service
from messenger.services import users as users_service
from tests.factories import make_inbox
from tests.factories import make_user
from tests.test_panel_browser import _visitor_conversation
from tests.test_panel_browser import conversation_page

pytestmark = [pytest.mark.committing, pytest.mark.browser]


def _audit(action: str) -> list[AuditLog]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action)))


def _contact_of(conversation_id: int) -> Contact:
    db.session.expire_all()
    conversation = db.session.get(Conversation, conversation_id)
    contact = db.session.get(Contact, conversation.contact_id)
    assert contact is not None
    return contact


def test_an_agent_exports_the_contact_from_the_sidebar_and_is_not_offered_erasure(
        live_server, browser, artifacts, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Website")
    agent = make_user(name="Anna Agent", inboxes=[inbox])
    conv = _visitor_conversation(inbox, "Olga Export", "olga@example.com", "Please send me my data")
    with conversation_page(browser, live_server, agent, conv) as page:
        page.locator("#side >> text=olga@example.com").wait_for()
        assert page.locator("#contact-erase").count() == 0  # the API lets only admins erase
        page.screenshot(path=str(artifacts / "panel-export-agent.png"))
        with page.expect_download() as download:
            page.get_by_role("link", name="Export data").click()
        target = tmp_path / "export.json"
        download.value.save_as(target)
        assert download.value.suggested_filename == f"contact-{_contact_of(conv).id}.json"
        data = json.loads(target.read_text())
        assert data["profile"]["email"] == "olga@example.com" and data["profile"]["name"] == "Olga Export"
        assert [m["content"] for m in data["conversations"][0]["messages"]] == ["Please send me my data"]

        page.click("#act-labels")  # no labels yet: an agent is told who creates them, no link
        menu = page.locator("#labels-menu")
        menu.locator(".labels-empty").wait_for()
        assert menu.inner_text().strip() == "No labels yet (an admin creates them)."
        assert menu.locator("a").count() == 0
    [entry] = _audit("contact.exported")
    assert entry.actor_user_id == agent.id and entry.target_id == str(_contact_of(conv).id)


def test_an_admin_erases_the_contact_after_confirming(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Website")
    admin = make_user(role="admin", name="Ada Admin", inboxes=[inbox])
    conv = _visitor_conversation(inbox, "Erik Erase", "erik@example.com", "Delete everything about me")
    contact_id = _contact_of(conv).id
    with conversation_page(browser, live_server, admin, conv) as page:
        page.locator("#side >> text=erik@example.com").wait_for()
        page.get_by_role("button", name="Erase contact…").click()
        dialog = page.get_by_role("alertdialog")
        dialog.wait_for()
        assert "Erase Erik Erase?" in dialog.inner_text() and "cannot be undone" in dialog.inner_text()
        page.screenshot(path=str(artifacts / "panel-erase-confirm.png"))
        dialog.get_by_role("button", name="Cancel").click()  # changing one's mind erases nothing
        page.locator("#contact-erase").wait_for()
        assert _contact_of(conv).name == "Erik Erase" and not _audit("contact.erased")

        page.get_by_role("button", name="Erase contact…").click()
        page.get_by_role("alertdialog").get_by_role("button", name="Erase for good").click()
        page.locator("#toast >> text=Contact erased").wait_for()
        page.locator("#contact-missing").wait_for()
        assert "data was erased" in page.locator("#side").inner_text()
        page.locator(".msg.incoming").first.wait_for()
        assert "Delete everything about me" not in page.locator("#messages").inner_text()
        # A later event about the contact's conversation does not bring the erased details back.
        conv_service.change_status(admin, conv, "resolved")
        page.locator("#conv-ref >> text=Resolved").wait_for()
        page.wait_for_timeout(300)
        side = page.locator("#side").inner_text()
        assert "data was erased" in side and "erik@example.com" not in side, side
        page.reload()  # opened again later: the sidebar says so, not "No such contact."
        page.locator("#contact-missing >> text=This contact's data was erased").wait_for()
        page.screenshot(path=str(artifacts / "panel-erased.png"))

        page.click("#act-labels")  # no labels yet: an admin gets a link to create them
        link = page.locator("#labels-menu a")
        link.wait_for()
        assert page.locator("#labels-menu").inner_text().strip() == "No labels yet. Create labels"
        link.click()
        page.wait_for_url(f"{live_server.url}/admin/labels")
    contact = _contact_of(conv)
    assert contact.erased_at is not None and contact.name is None and contact.email is None
    db.session.expire_all()
    texts = db.session.scalars(sa.select(Message.content).where(Message.conversation_id == conv)).all()
    assert "Delete everything about me" not in texts
    [entry] = _audit("contact.erased")
    assert entry.actor_user_id == admin.id and entry.target_id == str(contact_id)


def test_the_empty_labels_menu_speaks_russian_to_an_admin(live_server, browser, artifacts) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox(name="Сайт")
    admin = make_user(role="admin", inboxes=[inbox])
    users_service.set_locale(admin.id, "ru")
    conv = _visitor_conversation(inbox, "Ирина", "irina@example.com", "Здравствуйте")
    with conversation_page(browser, live_server, admin, conv) as page:
        page.click("#act-labels")
        page.locator("#labels-menu a").wait_for()
        assert page.locator("#labels-menu").inner_text().strip() == "Меток пока нет. Создать метки"
        assert page.locator("#labels-menu a").get_attribute("href") == "/admin/labels"
        page.screenshot(path=str(artifacts / "panel-labels-empty-admin-ru.png"))
        assert page.locator("#contact-export").inner_text() == "Выгрузить данные"
        assert page.locator("#contact-erase").inner_text() == "Стереть контакт…"
