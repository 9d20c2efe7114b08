"""Virus scanning: ClamAV through clamd when configured, a built-in check otherwise.

- ``CLAMD_SOCKET`` (a Unix socket path) or ``CLAMD_HOST`` (``host[:port]``, default port
  3310) selects clamd; the file is streamed with ``zINSTREAM`` (length-prefixed chunks,
  a zero-length terminator), so clamd needs no access to our files.
- Otherwise the built-in scanner runs. **It is not an antivirus**: it detects the EICAR
  test signature (anywhere in the file, across read boundaries, and inside zip-based
  files), executables inside archives, and macro-enabled office documents. The UIs say
  so (``ENGINE_NOTES``).

A scanner that cannot answer raises ``ScannerUnavailable``: the caller retries later and
the file stays ``pending``; we never fail open to ``clean`` (case 35 and "Virus scanning
without a network" in docs/security.md).
"""
from __future__ import annotations

import socket
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from typing import Literal

from flask import current_app

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CHUNK = 64 * 1024
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"\xca\xfe\xba\xbe")
EXECUTABLE_EXTENSIONS = frozenset({
    "exe", "dll", "scr", "com", "pif", "cpl", "msi", "msp", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js",
    "jse", "wsf", "wsh", "hta", "jar", "lnk", "reg", "sh", "app", "apk", "elf", "so", "dylib", "iso",
})
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# OLE2 directory entries are UTF-16LE names: VBA project storages mean macros.
OLE_MACRO_MARKERS = ("_VBA_PROJECT".encode("utf-16-le"), "Macros".encode("utf-16-le"))
ENGINE_NOTES = {
    "clamav": "Scanned by ClamAV.",
    "builtin": "Basic file check only (test signature, executables, macros); this is not an antivirus.",
}

Verdict = Literal["clean", "infected", "error"]


class ScannerUnavailable(Exception):
    """The scanner could not be reached or timed out: retry later, keep the file pending."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    verdict: Verdict
    detail: str | None
    engine: str


def engine_name() -> str:
    """``clamav`` when clamd is configured, else ``builtin``."""
    cfg = current_app.config
    return "clamav" if cfg.get("CLAMD_SOCKET") or cfg.get("CLAMD_HOST") else "builtin"


def scan_file(path: Path) -> ScanResult:
    """Scan one file with the configured engine; raises ScannerUnavailable when it cannot answer."""
    cfg = current_app.config
    if engine_name() == "clamav":
        timeout = float(cfg["CLAMD_TIMEOUT_S"])
        return clamd_scan(path, socket_path=cfg.get("CLAMD_SOCKET") or None, host=cfg.get("CLAMD_HOST") or None,
                          timeout=timeout)
    return builtin_scan(path)


# --- clamd ---------------------------------------------------------------------------

def _connect(socket_path: str | None, host: str | None, timeout: float) -> socket.socket:
    try:
        if socket_path:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(socket_path)
            return sock
        if host is None:
            raise ValueError("neither CLAMD_SOCKET nor CLAMD_HOST is set")
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "3310")
        return socket.create_connection((name.strip("[]"), int(port)), timeout=timeout)
    except (OSError, ValueError) as exc:
        raise ScannerUnavailable(f"clamd unreachable: {exc}") from exc


def clamd_scan(path: Path, *, socket_path: str | None = None, host: str | None = None,
               timeout: float = 60) -> ScanResult:
    """Stream ``path`` to clamd with zINSTREAM and read its one-line verdict."""
    sock = _connect(socket_path, host, timeout)
    try:
        with sock, path.open("rb") as fh:
            sock.sendall(b"zINSTREAM\0")
            while chunk := fh.read(CHUNK):
                sock.sendall(struct.pack("!L", len(chunk)) + chunk)
            sock.sendall(struct.pack("!L", 0))
            reply = b""
            while not reply.endswith(b"\0"):
                part = sock.recv(4096)
                if not part:
                    break
                reply += part
                if len(reply) > 8192:
                    break
    except OSError as exc:
        raise ScannerUnavailable(f"clamd failed: {exc}") from exc
    return parse_clamd_reply(reply.rstrip(b"\0").decode("utf-8", "replace").strip())


def parse_clamd_reply(reply: str) -> ScanResult:
    """``stream: OK`` / ``stream: <name> FOUND`` / ``… ERROR`` → a verdict."""
    if not reply:
        raise ScannerUnavailable("clamd closed the connection without a verdict")
    body = reply.split(":", 1)[1].strip() if ":" in reply else reply
    if body == "OK":
        return ScanResult("clean", None, "clamav")
    if body.endswith(" FOUND"):
        return ScanResult("infected", body[: -len(" FOUND")].strip()[:200] or "malware", "clamav")
    # "INSTREAM size limit exceeded. ERROR" and the like: a definite answer that is not "clean".
    return ScanResult("error", body[:200], "clamav")


# --- built-in ------------------------------------------------------------------------

def _contains(chunks: Iterator[bytes], needle: bytes) -> bool:
    """True if ``needle`` occurs in the byte stream, also when split across chunks."""
    tail = b""
    keep = len(needle) - 1
    for chunk in chunks:
        window = tail + chunk
        if needle in window:
            return True
        tail = window[-keep:]
    return False


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _read_chunks(fh: IO[bytes], budget: list[int]) -> Iterator[bytes]:
    while budget[0] > 0 and (chunk := fh.read(min(CHUNK, budget[0]))):
        budget[0] -= len(chunk)
        yield chunk


def _scan_zip(path: Path) -> str | None:
    """The reason to block a zip-based file, or None. Reads members bounded by the unpack budget."""
    cfg = current_app.config
    budget = [int(cfg["ZIP_MAX_UNCOMPRESSED"])]
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist()[: int(cfg["ZIP_MAX_MEMBERS"])]:
            base = info.filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
            reason = _zip_name_verdict(base)
            if reason:
                return reason
            if info.is_dir():
                continue
            reason = _zip_member_verdict(zf, info, base, budget)
            if reason or budget[0] <= 0:
                return reason
    return None


def _zip_name_verdict(base: str) -> str | None:
    """Block a zip member by its file name alone: VBA projects and executables."""
    if base == "vbaproject.bin" or base.endswith(".bin") and "vba" in base:
        return "Blocked.MacroDocument"
    if "." in base and base.rsplit(".", 1)[1] in EXECUTABLE_EXTENSIONS:
        return "Blocked.Executable"
    return None


def _zip_member_verdict(zf: zipfile.ZipFile, info: zipfile.ZipInfo, base: str, budget: list[int]) -> str | None:
    """Block a zip member by its content (macro-enabled Office parts, executables, OLE macros, EICAR).

    Reads at most what is left of ``budget`` (decremented in place).
    """
    if base == "[content_types].xml":
        with zf.open(info) as member:
            if b"macroenabled" in member.read(256 * 1024).lower():
                return "Blocked.MacroDocument"
    with zf.open(info) as member:
        head = member.read(8)
        budget[0] -= len(head)
        if head.startswith(EXECUTABLE_MAGIC):
            return "Blocked.Executable"
        if head.startswith(OLE_MAGIC):
            # An embedded OLE document (e.g. a .doc inside a zip): check it for macros too.
            data = head + member.read(min(budget[0], 64 * 1024 * 1024))
            budget[0] -= len(data) - len(head)
            if any(m in data for m in OLE_MACRO_MARKERS):
                return "Blocked.MacroDocument"
            return "Eicar-Test-Signature" if EICAR in data else None
        if _contains(_chain(head, _read_chunks(member, budget)), EICAR):
            return "Eicar-Test-Signature"
    return None


def builtin_scan(path: Path) -> ScanResult:
    """EICAR, executables and macro documents; not an antivirus (see module docstring)."""
    if _contains(_file_chunks(path), EICAR):
        return ScanResult("infected", "Eicar-Test-Signature", "builtin")
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(EXECUTABLE_MAGIC):
        return ScanResult("infected", "Blocked.Executable", "builtin")
    if head.startswith(OLE_MAGIC) and any(_contains(_file_chunks(path), m) for m in OLE_MACRO_MARKERS):
        return ScanResult("infected", "Blocked.MacroDocument", "builtin")
    if zipfile.is_zipfile(path):
        try:
            reason = _scan_zip(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError, EOFError):
            return ScanResult("error", "Archive could not be read", "builtin")
        if reason:
            return ScanResult("infected", reason, "builtin")
    return ScanResult("clean", None, "builtin")
