"""Check that no module of pgc imports a ``_private`` name from another module (issue 19).

What another module needs is public there, with a docstring (DESIGN.md). A private name is
one that starts with one underscore (dunders such as ``__version__`` are public). Checked:
``from X import _name`` and ``import X._private_module`` in every file under ``pgc/``,
including imports inside functions. Tests may reach into internals; the package may not.

    python tools/check_private_imports.py        # exit 1 and a list when any is found
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(package: Path = ROOT / "pgc") -> list[str]:
    """Every import of a private name across modules in ``package``, as ``file:line name``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = path.relative_to(package.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                names = [a.name for a in node.names]
                bad = [n for n in names if _private(n)]
                bad += [module] if any(_private(p) for p in module.split(".")) else []
            elif isinstance(node, ast.Import):
                bad = [a.name for a in node.names if any(_private(p) for p in a.name.split("."))]
            else:
                continue
            found += [f"{where}:{node.lineno} {name}" for name in bad]
    return found


def main() -> int:
    found = private_imports()
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} imports of private names from other modules", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
