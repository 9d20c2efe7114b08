"""Body caps hold for chunked transfer encoding on every kind of body (issue 14 item 4,
docs/security.md cases 31 and 33), against a real gunicorn + gevent server."""
from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from messenger.extensions import db
from messenger.models import Attachment
from messenger.models import Message
from tests.factories import PASSWORD
from tests.factories import make_conversation
from tests.factories import make_inbox
from tests.factories import make_user
from tests.factories import make_visitor
from tests.helpers import LiveServer
from tests.realtime.helpers import Http

pytestmark = pytest.mark.committing
UPLOAD_CAP = 200_000


@pytest.fixture(scope="module")
def small_server(app, env_for_servers: dict[str, str]) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """A live server whose upload limit is 200 KB, so an oversized upload is quick to send."""
    server = LiveServer(dict(env_for_servers, MAX_UPLOAD_BYTES=str(UPLOAD_CAP), MAX_IMAGE_BYTES=str(UPLOAD_CAP)))
    try:
        yield server
    finally:
        server.stop()


def chunked(server: LiveServer, method: str, path: str, headers: dict[str, str], body: bytes,
            chunk: int = 16 * 1024) -> tuple[int, bytes]:
    """Send ``body`` with ``Transfer-Encoding: chunked`` (no Content-Length); return (status, response body).

    The server may answer and close before it has read everything: that is the point.
    """
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Transfer-Encoding: chunked",
            "Connection: close", *[f"{k}: {v}" for k, v in headers.items()], "", ""]
    try:
        sock.sendall("\r\n".join(head).encode())
        for start in range(0, len(body), chunk):
            part = body[start:start + chunk]
            sock.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused mid-body
    raw = b""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            raw += data
    except (ConnectionResetError, socket.timeout):
        pass
    finally:
        sock.close()
    status_line, _, rest = raw.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 "), raw[:200]
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def _count(model) -> int:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_chunked_widget_json_over_64_kb_is_413_and_writes_nothing(small_server) -> None:
    inbox = make_inbox()
    visitor, token = make_visitor(inbox)
    headers = {"X-Visitor-Token": token, "Content-Type": "application/json"}
    small = json.dumps({"content": "hi", "client_id": str(uuid.uuid4())}).encode()
    assert chunked(small_server, "POST", "/widget/api/v1/messages", headers, small)[0] == 201
    padding = json.dumps({"content": "x", "client_id": str(uuid.uuid4()), "pad": "y" * (3 * 1024 * 1024)}).encode()
    status, body = chunked(small_server, "POST", "/widget/api/v1/messages", headers, padding)
    assert status == 413 and json.loads(body)["error"] == "too_large"
    assert _count(Message) == 1


def test_chunked_operator_json_and_forms_are_capped(small_server) -> None:
    inbox = make_inbox()
    user = make_user(inboxes=[inbox])
    conv = make_conversation(inbox)
    client = Http(small_server.url)
    client.login(user.email, PASSWORD)
    cookie = client.jar
    headers = {"Cookie": "; ".join(f"{c.name}={c.value}" for c in cookie), "X-CSRFToken": client.csrf,
               "Content-Type": "application/json"}
    path = f"/api/v1/conversations/{conv.id}/messages"
    ok = json.dumps({"content": "reply", "client_id": str(uuid.uuid4())}).encode()
    assert chunked(small_server, "POST", path, headers, ok)[0] == 201
    huge = json.dumps({"content": "x", "client_id": str(uuid.uuid4()), "pad": "y" * (3 * 1024 * 1024)}).encode()
    status, body = chunked(small_server, "POST", path, headers, huge)
    assert status == 413 and json.loads(body)["error"] == "too_large"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _ = chunked(small_server, "POST", "/login", form, b"email=a%40b.c&password=" + b"p" * (3 * 1024 * 1024))
    assert status == 413


@pytest.mark.parametrize("side", ["visitor", "operator"])
def test_chunked_upload_over_the_limit_is_413_and_leaves_no_file(small_server, env_for_servers, side: str) -> None:
    inbox = make_inbox()
    user = make_user(inboxes=[inbox])
    visitor, token = make_visitor(inbox)
    conv = make_conversation(inbox, visitor)
    boundary = "----messenger-test"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\n").encode() + b"a" * (UPLOAD_CAP * 5) + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    if side == "visitor":
        headers["X-Visitor-Token"] = token
        path = f"/widget/api/v1/conversations/{conv.id}/attachments"
    else:
        client = Http(small_server.url)
        client.login(user.email, PASSWORD)
        headers.update({"Cookie": "; ".join(f"{c.name}={c.value}" for c in client.jar), "X-CSRFToken": client.csrf})
        path = f"/api/v1/conversations/{conv.id}/attachments"
    status, raw = chunked(small_server, "POST", path, headers, body)
    assert status == 413 and json.loads(raw)["error"] == "too_large"
    assert _count(Attachment) == 0
    incoming = Path(env_for_servers["UPLOAD_DIR"]) / "incoming"
    assert not incoming.exists() or os.listdir(incoming) == []
