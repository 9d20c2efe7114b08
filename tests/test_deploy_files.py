"""Dockerfile and compose.yaml stay consistent with the README (they cannot be run here): every variable
they set is a documented setting, the web never uses --preload, and compose runs the four services."""
from __future__ import annotations

import re

from tests.helpers import ROOT

# Set for the container runtime or by the services' own images, not settings of ours.
NOT_OURS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def _documented() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))


def test_every_variable_the_containers_set_is_documented_and_the_web_never_preloads() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    compose = (ROOT / "compose.yaml").read_text()
    set_in_dockerfile = set(re.findall(r"\b([A-Z][A-Z0-9_]+)=", dockerfile.split("ENV", 1)[1].splitlines()[0]))
    set_in_compose = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+):", compose, re.M))
    used = (set_in_dockerfile | set_in_compose | set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", dockerfile))) - NOT_OURS
    assert used and used <= _documented(), used - _documented()
    commands = [line for line in (dockerfile + compose).splitlines() if not line.lstrip().startswith("#")]
    assert not any("--preload" in line for line in commands)
    assert "-k gevent" in dockerfile and "db upgrade" in dockerfile
    services = set(re.findall(r"^  ([a-z]+):$", compose, re.M))
    assert {"postgres", "redis", "web", "worker"} <= services
    assert "--appendonly" in compose  # Redis persists, like the embedded one
    assert 'command: ["python", "worker.py"]' in compose
