"""Clients for the realtime tests: a cookie-keeping JSON client and a threaded SSE reader."""
from __future__ import annotations

import http.client
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import CookieJar
from typing import Any
from urllib.error import HTTPError
from urllib.request import HTTPCookieProcessor
from urllib.request import Request
from urllib.request import build_opener


class Http:
    """A tiny HTTP client against a live server, keeping cookies and the CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.jar))
        self.csrf = ""

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                form: dict[str, str] | None = None) -> tuple[int, Any]:
        data = None
        hdrs = dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if self.csrf and method != "GET":
            hdrs.setdefault("X-CSRFToken", self.csrf)
        req = Request(self.base + path, data=data, headers=hdrs, method=method)
        try:
            with self.opener.open(req, timeout=60) as resp:
                raw = resp.read()
                status = resp.status
                ctype = resp.headers.get("Content-Type", "")
        except HTTPError as err:
            raw, status, ctype = err.read(), err.code, err.headers.get("Content-Type", "")
        if "json" in ctype:
            return status, json.loads(raw)
        return status, raw.decode("utf-8", "replace")

    def login(self, email: str, password: str) -> None:
        _, page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'name="csrf_token" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        status, _ = self.request("POST", "/login", form={"email": email, "password": password,
                                                         "csrf_token": token.group(1)})
        assert status == 200, status
        _, panel = self.request("GET", "/")
        meta = re.search(r'<meta name="csrf-token" content="([^"]+)"', panel)
        assert meta, "no CSRF meta on the panel page"
        self.csrf = meta.group(1)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


@dataclass
class SSEEvent:
    id: int | None
    event: str
    data: Any


class SSE:
    """An SSE connection read by a background thread; events are collected in order."""

    def __init__(self, base: str, path: str, headers: dict[str, str] | None = None, timeout: float = 60) -> None:
        parsed = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = self.response.headers
        self.events: list[SSEEvent] = []
        self.comments = 0
        self.retry: int | None = None
        self.ended = False
        self._cond = threading.Condition()
        self.body: Any = None
        if self.status == 200 and self.headers.get("Content-Type", "").startswith("text/event-stream"):
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        else:
            raw = self.response.read()
            self.body = json.loads(raw) if "json" in self.headers.get("Content-Type", "") else raw
            self.ended = True

    def _read(self) -> None:
        fields: dict[str, str] = {}
        data_lines: list[str] = []
        try:
            while True:
                raw = self.response.readline()
                if not raw:
                    break
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if data_lines or fields:
                        data = "\n".join(data_lines)
                        ev = SSEEvent(int(fields["id"]) if fields.get("id") else None, fields.get("event", "message"),
                                      json.loads(data) if data else None)
                        with self._cond:
                            self.events.append(ev)
                            self._cond.notify_all()
                    fields, data_lines = {}, []
                    continue
                if line.startswith(":"):
                    self.comments += 1
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    data_lines.append(value)
                elif name == "retry":
                    self.retry = int(value)
                else:
                    fields[name] = value
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by us or by the server
        finally:
            with self._cond:
                self.ended = True
                self._cond.notify_all()

    def named(self, kind: str) -> list[SSEEvent]:
        with self._cond:
            return [e for e in self.events if e.event == kind]

    def messages(self) -> list[SSEEvent]:
        return self.named("message.created")

    def wait_for(self, predicate: Callable[[SSE], bool], timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.2))
        return True

    def wait_count(self, kind: str, n: int, timeout: float = 15) -> list[SSEEvent]:
        assert self.wait_for(lambda s: len(s.named(kind)) >= n, timeout), \
            f"got {len(self.named(kind))} {kind} of {n}: {[(e.id, e.event) for e in self.events][-10:]}"
        return self.named(kind)

    def close(self) -> None:
        sock = self.conn.sock
        try:
            if sock is not None:
                sock.shutdown(2)
        except OSError:
            pass
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.join(5)
        self.conn.close()


def wait_until(predicate: Callable[[], bool], timeout: float = 15, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def subscribers(base_url: str, audience: str = "operator") -> int:
    """Streams and long-polls of ``audience`` subscribed in a single-worker server's hub (/healthz)."""
    return int(Http(base_url).request("GET", "/healthz")[1]["hub"].get("subscribers", {}).get(audience, 0))
