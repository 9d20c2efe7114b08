"""Static assets on the wire: precompressed (brotli + gzip), content-versioned, cached.

WhiteNoise (a maintained WSGI static file server) wraps the app and serves:

- ``/static/<version>/…``: the static tree under a version made from the content of every
  file in it, ``Cache-Control: max-age=31536000, public, immutable``. Templates get these
  URLs from ``url_for("static", …)``. ES modules import each other by relative paths, so a
  module graph always loads from one version: any change to any file makes a new version
  (one hash for the whole tree rather than per file, so no import needs rewriting).
- ``/static/…`` (unversioned, for links kept elsewhere) and ``/widget/loader.js``: short
  max-age (5 min), so a site that embeds the loader picks up a new release quickly.

At start the tree is copied once per version into ``instance/assets/<version>/`` and every
compressible file gets ``.br`` and ``.gz`` siblings (``whitenoise.compress``), which
WhiteNoise picks by the request's ``Accept-Encoding``. The loader is stored minified.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import rjsmin
from flask import Flask
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from messenger.security.headers import static_asset_headers

STATIC_ROOT = Path(__file__).resolve().parent / "static"
LOADER = STATIC_ROOT / "widget" / "loader.js"
SHORT_MAX_AGE = 300  # seconds: the loader and unversioned URLs
_SKIP = {".br", ".gz"}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in _SKIP and "__pycache__" not in p.parts)


def static_version(root: Path = STATIC_ROOT) -> str:
    """12 hex digits of the SHA-256 over every static file's path and bytes."""
    digest = hashlib.sha256()
    for path in _files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def minify_loader(source: str) -> str:
    """loader.js as sites download it: whitespace and comments removed by rjsmin (a maintained minifier)."""
    return str(rjsmin.jsmin(source))


def build(out_root: Path, version: str, root: Path = STATIC_ROOT) -> Path:
    """Copy and precompress the tree into ``out_root/<version>`` once; returns that folder.

    Built in a temporary folder and renamed into place, so concurrent workers starting
    together never serve a half-written tree.
    """
    target = out_root / version
    if target.is_dir():
        return target
    out_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=out_root))
    try:
        tree = work / "static"
        shutil.copytree(root, tree, ignore=shutil.ignore_patterns("*.br", "*.gz", "__pycache__"))
        loader = work / "loader" / "loader.js"
        loader.parent.mkdir()
        loader.write_text(minify_loader((root / "widget" / "loader.js").read_text(encoding="utf-8")),
                          encoding="utf-8")
        compressor = Compressor(quiet=True)
        for path in [*_files(tree), loader]:
            if compressor.should_compress(path.name):
                compressor.compress(str(path))
        try:
            os.rename(work, target)
        except OSError:
            if not target.is_dir():  # another worker won the rename: use theirs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(out_root, keep=target)
    return target


def _prune(out_root: Path, keep: Path, kept: int = 3) -> None:
    """Delete built versions but the newest ``kept`` (a worker still on the previous release keeps its files)."""
    versions = sorted((p for p in out_root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                      key=lambda p: p.stat().st_mtime, reverse=True)
    for old in versions[kept:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def _extra_headers(headers, path: str, url: str) -> None:  # type: ignore[no-untyped-def]
    # The security headers every response carries (WhiteNoise answers outside Flask's after_request).
    static_asset_headers(headers, url)


def serve_assets(app: Flask, version: str) -> None:
    """Wrap ``app.wsgi_app`` in WhiteNoise serving the built tree (see the module docstring)."""
    folder = build(Path(app.instance_path) / "assets", version)
    versioned = f"/static/{version}/"
    server = WhiteNoise(app.wsgi_app, max_age=SHORT_MAX_AGE, allow_all_origins=True,
                        add_headers_function=_extra_headers,
                        immutable_file_test=lambda path, url: url.startswith(versioned))
    server.add_files(str(folder / "static"), prefix=versioned)
    server.add_files(str(folder / "static"), prefix="/static/")
    server.add_files(str(folder / "loader"), prefix="/widget/")
    app.wsgi_app = server  # type: ignore[method-assign]
    app.extensions["static_version"] = version
