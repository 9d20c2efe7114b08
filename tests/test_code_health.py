"""The repository reads on its own: no pointers to design documents outside it, no dead doc links."""
from __future__ import annotations

import re
from pathlib import Path

from tests.helpers import ROOT

SKIP_DIRS = {".git", ".venv", "instance", "build", "dist", "test-artifacts", "__pycache__", ".pytest_cache",
             ".mypy_cache", ".ruff_cache", "node_modules"}
TEXT_SUFFIXES = {".py", ".md", ".js", ".css", ".html", ".txt", ".cfg", ".toml", ".ini", ".sh", ".json", ".yml",
                 ".yaml", ""}
# Design notes that lived next to the repository while it was young; the repository's own
# docs/architecture.md, docs/style.md and docs/security.md replace them.
OUTSIDE = re.compile(
    r"\bCASES\b|\b(?:PRODUCT|STYLE|ARCHITECTURE|CHATWOOT)\.md\b|\.\./shared/|js/shared/|/work/shared\b")
DOC_LINK = re.compile(r"\bdocs/([\w.-]+\.md)\b")
CASE_REF = re.compile(r"\b(reliability )?cases? (\d+)(?:(?:-|, )(\d+))*", re.IGNORECASE)


def _files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES and path != Path(__file__):
            found.append(path)
    return found


def test_nothing_refers_to_design_documents_outside_the_repository():
    offenders = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
                 for path in _files()
                 for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert not offenders, "point at docs/architecture.md, docs/style.md or docs/security.md instead:\n" + "\n".join(
        offenders)


def test_every_docs_page_the_repository_mentions_exists():
    missing = sorted({f"{path.relative_to(ROOT)}: docs/{name}"
                      for path in _files()
                      for name in DOC_LINK.findall(path.read_text(errors="replace"))
                      if not (ROOT / "docs" / name).exists()})
    assert not missing, missing


def test_numbered_cases_exist_in_docs_security():
    security = (ROOT / "docs" / "security.md").read_text()
    reliability = security.split("## Reliability cases", 1)[1].split("## Hostile-input cases", 1)
    counts = {True: len(re.findall(r"(?m)^\d+\. ", reliability[0])),
              False: len(re.findall(r"(?m)^\d+\. ", reliability[1]))}
    assert counts == {True: 9, False: 35}, counts
    wrong = []
    for path in _files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for match in CASE_REF.finditer(line):
                numbers = [int(x) for x in match.groups()[1:] if x]
                if max(numbers) > counts[bool(match.group(1))]:
                    wrong.append(f"{path.relative_to(ROOT)}:{n}: {match.group(0)}")
    assert not wrong, wrong


def test_tests_import_helpers_not_conftest():
    """Fixtures live in tests/conftest.py (pytest loads it); what tests import lives in tests/helpers.py."""
    offenders = [f"{path.relative_to(ROOT)}:{n}"
                 for path in (ROOT / "tests").rglob("*.py")
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"^\s*(from tests\.conftest import|import tests\.conftest\b)", line)]
    assert not offenders, offenders


def test_each_migration_header_names_its_own_revision():
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        text = path.read_text()
        header = re.search(r"^Revision ID: (\S+)", text, re.M)
        revision = re.search(r"^revision = ['\"]([^'\"]+)['\"]", text, re.M)
        assert header and revision and header.group(1) == revision.group(1), path.name
