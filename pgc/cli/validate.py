"""``pgc validate``: every problem of a process graph, for people or as openEO error objects.

By default the graph is also typed with pgc's catalog (bands, dimensions, extents, as
``explain`` and ``run`` see them); ``--no-catalog`` checks structure and schemas only.
Exit 0 when valid, 1 when not, 3 when pgc itself failed (``Internal``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import (
    EXIT_INTERNAL,
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    load_specs,
    read_input,
    read_udps,
)
from .show import format_diagnostic, summary


def cmd_validate(args: argparse.Namespace) -> int:
    """``pgc validate FILE``: print the diagnostics and a summary; the exit code says valid."""
    from ..limits import Limits
    from ..validation import validate

    data, name = read_input(args.file)
    specs = load_specs(args.specs)
    changes = {
        k: v
        for k, v in (
            ("max_nodes", args.max_nodes),
            ("max_graph_depth", args.max_depth),
            ("max_json_depth", args.max_json_depth),
        )
        if v is not None
    }
    try:
        limits = Limits().replace(**changes)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    catalog = None
    if not args.no_catalog:  # typed with pgc's collections, as explain and run see them
        from ..data.catalog import default_catalog

        catalog = default_catalog()
    result = validate(
        data,
        catalog=catalog,
        specs=specs,
        user_processes=read_udps(args.udp),
        limits=limits,
        name=name,
    )
    shown = result.errors if args.no_warnings else result.diagnostics
    if args.json:
        out: dict[str, Any] = {"mode": result.mode}
        out["errors"] = [d.to_openeo() for d in result.errors]
        if not args.no_warnings:
            out["warnings"] = [d.to_openeo() for d in result.warnings]
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        for d in shown:
            print(format_diagnostic(d, result.source))
        print(summary(result, name))
    if any(d.code == "Internal" for d in result.errors):  # pgc's bug, not the graph's
        return EXIT_INTERNAL
    return EXIT_OK if result.ok else EXIT_INVALID
