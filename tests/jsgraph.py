"""The ES module graph of a static entry point, for size budgets and source checks."""
from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "messenger" / "static"
_IMPORT = re.compile(r"""(?:from|import)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""")


def module_graph(entry: Path) -> set[Path]:
    """Every JS module reachable from ``entry`` through static and dynamic relative imports."""
    seen: set[Path] = set()
    todo = [entry]
    while todo:
        path = todo.pop().resolve()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(path.parent / spec for spec in _IMPORT.findall(path.read_text(encoding="utf-8")))
    return seen
