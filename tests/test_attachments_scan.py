"""Scanning through the real RQ path (committing tests): a real clamd with a one-signature
database, the built-in scanner, a scanner outage with retries, and the live events.

ClamAV facts ("Virus scanning without a network" in docs/security.md): Debian's clamav
ships no signatures, so the test writes EICAR, builds ``local.hdb`` with ``sigtool --md5``
and starts clamd on a temporary Unix socket with that database; the daemon is stopped at the end of the module.
"""
from __future__ import annotations

import io
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rq import Queue
from rq import SimpleWorker
from rq.job import Job

from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import AuditLog
from messenger.services import messages as msg_service
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_visitor
from tests.test_attachments import EICAR
from tests.test_attachments import PDF
from tests.test_attachments import png_bytes

pytestmark = pytest.mark.committing


def _ping(sock_path: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(str(sock_path))
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real clamd on a temporary Unix socket whose only signature is EICAR's MD5."""
    for tool in ("clamd", "sigtool"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            pytest.fail(f"{tool} is missing: run `make test` (scripts/system-deps.sh installs clamav-daemon)")
    base = tmp_path_factory.mktemp("clamd")
    (base / "db").mkdir()
    eicar = base / "eicar.com"
    eicar.write_bytes(EICAR)
    signature = subprocess.run(["sigtool", "--md5", str(eicar)], capture_output=True, check=True).stdout
    assert signature.startswith(b"44d88612fea8a8f36de82e1278abb02f:68:")
    (base / "db" / "local.hdb").write_bytes(signature)
    sock = base / "clamd.sock"
    conf = base / "clamd.conf"
    conf.write_text(f"LocalSocket {sock}\nFixStaleSocket yes\nForeground yes\nDatabaseDirectory {base / 'db'}\n"
                    f"LogFile {base / 'clamd.log'}\nTemporaryDirectory {base}\nStreamMaxLength 25M\n"
                    "MaxThreads 2\n")
    clamd_bin = shutil.which("clamd") or "/usr/sbin/clamd"
    proc = subprocess.Popen([clamd_bin, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not _ping(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (base / "clamd.log").read_text() if (base / "clamd.log").exists() else ""
                pytest.fail(f"clamd did not start: {log[-2000:]}")
            time.sleep(0.1)
        yield str(sock)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def setup(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", "")
    monkeypatch.setitem(app.config, "CLAMD_HOST", "")
    inbox = make_inbox()
    visitor, token = make_visitor(inbox)
    conv = make_conversation(inbox, visitor)
    redis = app.extensions["redis"]
    return {"app": app, "inbox": inbox, "visitor": visitor, "token": token, "conv": conv, "redis": redis,
            "uploads": tmp_path / "uploads", "queue": Queue("scanning", connection=redis)}


def upload(client, s: dict[str, Any], data: bytes, name: str) -> str:  # type: ignore[no-untyped-def]
    resp = client.post(f"/widget/api/v1/conversations/{s['conv'].id}/attachments",
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data",
                       headers={"X-Visitor-Token": s["token"]})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["status"] == "pending"
    return str(resp.get_json()["id"])


def run_jobs(s: dict[str, Any]) -> None:
    SimpleWorker([s["queue"]], connection=s["redis"]).work(burst=True)
    db.session.expire_all()


def status_of(key: str) -> Attachment:
    att = db.session.scalar(sa.select(Attachment).where(Attachment.key == key))
    assert att is not None
    return att


def download(client, s: dict[str, Any], key: str):  # type: ignore[no-untyped-def]
    return client.get(f"/widget/api/v1/attachments/{key}", headers={"X-Visitor-Token": s["token"]})


def attachment_events(conversation_id: int) -> list[dict[str, Any]]:
    rows = db.session.execute(sa.text(
        "SELECT payload, private FROM events WHERE kind = 'attachment.updated' AND conversation_id = :c "
        "ORDER BY id"), {"c": conversation_id}).all()
    return [dict(row.payload, private=row.private) for row in rows]


def test_real_clamd_quarantines_eicar_and_a_clean_pdf_becomes_downloadable(client, setup, clamd, app,
                                                                           monkeypatch) -> None:
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", clamd)
    bad = upload(client, setup, EICAR, "eicar.txt")
    good = upload(client, setup, PDF, "offer.pdf")
    assert setup["queue"].count == 2
    run_jobs(setup)
    infected = status_of(bad)
    assert infected.status == "infected"
    assert infected.scan_detail is not None and infected.scan_detail.startswith("clamav: ")
    assert "FOUND" not in infected.scan_detail and "eicar" in infected.scan_detail.lower()
    assert (setup["uploads"] / "quarantine" / bad).is_file()
    assert not (setup["uploads"] / "files" / bad[:2] / bad).exists()
    assert download(client, setup, bad).get_json()["error"] == "malware_detected"
    assert db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "attachment.infected",
                                                       AuditLog.target_id == str(infected.id))) is not None
    clean = status_of(good)
    assert clean.status == "clean" and clean.scanned_at is not None
    resp = download(client, setup, good)
    assert resp.status_code == 200 and resp.data == PDF
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    # Both sides switch from "scanning…" live: one attachment.updated event per verdict, visible to the visitor.
    events = {e["id"]: e for e in attachment_events(setup["conv"].id)}
    assert events[bad]["status"] == "infected" and events[bad]["private"] is False
    assert events[good]["status"] == "clean"


def test_scanner_down_keeps_the_file_pending_and_undownloadable_then_the_retry_cleans_it(
        client, setup, clamd, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", str(Path(clamd).parent / "nobody-listens.sock"))
    monkeypatch.setitem(app.config, "SCAN_RETRY_INTERVALS", "30,60")
    key = upload(client, setup, PDF, "offer.pdf")
    run_jobs(setup)
    assert status_of(key).status == "pending"
    resp = download(client, setup, key)
    assert resp.status_code == 409 and resp.get_json()["error"] == "scanning"
    registry = setup["queue"].scheduled_job_registry
    job_ids = [j for j in registry.get_job_ids() if j.startswith("scan-attachment-")]
    assert len(job_ids) == 1, "the failed scan must be scheduled for a retry"
    job = Job.fetch(job_ids[0], connection=setup["redis"])
    assert job.retries_left == 1
    # Run the retry now instead of in 30 s (the worker's scheduler would), with clamd back.
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", clamd)
    registry.requeue(job)
    run_jobs(setup)
    assert status_of(key).status == "clean"
    assert download(client, setup, key).status_code == 200


def test_builtin_scanner_through_the_worker_with_image_thumbnail_event(client, setup) -> None:
    bad = upload(client, setup, b"prefix " + EICAR + b" suffix", "notes.txt")
    image = upload(client, setup, png_bytes((800, 600)), "screenshot.png")
    run_jobs(setup)
    assert status_of(bad).status == "infected" and "builtin" in (status_of(bad).scan_detail or "")
    att = status_of(image)
    assert att.status == "clean" and att.thumb_key and (att.width, att.height) == (800, 600)
    events = {e["id"]: e for e in attachment_events(setup["conv"].id)}
    assert events[image]["has_thumbnail"] is True and events[image]["status"] == "clean"
    thumb = client.get(f"/widget/api/v1/attachments/{image}/thumb", headers={"X-Visitor-Token": setup["token"]})
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] in ("image/jpeg", "image/png")
    # Sent afterwards, the message carries the settled status for both audiences.
    sent = msg_service.send_visitor_message(setup["visitor"], setup["conv"].id, "",
                                            "5b1e3c2a-9d4f-4e6a-8b7c-1d2e3f4a5b6c", attachment_keys=[bad, image])
    atts = msg_service.attachments_by_message([sent.message.id])[sent.message.id]
    payload = msg_service.message_to_dict(sent.message, "visitor", atts)
    assert {a["id"]: a["status"] for a in payload["attachments"]} == {bad: "infected", image: "clean"}


def test_an_operators_unsent_upload_never_reaches_the_visitor_stream(client, setup) -> None:
    from messenger.services import attachments as attachment_service
    from tests.factories import make_user
    from tests.test_attachments import _Source

    op = make_user(inboxes=[setup["inbox"]])
    draft = attachment_service.upload_by_operator(op, setup["conv"].id, _Source("wrong-customer.pdf", PDF)).key
    sent = attachment_service.upload_by_operator(op, setup["conv"].id, _Source("offer.pdf", PDF)).key
    run_jobs(setup)
    msg_service.send_operator_message(op, setup["conv"].id, "here", "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2910",
                                      attachment_keys=[sent])
    events = attachment_events(setup["conv"].id)
    assert [(e["id"], e["status"], e["private"]) for e in events if e["id"] == draft] == [(draft, "clean", True)]
    # Scanned while still a draft: private; once sent in a reply, the visitor gets it.
    assert [(e["status"], e["message_id"] is not None, e["private"]) for e in events if e["id"] == sent] == [
        ("clean", False, True), ("clean", True, False)]


@contextmanager
def full_disk(path: Path) -> Iterator[None]:
    """A 64 KB tmpfs mounted on ``path`` and filled up: every write there fails with ENOSPC."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        subprocess.run(["dd", "if=/dev/zero", f"of={path / 'filler'}", "bs=4k"], capture_output=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def test_a_full_disk_while_processing_an_image_keeps_it_pending_and_the_retry_cleans_it(
        client, setup, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """"We could not work on it now" (ENOSPC) is retried; only "this file is bad" is final."""
    monkeypatch.setitem(app.config, "SCAN_RETRY_INTERVALS", "30,60")
    key = upload(client, setup, png_bytes((400, 300)), "screenshot.png")
    with full_disk(setup["uploads"] / "incoming"):
        run_jobs(setup)
        assert status_of(key).status == "pending"
        assert download(client, setup, key).get_json()["error"] == "scanning"
    registry = setup["queue"].scheduled_job_registry
    job_ids = [j for j in registry.get_job_ids() if j.startswith("scan-attachment-")]
    assert len(job_ids) == 1, "the failed processing must be scheduled for a retry"
    registry.requeue(Job.fetch(job_ids[0], connection=setup["redis"]))
    run_jobs(setup)
    att = status_of(key)
    assert att.status == "clean" and att.thumb_key
    assert download(client, setup, key).status_code == 200
