"""Check that no module of pgc imports a ``_private`` name from another module (issue 19).

What another module needs is public there, with a docstring (DESIGN.md). A private name is
one that starts with one underscore (dunders such as ``__version__`` are public). Checked:
``from X import _name`` and ``import X._private_module`` in every file under ``pgc/``,
including imports inside functions, and the same imports from ``pgc`` in ``tools/`` and
``benchmarks/`` (they use pgc as its users do). Tests may reach into internals; the
package and its tools may not.

    python tools/check_private_imports.py        # exit 1 and a list when any is found
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(package: Path = ROOT / "pgc", only: str | None = None) -> list[str]:
    """Every import of a private name across modules in ``package`` (``only``: of the
    modules of that package alone), as ``file:line name``."""
    found = []
    for path in sorted(package.rglob("*.py")):
        if any(part.startswith(".") or part.endswith("venv") for part in path.parts):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        where = path.relative_to(package.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                if only is not None and module.split(".")[0] != only:
                    continue
                names = [a.name for a in node.names]
                bad = [n for n in names if _private(n)]
                bad += [module] if any(_private(p) for p in module.split(".")) else []
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names
                         if only is None or a.name.split(".")[0] == only]  # fmt: skip
                bad = [n for n in names if any(_private(p) for p in n.split("."))]
            else:
                continue
            found += [f"{where}:{node.lineno} {name}" for name in bad]
    return found


def main() -> int:
    found = private_imports()
    for folder in ("tools", "benchmarks"):
        found += private_imports(ROOT / folder, only="pgc")
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} imports of private names from other modules", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
