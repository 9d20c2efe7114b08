"""Every metadata field of every image format is gone from served images and thumbnails
(issue 14 item 7, docs/security.md cases 3 and 33): EXIF, XMP, JPEG COM, PNG text chunks,
GIF comments, WebP EXIF/XMP, and ICC profiles (pixels converted to sRGB, profile dropped)."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from PIL import ImageCms
from PIL import PngImagePlugin

from tests.test_attachments import chat  # noqa: F401  (fixture)
from tests.test_attachments import scan
from tests.test_attachments import uploads  # noqa: F401  (fixture)
from tests.test_attachments import visitor_get
from tests.test_attachments import visitor_upload

MARK = "LEAKMARK"
XMP = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       f'<rdf:Description>{MARK}-xmp</rdf:Description></rdf:RDF></x:xmpmeta>')


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = f"{MARK}-make"  # Make
    exif[0x0131] = f"{MARK}-software"
    exif[0x0112] = 1  # Orientation
    return exif


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "JPEG", comment=f"{MARK}-com".encode(), exif=_exif(),
                                                    xmp=XMP.encode(), icc_profile=_icc())
    return out.getvalue()


def png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", f"{MARK}-text")
    info.add_text("Author", f"{MARK}-ztxt", zip=True)
    info.add_itxt("XML:com.adobe.xmp", XMP)
    out = io.BytesIO()
    Image.new("RGBA", (64, 48), (10, 200, 30, 128)).save(out, "PNG", pnginfo=info, exif=_exif(),
                                                          icc_profile=_icc())
    return out.getvalue()


def gif() -> bytes:
    frames = [Image.new("RGB", (64, 48), c).convert("P") for c in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=[100, 200, 300], loop=0,
                   comment=f"{MARK}-gif-comment".encode())
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 30, 200)).save(out, "WEBP", exif=_exif(), xmp=XMP.encode(),
                                                    icc_profile=_icc())
    return out.getvalue()


@pytest.mark.parametrize(("name", "make"), [("photo.jpg", jpeg), ("shot.png", png), ("anim.gif", gif),
                                            ("pic.webp", webp)])
def test_no_metadata_survives_in_the_served_image_or_thumbnail(client, chat, uploads, name, make) -> None:  # noqa: F811
    data = make()
    assert MARK.encode() in data  # the upload really carries it
    resp = visitor_upload(client, chat, data, name)
    assert resp.status_code == 201, resp.get_json()
    key = resp.get_json()["id"]
    att = scan(key)
    assert att.status == "clean" and (att.width, att.height) == (64, 48)
    for suffix in ("", "/thumb"):
        served = visitor_get(client, chat, key, suffix)
        assert served.status_code == 200
        assert MARK.encode() not in served.data, f"{name}{suffix} leaks metadata"
        with Image.open(io.BytesIO(served.data)) as img:
            assert "icc_profile" not in img.info and "comment" not in img.info and "xmp" not in img.info
            assert dict(img.getexif()) == {}
            if name.endswith("png") and not suffix:
                assert img.text == {}


def test_animation_timing_survives_the_clean_up(client, chat, uploads) -> None:  # noqa: F811
    key = visitor_upload(client, chat, gif(), "anim.gif").get_json()["id"]
    scan(key)
    with Image.open(io.BytesIO(visitor_get(client, chat, key).data)) as img:
        assert img.n_frames == 3 and img.info.get("loop") == 0
        durations = []
        for index in range(img.n_frames):
            img.seek(index)
            durations.append(img.info["duration"])
        assert durations == [100, 200, 300]
