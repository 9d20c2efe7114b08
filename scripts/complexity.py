"""Complexity gate: no function in messenger/ or bench/ above 15 (radon's cyclomatic complexity).

Ruff's C901 (mccabe) runs too, but it does not count boolean operators or comprehension
branches; radon does, so this catches the dense conditions ruff lets through. A function
whose ``def`` line carries ``# noqa: C901`` is reported but allowed (name its owner there).
Usage: python scripts/complexity.py [--max N] [paths...]; exits 1 on any violation.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Function

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = ("messenger", "bench", "worker.py", "wsgi.py")


def too_complex(path: Path, limit: int) -> list[tuple[Function, bool]]:
    """Functions and methods of one file above ``limit``, each with whether its ``def`` line waives it."""
    source = path.read_text()
    lines = source.splitlines()
    found = []
    for fn in cc_visit(source):  # functions and methods (flattened), plus classes
        if isinstance(fn, Function) and fn.complexity > limit:
            found.append((fn, "noqa: C901" in lines[fn.lineno - 1]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max", type=int, default=15)
    parser.add_argument("paths", nargs="*", default=DEFAULT_PATHS)
    args = parser.parse_args(argv)
    files = sorted(f for p in args.paths for f in ([ROOT / p] if p.endswith(".py") else (ROOT / p).rglob("*.py")))
    failed = 0
    for path in files:
        for fn, waived in too_complex(path, args.max):
            where = f"{path.relative_to(ROOT)}:{fn.lineno} {fn.fullname} ({fn.complexity})"
            print(f"{'waived' if waived else 'TOO COMPLEX'}: {where}", file=sys.stderr)
            failed += not waived
    if failed:
        print(f"{failed} function(s) above complexity {args.max}: split them along their own seams",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
