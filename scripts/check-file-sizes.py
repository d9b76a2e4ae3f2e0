#!/usr/bin/env python3
"""Every Python file under src/ over 800 lines says why in its module docstring.

A long file is allowed when its docstring carries a line that starts with "Size:" and gives the
reason (a question bank, one state machine that reads best in one place). Any other file over
the limit is printed with its line count and the check fails.

Usage: scripts/check-file-sizes.py [ROOT ...]   (default: src)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIMIT = 800
REPO = Path(__file__).resolve().parent.parent


def has_reason(source: str) -> bool:
    """Whether the module docstring has a line starting with "Size:"."""
    try:
        docstring = ast.get_docstring(ast.parse(source), clean=True)
    except SyntaxError:
        return False
    return any(line.strip().startswith("Size:") for line in (docstring or "").splitlines())


def main(argv: list[str]) -> int:
    roots = [Path(a) for a in argv] or [REPO / "src"]
    checked = 0
    long_with_reason = 0
    offenders: list[tuple[Path, int]] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            checked += 1
            source = path.read_text(encoding="utf-8")
            lines = len(source.splitlines())
            if lines <= LIMIT:
                continue
            if has_reason(source):
                long_with_reason += 1
            else:
                offenders.append((path, lines))
    for path, lines in offenders:
        shown = path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
        print(f"{shown}: {lines} lines, over {LIMIT} with no 'Size:' line in its docstring")
    if offenders:
        return 1
    print(
        f"file sizes: {checked} files checked, none over {LIMIT} lines without a reason"
        f" ({long_with_reason} over it with one)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
