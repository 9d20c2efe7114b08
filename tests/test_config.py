"""Configuration tells the truth: the README's table equals what config.py reads, every setting the
code uses comes from config.py, and create_app reads no environment."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from messenger.config import instance_path
from messenger.config import load_settings
from messenger.config import run_settings
from tests.helpers import ROOT
from tests.helpers import env_setting

# Set by create_app/init_extensions or by Flask and its extensions, not by the environment.
DERIVED = {"RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_OPTIONS", "RATELIMIT_SWALLOW_ERRORS", "TESTING", "SERVER_NAME"}


class RecordingEnviron(dict[str, str]):
    """An environment that remembers every variable asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def _read_by_config(tmp_path: Path) -> set[str]:
    environ = RecordingEnviron()
    load_settings(environ, tmp_path)
    run_settings(environ)
    instance_path(environ)
    return environ.asked


def _documented() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n#", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split(" | ")[0])}


def test_the_readme_table_and_config_py_name_the_same_variables(tmp_path):
    read, documented = _read_by_config(tmp_path), _documented()
    assert len(read) > 40
    assert read - documented == set(), "read by config.py but missing from the README's table"
    assert documented - read == set(), "in the README's table but never read by config.py"


def test_every_setting_the_code_reads_comes_from_config_py(tmp_path):
    known = set(load_settings({"SECRET_KEY": "x"}, tmp_path)) | set(Flask.default_config) | DERIVED
    pattern = re.compile(r'(?:config|cfg)(?:\.get\(|\[)"([A-Z][A-Z0-9_]+)"|_cfg\("([A-Z][A-Z0-9_]+)"')
    used = {name for path in (ROOT / "messenger").rglob("*.py")
            for match in pattern.finditer(path.read_text()) for name in match.groups() if name}
    assert len(used) > 30
    assert used - known == set(), "add these to load_settings (and the README's table)"


@pytest.mark.parametrize("name, value, expected", [
    ("MAX_IMAGE_PIXELS", "1000", 1000), ("THUMBNAIL_PX", "64", 64), ("ZIP_MAX_UNCOMPRESSED", "2048", 2048),
    ("ZIP_MAX_MEMBERS", "7", 7), ("CLAMD_TIMEOUT_S", "5", 5), ("SCAN_STALE_AFTER_S", "90", 90),
    ("UNSENT_UPLOAD_TTL_S", "600", 600), ("LOG_LEVEL", "debug", "DEBUG"),
])
def test_settings_once_ignored_are_read_from_the_environment(name, value, expected):
    # Their effect is tested where they act: tests/test_attachments.py ("settings from the environment").
    assert env_setting(name, value) == expected


def test_create_app_reads_no_environment_and_leaves_logging_to_the_entry_points(app, monkeypatch):
    from messenger import create_app

    monkeypatch.setenv("MAX_IMAGE_PIXELS", "7")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    root = logging.getLogger()
    before = (root.level, list(root.handlers))
    other = create_app({**app.config, "MAX_IMAGE_PIXELS": 1234})
    assert other.config["MAX_IMAGE_PIXELS"] == 1234
    assert (root.level, list(root.handlers)) == before
    assert "RQ_ASYNC" not in other.config
