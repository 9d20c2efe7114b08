"""HTTP side of attachments shared by the widget and operator APIs.

- ``MultipartUpload``: the ``file`` part of a ``multipart/form-data`` body, parsed as it
  streams (werkzeug's sans-IO decoder) so the service can count bytes and stop at the
  limit; nothing is buffered in memory or spooled elsewhere first.
- ``send_download``: the response for a file, with the headers of case 1 (docs/security.md) and
  OWASP: ``Content-Disposition`` (``attachment``; ``inline`` only for raster images)
  with an RFC 6266 ``filename*``, ``nosniff``, a sandboxing CSP, the stored type, and
  range requests (audio/video seeking).
"""
from __future__ import annotations

import unicodedata
from collections.abc import Generator
from collections.abc import Iterator
from urllib.parse import quote

from flask import Request
from flask import Response
from flask import send_file
from werkzeug.exceptions import ClientDisconnected
from werkzeug.sansio.multipart import Data
from werkzeug.sansio.multipart import Epilogue
from werkzeug.sansio.multipart import Field
from werkzeug.sansio.multipart import File
from werkzeug.sansio.multipart import MultipartDecoder
from werkzeug.sansio.multipart import NeedData

from messenger.errors import ValidationError
from messenger.services.attachments import Download

ATTACHMENT_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
_READ = 64 * 1024
_MAX_PARTS = 8


class MultipartUpload:
    """The first part named ``file`` of a multipart request, read lazily and only once."""

    def __init__(self, request: Request) -> None:
        if request.mimetype != "multipart/form-data" or not request.mimetype_params.get("boundary"):
            raise ValidationError("Send the file as multipart/form-data in a field named 'file'.",
                                  code="multipart_required")
        self._request = request
        self._state = "before"  # before -> in_file -> done
        self._events = self._parse()
        self._filename: str | None = None

    @property
    def filename(self) -> str:
        """The client's filename (untrusted), reading the body up to the file part's headers."""
        if self._filename is None:
            first = next(self._events, None)
            if first is None:
                raise ValidationError("No file was sent (field 'file').", code="file_required")
            self._filename = first.decode("utf-8", "replace")
        return self._filename

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes as they arrive."""
        _ = self.filename
        return self._events

    def _parse(self) -> Iterator[bytes]:
        """Yields the filename (encoded) once, then the file's data chunks."""
        boundary = self._request.mimetype_params["boundary"].encode("latin-1", "replace")
        # The decoder refuses to buffer more than max_form_memory_size: leave room for its
        # unconsumed tail (a possible boundary) on top of one full read.
        decoder = MultipartDecoder(boundary, max_form_memory_size=4 * _READ, max_parts=_MAX_PARTS)
        stream = self._request.stream
        while True:
            try:
                data = stream.read(_READ)
            except ClientDisconnected:
                raise ValidationError("The upload was interrupted.", code="upload_incomplete") from None
            try:
                decoder.receive_data(data or None)
                file_complete, epilogue = yield from self._drain(decoder)
            except ValueError:
                if self._state == "in_file" and not data:
                    raise ValidationError("The upload ended before the file did.", code="upload_incomplete") from None
                raise ValidationError("The upload is not valid multipart/form-data.",
                                      code="multipart_invalid") from None
            if file_complete:
                return
            if not data or epilogue:
                break
        if self._state == "in_file":
            raise ValidationError("The upload ended before the file did.", code="upload_incomplete")

    def _drain(self, decoder: MultipartDecoder) -> Generator[bytes, None, tuple[bool, bool]]:
        """Yield the filename, then file data, from the decoder's pending events.

        Returns (the file part is complete, the body's epilogue was reached).
        """
        event = decoder.next_event()
        while not isinstance(event, (Epilogue, NeedData)):
            if isinstance(event, File) and self._state == "before" and event.name == "file":
                self._state = "in_file"
                yield (event.filename or "").encode("utf-8", "replace")
            elif isinstance(event, (File, Field)) and self._state == "in_file":
                self._state = "done"
            elif isinstance(event, Data) and self._state == "in_file":
                if event.data:
                    yield event.data
                if not event.more_data:
                    return True, False
            event = decoder.next_event()
        return False, isinstance(event, Epilogue)


def content_disposition(disposition: str, filename: str) -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''…`` (RFC 6266 / RFC 5987)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    ascii_name = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch not in '"\\;' else "_" for ch in ascii_name).strip()
    return f"{disposition}; filename=\"{ascii_name or 'file'}\"; filename*=UTF-8''{quote(filename, safe='')}"


def send_download(download: Download) -> Response:
    """Serve one stored file with the safe headers (conditional and range requests included)."""
    ctype = download.content_type
    if ctype.startswith("text/"):
        ctype += "; charset=utf-8"
    response = send_file(download.path, mimetype=ctype, conditional=True, etag=download.etag, max_age=None)
    response.headers["Content-Disposition"] = content_disposition(
        "inline" if download.inline else "attachment", download.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = ATTACHMENT_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response
