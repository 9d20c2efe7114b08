"""The audit log page: every admin change with who, when and IP; filters; pages."""
from __future__ import annotations

import re

from messenger.extensions import db
from messenger.services import audit
from tests.admin_helpers import post_form
from tests.admin_helpers import signed_in
from tests.admin_helpers import text
from tests.factories import make_user


def _actions(html: str) -> list[str]:
    return re.findall(r'<td class="mono">([a-z_]+\.[a-z_]+)</td>', html)


def test_admin_changes_and_sign_ins_are_listed_with_who_and_ip(app) -> None:
    client, admin = signed_in(app, name="Alice Admin")
    post_form(client, "/admin/labels", {"name": "VIP", "color": "#aa0000"})
    html = text(client.get("/admin/audit"))
    assert _actions(html)[:1] == ["label.create"]
    assert "auth.login" in _actions(html)
    table = html[html.index("<tbody>"):]
    row = table[:table.index("</tr>")]
    assert "Alice Admin" in row and "127.0.0.1" in row and "VIP" in row


def test_filters_by_action_group_actor_and_dates(app) -> None:
    client, admin = signed_in(app)
    other = make_user()
    audit.record(other.id, "contact.export", "contact", 7, ip="10.0.0.9", format="json")
    audit.record(admin.id, "block.create", "contact", 8, ip="10.0.0.1")
    db.session.commit()
    assert _actions(text(client.get("/admin/audit", query_string={"action": "contact.export"}))) == ["contact.export"]
    by_group = _actions(text(client.get("/admin/audit", query_string={"action": "block."})))
    assert by_group == ["block.create"]
    by_actor = _actions(text(client.get("/admin/audit", query_string={"actor": str(other.id)})))
    assert "contact.export" in by_actor and "block.create" not in by_actor
    by_ip = _actions(text(client.get("/admin/audit", query_string={"ip": "10.0.0.9"})))
    assert by_ip == ["contact.export"]
    future = text(client.get("/admin/audit", query_string={"since": "2999-01-01"}))
    assert _actions(future) == [] and "Nothing matches" in future
    bad = client.get("/admin/audit", query_string={"since": "yesterday"})
    assert bad.status_code == 422 and 'id="since-error"' in text(bad)


def test_pages_of_fifty_newest_first_without_overlap(app) -> None:
    client, admin = signed_in(app)
    for n in range(120):
        audit.record(admin.id, "test.entry", "n", n)
    db.session.commit()
    seen: list[str] = []
    url = "/admin/audit?action=test.entry"
    for _page in range(3):
        html = text(client.get(url))
        targets = re.findall(r'<td class="mono">n:(\d+)</td>', html)
        seen += targets
        older = re.search(r'href="([^"]+)">Older', html)
        if not older:
            break
        url = older.group(1).replace("&amp;", "&")
    assert [int(t) for t in seen] == list(range(119, -1, -1))


def test_details_are_escaped(app) -> None:
    client, admin = signed_in(app)
    audit.record(admin.id, "label.create", "label", 1, name="<script>alert(1)</script>")
    db.session.commit()
    html = text(client.get("/admin/audit"))
    assert "<script>alert(1)" not in html
