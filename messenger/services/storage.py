"""Where attachment bytes live: one small interface, a local-directory backend.

Keys are random ids minted by the server (never a client's filename), checked against
``KEY_RE`` before they touch a path. Three areas under ``UPLOAD_DIR`` (outside
``static/``, never served by a web server directly):

- ``incoming/`` temporary files while an upload streams in (same filesystem, so moving
  one into place is an atomic rename);
- ``files/`` stored attachments and thumbnails, fanned out by the key's first two
  characters;
- ``quarantine/`` infected files, kept for the admin and never served.

An S3-compatible backend would implement the same ``Storage`` protocol (``local_path``
returning None, downloads streamed through ``open``).
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO
from typing import Protocol

from flask import current_app

KEY_RE = re.compile(r"^[A-Za-z0-9_-]{16,80}$")


def new_key() -> str:
    """A random 128-bit key (22 URL-safe characters): public id and storage name at once."""
    return secrets.token_urlsafe(16)


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ValueError("invalid storage key")
    return key


class Storage(Protocol):
    """What the attachment service needs from a store."""

    def new_temp(self) -> Path:
        """A fresh local temporary path for an incoming upload (the caller removes it)."""

    def put(self, key: str, temp: Path) -> None:
        """Move the finished temporary file into the store under ``key``."""

    def open(self, key: str) -> BinaryIO:
        """Read a stored file."""

    def local_path(self, key: str) -> Path | None:
        """The file on local disk, when the backend has one (lets downloads use sendfile and ranges)."""

    def exists(self, key: str) -> bool:
        """True if ``key`` is stored (not quarantined)."""

    def delete(self, key: str) -> None:
        """Remove a stored file; missing is fine."""

    def erase(self, key: str) -> None:
        """Remove every copy of a file, quarantined ones included; missing is fine."""

    def quarantine(self, key: str) -> None:
        """Move a stored file out of reach of every download path."""

    def is_quarantined(self, key: str) -> bool:
        """True if ``key`` sits in quarantine."""


class LocalStorage:
    """A directory on local disk (``UPLOAD_DIR``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _area(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def _path(self, key: str) -> Path:
        key = _check_key(key)
        return self.root / "files" / key[:2] / key

    def _quarantine_path(self, key: str) -> Path:
        return self.root / "quarantine" / _check_key(key)

    def new_temp(self) -> Path:
        """A fresh temporary path under ``incoming/``."""
        return self._area("incoming") / f"{secrets.token_hex(16)}.part"

    def put(self, key: str, temp: Path) -> None:
        """Atomically rename the temporary file into ``files/``."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(temp, target)

    def open(self, key: str) -> BinaryIO:
        """Open a stored file for reading."""
        return self._path(key).open("rb")

    def local_path(self, key: str) -> Path | None:
        """The stored file's path, or None if missing."""
        path = self._path(key)
        return path if path.is_file() else None

    def exists(self, key: str) -> bool:
        """True if stored (quarantined files do not count)."""
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove a stored file if present."""
        self._path(key).unlink(missing_ok=True)

    def erase(self, key: str) -> None:
        """Remove every copy of a file, quarantined included (data erasure)."""
        self._path(key).unlink(missing_ok=True)
        self._quarantine_path(key).unlink(missing_ok=True)

    def quarantine(self, key: str) -> None:
        """Move the file to ``quarantine/`` (same filesystem: a rename)."""
        source = self._path(key)
        target = self._quarantine_path(key)
        self._area("quarantine")
        if source.is_file():
            shutil.move(str(source), str(target))

    def is_quarantined(self, key: str) -> bool:
        """True if the file sits in ``quarantine/``."""
        return self._quarantine_path(key).is_file()


def get_storage() -> Storage:
    """The configured store for the current app (local directory ``UPLOAD_DIR``)."""
    return LocalStorage(current_app.config["UPLOAD_DIR"])
