"""Re-encode images with their pixels only: every metadata field of every format goes.

Removed: EXIF (camera, GPS, serial numbers, software), XMP, IPTC/Photoshop blocks, JPEG
comments (COM) and APPn segments, PNG text chunks (tEXt/zTXt/iTXt), GIF comment and
application extensions other than the loop count, WebP EXIF/XMP chunks, and anything
after the image data. Kept: orientation (applied to the pixels, so the tag can go),
transparency, and for animations the frame durations and loop count.

ICC colour profiles: converted, not kept. A profile is a blob that can carry free text
(description, copyright, device model) and is a known fingerprinting vector, but
dropping it silently shifts colours of wide-gamut photos. So the pixels are converted to
sRGB with LittleCMS (Pillow's ImageCms) and the profile dropped; sRGB is what browsers
assume without one. A profile LittleCMS cannot read is dropped without conversion.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

from PIL import Image
from PIL import ImageCms
from PIL import ImageOps
from PIL import ImageSequence

logger = logging.getLogger(__name__)

# The only ``info`` keys the encoders may see: none of them carries text.
_KEEP = ("transparency", "duration", "loop", "background")
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def bare(img: Image.Image) -> Image.Image:
    """``img`` with every metadata entry removed from ``info`` (in place; returned for chaining)."""
    img.info = {key: value for key, value in img.info.items() if key in _KEEP}
    return img


def to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """The pixels converted from the embedded ICC profile to sRGB (the input when there is none)."""
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = "RGBA" if img.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        logger.info("unreadable ICC profile dropped without conversion")
        return img
    return converted if converted is not None else img


def _still(img: Image.Image) -> Image.Image:
    """One upright frame in sRGB without metadata."""
    icc = img.info.get("icc_profile")
    out = ImageOps.exif_transpose(img)
    out = to_srgb(out, icc if isinstance(icc, bytes) else None)
    if out.mode == "CMYK":
        out = out.convert("RGB")
    out.info = dict(img.info)
    return bare(out)


def _frames(img: Image.Image) -> tuple[list[Image.Image], list[int]]:
    frames, durations = [], []
    for frame in ImageSequence.Iterator(img):
        durations.append(int(frame.info.get("duration", 100) or 100))
        frames.append(bare(frame.copy()))
    return frames, durations


def reencode(img: Image.Image, target: Path, mime: str) -> None:
    """Save ``img`` to ``target`` in its own format with nothing but pixels (see the module docstring)."""
    if mime == "image/gif" or (mime == "image/webp" and getattr(img, "is_animated", False)):
        loop = img.info.get("loop", 0)
        frames, durations = _frames(img)
        options: dict[str, Any] = {"save_all": True, "append_images": frames[1:], "duration": durations,
                                   "loop": loop}
        if mime == "image/gif":
            frames[0].save(target, "GIF", comment=b"", **options)
        else:
            frames[0].save(target, "WEBP", quality=90, exif=b"", xmp=b"", **options)
        return
    out = _still(img)
    if mime == "image/jpeg":
        out.save(target, "JPEG", quality=92, exif=b"", comment=b"", xmp=b"")
    elif mime == "image/png":
        extra = {"transparency": out.info["transparency"]} if "transparency" in out.info else {}
        out.save(target, "PNG", optimize=False, exif=b"", **extra)
    else:
        out.save(target, "WEBP", quality=90, exif=b"", xmp=b"")


def thumbnail_frame(img: Image.Image, mime: str) -> Image.Image:
    """The first frame, upright and in sRGB, without metadata, for the thumbnail."""
    img.seek(0)
    if mime == "image/gif":
        return bare(img.copy())
    return _still(img.copy())
