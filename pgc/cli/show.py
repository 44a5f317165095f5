"""Diagnostics as people read them: place, code, message, hint and the offending line.

>>> from pgc.errors import Diagnostic
>>> from pgc.frontend.source import Source
>>> source = Source("g.json", None)
>>> d = Diagnostic("ProcessUnsupported", "Process 'ndvl' is not available.", "/a/process_id")
>>> print(format_diagnostic(d, source))
g.json: error ProcessUnsupported at /a/process_id
  Process 'ndvl' is not available.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def format_diagnostic(d, source) -> str:
    """One diagnostic for people: place, code, message, hint and the offending line."""
    place = source.name + (f":{d.line}:{d.column}" if d.line else "")
    head = f"{place}: {d.severity} {d.code}"
    if d.pointer:
        head += f" at {d.pointer}"
    lines = [head]
    if d.node_id is not None:
        lines.append(f"  node '{d.node_id}'" + (f" ({d.process_id})" if d.process_id else ""))
    lines.append(f"  {d.message}")
    if d.hint:
        lines.append(f"  hint: {d.hint}")
    text = source.line_text(d.line) if d.line else None
    if text is not None and len(text) <= 300:
        gutter = f"{d.line:>6} | "
        lines.append(gutter + text)
        lines.append(" " * (len(gutter) - 2) + "| " + " " * max(0, (d.column or 1) - 1) + "^")
    return "\n".join(lines)


def print_problems(exc, source) -> None:
    """Diagnostics as ``pgc validate`` prints them: file, line and column, code, pointer."""
    for d in exc.diagnostics:
        print(format_diagnostic(source.place(d), source))
    count = len(exc.diagnostics)
    print(f"{source.name}: invalid: {count} error{'s' if count != 1 else ''}")


def print_warnings(warnings: list, source: Any, as_json: bool) -> None:
    """Warnings of a run that went ahead (a ``--param`` the graph does not use), on stderr:
    stdout holds the result."""
    if not warnings:
        return
    if as_json:
        listed = [source.place(d).to_openeo() for d in warnings]
        print(json.dumps({"warnings": listed}, ensure_ascii=False), file=sys.stderr)
        return
    for d in warnings:
        print(format_diagnostic(source.place(d), source), file=sys.stderr)


def summary(result, name: str) -> str:
    """The last line of ``pgc validate``: valid or invalid, how many errors and warnings,
    and which validation ran."""
    n_err, n_warn = len(result.errors), len(result.warnings)
    # which validation ran (issue 18): catalog-free leaves collections, bands, dimensions
    # and extents unchecked, and a user must not read "valid" as more than it is
    mode = f"; mode: {result.mode}"
    if result.mode == "catalog-free":
        mode += " (collections, bands, dimensions and extents not checked)"
    if not n_err:
        extra = f" ({n_warn} warning{'s' if n_warn != 1 else ''})" if n_warn else ""
        return f"{name}: valid{extra}{mode}"
    return (
        f"{name}: invalid: {n_err} error{'s' if n_err != 1 else ''}"
        + (f", {n_warn} warning{'s' if n_warn != 1 else ''}" if n_warn else "")
        + mode
    )
