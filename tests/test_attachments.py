"""Attachments: uploads from both sides, hostile files, access, downloads.

Cases 1-4, 9-11, 16, 18 and 33-35 of docs/security.md.

These run in savepoint isolation and call the scan service directly; the RQ worker and a
real clamd are in ``test_attachments_scan.py``.
"""
from __future__ import annotations

import io
import socket
import struct
import time
import uuid
import wave
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import g
from PIL import Image

from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import AuditLog
from messenger.models import ContactSession
from messenger.services import attachments as attachment_service
from messenger.services import messages as msg_service
from messenger.services import scanning
from messenger.services.scanning import ScannerUnavailable
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import env_setting
from tests.helpers import sign_in

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")


def png_bytes(size: tuple[int, int] = (40, 30), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (64, 48), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    gps = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    exif[0x8825] = gps  # GPSInfo
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes], first: str | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def wav_bytes(frames: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(frames)))
    return buf.getvalue()


@pytest.fixture
def uploads(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    """A fresh upload directory and the built-in scanner."""
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", "")
    monkeypatch.setitem(app.config, "CLAMD_HOST", "")
    return tmp_path / "uploads"


@pytest.fixture
def chat(uploads: Path) -> dict[str, Any]:
    inbox = make_inbox()
    visitor, token = make_visitor(inbox)
    conv = make_conversation(inbox, visitor)
    return {"inbox": inbox, "visitor": visitor, "token": token, "conv": conv}


def visitor_upload(client, chat: dict[str, Any], data: bytes, name: str,  # type: ignore[no-untyped-def]
                   **headers: str):
    return client.post(f"/widget/api/v1/conversations/{chat['conv'].id}/attachments",
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data",
                       headers={"X-Visitor-Token": chat["token"], **headers})


def visitor_get(client, chat: dict[str, Any], key: str, suffix: str = "",  # type: ignore[no-untyped-def]
                **headers: str):
    return client.get(f"/widget/api/v1/attachments/{key}{suffix}",
                      headers={"X-Visitor-Token": chat["token"], **headers})


def sign_out(client, token: str) -> None:  # type: ignore[no-untyped-def]
    client.post("/logout", data={"csrf_token": token})
    g.pop("csrf_token", None)


def scan(key: str) -> Attachment:
    att = db.session.scalar(sa.select(Attachment).where(Attachment.key == key))
    assert att is not None
    attachment_service.scan_attachment(att.id)
    db.session.expire_all()
    return db.session.get(Attachment, att.id)  # type: ignore[return-value]


def files_in(root: Path, area: str) -> list[Path]:
    base = root / area
    return sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []


def assert_safe_headers(resp, *, inline: bool = False) -> None:  # type: ignore[no-untyped-def]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert resp.headers["Content-Disposition"].startswith("inline;" if inline else "attachment;")
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    assert "html" not in resp.headers["Content-Type"] and "svg" not in resp.headers["Content-Type"]


# --- the happy paths -------------------------------------------------------------------

def test_visitor_pdf_is_pending_then_clean_and_downloadable_with_safe_headers(client, chat, uploads) -> None:
    resp = visitor_upload(client, chat, PDF, "Angebot März.pdf", **{"Content-Type": "multipart/form-data"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["status"] == "pending" and body["content_type"] == "application/pdf"
    assert body["filename"] == "Angebot März.pdf" and body["size"] == len(PDF)
    assert len(body["id"]) >= 22 and body["scanner"]["engine"] == "builtin"
    assert "not an antivirus" in body["scanner"]["note"]
    # Pending: not downloadable yet.
    pending = visitor_get(client, chat, body["id"])
    assert pending.status_code == 409 and pending.get_json()["error"] == "scanning"
    assert scan(body["id"]).status == "clean"
    resp = visitor_get(client, chat, body["id"])
    assert resp.status_code == 200 and resp.data == PDF
    assert resp.headers["Content-Type"] == "application/pdf"
    assert_safe_headers(resp)
    assert "filename*=UTF-8''Angebot%20M%C3%A4rz.pdf" in resp.headers["Content-Disposition"]
    # Stored under the random key, outside static/, never under the client's name.
    stored = files_in(uploads, "files")
    assert [p.name for p in stored] == [body["id"]]
    assert files_in(uploads, "incoming") == []


def test_operator_upload_needs_csrf_header_then_sends_with_the_message(client, chat, uploads) -> None:
    op = make_user(inboxes=[chat["inbox"]])
    token = sign_in(client, op)
    url = f"/api/v1/conversations/{chat['conv'].id}/attachments"
    no_csrf = client.post(url, data={"file": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data")
    assert no_csrf.status_code == 400 and no_csrf.get_json()["error"] == "csrf_failed"
    bad = client.post(url, data={"file": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data",
                      headers={"X-CSRFToken": "forged"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "csrf_failed"
    resp = client.post(url, data={"file": (io.BytesIO(png_bytes()), "shot.png")},
                       content_type="multipart/form-data", headers={"X-CSRFToken": token})
    assert resp.status_code == 201, resp.get_json()
    key = resp.get_json()["id"]
    assert resp.get_json()["width"] == 40 and resp.get_json()["height"] == 30
    assert scan(key).status == "clean"
    # The visitor cannot see an upload that was not sent yet.
    assert visitor_get(client, chat, key).status_code == 404
    result = msg_service.send_operator_message(op, chat["conv"].id, "", "8d6f7c2e-0a53-4c1e-9a53-2f1e1c0e0a01",
                                               attachment_keys=[key])
    atts = msg_service.attachments_by_message([result.message.id])[result.message.id]
    assert [a.key for a in atts] == [key]
    resp = visitor_get(client, chat, key)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    assert_safe_headers(resp, inline=True)
    thumb = visitor_get(client, chat, key, "/thumb")
    assert thumb.status_code == 200 and thumb.headers["Content-Type"].startswith("image/")
    assert client.get(f"/api/v1/attachments/{key}").status_code == 200


# --- hostile files -----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "data", "code"), [
    ("cute.png", b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>",
     "type_not_allowed"),
    ("logo.png", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
                 b'<image href="http://169.254.169.254/"/></svg>', "type_not_allowed"),
    ("setup.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, "type_not_allowed"),
    ("empty.txt", b"", "empty_file"),
    ("report.pdf", png_bytes(), "type_mismatch"),
    ("page.png", b"%PDF-1.4\n%%EOF\n", "type_mismatch"),
])
def test_disguised_files_are_refused_with_nothing_stored(client, chat, uploads, name, data, code) -> None:
    resp = visitor_upload(client, chat, data, name)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"] == code
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0
    assert files_in(uploads, "files") == [] and files_in(uploads, "incoming") == []


def test_polyglot_jpeg_html_is_served_only_as_a_reencoded_image(client, chat, uploads) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 200, 0)).save(buf, "JPEG")
    polyglot = buf.getvalue() + b"<html><script>alert(1)</script></html>"
    resp = visitor_upload(client, chat, polyglot, "cat.html")
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["content_type"] == "image/jpeg" and body["filename"] == "cat.html.jpg"
    assert scan(body["id"]).status == "clean"
    served = visitor_get(client, chat, body["id"])
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert b"<script" not in served.data and b"<html" not in served.data
    assert_safe_headers(served, inline=True)


def test_svg_is_never_accepted_even_with_a_correct_name(client, chat, uploads) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>'
    resp = visitor_upload(client, chat, svg, "icon.svg")
    assert resp.status_code == 422 and resp.get_json()["detected"] == "image/svg+xml"


def test_zip_bomb_is_refused_by_its_declared_size_without_unpacking(client, chat, uploads, app,
                                                                     monkeypatch) -> None:
    monkeypatch.setitem(app.config, "ZIP_MAX_UNCOMPRESSED", 1024 * 1024)
    bomb = zip_bytes({"zeros.bin": b"\0" * (3 * 1024 * 1024)})
    assert len(bomb) < 10 * 1024
    resp = visitor_upload(client, chat, bomb, "holiday.zip")
    assert resp.status_code == 422 and resp.get_json()["error"] == "archive_too_large"
    assert files_in(uploads, "files") == []


def test_decompression_bomb_image_is_refused_by_pixel_count(client, chat, uploads, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "MAX_IMAGE_PIXELS", 10_000)
    resp = visitor_upload(client, chat, png_bytes((200, 200)), "big.png")
    assert resp.status_code == 422 and resp.get_json()["error"] == "image_too_large"
    assert visitor_upload(client, chat, png_bytes((100, 100)), "ok.png").status_code == 201


def test_exactly_at_the_limit_passes_one_byte_over_is_413_with_nothing_stored(client, chat, uploads, app,
                                                                               monkeypatch) -> None:
    monkeypatch.setitem(app.config, "MAX_FILE_BYTES", 8192)
    monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", 4096)
    at_limit = (b"0123456789abcde\n" * 512)[:8192]
    assert visitor_upload(client, chat, at_limit, "at.txt").status_code == 201
    over = visitor_upload(client, chat, at_limit + b"x", "over.txt")
    assert over.status_code == 413 and over.get_json()["error"] == "too_large"
    assert over.get_json()["limit"] == 8192
    # Images have their own, smaller limit, applied while streaming from the first bytes.
    noise = Image.effect_noise((64, 64), 100).convert("RGB")
    buf = io.BytesIO()
    noise.save(buf, "PNG")
    assert len(buf.getvalue()) > 4096
    big_image = visitor_upload(client, chat, buf.getvalue(), "noise.png")
    assert big_image.status_code == 413 and big_image.get_json()["limit"] == 4096
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 1
    assert len(files_in(uploads, "files")) == 1 and files_in(uploads, "incoming") == []


def test_a_file_spanning_many_reads_streams_through(client, chat, uploads) -> None:
    data = b"".join(b"line %06d of a long log file\n" % i for i in range(40_000))
    assert len(data) > 18 * 64 * 1024
    resp = visitor_upload(client, chat, data, "server.log")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["size"] == len(data) and resp.get_json()["filename"] == "server.log"
    scan(resp.get_json()["id"])
    assert visitor_get(client, chat, resp.get_json()["id"]).data == data


def test_declared_content_length_far_over_the_limit_is_refused_unread(client, chat, uploads, app,
                                                                      monkeypatch) -> None:
    monkeypatch.setitem(app.config, "MAX_FILE_BYTES", 8192)
    monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", 4096)
    resp = visitor_upload(client, chat, b"a" * (200 * 1024), "huge.txt")
    assert resp.status_code == 413
    assert files_in(uploads, "incoming") == [] and files_in(uploads, "files") == []


@pytest.mark.parametrize(("raw", "data", "expected"), [
    ("../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n", "passwd.txt"),
    ("a\u202egnp.exe", png_bytes(), "agnp.exe.png"),
    ("..\\..\\windows\\win.ini", b"[fonts]\n", "windowswin.ini.txt"),
    ("evil\x00.php", b"plain text\n", "evil.php.txt"),
    ("a.jpg.php", png_bytes(), "a.jpg.php.png"),
    ("   ", b"hello\n", "file.txt"),
    ("x" * 10_000 + ".txt", b"hello\n", "x" * 146 + ".txt"),
])
def test_filenames_are_sanitised_metadata_never_paths(client, chat, uploads, raw, data, expected) -> None:
    resp = visitor_upload(client, chat, data, raw)
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["filename"] == expected
    key = resp.get_json()["id"]
    assert [p.name for p in files_in(uploads, "files")] == [key]
    assert not (uploads.parent / "etc").exists()
    scan(key)
    served = visitor_get(client, chat, key)
    assert served.status_code == 200
    assert_safe_headers(served, inline=served.headers["Content-Type"].startswith("image/"))
    assert "\u202e" not in served.headers["Content-Disposition"]
    assert "/" not in served.headers["Content-Disposition"].split("filename=")[1].split(";")[0]


def test_inbox_allowed_types_narrow_the_allowlist(client, uploads) -> None:
    inbox = make_inbox(allowed_types=["image"])
    visitor, token = make_visitor(inbox)
    conv = make_conversation(inbox, visitor)
    chat = {"inbox": inbox, "token": token, "conv": conv}
    pdf = visitor_upload(client, chat, PDF, "a.pdf")
    assert pdf.status_code == 422 and pdf.get_json()["error"] == "type_not_allowed"
    assert visitor_upload(client, chat, png_bytes(), "a.png").status_code == 201


def test_inbox_upload_limit_lowers_the_global_one(client, uploads) -> None:
    inbox = make_inbox(max_upload_bytes=4096)
    visitor, token = make_visitor(inbox)
    chat = {"inbox": inbox, "token": token, "conv": make_conversation(inbox, visitor)}
    text = (b"0123456789abcde\n" * 256)[:4096]
    assert visitor_upload(client, chat, text, "at.txt").status_code == 201
    over = visitor_upload(client, chat, text + b"x", "over.txt")
    assert over.status_code == 413 and over.get_json()["limit"] == 4096


def test_multipart_errors_are_clear_4xx(client, chat, uploads) -> None:
    url = f"/widget/api/v1/conversations/{chat['conv'].id}/attachments"
    hdr = {"X-Visitor-Token": chat["token"]}
    resp = client.post(url, json={"file": "x"}, headers=hdr)
    assert resp.status_code == 422 and resp.get_json()["error"] == "multipart_required"
    resp = client.post(url, data={"other": "x"}, content_type="multipart/form-data", headers=hdr)
    assert resp.status_code == 422 and resp.get_json()["error"] == "file_required"
    truncated = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nab'
    resp = client.post(url, data=truncated, content_type="multipart/form-data; boundary=b", headers=hdr)
    assert resp.status_code == 422 and resp.get_json()["error"] == "upload_incomplete"
    assert files_in(uploads, "incoming") == []
    assert client.post(url, data={"file": (io.BytesIO(b"x"), "a.txt")},
                       content_type="multipart/form-data").status_code == 401


def test_no_orphan_file_when_the_database_write_fails(client, chat, uploads, monkeypatch) -> None:
    real = attachment_service.transaction

    @contextmanager
    def failing() -> Iterator[Any]:
        with real() as session:
            yield session
            raise RuntimeError("database went away at commit")

    monkeypatch.setattr(attachment_service, "transaction", failing)
    with pytest.raises(RuntimeError):
        attachment_service.upload_by_visitor(chat["visitor"], chat["conv"].id, _Source("a.pdf", PDF))
    assert files_in(uploads, "files") == [] and files_in(uploads, "incoming") == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0


class _Source:
    def __init__(self, name: str, data: bytes) -> None:
        self.filename = name
        self._data = data

    def chunks(self) -> Iterator[bytes]:
        yield self._data


# --- scanning (built-in) --------------------------------------------------------------------

def test_eicar_is_quarantined_audited_and_shown_as_removed_on_both_sides(client, chat, uploads) -> None:
    resp = visitor_upload(client, chat, EICAR, "invoice.txt")
    assert resp.status_code == 201
    key = resp.get_json()["id"]
    att = scan(key)
    assert att.status == "infected" and "Eicar" in (att.scan_detail or "")
    assert files_in(uploads, "files") == [] and [p.name for p in files_in(uploads, "quarantine")] == [key]
    gone = visitor_get(client, chat, key)
    assert gone.status_code == 409 and gone.get_json()["error"] == "malware_detected"
    assert gone.get_json()["message"] == "File removed: malware detected."
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "attachment.infected"))
    assert entry is not None and entry.target_id == str(att.id) and entry.data["key"] == key
    msg = msg_service.send_visitor_message(chat["visitor"], chat["conv"].id, "see file",
                                           "0b7a0e7c-5a52-4a43-8a4a-8a7e1a6f0c11", attachment_keys=[key])
    payload = msg_service.message_to_dict(msg.message, "operator",
                                          msg_service.attachments_by_message([msg.message.id])[msg.message.id])
    assert payload["attachments"][0]["status"] == "infected"
    assert attachment_service.STATUS_LABELS["infected"] == "File removed: malware detected"
    sign_in(client, make_user(role="admin"))
    assert client.get(f"/api/v1/attachments/{key}").get_json()["error"] == "malware_detected"


def test_eicar_split_across_read_chunks_and_inside_a_zip_is_found(client, chat, uploads) -> None:
    split = b"A" * (64 * 1024 - 30) + EICAR + b"\n"
    resp = visitor_upload(client, chat, split, "big.txt")
    assert scan(resp.get_json()["id"]).status == "infected"
    zipped = visitor_upload(client, chat, zip_bytes({"readme.txt": b"hi", "docs/eicar.com": EICAR}), "docs.zip")
    assert zipped.status_code == 201, zipped.get_json()
    assert scan(zipped.get_json()["id"]).status == "infected"


def test_executables_inside_archives_and_macro_documents_are_blocked(client, chat, uploads) -> None:
    exe_zip = visitor_upload(client, chat, zip_bytes({"setup.exe": b"MZ\x90\x00" + b"\x00" * 100}), "tools.zip")
    att = scan(exe_zip.get_json()["id"])
    assert att.status == "infected" and "Executable" in (att.scan_detail or "")
    content_types = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                     b'content-types"><Override PartName="/word/document.xml" ContentType="application/'
                     b'vnd.ms-word.document.macroEnabled.main+xml"/></Types>')
    docm = zip_bytes({"[Content_Types].xml": content_types, "word/document.xml": b"<w:document/>",
                      "word/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 64})
    resp = visitor_upload(client, chat, docm, "contract.docx")
    # libmagic calls it a Word document (it looks at the members' names): the scan must catch the macros.
    assert resp.status_code == 201, resp.get_json()
    att = scan(resp.get_json()["id"])
    assert att.status == "infected" and "Macro" in (att.scan_detail or "")
    assert visitor_get(client, chat, att.key).get_json()["error"] == "malware_detected"


def test_clean_office_document_and_zip_pass(client, chat, uploads) -> None:
    content_types = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                     b'content-types"><Override PartName="/word/document.xml" ContentType="application/'
                     b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    docx = zip_bytes({"[Content_Types].xml": content_types, "word/document.xml": b"<w:document/>"})
    resp = visitor_upload(client, chat, docx, "letter.docx")
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["content_type"].endswith("wordprocessingml.document")
    assert scan(resp.get_json()["id"]).status == "clean"
    served = visitor_get(client, chat, resp.get_json()["id"])
    assert served.status_code == 200
    assert_safe_headers(served)


# --- images ---------------------------------------------------------------------------------

def test_exif_and_gps_are_stripped_from_the_served_image_and_a_thumbnail_is_made(client, chat, uploads) -> None:
    data = jpeg_with_gps()
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get(0x8825) is not None
    resp = visitor_upload(client, chat, data, "IMG_0001.JPG")
    key = resp.get_json()["id"]
    att = scan(key)
    assert (att.width, att.height) == (64, 48) and att.thumb_key is not None
    served = visitor_get(client, chat, key)
    with Image.open(io.BytesIO(served.data)) as img:
        assert dict(img.getexif()) == {}
    assert b"SpyCam" not in served.data
    assert int(served.headers["Content-Length"]) == att.size
    thumb = visitor_get(client, chat, key, "/thumb")
    with Image.open(io.BytesIO(thumb.data)) as t:
        assert max(t.size) <= 320 and dict(t.getexif()) == {}
    pdf = visitor_upload(client, chat, PDF, "x.pdf").get_json()["id"]
    scan(pdf)
    assert visitor_get(client, chat, pdf, "/thumb").status_code == 404


def test_audio_supports_range_requests(client, chat, uploads) -> None:
    resp = visitor_upload(client, chat, wav_bytes(), "voice.wav")
    assert resp.status_code == 201, resp.get_json()
    key = resp.get_json()["id"]
    assert resp.get_json()["content_type"] in ("audio/x-wav", "audio/wav")
    scan(key)
    part = visitor_get(client, chat, key, Range="bytes=0-99")
    assert part.status_code == 206 and len(part.data) == 100
    assert part.headers["Content-Range"].startswith("bytes 0-99/")
    assert_safe_headers(part)


# --- access ---------------------------------------------------------------------------------

def test_other_visitor_and_operator_without_inbox_access_get_404(client, chat, uploads) -> None:
    key = visitor_upload(client, chat, PDF, "mine.pdf").get_json()["id"]
    scan(key)
    msg_service.send_visitor_message(chat["visitor"], chat["conv"].id, "", "3e0f8d8a-63a4-4b1f-8f0e-2c1f0a3b4c5d",
                                     attachment_keys=[key])
    other_visitor, other_token = make_visitor(chat["inbox"])
    other_conv = make_conversation(chat["inbox"], other_visitor)
    other = {"token": other_token, "conv": other_conv}
    assert visitor_get(client, other, key).status_code == 404
    assert visitor_get(client, other, "A" * 22).status_code == 404
    # Uploading into someone else's conversation is a 404 too (case 9).
    assert visitor_upload(client, {"token": other_token, "conv": chat["conv"]}, PDF, "x.pdf").status_code == 404
    outsider = make_user(inboxes=[make_inbox()])
    token = sign_in(client, outsider)
    assert client.get(f"/api/v1/attachments/{key}").status_code == 404
    assert client.get(f"/api/v1/attachments/{key}/thumb").status_code == 404
    up = client.post(f"/api/v1/conversations/{chat['conv'].id}/attachments",
                     data={"file": (io.BytesIO(PDF), "a.pdf")}, content_type="multipart/form-data",
                     headers={"X-CSRFToken": token})
    assert up.status_code == 404
    member = make_user(inboxes=[chat["inbox"]])
    sign_out(client, token)
    token = sign_in(client, member)
    assert client.get(f"/api/v1/attachments/{key}").status_code == 200
    sign_out(client, token)
    assert client.get(f"/api/v1/attachments/{key}").status_code == 401


def test_attachments_on_private_notes_are_invisible_to_the_visitor(client, chat, uploads) -> None:
    op = make_user(inboxes=[chat["inbox"]])
    token = sign_in(client, op)
    key = client.post(f"/api/v1/conversations/{chat['conv'].id}/attachments",
                      data={"file": (io.BytesIO(PDF), "internal.pdf")}, content_type="multipart/form-data",
                      headers={"X-CSRFToken": token}).get_json()["id"]
    scan(key)
    msg_service.send_operator_message(op, chat["conv"].id, "internal", "6a1d2f4e-8b9c-4d0e-9f1a-2b3c4d5e6f70",
                                      private=True, attachment_keys=[key])
    assert visitor_get(client, chat, key).status_code == 404
    assert client.get(f"/api/v1/attachments/{key}").status_code == 200


# --- signed URLs for the widget ---------------------------------------------------------------

def test_signed_urls_are_bound_to_one_file_and_variant_and_expire(client, chat, uploads, monkeypatch) -> None:
    key = visitor_upload(client, chat, png_bytes(), "a.png").get_json()["id"]
    pending = client.post("/widget/api/v1/attachment-urls", json={"ids": [key]},
                          headers={"X-Visitor-Token": chat["token"]})
    assert pending.get_json()["urls"] == {}
    scan(key)
    other = visitor_upload(client, chat, PDF, "b.pdf").get_json()["id"]
    scan(other)
    resp = client.post("/widget/api/v1/attachment-urls", json={"ids": [key, other, "nope" * 6]},
                       headers={"X-Visitor-Token": chat["token"]})
    body = resp.get_json()
    assert resp.status_code == 200 and body["expires_in"] <= 300
    assert set(body["urls"]) == {key, other}
    url, thumb_url = body["urls"][key]["url"], body["urls"][key]["thumb_url"]
    got = client.get(url)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/png"
    assert client.get(thumb_url).status_code == 200
    sig = url.split("sig=")[1]
    assert client.get(f"/widget/api/v1/attachments/{other}?sig={sig}").status_code == 404
    assert client.get(f"/widget/api/v1/attachments/{key}/thumb?sig={sig}").status_code == 404
    assert client.get(url[:-3] + "abc").status_code == 404
    assert client.get(f"/widget/api/v1/attachments/%C3%A9t%C3%A9?sig={sig}").status_code == 404
    nul = client.get(f"/widget/api/v1/attachments/{key}?sig=%00%FF")  # a hostile value: refused before any lookup
    assert nul.status_code == 422 and nul.get_json()["field"] == "sig"
    assert client.get(f"/widget/api/v1/attachments/{key}").status_code == 401
    # Expired after the TTL.
    import itsdangerous.timed

    later = itsdangerous.timed.time.time() + 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: later)
    assert client.get(url).status_code == 404


def test_signed_url_dies_with_the_visitor_session(client, chat, uploads) -> None:
    key = visitor_upload(client, chat, png_bytes(), "a.png").get_json()["id"]
    scan(key)
    url = client.post("/widget/api/v1/attachment-urls", json={"ids": [key]},
                      headers={"X-Visitor-Token": chat["token"]}).get_json()["urls"][key]["url"]
    assert client.get(url).status_code == 200
    session = db.session.get(ContactSession, chat["visitor"].session_id)
    session.revoked_at = datetime.now(timezone.utc)
    db.session.commit()
    assert client.get(url).status_code == 404


def test_widget_upload_checks_the_inbox_origin(client, uploads) -> None:
    inbox = make_inbox(origins=["https://shop.example"])
    visitor, token = make_visitor(inbox)
    conv = make_conversation(inbox, visitor)
    chat = {"token": token, "conv": conv}
    bad = visitor_upload(client, chat, PDF, "a.pdf", Origin="https://evil.example")
    assert bad.status_code == 403
    assert files_in(uploads, "incoming") == [] and files_in(uploads, "files") == []
    assert visitor_upload(client, chat, PDF, "a.pdf", Origin="https://shop.example").status_code == 201


def test_unreadable_content_ends_as_error_never_clean(client, chat, uploads) -> None:
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 80).convert("RGB").save(buf, "JPEG")
    truncated = buf.getvalue()[: len(buf.getvalue()) // 2]
    resp = visitor_upload(client, chat, truncated, "half.jpg")
    assert resp.status_code == 201, resp.get_json()
    att = scan(resp.get_json()["id"])
    assert att.status == "error" and att.thumb_key is None
    assert visitor_get(client, chat, att.key).get_json()["error"] == "unavailable"
    # An encrypted zip member cannot be checked by the built-in scanner: error, not clean.
    data = bytearray(zip_bytes({"secret.txt": b"top secret " * 10}))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6] |= 0x01
    data[central + 8] |= 0x01
    resp = visitor_upload(client, chat, bytes(data), "secret.zip")
    assert resp.status_code == 201, resp.get_json()
    att = scan(resp.get_json()["id"])
    assert att.status == "error" and "Archive" in (att.scan_detail or "")
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "attachment.scan_error",
                                                        AuditLog.target_id == str(att.id)))
    assert entry is not None


@pytest.mark.parametrize(("reply", "verdict", "detail"), [
    ("stream: OK", "clean", None),
    ("stream: Win.Test.EICAR_HDB-1 FOUND", "infected", "Win.Test.EICAR_HDB-1"),
    ("INSTREAM size limit exceeded. ERROR", "error", "INSTREAM size limit exceeded. ERROR"),
])
def test_clamd_replies_map_to_verdicts(reply, verdict, detail) -> None:
    from messenger.services.scanning import parse_clamd_reply

    result = parse_clamd_reply(reply)
    assert (result.verdict, result.detail) == (verdict, detail)


def test_clamd_over_tcp_unreachable_is_unavailable_not_clean(tmp_path) -> None:
    from messenger.services.scanning import ScannerUnavailable
    from messenger.services.scanning import clamd_scan
    from tests.helpers import free_port

    target = tmp_path / "f.txt"
    target.write_bytes(b"hello")
    with pytest.raises(ScannerUnavailable):
        clamd_scan(target, host=f"127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(ScannerUnavailable):
        clamd_scan(target, socket_path=str(tmp_path / "none.sock"), timeout=2)


def test_sweep_rescans_stuck_pending_files_and_purges_old_unsent_uploads(client, chat, uploads, app) -> None:
    from rq import Queue

    from messenger.jobs.scanning import sweep_attachments

    keys = {name: visitor_upload(client, chat, data, name).get_json()["id"]
            for name, data in (("stuck.pdf", PDF), ("old.pdf", PDF), ("virus.txt", EICAR), ("sent.pdf", PDF),
                               ("fresh.pdf", PDF))}
    for name in ("old.pdf", "virus.txt", "sent.pdf"):
        scan(keys[name])
    msg_service.send_visitor_message(chat["visitor"], chat["conv"].id, "", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                                     attachment_keys=[keys["sent.pdf"], keys["stuck.pdf"]])
    db.session.execute(sa.update(Attachment).where(Attachment.key != keys["fresh.pdf"])
                       .values(created_at=sa.func.now() - sa.text("interval '2 days'")))
    db.session.commit()
    redis = app.extensions["redis"]
    redis.flushdb()  # the upload-time jobs are gone, as after a Redis outage
    result = sweep_attachments()
    assert result == {"stale": 1, "rescanned": 1, "purged": 1}
    queued = Queue("scanning", connection=redis).job_ids
    stuck_id = db.session.scalar(sa.select(Attachment.id).where(Attachment.key == keys["stuck.pdf"]))
    assert queued == [f"scan-attachment-{stuck_id}"]
    assert sweep_attachments()["rescanned"] == 0  # already queued: not enqueued twice
    remaining = set(db.session.scalars(sa.select(Attachment.key)))
    assert remaining == {keys["stuck.pdf"], keys["virus.txt"], keys["sent.pdf"], keys["fresh.pdf"]}
    stored = {p.name for p in files_in(uploads, "files")}
    assert keys["old.pdf"] not in stored and keys["sent.pdf"] in stored
    assert [p.name for p in files_in(uploads, "quarantine")] == [keys["virus.txt"]]
    assert any(j.startswith("attachments-sweep-") for j in Queue("scanning", connection=redis)
               .scheduled_job_registry.get_job_ids())


def test_multi_picture_jpeg_from_a_phone_camera_is_accepted(client, chat, uploads) -> None:
    buf = io.BytesIO()
    first, second = Image.new("RGB", (60, 40), (1, 2, 3)), Image.new("RGB", (60, 40), (9, 9, 9))
    first.save(buf, "MPO", save_all=True, append_images=[second])
    with Image.open(io.BytesIO(buf.getvalue())) as probe:
        assert probe.format == "MPO"
    resp = visitor_upload(client, chat, buf.getvalue(), "PXL_2026.jpg")
    assert resp.status_code == 201, resp.get_json()
    att = scan(resp.get_json()["id"])
    assert att.status == "clean" and (att.width, att.height) == (60, 40)
    served = visitor_get(client, chat, att.key)
    with Image.open(io.BytesIO(served.data)) as img:
        assert img.format == "JPEG"


def test_signed_urls_for_merges_into_visitor_payloads(app, client, chat, uploads) -> None:
    from messenger.blueprints.widget.attachments import signed_urls_for

    key = visitor_upload(client, chat, png_bytes(), "a.png").get_json()["id"]
    with app.test_request_context():
        assert signed_urls_for(chat["visitor"], msg_service.attachment_to_dict(
            db.session.scalar(sa.select(Attachment).where(Attachment.key == key)))) == {}
        att = scan(key)
        urls = signed_urls_for(chat["visitor"], msg_service.attachment_to_dict(att))
    assert set(urls) == {"url", "thumb_url"}
    assert client.get(urls["url"]).status_code == 200 and client.get(urls["thumb_url"]).status_code == 200


# --- settings from the environment take effect (README configuration table) ------------------

def test_zip_max_members_from_the_environment_refuses_archives_with_more_entries(client, chat, uploads, app,
                                                                                 monkeypatch) -> None:
    monkeypatch.setitem(app.config, "ZIP_MAX_MEMBERS", env_setting("ZIP_MAX_MEMBERS", "3"))
    four = zip_bytes({f"part{i}.txt": b"hello" for i in range(4)})
    refused = visitor_upload(client, chat, four, "four.zip")
    assert refused.status_code == 422 and refused.get_json()["error"] == "archive_too_large"
    three = zip_bytes({f"part{i}.txt": b"hello" for i in range(3)})
    assert visitor_upload(client, chat, three, "three.zip").status_code == 201


def test_thumbnail_px_from_the_environment_sets_the_thumbnail_size(client, chat, uploads, app, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "THUMBNAIL_PX", env_setting("THUMBNAIL_PX", "16"))
    key = visitor_upload(client, chat, png_bytes((64, 48)), "wide.png").get_json()["id"]
    assert scan(key).status == "clean"
    with Image.open(io.BytesIO(visitor_get(client, chat, key, "/thumb").data)) as thumb:
        assert thumb.size == (16, 12)


def test_unsent_ttl_and_stale_scan_settings_from_the_environment_drive_the_sweeper(client, chat, uploads, app,
                                                                                  monkeypatch) -> None:
    stuck = visitor_upload(client, chat, b"still scanning\n", "a.txt").get_json()["id"]
    unsent = visitor_upload(client, chat, b"never sent\n", "b.txt").get_json()["id"]
    msg_service.send_visitor_message(chat["visitor"], chat["conv"].id, "here", str(uuid.uuid4()),
                                     attachment_keys=[stuck])
    db.session.execute(sa.update(Attachment).values(created_at=sa.func.now() - sa.text("interval '10 minutes'")))
    assert attachment_service.sweep() == {"stale": 0, "rescanned": 0, "purged": 0}  # defaults: 1 h and 24 h
    monkeypatch.setitem(app.config, "SCAN_STALE_AFTER_S", env_setting("SCAN_STALE_AFTER_S", "300"))
    monkeypatch.setitem(app.config, "UNSENT_UPLOAD_TTL_S", env_setting("UNSENT_UPLOAD_TTL_S", "300"))
    assert attachment_service.sweep()["stale"] == 1 and attachment_service.sweep()["purged"] == 0
    db.session.expire_all()
    keys = set(db.session.scalars(sa.select(Attachment.key)))
    assert stuck in keys and unsent not in keys


def test_clamd_timeout_from_the_environment_bounds_a_silent_scanner(app, tmp_path, monkeypatch) -> None:
    path = str(tmp_path / "clamd.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)  # accepts (the kernel backlog) and never answers
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", path)
    monkeypatch.setitem(app.config, "CLAMD_TIMEOUT_S", env_setting("CLAMD_TIMEOUT_S", "1"))
    sample = tmp_path / "sample.txt"
    sample.write_bytes(b"hello")
    started = time.monotonic()
    try:
        with pytest.raises(ScannerUnavailable):
            scanning.scan_file(sample)
    finally:
        server.close()
    assert time.monotonic() - started < 10
