"""ru/en of the server-rendered pages: every string is translated and the compiled catalog is current."""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "messenger/translations/ru/LC_MESSAGES/messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "N_": None, "lazy_gettext": None}


def _source_messages() -> set[str]:
    method_map = [("**.py", "python"), ("templates/admin/**.html", "jinja2"),
                  ("templates/operator/account.html", "jinja2"), ("templates/operator/canned.html", "jinja2"),
                  ("templates/operator/account_tokens.html", "jinja2")]
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT / "messenger"), method_map=method_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_admin_string_has_a_russian_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="ru")
    translated = {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog
                  if m.id and (m.string if isinstance(m.string, str) else all(m.string))}
    missing = sorted(_source_messages() - translated)
    assert not missing, f"untranslated (see docs/admin.md, Languages): {missing[:10]}"


def test_compiled_catalog_matches_the_po_file() -> None:
    def flat(catalog):  # type: ignore[no-untyped-def]
        return {tuple(m.id) if not isinstance(m.id, str) else m.id:
                tuple(m.string) if not isinstance(m.string, str) else m.string for m in catalog if m.id}

    with PO.open("rb") as f:
        po = flat(read_po(f, locale="ru"))
    mo = flat(read_mo(BytesIO(PO.with_suffix(".mo").read_bytes())))
    assert mo == po, "run: pybabel compile -d messenger/translations"
