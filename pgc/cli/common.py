"""What every ``pgc`` command shares: exit codes, usage errors and reading its inputs.

A usage error (a file that cannot be read, a bad option value) is the user's command
line, not the graph: :class:`UsageError` becomes one ``pgc: error: ...`` line and exit
code 2 in :func:`pgc.cli.main`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in the command line or its files: exit code 2, one line on stderr."""


def read_input(path: str) -> tuple[bytes, str]:
    """The bytes of FILE (``-``: stdin) and the name diagnostics give it."""
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        return Path(path).read_bytes(), path
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def load_specs(path: str | None):
    """The process definitions ``--specs`` names (None: pgc's own)."""
    from ..specs import SpecsError, load_specs

    try:
        return load_specs(path)
    except SpecsError as exc:
        raise UsageError(str(exc)) from None


def read_udps(paths: list[str]) -> list[Any]:
    """The user-defined processes of every ``--udp``: a JSON file with one process or a
    list of them, or a folder of such files."""
    out: list[Any] = []
    for path in paths:
        p = Path(path)
        files = sorted(p.glob("*.json")) if p.is_dir() else [p]
        for f in files:
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read user-defined processes from {f}: {exc}") from None
            out += doc if isinstance(doc, list) else [doc]
    return out
