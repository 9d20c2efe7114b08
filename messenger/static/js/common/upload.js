/**
 * Attachment helpers shared by the operator panel and the widget frame (ES module, no dependencies).
 *
 *   import {uploadFile, UploadError, attachmentLabel, formatSize, isPreviewable} from "/static/js/common/upload.js";
 *
 *   // Panel:  uploadFile(`/api/v1/conversations/${id}/attachments`, file, {headers: {"X-CSRFToken": csrf}})
 *   // Widget: uploadFile(`/widget/api/v1/conversations/${id}/attachments`, file, {headers: {"X-Visitor-Token": t}})
 *   const up = uploadFile(url, file, {headers, onProgress: (percent, loaded, total) => bar.value = percent});
 *   up.abort();                    // cancel (the promise rejects with code "aborted")
 *   const att = await up.promise;  // {id, filename, content_type, size, status: "pending", width, height,
 *                                  //  has_thumbnail, scanner: {engine, note}}
 *   // then send the message with attachment_keys / attachments: [att.id]
 *
 * Failures reject with UploadError {status, code, message}; `message` is ready to show:
 *   413 too_large          "This file is too large (limit 10 MB)."
 *   422 type_not_allowed   "This type of file (text/html) is not allowed here."
 *   422 type_mismatch / empty_file / invalid_image / image_too_large / archive_too_large / …
 *   0   network            "The upload failed: check your connection and try again."
 *
 * After upload the file is "pending" until the virus scan finishes; an `attachment.updated` event
 * carries the new status. attachmentLabel(att) gives the line to show under the file name
 * ("Scanning…", "File removed: malware detected", …); show scanner.note next to "Scanning…" when the
 * engine is "builtin" (it is not an antivirus). Downloads: only status "clean" is served.
 */

export const RASTER_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];

const LABELS = {
  pending: "Scanning…",
  clean: "",
  infected: "File removed: malware detected",
  error: "File unavailable: it could not be checked",
};

export class UploadError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.name = "UploadError";
    this.status = status;
    this.code = code;
    this.body = body || {};
  }
}

/** Upload one File/Blob as multipart field "file" with progress; returns {promise, abort}. */
export function uploadFile(url, file, {headers = {}, onProgress = null, filename = null} = {}) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("file", file, filename || file.name || "file");
    xhr.open("POST", url);
    xhr.responseType = "text";
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    if (onProgress) {
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100), e.loaded, e.total);
      };
    }
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status >= 200 && xhr.status < 300 && body) { resolve(body); return; }
      reject(errorFrom(xhr.status, body));
    };
    xhr.onerror = () => reject(new UploadError(0, "network", "The upload failed: check your connection and try again."));
    xhr.onabort = () => reject(new UploadError(0, "aborted", "The upload was cancelled."));
    xhr.send(form);
  });
  return {promise, abort: () => xhr.abort()};
}

function errorFrom(status, body) {
  const code = (body && body.error) || (status === 413 ? "too_large" : "error");
  let message = body && body.message;
  if (!message) {
    message = status === 413 ? "This file is too large."
      : status === 429 ? "Too many uploads: wait a moment and try again."
      : `The upload failed (${status}).`;
  }
  return new UploadError(status, code, message, body);
}

/** The status line to show for an attachment ("" when it is ready). */
export function attachmentLabel(att) {
  return LABELS[att && att.status] ?? "";
}

/** True when the attachment can be shown as an image preview. */
export function isPreviewable(att) {
  return !!att && att.status === "clean" && RASTER_TYPES.includes(att.content_type) && !!att.has_thumbnail;
}

/** "532 bytes", "14.2 KB", "3.4 MB". */
export function formatSize(bytes) {
  if (!Number.isFinite(bytes) || bytes < 1024) return `${bytes | 0} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
