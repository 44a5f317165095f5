"""``pgc compile`` and ``pgc explain``: the plan pgc makes of a graph, as IR text, openEO
JSON or dot, or explained with sizes and remarks; with ``--federation``, split into one
openEO graph per member job.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import EXIT_INVALID, EXIT_OK, UsageError, load_specs, read_input, read_udps
from .show import print_problems


def _compile(args: argparse.Namespace):
    """Compile FILE; on failure print the diagnostics and return None."""
    from ..compiler import compile as compile_graph
    from ..errors import PgcError
    from ..frontend.source import Source

    data, name = read_input(args.file)
    args.document = (data, name)  # read once (stdin): explain compiles it again lowered
    specs = load_specs(args.specs)
    try:
        from ..passes.manager import parse_pipeline

        parse_pipeline(args.pipeline)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    pipeline = args.pipeline
    if getattr(args, "kernels", False) or getattr(args, "dask", None) is True:
        # explain --kernels / --dask: the plan of the numba / dask executor
        from ..runner import with_kernels

        pipeline = with_kernels(pipeline)
    try:
        return compile_graph(
            data,
            pipeline=pipeline,
            specs=specs,
            name=name,
            user_processes=read_udps(args.udp),
        )
    except PgcError as exc:
        print_problems(exc, Source(name, data.decode("utf-8", "replace")))
        return None


def federate_file(args: argparse.Namespace):
    """Compile FILE for the federation ``--federation`` names; None after printing the
    diagnostics when the graph or the federation is invalid or cannot be placed."""
    from ..errors import PgcError
    from ..federation import Federation, federate
    from ..frontend.source import Source

    data, name = read_input(args.file)
    try:  # mistakes in the description point into its file, others into the graph
        federation = Federation.load(args.federation)
    except PgcError as exc:
        path = Path(args.federation)  # lines and columns for JSON (pointers follow JSON)
        json_text = path.suffix != ".toml" and path.is_file()
        text = path.read_text(encoding="utf-8", errors="replace") if json_text else None
        print_problems(exc, Source(str(path), text))
        return None
    try:
        return federate(data, federation, specs=load_specs(args.specs))
    except PgcError as exc:
        print_problems(exc, Source(name, data.decode("utf-8", "replace")))
        return None


def cmd_compile(args: argparse.Namespace) -> int:
    """``pgc compile FILE``: the optimized plan as ``--emit`` says, on stdout or in ``-o``."""
    if getattr(args, "federation", None):
        return _compile_federated(args)
    plan = _compile(args)
    if plan is None:
        return EXIT_INVALID
    if args.emit == "json":
        text = json.dumps(plan.to_openeo(), indent=2, ensure_ascii=False) + "\n"
    elif args.emit == "dot":
        text = plan.to_dot()
    else:
        text = plan.text()
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _compile_federated(args: argparse.Namespace) -> int:
    if not args.output:
        raise UsageError("compile --federation writes a folder: give it with -o DIR")
    result = federate_file(args)
    if result is None:
        return EXIT_INVALID
    from ..data.safepaths import UnsafeOutput
    from ..federation.split import write_jobs

    folder = Path(args.output)
    try:  # job files named by safe components of the job ids (plan.json: the ids)
        write_jobs(result.split, folder, overwrite=args.overwrite)
    except UnsafeOutput as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {folder}: {exc.strerror or exc}") from None
    jobs = ", ".join(f"{j.id} on {j.member}" for j in result.split.jobs)
    print(f"{len(result.split.jobs)} job(s): {jobs}; wrote {folder}/plan.json")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    """``pgc explain FILE``: the typed, optimized plan (with ``--kernels`` and ``--dask``,
    what those executors make of it), or a federation's placement."""
    if getattr(args, "federation", None):
        result = federate_file(args)
        if result is None:
            return EXIT_INVALID
        sys.stdout.write(result.explain())
        return EXIT_OK
    plan = _compile(args)
    if plan is None:
        return EXIT_INVALID
    sys.stdout.write(plan.explain(verbose=args.verbose))
    sys.stdout.write(_executor_line(args))
    if args.kernels:
        from ..executors.numba.kernel_run import describe

        sys.stdout.write("\n" + describe(plan))
    if args.dask:
        from ..executors.dask.explain import describe as where

        sys.stdout.write("\n" + where(plan))
    return EXIT_OK


def _executor_line(args: argparse.Namespace) -> str:
    """What ``pgc run`` with its default executor would run FILE with, and why
    (:func:`pgc.runner.choose_executor`)."""
    from ..runner import choose_executor

    data, name = args.document
    choice = choose_executor(data, pipeline=args.pipeline, specs=load_specs(args.specs),
                             name=name, user_processes=read_udps(args.udp))  # fmt: skip
    return f"# pgc run would use the {choice.executor} executor: {choice.reason}\n"
