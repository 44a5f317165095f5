"""The ``pgc`` command line.

Exit codes: 0 when the graph is valid, 1 when it is not (input that is not JSON included,
and a graph that fails while it runs), 2 when a file cannot be read or written or the command
line is wrong, 3 for an error inside pgc (``Internal``: a bug, logged with its traceback
under ``--debug``; the user sees one line, never a traceback).

    pgc validate examples/evi.json
    pgc validate --json - < graph.json

One module per command (:mod:`~pgc.cli.validate`, :mod:`~pgc.cli.compile` for compile and
explain, :mod:`~pgc.cli.run`, :mod:`~pgc.cli.listings` for processes and collections,
:mod:`~pgc.cli.harness` for conformance and bench), with the options in
:mod:`~pgc.cli.parser`, diagnostics for people in :mod:`~pgc.cli.show` and what ``pgc run``
measures in :mod:`~pgc.cli.meters`. Each imports pgc's library inside its functions, so that
``pgc validate`` starts without numba, dask or GDAL (issue 19).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any

from .common import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, EXIT_USAGE, UsageError
from .compile import cmd_compile, cmd_explain
from .harness import cmd_bench, cmd_conformance
from .listings import cmd_collections, cmd_processes
from .meters import PeakMemory, ProgressBar, milliseconds, progress_bar, shows_progress
from .parser import build_parser
from .run import cmd_run, parse_parameter, parse_parameters
from .show import format_diagnostic
from .validate import cmd_validate

# The names pgc.cli had as one module, which tests and scripts import from here.
_ProgressBar, _progress_bar, _parameter = ProgressBar, progress_bar, parse_parameter

__all__ = [
    "EXIT_INTERNAL", "EXIT_INVALID", "EXIT_OK", "EXIT_USAGE", "PeakMemory", "ProgressBar",
    "UsageError", "build_parser", "cmd_bench", "cmd_collections", "cmd_compile",
    "cmd_conformance", "cmd_explain", "cmd_processes", "cmd_run", "cmd_validate",
    "format_diagnostic", "main", "milliseconds", "parse_parameter", "parse_parameters",
    "progress_bar", "shows_progress",
]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the ``pgc`` command ``argv`` (default: the process's arguments); return its exit
    code. Every exception ends here: a usage error, a diagnostic or ``Internal``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    from ..options import small_pages_for_numpy

    small_pages_for_numpy()
    parser = build_parser()
    if argv[:1] == ["bench"] and not {"-h", "--help"} & set(argv[1:2]):
        # everything after "bench" is the harness's, options included
        args = argparse.Namespace(run=cmd_bench, arguments=argv[1:])
    else:
        args = parser.parse_args(argv)
    if getattr(args, "debug", False):
        import logging

        logging.getLogger("pgc").addHandler(logging.StreamHandler(sys.stderr))
    for stream in (sys.stdout, sys.stderr):  # a lone surrogate in a node id must print
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    from ..options import Options, using

    try:
        options = Options.from_env()  # the one place pgc reads its environment variables
        options = _with_arguments(options, args)
    except ValueError as exc:
        print(f"pgc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        with using(options):
            return args.run(args)
    except BrokenPipeError:  # `pgc ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except UsageError as exc:
        print(f"pgc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the boundary: one line for the user, never a traceback
        from ..errors import from_exception

        code, message = from_exception(exc)
        if getattr(args, "json", False):
            print(json.dumps({"errors": [{"code": code, "message": message, "pointer": ""}]}))
        else:
            print(f"pgc: {code}: {message}", file=sys.stderr)
        return EXIT_INTERNAL if code == "Internal" else EXIT_INVALID


def _with_arguments(options: Any, args: argparse.Namespace) -> Any:
    """The options with what ``--catalog`` and ``--allow-host`` add."""
    from dataclasses import replace
    from pathlib import Path

    catalogs = tuple(Path(p) for p in getattr(args, "catalog", None) or ())
    hosts = tuple(getattr(args, "allow_host", None) or ())
    if not catalogs and not hosts:
        return options
    return replace(options, collections=(*options.collections, *catalogs),
                   allowed_hosts=(*options.allowed_hosts, *hosts))  # fmt: skip
