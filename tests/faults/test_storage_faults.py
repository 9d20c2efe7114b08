"""Uploads while the upload directory is full or read-only: a clear 507, no orphan row, no orphan file;
the same upload works once the disk is back."""
from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Attachment
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_visitor
from tests.test_attachments import PDF

pytestmark = pytest.mark.committing


@pytest.fixture
def tmpfs(tmp_path: Path, app, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """UPLOAD_DIR on a 256 KB tmpfs of its own."""
    root = tmp_path / "uploads"
    root.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(root)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(root))
    try:
        yield root
    finally:
        subprocess.run(["umount", "-l", str(root)], check=True)


def _upload(client, conversation_id: int, token: str, n: int):  # type: ignore[no-untyped-def]
    return client.post(f"/widget/api/v1/conversations/{conversation_id}/attachments",
                       data={"file": (io.BytesIO(PDF), f"offer-{n}.pdf")}, content_type="multipart/form-data",
                       headers={"X-Visitor-Token": token})


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name != "filler"]


def test_uploads_to_a_full_or_read_only_disk_get_a_clear_error_and_leave_nothing(client, tmpfs: Path) -> None:  # type: ignore[no-untyped-def]
    inbox = make_inbox()
    visitor, token = make_visitor(inbox)
    conversation_id = make_conversation(inbox, visitor).id
    db.session.commit()
    ok = _upload(client, conversation_id, token, 0)
    assert ok.status_code == 201, ok.get_json()
    before_rows = db.session.scalar(sa.select(sa.func.count()).select_from(Attachment))
    before_files = _files(tmpfs)
    # Full: a filler takes every free byte.
    subprocess.run(["dd", "if=/dev/zero", f"of={tmpfs / 'filler'}", "bs=4k"], capture_output=True)
    for n in range(1, 6):
        resp = _upload(client, conversation_id, token, n)
        assert resp.status_code == 507, resp.get_data(as_text=True)
        assert resp.get_json()["error"] == "storage_unavailable"
    (tmpfs / "filler").unlink()
    # Read-only.
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    try:
        for n in range(6, 11):
            resp = _upload(client, conversation_id, token, n)
            assert resp.status_code == 507 and resp.get_json()["error"] == "storage_unavailable"
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == before_rows
    assert _files(tmpfs) == before_files  # no orphan temp or stored file
    again = _upload(client, conversation_id, token, 11)
    assert again.status_code == 201 and again.get_json()["status"] == "pending"
