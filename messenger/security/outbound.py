"""Outbound HTTP to URLs that admins typed (webhooks): the SSRF guard and a pinned connection.

The guard runs at send time, not only when the URL is saved (docs/security.md, SSRF
cases): the host is resolved with the system resolver (which also reads the decimal,
hex and short spellings ``2130706433``, ``0x7f000001``, ``127.1``), every address it
answers is checked, and the request goes to the address that was checked, never to a
second lookup that a rebinding DNS server could answer differently. Redirects are not
followed (``http.client`` never follows them).

Refused always: loopback, link-local (which holds the cloud metadata address
169.254.169.254), multicast, unspecified, reserved and other non-global ranges, and
IPv6 spellings of them (``::ffff:127.0.0.1``, 6to4, NAT64 well-known prefix). With
``allow_private`` (setting ``WEBHOOK_ALLOW_PRIVATE`` for on-premise receivers) private
networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) and loopback are allowed;
link-local, metadata and multicast never are.
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class BlockedDestination(Exception):
    """The URL may not be called: bad form, unresolvable, or an address that is refused."""


class Unresolvable(BlockedDestination):
    """The host has no address right now (may be temporary: DNS down, split-horizon names)."""


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to ``address``, present ``host`` (SNI and Host header)."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Response:
    """What an attempt got back: status (None when no answer), the first bytes, timing, error."""

    status: int | None
    body: str
    duration_ms: int
    error: str | None = None


def _check_text(url: object) -> None:
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise BlockedDestination("The URL must be an http(s) URL of at most 2048 characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise BlockedDestination("The URL must not contain spaces or control characters.")


def parse_url(url: str) -> tuple[str, str, int, str]:
    """Split an http(s) URL into scheme, host, port, path+query; raise ``BlockedDestination`` if malformed."""
    _check_text(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedDestination(f"The URL is not valid: {exc}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedDestination("The URL must start with http:// or https:// and name a host.")
    if parts.username is not None or parts.password is not None:
        raise BlockedDestination("The URL must not carry a user name or password.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be called, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return refusal(embedded, allow_private=allow_private)
    if address in _METADATA:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address.is_reserved:
        return "a reserved address"
    if address.is_loopback:
        return None if allow_private else "a loopback address"
    if not address.is_global:
        return None if allow_private else "a private address"
    return None


def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host now and return a checked target; raise ``BlockedDestination``."""
    scheme, host, port, path = parse_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"The host {host!r} does not resolve ({exc}).") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        why = refusal(address, allow_private=allow_private)
        if why is not None:
            # One bad answer refuses the name: a resolver must not be able to pick for us.
            raise BlockedDestination(f"The host {host!r} resolves to {address}, {why}.")
        addresses.append(address)
    if not addresses:
        raise Unresolvable(f"The host {host!r} does not resolve.")
    return Target(scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))


def tls_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The system's trusted CAs plus those of ``ca_bundle`` (a PEM file: an internal CA), with
    certificate and host name checks on (``ssl.create_default_context``)."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with SNI and certificate checks for the URL's host name."""

    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._target = target

    def connect(self) -> None:
        sock = socket.create_connection((self._target.address, self._target.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._target.host)  # type: ignore[attr-defined]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.address, target.port, timeout=timeout)


def _host_header(target: Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float = 10.0,
         max_body: int = 2048, ca_bundle: str | None = None) -> Response:
    """POST ``body`` to a checked target within ``timeout`` seconds in total; never follows redirects.

    HTTPS verifies the receiver's certificate for the URL's host name against the system's CAs
    and ``ca_bundle``'s; a certificate that does not verify is a failed attempt (never sent)."""
    started = time.monotonic()
    conn: http.client.HTTPConnection
    if target.scheme == "https":
        try:
            context = tls_context(ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            return Response(status=None, body="", duration_ms=_elapsed_ms(started),
                            error=f"WEBHOOK_CA_BUNDLE unusable: {type(exc).__name__}: {exc}"[:500])
        conn = _PinnedHTTPSConnection(target, timeout, context)
    else:
        conn = _PinnedHTTPConnection(target, timeout)
    # A receiver that drips bytes must not hold the worker past the deadline.
    watchdog = threading.Timer(timeout, _abort, args=(conn,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        all_headers = {"Host": _host_header(target), "Content-Length": str(len(body)), **headers}
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        answer = conn.getresponse()
        data = answer.read(max_body)
        return Response(status=answer.status, body=data.decode("utf-8", "replace"),
                        duration_ms=_elapsed_ms(started))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        timed_out = time.monotonic() - started >= timeout - 0.05
        error = f"timed out after {timeout:g} s" if timed_out else f"{type(exc).__name__}: {exc}"
        return Response(status=None, body="", duration_ms=_elapsed_ms(started), error=error[:500])
    finally:
        watchdog.cancel()
        conn.close()


def _abort(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
