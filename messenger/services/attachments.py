"""Attachments: safe uploads from both sides, scanning, image processing, downloads.

Upload (``upload_by_visitor`` / ``upload_by_operator``):

1. the caller must see the conversation (NotFound otherwise), checked before any byte
   is read;
2. the body streams into a temporary file under ``UPLOAD_DIR/incoming``, counted while
   it streams: over the limit (images ``MAX_IMAGE_BYTES``, anything else
   ``MAX_FILE_BYTES``; the first bytes decide which) it stops at once with 413;
3. the type comes from the bytes (libmagic), checked against ``ALLOWED_TYPES`` and the
   inbox's ``allowed_types``; the client's filename and Content-Type are never trusted;
   an extension that claims another kind of file than the bytes is refused;
4. images must decode with at most ``MAX_IMAGE_PIXELS`` pixels; archives (and zip-based
   office files) must not expand past ``ZIP_MAX_UNCOMPRESSED``;
5. the row (status ``pending``) and the file (renamed to its random key) are written
   together: if either fails neither stays; the scan job is enqueued after commit.

The scan job (``scan_attachment``) sets ``clean`` (images re-encoded without EXIF/GPS,
thumbnail made), ``infected`` (quarantined, audit entry) or ``error``. A scanner outage
leaves the file ``pending`` and the job retries. Only ``clean`` files are ever served.
``docs/attachments.md`` has the outcome of every hostile case.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from pathlib import Path
from typing import Any
from typing import Protocol

import magic
import sqlalchemy as sa
from flask import current_app
from PIL import Image
from PIL import UnidentifiedImageError
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus

from messenger.db import after_commit
from messenger.db import transaction
from messenger.errors import Conflict
from messenger.errors import DomainError
from messenger.errors import NotFound
from messenger.errors import TooLarge
from messenger.errors import ValidationError
from messenger.extensions import db
from messenger.jobs import enqueue
from messenger.jobs import ensure_periodic
from messenger.jobs import schedule_periodic
from messenger.models import Attachment
from messenger.models import ContactSession
from messenger.models import Conversation
from messenger.models import Inbox
from messenger.models import Message
from messenger.models import User
from messenger.security import attachment_urls
from messenger.security import images
from messenger.services import audit
from messenger.services import conversations as conv_service
from messenger.services import scanning
from messenger.services.inboxes import can_see_inbox
from messenger.services.messages import attachment_to_dict
from messenger.services.storage import KEY_RE
from messenger.services.storage import Storage
from messenger.services.storage import get_storage
from messenger.services.storage import new_key
from messenger.services.visitors import Visitor
from messenger.services.visitors import require_not_blocked

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FileType:
    category: str
    extensions: tuple[str, ...]  # the first one is added when a filename lacks a fitting extension


_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
ALLOWED_TYPES: dict[str, FileType] = {
    "image/jpeg": FileType("image", ("jpg", "jpeg", "jpe", "jfif")),
    "image/png": FileType("image", ("png",)),
    "image/gif": FileType("image", ("gif",)),
    "image/webp": FileType("image", ("webp",)),
    "application/pdf": FileType("pdf", ("pdf",)),
    "text/plain": FileType("text", ("txt", "text", "log", "md", "csv", "tsv")),
    "text/csv": FileType("text", ("csv", "txt", "tsv")),
    "audio/mpeg": FileType("audio", ("mp3",)),
    "audio/ogg": FileType("audio", ("ogg", "oga", "opus")),
    "audio/x-wav": FileType("audio", ("wav",)),
    "audio/wav": FileType("audio", ("wav",)),
    "audio/flac": FileType("audio", ("flac",)),
    "audio/x-flac": FileType("audio", ("flac",)),
    "audio/x-m4a": FileType("audio", ("m4a",)),
    "audio/mp4": FileType("audio", ("m4a",)),
    "audio/aac": FileType("audio", ("aac",)),
    "video/mp4": FileType("video", ("mp4", "m4v")),
    "video/webm": FileType("video", ("webm",)),
    "video/quicktime": FileType("video", ("mov",)),
    "video/x-matroska": FileType("video", ("mkv",)),
    "video/ogg": FileType("video", ("ogv",)),
    _OOXML + "wordprocessingml.document": FileType("document", ("docx",)),
    _OOXML + "spreadsheetml.sheet": FileType("document", ("xlsx",)),
    _OOXML + "presentationml.presentation": FileType("document", ("pptx",)),
    _ODF + "text": FileType("document", ("odt",)),
    _ODF + "spreadsheet": FileType("document", ("ods",)),
    _ODF + "presentation": FileType("document", ("odp",)),
    "application/msword": FileType("document", ("doc",)),
    "application/vnd.ms-excel": FileType("document", ("xls",)),
    "application/vnd.ms-powerpoint": FileType("document", ("ppt",)),
    "application/vnd.ms-office": FileType("document", ("doc", "xls", "ppt")),
    "application/zip": FileType("archive", ("zip",)),
}
RASTER_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Pillow format → detected type; MPO is the multi-picture JPEG many phone cameras write.
_PILLOW_FORMATS = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
                   "WEBP": "image/webp"}
ZIP_BASED = frozenset({"application/zip"} | {m for m in ALLOWED_TYPES if m.startswith((_OOXML, _ODF))})
# Zip-based office files that libmagic may report as plain zip when their first member is unusual.
_ZIP_OFFICE_BY_EXTENSION = {t.extensions[0]: m for m, t in ALLOWED_TYPES.items() if m.startswith((_OOXML, _ODF))}
# What both UIs show under a file (the same strings as attachmentLabel() in static/js/common/upload.js).
STATUS_LABELS = {"pending": "Scanning…", "clean": "", "infected": "File removed: malware detected",
                 "error": "File unavailable: it could not be checked"}
SCAN_QUEUE = "scanning"
JOBS = "messenger.jobs.scanning"
SWEEP_INTERVAL_S = 300
_THUMB_SUFFIX = "_thumb"
_SNIFF_BYTES = 4096
_NAME_MAX = 150
_FORBIDDEN_NAME_CHARS = set('<>:"/\\|?*')


class UploadSource(Protocol):
    """A file being received: its client-side name and its bytes, read once, in order."""

    @property
    def filename(self) -> str:
        """The name the client gave (untrusted)."""

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes as they arrive."""


def _cfg(name: str) -> int:
    return int(current_app.config[name])


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- names and types ---------------------------------------------------------------

def clean_filename(raw: object) -> str:
    """A display name: no path, no control/format characters (bidi overrides, NUL), bounded length."""
    name = raw if isinstance(raw, str) else ""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    name = "".join("_" if ch in _FORBIDDEN_NAME_CHARS else ch for ch in name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > _NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot and stem else ""
        name = name[: _NAME_MAX - len(ext) - 1].rstrip(" .") + ("." + ext if ext else "")
    return name or "file"


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _categories_of_extension(ext: str) -> set[str]:
    return {t.category for t in ALLOWED_TYPES.values() if ext in t.extensions}


def display_name(raw: object, mime: str) -> str:
    """The stored filename for detected type ``mime``; raises when the extension claims another kind."""
    name = clean_filename(raw)
    ftype = ALLOWED_TYPES[mime]
    ext = _extension(name)
    if ext in ftype.extensions:
        return name
    claimed = _categories_of_extension(ext)
    if claimed and ftype.category not in claimed:
        raise ValidationError(f"The file's name says .{ext} but its contents are {mime}.", code="type_mismatch",
                              detected=mime)
    if claimed:
        return name  # the same kind of file (a JPEG named .png): the served type is the detected one
    name = name[: _NAME_MAX - len(ftype.extensions[0]) - 1]
    return f"{name}.{ftype.extensions[0]}"


def type_allowed(allowed: list[Any] | None, mime: str) -> bool:
    """The global allowlist, narrowed by an inbox's ``allowed_types`` when set (None: not narrowed).

    Entries may be a MIME type (``application/pdf``), a wildcard (``image/*``) or a
    category (``image``, ``pdf``, ``text``, ``audio``, ``video``, ``document``, ``archive``).
    """
    ftype = ALLOWED_TYPES.get(mime)
    if ftype is None:
        return False
    if allowed is None:
        return True
    for entry in allowed:
        if not isinstance(entry, str):
            continue
        entry = entry.strip().lower()
        if entry in (mime, ftype.category) or (entry.endswith("/*") and mime.startswith(entry[:-1])):
            return True
    return False


def detect_type(path: Path, raw_name: object) -> str:
    """The MIME type of the bytes (libmagic); zip-based office files are recognised from their members."""
    mime = magic.from_file(str(path), mime=True)
    if mime == "application/zip":
        office = _ZIP_OFFICE_BY_EXTENSION.get(_extension(clean_filename(raw_name)))
        if office is not None and _looks_like_office_zip(path):
            return office
    return mime


def _looks_like_office_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return "[Content_Types].xml" in names or "mimetype" in names


# --- receiving ---------------------------------------------------------------------

def _size_limit(mime: str, cap: int | None = None) -> int:
    """The global limit for this type, lowered to the inbox's ``max_upload_bytes`` (``cap``) when set."""
    limit = _cfg("MAX_IMAGE_BYTES") if mime.startswith("image/") else _cfg("MAX_FILE_BYTES")
    return limit if cap is None else min(limit, cap)


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"This file is too large (limit {_human(limit)}).", code="too_large", limit=limit)


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.3g} KB"
    return f"{size / (1024 * 1024):.3g} MB"


def _spool(chunks: Iterator[bytes], temp: Path, cap: int | None = None) -> tuple[int, str]:
    """Write the stream to ``temp``, stopping as soon as it passes the limit; return (size, sha256)."""
    hard_limit = max(_size_limit("image/", cap), _size_limit("application/", cap))
    limit = hard_limit
    head = b""
    size = 0
    digest = hashlib.sha256()
    with temp.open("xb") as out:
        for chunk in chunks:
            if not chunk:
                continue
            if len(head) < _SNIFF_BYTES:
                head += chunk[: _SNIFF_BYTES - len(head)]
                if len(head) >= _SNIFF_BYTES:
                    limit = _size_limit(magic.from_buffer(head, mime=True), cap)
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()


def _check_image(path: Path, mime: str) -> tuple[int, int]:
    """Width and height of a decodable raster image within the pixel limit."""
    max_pixels = _cfg("MAX_IMAGE_PIXELS")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                frames = int(getattr(img, "n_frames", 1) or 1)
                if width * height > max_pixels or width * height * frames > 4 * max_pixels:
                    raise ValidationError(f"This image has too many pixels (limit {max_pixels:,}).",
                                          code="image_too_large", limit=max_pixels)
                if _PILLOW_FORMATS.get(img.format or "") != mime:
                    raise ValidationError("This image could not be read.", code="invalid_image")
                img.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(f"This image has too many pixels (limit {max_pixels:,}).", code="image_too_large",
                              limit=max_pixels) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise ValidationError("This image could not be read.", code="invalid_image") from None
    if width <= 0 or height <= 0:
        raise ValidationError("This image could not be read.", code="invalid_image")
    return width, height


def _check_archive(path: Path) -> None:
    """Refuse unreadable zips and zip bombs by their declared sizes; nothing is unpacked."""
    max_total = _cfg("ZIP_MAX_UNCOMPRESSED")
    max_members = _cfg("ZIP_MAX_MEMBERS")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ValidationError("This archive could not be read.", code="invalid_archive") from None
    total = sum(max(info.file_size, 0) for info in infos)
    if len(infos) > max_members or total > max_total:
        raise ValidationError("This archive expands to too much data.", code="archive_too_large",
                              limit=max_total)


def _validate(temp: Path, size: int, raw_name: object, allowed: list[Any] | None,
              cap: int | None = None) -> tuple[str, str, tuple[int, int] | None]:
    """(mime, display name, image size) of a received file, or a 413/422 error."""
    if size == 0:
        raise ValidationError("This file is empty.", code="empty_file")
    mime = detect_type(temp, raw_name)
    if not type_allowed(allowed, mime):
        raise ValidationError(f"This type of file ({mime}) is not allowed here.", code="type_not_allowed",
                              detected=mime)
    limit = _size_limit(mime, cap)
    if size > limit:
        raise _too_large(limit)
    name = display_name(raw_name, mime)
    dims = _check_image(temp, mime) if mime in RASTER_TYPES else None
    if mime in ZIP_BASED:
        _check_archive(temp)
    return mime, name, dims


@dataclass(frozen=True, slots=True)
class _Target:
    conversation_id: int
    allowed_types: list[Any] | None
    max_bytes: int | None = None  # the inbox's own ceiling (admin setting)


def _target(conv: Conversation) -> _Target:
    inbox = db.session.get(Inbox, conv.inbox_id)
    if inbox is None:
        return _Target(conv.id, None)
    return _Target(conv.id, inbox.allowed_types, inbox.max_upload_bytes)


def _receive(target: _Target, source: UploadSource, *, user_id: int | None,
             contact_id: int | None) -> Attachment:
    # No transaction is open while the body streams in: a slow upload holds no connection.
    storage = get_storage()
    temp = storage.new_temp()
    key = new_key()
    stored = False
    try:
        size, sha256 = _spool(source.chunks(), temp, target.max_bytes)
        mime, name, dims = _validate(temp, size, source.filename, target.allowed_types, target.max_bytes)
        with transaction():
            att = Attachment(key=key, conversation_id=target.conversation_id, uploader_user_id=user_id,
                             uploader_contact_id=contact_id, filename=name, content_type=mime, size=size,
                             sha256=sha256, status="pending", width=dims[0] if dims else None,
                             height=dims[1] if dims else None)
            db.session.add(att)
            db.session.flush()
            storage.put(key, temp)
            stored = True
            attachment_id = att.id
            after_commit(lambda: request_scan(attachment_id))
    except BaseException as exc:
        with contextlib.suppress(OSError):  # a read-only disk refuses the clean-up too
            temp.unlink(missing_ok=True)
            if stored:
                storage.delete(key)
        if is_storage_error(exc):  # disk full, read-only, permissions: nothing was written (row rolled back)
            logger.error("upload to conversation %s refused: storage error %s", target.conversation_id, exc)
            raise UploadStorageError("The file could not be stored right now. Try again later.") from exc
        raise
    logger.info("attachment %s uploaded (%s, %s bytes) to conversation %s", attachment_id, mime, size,
                target.conversation_id)
    return att


def _check_declared_length(declared_length: int | None) -> None:
    hard_limit = max(_size_limit("image/"), _size_limit("application/"))
    # A multipart envelope adds a few hundred bytes; anything far beyond the limit is refused unread.
    if declared_length is not None and declared_length > hard_limit + 64 * 1024:
        raise _too_large(hard_limit)


def upload_by_visitor(visitor: Visitor, conversation_id: object, source: UploadSource, *,
                      declared_length: int | None = None) -> Attachment:
    """Receive a visitor's file into their conversation (NotFound for anyone else's)."""
    _check_declared_length(declared_length)
    with transaction():
        require_not_blocked(visitor)
        target = _target(conv_service.get_for_visitor(visitor, conversation_id))
    return _receive(target, source, user_id=None, contact_id=visitor.contact_id)


def upload_by_operator(user: User, conversation_id: object, source: UploadSource, *,
                       declared_length: int | None = None) -> Attachment:
    """Receive an operator's file into a conversation of an inbox they may see."""
    _check_declared_length(declared_length)
    with transaction():
        target = _target(conv_service.get_for_operator(user, conversation_id))
    return _receive(target, source, user_id=user.id, contact_id=None)


def _scan_job_id(attachment_id: int) -> str:
    return f"scan-attachment-{attachment_id}"


def request_scan(attachment_id: int) -> None:
    """Enqueue the scan job (queue ``scanning``), retried with backoff while the scanner is down."""
    intervals = [int(x) for x in str(current_app.config["SCAN_RETRY_INTERVALS"])
                 .split(",") if x.strip()]
    enqueue(SCAN_QUEUE, f"{JOBS}.scan_attachment", attachment_id, job_id=_scan_job_id(attachment_id),
            retry=Retry(max=len(intervals), interval=intervals), job_timeout=300, result_ttl=3600)
    ensure_sweeper()


def ensure_sweeper() -> None:
    """Start the periodic sweep chain unless one is already scheduled."""
    ensure_periodic(SCAN_QUEUE, f"{JOBS}.sweep_attachments", "attachments-sweep", SWEEP_INTERVAL_S)


def schedule_sweep() -> None:
    """Schedule the next sweep (the sweep job calls this first, so the chain keeps going)."""
    schedule_periodic(SCAN_QUEUE, f"{JOBS}.sweep_attachments", "attachments-sweep", SWEEP_INTERVAL_S)


def _scan_in_flight(attachment_id: int) -> bool:
    redis = current_app.extensions.get("redis")
    if redis is None:
        return False
    try:
        job = Job.fetch(_scan_job_id(attachment_id), connection=redis)
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED,
                                              JobStatus.DEFERRED)


def sweep() -> dict[str, int]:
    """Re-enqueue scans stuck in ``pending`` (lost enqueue, retries used up); purge old unsent uploads.

    Files still pending after ``SCAN_STALE_AFTER_S`` (default 1 h) are logged as an error:
    the scanner is probably down, and they stay undownloadable until it is back.
    """
    purged = purge_unsent(_cfg("UNSENT_UPLOAD_TTL_S"))
    stale_after = _cfg("SCAN_STALE_AFTER_S")
    with transaction():
        stale = list(db.session.scalars(sa.select(Attachment.id).where(
            Attachment.status == "pending",
            Attachment.created_at < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, stale_after))
            .order_by(Attachment.id).limit(1000)))
    rescanned = 0
    for attachment_id in stale:
        if not _scan_in_flight(attachment_id):
            request_scan(attachment_id)
            rescanned += 1
    if stale:
        logger.error("%d attachments still pending after %d s: is the scanner down?", len(stale), stale_after)
    return {"stale": len(stale), "rescanned": rescanned, "purged": purged}


def purge_unsent(older_than_s: int) -> int:
    """Delete uploads never sent in a message within ``older_than_s`` (row, file, thumbnail).

    Infected ones stay: their row and quarantined bytes are evidence for the admin.
    """
    storage = get_storage()
    with transaction():
        rows = db.session.execute(sa.delete(Attachment).where(
            Attachment.message_id.is_(None), Attachment.status != "infected",
            Attachment.created_at < sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, older_than_s))
            .returning(Attachment.key, Attachment.thumb_key)).all()
    for key, thumb_key in rows:
        storage.delete(key)
        if thumb_key:
            storage.delete(thumb_key)
    return len(rows)


def upload_to_dict(att: Attachment) -> dict[str, Any]:
    """The upload response: the attachment JSON plus which scanner will check it."""
    data = attachment_to_dict(att)
    engine = scanning.engine_name()
    data["scanner"] = {"engine": engine, "note": scanning.ENGINE_NOTES[engine]}
    return data


# --- scanning and processing (the job) ----------------------------------------------

class UploadStorageError(DomainError):
    """The upload directory cannot take the file now (full, read-only, permissions): 507, nothing kept."""

    status = 507
    code = "storage_unavailable"


class StorageUnavailable(scanning.ScannerUnavailable):
    """Reading or writing the upload directory failed (permissions, disk full, I/O): retry, keep pending."""


def is_storage_error(exc: BaseException) -> bool:
    """An operating-system error with an errno (EACCES, ENOSPC, EIO, EROFS, …), as opposed to a decoder's
    complaint about the file's content (Pillow raises OSError without an errno for those)."""
    return isinstance(exc, OSError) and exc.errno is not None


def scan_attachment(attachment_id: int) -> str:
    """Scan a pending attachment and settle its status; raises ScannerUnavailable to be retried."""
    with transaction():
        att = db.session.get(Attachment, attachment_id)
        if att is None or att.status != "pending":
            return att.status if att is not None else "missing"
        key, content_type = att.key, att.content_type
    # The scan runs outside any transaction; _settle re-checks the row under a lock.
    storage = get_storage()
    path = storage.local_path(key)
    if path is None:
        return _settle(attachment_id, "error", "The stored file is missing.")
    result = scanning.scan_file(path)
    if result.verdict == "infected":
        return _settle(attachment_id, "infected", result.detail, engine=result.engine)
    if result.verdict == "error":
        return _settle(attachment_id, "error", result.detail or "The scanner could not check this file.",
                       engine=result.engine)
    thumb_key = None
    size = None
    if content_type in RASTER_TYPES:
        try:
            size, thumb_key = _process_image(storage, key, content_type)
        except Exception as exc:
            if is_storage_error(exc):  # we could not work on it now: the file stays pending, the job retries
                logger.warning("attachment %s: storage error while processing, will retry: %s", attachment_id, exc)
                raise StorageUnavailable(f"storage error: {exc}") from exc
            # Any decoder failure (bombs included) means "this file is bad": final, not retried.
            logger.warning("attachment %s: image processing failed: %s", attachment_id, exc)
            return _settle(attachment_id, "error", "The image could not be processed.", engine=result.engine)
    try:
        return _settle(attachment_id, "clean", None, engine=result.engine, size=size, thumb_key=thumb_key)
    except BaseException:
        if thumb_key:
            storage.delete(thumb_key)
        raise


def _settle(attachment_id: int, status: str, detail: str | None, *, engine: str | None = None,
            size: int | None = None, thumb_key: str | None = None) -> str:
    """Write the verdict (row locked, still pending); quarantine and audit when infected."""
    storage = get_storage()
    with transaction():
        att = db.session.get(Attachment, attachment_id, with_for_update=True, populate_existing=True)
        if att is None or att.status != "pending":
            return att.status if att is not None else "missing"
        att.status = status
        att.scan_detail = f"{engine or 'scanner'}: {detail}"[:255] if detail else None
        att.scanned_at = _now()
        if size is not None:
            att.size = size
        att.thumb_key = thumb_key
        if status == "infected":
            storage.quarantine(att.key)
            audit.record(None, "attachment.infected", "attachment", att.id, key=att.key,
                         conversation_id=att.conversation_id, signature=detail, engine=engine,
                         filename=att.filename, sha256=att.sha256)
        elif status == "error":
            audit.record(None, "attachment.scan_error", "attachment", att.id, key=att.key,
                         conversation_id=att.conversation_id, detail=detail, engine=engine)
    logger.info("attachment %s scanned: %s %s", attachment_id, status, detail or "")
    return status


def _process_image(storage: Storage, key: str, mime: str) -> tuple[int, str]:
    """Re-encode the served image with pixels only (``security/images.py``: no metadata at all); make a thumbnail.

    Returns the new size and the thumbnail key.
    """
    path = storage.local_path(key)
    if path is None:
        raise RuntimeError("image processing needs storage with local files")
    thumb_px = _cfg("THUMBNAIL_PX")
    clean_temp = storage.new_temp()
    thumb_temp = storage.new_temp()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if img.width * img.height > _cfg("MAX_IMAGE_PIXELS"):
                    raise ValueError("too many pixels")
                images.reencode(img, clean_temp, mime)
                first = images.thumbnail_frame(img, mime)
        first.thumbnail((thumb_px, thumb_px))
        if first.mode in ("RGBA", "LA", "P", "PA"):
            first.convert("RGBA").save(thumb_temp, "PNG", optimize=True)
        else:
            first.convert("RGB").save(thumb_temp, "JPEG", quality=82)
        thumb_key = key + _THUMB_SUFFIX
        storage.put(thumb_key, thumb_temp)
        size = clean_temp.stat().st_size
        storage.put(key, clean_temp)
        return size, thumb_key
    finally:
        clean_temp.unlink(missing_ok=True)
        thumb_temp.unlink(missing_ok=True)


# --- access and downloads ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Download:
    path: Path
    content_type: str
    filename: str
    inline: bool
    etag: str


def _lookup(key: object) -> Attachment:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise NotFound("No such file.")
    att = db.session.scalar(sa.select(Attachment).where(Attachment.key == key))
    if att is None:
        raise NotFound("No such file.")
    return att


def _hidden_from_visitor(att: Attachment) -> bool:
    """Sent in a note, or in a message its author deleted."""
    row = db.session.execute(sa.select(Message.type, Message.deleted_at).where(Message.id == att.message_id)).first()
    return row is None or row.type == "note" or row.deleted_at is not None


def get_for_visitor(visitor: Visitor, key: object) -> Attachment:
    """The attachment if it is in this visitor's conversation and visible to them; NotFound otherwise.

    Visible: sent in a non-note message that was not deleted, or not yet sent and uploaded by this contact.
    """
    att = _lookup(key)
    conv = db.session.get(Conversation, att.conversation_id)
    if conv is None or conv.contact_id != visitor.contact_id or conv.inbox_id != visitor.inbox_id:
        raise NotFound("No such file.")
    if att.message_id is None:
        if att.uploader_contact_id != visitor.contact_id:
            raise NotFound("No such file.")
    elif _hidden_from_visitor(att):
        raise NotFound("No such file.")
    return att


def get_for_operator(user: User, key: object) -> Attachment:
    """The attachment if ``user`` may see its conversation's inbox; NotFound otherwise.

    Not yet sent uploads are visible only to the operator who uploaded them.
    """
    att = _lookup(key)
    conv = db.session.get(Conversation, att.conversation_id)
    if conv is None or not can_see_inbox(user, conv.inbox_id):
        raise NotFound("No such file.")
    if att.message_id is None and att.uploader_user_id != user.id:
        raise NotFound("No such file.")
    return att


def visitor_for_url(claims: attachment_urls.UrlClaims) -> Visitor | None:
    """The visitor a signed URL was minted for, if that session is still live (not reset or revoked)."""
    row = db.session.execute(
        sa.select(ContactSession.id, ContactSession.contact_id, ContactSession.inbox_id, ContactSession.token_id,
                  ContactSession.revoked_at).where(ContactSession.id == claims.session_id)).first()
    if row is None or row.revoked_at is not None or not attachment_urls.matches_session(claims, row.token_id):
        return None
    return Visitor(row.id, row.contact_id, row.inbox_id, row.token_id)


def download(att: Attachment, *, thumbnail: bool = False) -> Download:
    """What to serve for a visible attachment: only ``clean`` files, never quarantined ones."""
    if att.status == "pending":
        raise Conflict("This file is still being checked for viruses.", code="scanning", attachment_status=att.status)
    if att.status == "infected":
        raise Conflict("File removed: malware detected.", code="malware_detected", attachment_status=att.status)
    if att.status != "clean":
        raise Conflict("This file is unavailable: it could not be checked.", code="unavailable",
                       attachment_status=att.status)
    storage = get_storage()
    if thumbnail:
        if att.thumb_key is None:
            raise NotFound("This file has no preview.")
        path = storage.local_path(att.thumb_key)
        if path is None:
            raise NotFound("No such file.")
        with path.open("rb") as fh:
            head = fh.read(4)
        ctype = "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"
        stem = att.filename.rsplit(".", 1)[0]
        return Download(path, ctype, f"{stem}-preview.{'png' if ctype == 'image/png' else 'jpg'}", True,
                        f"{att.key}-t")
    path = storage.local_path(att.key)
    if path is None:
        raise NotFound("No such file.")
    return Download(path, att.content_type, att.filename, att.content_type in RASTER_TYPES,
                    f"{att.key}-{att.size}")
