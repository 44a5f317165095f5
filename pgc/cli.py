"""The ``pgc`` command line.

Exit codes: 0 when the graph is valid, 1 when it is not (input that is not JSON included,
and a graph that fails while it runs), 2 when a file cannot be read or written or the command
line is wrong, 3 for an error inside pgc (``Internal``: a bug, logged with its traceback
under ``--debug``; the user sees one line, never a traceback).

    pgc validate examples/evi.json
    pgc validate --json - < graph.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 on usage errors, as we want
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"pgc: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--specs",
        metavar="PATH",
        help="process definitions to use instead of pgc's (also: $PGC_SPECS)",
    )
    graph_args = argparse.ArgumentParser(add_help=False, parents=[common])
    graph_args.add_argument(
        "file", metavar="FILE", help="openEO JSON or pgc IR text; - reads stdin"
    )
    graph_args.add_argument(
        "-p",
        "--pipeline",
        default="default",
        help="passes to run, e.g. dce,cse,fold; 'none' runs no passes",
    )
    graph_args.add_argument(
        "--udp",
        metavar="PATH",
        action="append",
        default=[],
        help="user-defined processes the graph may call (repeatable)",
    )
    parser = _Parser(prog="pgc", description="A compiler for openEO process graphs.")
    parser.add_argument("--version", action="version", version=f"pgc {_version()}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="print the traceback of an internal error (the operator's log) on stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    v = sub.add_parser(
        "validate",
        parents=[common],
        help="validate a process graph",
        description="Validate an openEO process graph and report every problem.",
    )
    v.add_argument("file", metavar="FILE", help="the process graph (JSON); - reads stdin")
    v.add_argument("--json", action="store_true", help="print openEO error objects as JSON")
    v.add_argument(
        "--udp",
        metavar="PATH",
        action="append",
        default=[],
        help="user-defined processes the graph may call: a JSON file with one "
        "process or a list of them, or a folder of such files (repeatable)",
    )
    v.add_argument("--max-nodes", type=int, metavar="N", help="limit on process nodes")
    v.add_argument(
        "--max-depth", type=int, metavar="N", help="limit on the nesting of child process graphs"
    )
    v.add_argument(
        "--max-json-depth",
        type=int,
        metavar="N",
        help="limit on the nesting of JSON arrays and objects",
    )
    v.add_argument("--no-warnings", action="store_true", help="report errors only")
    v.add_argument(
        "--no-catalog",
        action="store_true",
        help="check structure and schemas only, for graphs whose collections pgc does not "
        "have (by default the graph is also typed with pgc's catalog: bands, dimensions, "
        "extents)",
    )
    v.set_defaults(run=cmd_validate)

    c = sub.add_parser(
        "compile",
        parents=[graph_args],
        help="compile a graph to IR, JSON or dot",
        description="Compile an openEO graph (JSON) or pgc IR text.",
    )
    c.add_argument("--emit", choices=["ir", "json", "dot"], default="ir")
    c.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")
    c.add_argument(
        "--overwrite",
        action="store_true",
        help="with --federation: write into a folder -o names that is not empty, replacing "
        "the files pgc writes there (and nothing else)",
    )
    c.add_argument(
        "--federation",
        metavar="FED",
        help="split for a federation (JSON/TOML): one openEO graph per member job and "
        "plan.json, written to the folder -o names",
    )
    c.set_defaults(run=cmd_compile)

    e = sub.add_parser(
        "explain",
        parents=[graph_args],
        help="print the typed, optimized plan",
        description="Print the optimized typed plan with sizes and remarks.",
    )
    e.add_argument("--verbose", action="store_true", help="print the plan after each pass")
    e.add_argument(
        "--kernels", action="store_true", help="also print the fused numba kernels' source"
    )
    e.add_argument(
        "--dask",
        action="store_true",
        help="also say which nodes the dask executor runs chunk by chunk and which whole",
    )
    e.add_argument(
        "--federation",
        metavar="FED",
        help="show the placement on a federation's members, the bytes crossing each cut "
        "and the two baseline strategies",
    )
    e.set_defaults(run=cmd_explain)

    r = sub.add_parser(
        "run",
        parents=[graph_args],
        help="run a graph with the reference executor",
        description="Run a process graph end to end on the catalog's data.",
    )
    r.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="where to write what save_result saves, in its format (a suffix naming "
        "another format, x.nc for GTiff, is an error); a graph without save_result is "
        "written in the format the suffix names (.tif .nc .zarr .json .csv .geojson)",
    )
    r.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output that exists (a file, or a Zarr store pgc wrote; never "
        "another folder)",
    )
    r.add_argument("--preview", metavar="PNG", help="also write a quick-look PNG of the result")
    r.add_argument(
        "--stats",
        action="store_true",
        help="report bytes read, time per stage, the kernels' compile and run time (numba) "
        "and this run's peak memory",
    )
    r.add_argument(
        "--param",
        metavar="NAME=JSON",
        action="append",
        default=[],
        help="a value for a graph parameter (repeatable): JSON, or a bare word for a "
        "string; checked before the run against the schema the process declares (or, "
        "where it declares none, the arguments the parameter is passed to)",
    )
    r.add_argument(
        "--executor",
        choices=["reference", "numba", "dask"],
        default="reference",
        help="numba: elementwise work as fused kernels (the rest as the reference); dask: "
        "loads and kernels chunk by chunk",
    )
    r.add_argument(
        "--dask",
        metavar="WHERE",
        help="run with the dask executor on a dask.distributed cluster: tcp://HOST:PORT, or "
        "local:N to start N local worker processes",
    )
    r.add_argument(
        "--chunk", type=int, metavar="PIXELS", help="dask: the side of a chunk in pixels"
    )
    r.add_argument(
        "--python-udf",
        action="store_true",
        help="let run_udf run Python UDFs (in a separate process; off by default because it "
        "executes code from the graph)",
    )
    r.add_argument(
        "--udf-timeout",
        type=float,
        metavar="SECONDS",
        help="time limit of one run_udf call, process start included (default 60)",
    )
    r.add_argument(
        "--allow-read",
        metavar="DIR",
        action="append",
        default=[],
        help="a folder load_stac and load_url may read (repeatable): the URL "
        "https://pgc-files.invalid/PATH names the local file /PATH, which must be inside "
        "it (symlinks resolved); every other URL is refused",
    )
    r.add_argument(
        "--udf-memory",
        type=float,
        metavar="MB",
        help="memory (address space) of one run_udf process (default 4096)",
    )
    r.add_argument("--json", action="store_true", help="print errors as openEO error objects")
    r.add_argument(
        "--max-seconds",
        type=float,
        metavar="S",
        help="the run's time budget (RequestTimeout past it; default: none)",
    )
    r.add_argument(
        "--max-cube-bytes",
        type=int,
        metavar="N",
        help="the budget of one intermediate cube, in bytes (default 8 GiB)",
    )
    r.set_defaults(run=cmd_run)

    cf = sub.add_parser(
        "conformance",
        parents=[common],
        help="run openEO process test vectors (json5) against an executor",
        description="Run the openEO process test vectors in PATH.",
    )
    cf.add_argument("path", metavar="PATH", help="a folder of *.json5 test files")
    cf.add_argument("--executor", default="reference", choices=["reference", "numba", "dask"])
    cf.add_argument(
        "--pipeline",
        default="none",
        help="the passes to run before executing each case: none (default: the graph as "
        "written), default (as pgc run does), or a comma-separated list of passes",
    )
    cf.add_argument("--json", action="store_true", help="print every case's result as JSON")
    cf.add_argument("--failures", action="store_true", help="list the failed cases")
    cf.add_argument(
        "--as-published",
        action="store_true",
        help="run every vector unchanged (by default pgc's errata correct the vectors that "
        "contradict their process definitions, and say so)",
    )
    cf.add_argument("--errata", metavar="FILE", help="errata to apply instead of pgc's own")
    cf.add_argument(
        "--expected",
        metavar="FILE",
        help="case ids that must pass (one per line); exit 1 if one fails",
    )
    cf.add_argument(
        "--write-expected", metavar="FILE", help="write the ids of the cases that passed to FILE"
    )
    cf.set_defaults(run=cmd_conformance)

    b = sub.add_parser(
        "bench",
        help="run the band-math benchmark harness (from a source checkout)",
        description="Run benchmarks/bench_kernels.py: pgc's numba and reference executors "
        "against numpy, xarray, numexpr, the openEO Python stack and the memory-bandwidth "
        "bound. The arguments after 'bench' are the harness's (pgc bench -- --help).",
    )
    b.add_argument("arguments", nargs=argparse.REMAINDER, help="the harness's arguments")
    b.set_defaults(run=cmd_bench)

    k = sub.add_parser(
        "collections",
        help="list the collections pgc can load",
        description="List the catalog, as an openEO back-end's /collections.",
    )
    k.add_argument("--json", action="store_true", help="print the STAC collection documents")
    k.set_defaults(run=cmd_collections)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
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
    try:
        return args.run(args)
    except BrokenPipeError:  # `pgc ... | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except _UsageError as exc:
        print(f"pgc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the boundary: one line for the user, never a traceback
        from .errors import from_exception

        code, message = from_exception(exc)
        if getattr(args, "json", False):
            print(json.dumps({"errors": [{"code": code, "message": message, "pointer": ""}]}))
        else:
            print(f"pgc: {code}: {message}", file=sys.stderr)
        return EXIT_INTERNAL if code == "Internal" else EXIT_INVALID


class _UsageError(Exception):
    pass


def _read_input(path: str) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        return Path(path).read_bytes(), path
    except OSError as exc:
        raise _UsageError(f"cannot read {path}: {exc.strerror or exc}") from None


def _load_specs(path: str | None):
    from .specs import SpecsError, load_specs

    try:
        return load_specs(path)
    except SpecsError as exc:
        raise _UsageError(str(exc)) from None


def _read_udps(paths: list[str]) -> list[Any]:
    out: list[Any] = []
    for path in paths:
        p = Path(path)
        files = sorted(p.glob("*.json")) if p.is_dir() else [p]
        for f in files:
            try:
                doc = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise _UsageError(f"cannot read user-defined processes from {f}: {exc}") from None
            out += doc if isinstance(doc, list) else [doc]
    return out


def cmd_validate(args: argparse.Namespace) -> int:
    from .limits import Limits
    from .validation import validate

    data, name = _read_input(args.file)
    specs = _load_specs(args.specs)
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
        raise _UsageError(str(exc)) from None
    catalog = None
    if not args.no_catalog:  # typed with pgc's collections, as explain and run see them
        from .data.catalog import default_catalog

        catalog = default_catalog()
    result = validate(
        data,
        catalog=catalog,
        specs=specs,
        user_processes=_read_udps(args.udp),
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
        print(_summary(result, name))
    if any(d.code == "Internal" for d in result.errors):  # pgc's bug, not the graph's
        return EXIT_INTERNAL
    return EXIT_OK if result.ok else EXIT_INVALID


def _compile(args: argparse.Namespace):
    """Compile FILE; on failure print the diagnostics and return None."""
    from .compiler import compile as compile_graph
    from .errors import PgcError
    from .frontend.source import Source

    data, name = _read_input(args.file)
    specs = _load_specs(args.specs)
    try:
        from .passes.manager import parse_pipeline

        parse_pipeline(args.pipeline)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    pipeline = args.pipeline
    if getattr(args, "kernels", False) or getattr(args, "dask", None) is True:
        # explain --kernels / --dask: the plan of the numba / dask executor
        from .runner import with_kernels

        pipeline = with_kernels(pipeline)
    try:
        return compile_graph(
            data,
            pipeline=pipeline,
            specs=specs,
            name=name,
            user_processes=_read_udps(args.udp),
        )
    except PgcError as exc:
        _print_problems(exc, Source(name, data.decode("utf-8", "replace")))
        return None


def _federate(args: argparse.Namespace):
    """Compile FILE for the federation ``--federation`` names; None after printing the
    diagnostics when the graph or the federation is invalid or cannot be placed."""
    from .errors import PgcError
    from .federation import Federation, federate
    from .frontend.source import Source

    data, name = _read_input(args.file)
    try:  # mistakes in the description point into its file, others into the graph
        federation = Federation.load(args.federation)
    except PgcError as exc:
        path = Path(args.federation)  # lines and columns for JSON (pointers follow JSON)
        json_text = path.suffix != ".toml" and path.is_file()
        text = path.read_text(encoding="utf-8", errors="replace") if json_text else None
        _print_problems(exc, Source(str(path), text))
        return None
    try:
        return federate(data, federation, specs=_load_specs(args.specs))
    except PgcError as exc:
        _print_problems(exc, Source(name, data.decode("utf-8", "replace")))
        return None


def _print_problems(exc, source) -> None:
    """Diagnostics as ``pgc validate`` prints them: file, line and column, code, pointer."""
    for d in exc.diagnostics:
        print(format_diagnostic(source.place(d), source))
    count = len(exc.diagnostics)
    print(f"{source.name}: invalid: {count} error{'s' if count != 1 else ''}")


def cmd_compile(args: argparse.Namespace) -> int:
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
            raise _UsageError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _compile_federated(args: argparse.Namespace) -> int:
    if not args.output:
        raise _UsageError("compile --federation writes a folder: give it with -o DIR")
    result = _federate(args)
    if result is None:
        return EXIT_INVALID
    from .data.safepaths import UnsafeOutput
    from .federation.split import write_jobs

    folder = Path(args.output)
    try:  # job files named by safe components of the job ids (plan.json: the ids)
        write_jobs(result.split, folder, overwrite=args.overwrite)
    except UnsafeOutput as exc:
        raise _UsageError(str(exc)) from None
    except OSError as exc:
        raise _UsageError(f"cannot write {folder}: {exc.strerror or exc}") from None
    jobs = ", ".join(f"{j.id} on {j.member}" for j in result.split.jobs)
    print(f"{len(result.split.jobs)} job(s): {jobs}; wrote {folder}/plan.json")
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    if getattr(args, "federation", None):
        result = _federate(args)
        if result is None:
            return EXIT_INVALID
        sys.stdout.write(result.explain())
        return EXIT_OK
    plan = _compile(args)
    if plan is None:
        return EXIT_INVALID
    sys.stdout.write(plan.explain(verbose=args.verbose))
    if args.kernels:
        from .kernels.run import describe

        sys.stdout.write("\n" + describe(plan))
    if args.dask:
        from .executors.dask_explain import describe as where

        sys.stdout.write("\n" + where(plan))
    return EXIT_OK


@contextlib.contextmanager
def _dask_options(args: argparse.Namespace, executor: str):
    """The dask executor's options from ``--dask`` and ``--chunk``: a client of the cluster
    at tcp://HOST:PORT, or of a local cluster of N worker processes started (and closed)
    for this run; a progress bar on a terminal."""
    if executor != "dask":
        yield None
        return
    from .executors.chunked import DaskOptions

    # dask's own bar, on the terminal and never with --json, as pgc run's bar
    options = DaskOptions(chunk=args.chunk, progress=_shows_progress(args))
    if not args.dask:
        yield options
        return
    try:
        import distributed
    except ImportError:
        raise _UsageError("--dask needs the dask.distributed package") from None
    where = args.dask
    if where.startswith("local:"):
        try:
            workers = int(where.removeprefix("local:"))
        except ValueError:
            raise _UsageError(f"--dask local:N needs a number of workers, not {where!r}") from None
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, distributed.Client(cluster) as client:
            options.scheduler = client
            yield options
        return
    if not where.startswith("tcp://"):
        raise _UsageError(f"--dask takes tcp://HOST:PORT or local:N, not {where!r}")
    try:
        client = distributed.Client(where, timeout=10)
    except OSError as exc:
        raise _UsageError(f"cannot reach the dask scheduler at {where}: {exc}") from None
    with client:
        options.scheduler = client
        yield options


def _read_options(folders: list[str]) -> dict:
    """execute's resolver and read roots for ``--allow-read`` (none: no resolver)."""
    if not folders:
        return {}
    from .data.access import FolderResolver, ReadAccess

    return {"resolver": FolderResolver(ReadAccess.of(folders)), "allow_read": tuple(folders)}


def cmd_run(args: argparse.Namespace) -> int:
    from .errors import PgcError
    from .frontend.source import Source
    from .limits import Limits
    from .passes.manager import parse_pipeline
    from .runner import OutputError, execute

    data, name = _read_input(args.file)
    specs = _load_specs(args.specs)
    try:
        parse_pipeline(args.pipeline)
        parameters = _parameters(args.param)
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    executor = "dask" if args.dask else args.executor
    if args.chunk is not None and executor != "dask":
        raise _UsageError("--chunk sets the dask executor's chunks: use it with --executor dask")
    budget = {"max_seconds": args.max_seconds, "max_cube_bytes": args.max_cube_bytes}
    try:
        limits = Limits().replace(**{k: v for k, v in budget.items() if v is not None})
    except ValueError as exc:
        raise _UsageError(str(exc)) from None
    memory = _PeakMemory() if args.stats else None  # from here: this run's own
    progress = _progress_bar(args)
    try:
        with _dask_options(args, executor) as dask:
            result = execute(
                data,
                progress=progress,
                parameters=parameters,
                pipeline=args.pipeline,
                specs=specs,
                name=name,
                user_processes=_read_udps(args.udp),
                python_udf=args.python_udf,
                udf_timeout=args.udf_timeout,
                udf_memory_mb=args.udf_memory,
                **_read_options(args.allow_read),
                executor=executor,
                dask=dask,
                output=args.output,
                overwrite=args.overwrite,
                limits=limits,
            )
    except PgcError as exc:
        if progress is not None:
            progress.close()
        source = Source(name, data.decode("utf-8", "replace"))
        if args.json:
            errors = [source.place(d).to_openeo() for d in exc.diagnostics]
            print(json.dumps({"errors": errors}, indent=2, ensure_ascii=False))
        else:
            for d in exc.diagnostics:
                print(format_diagnostic(source.place(d), source))
        return EXIT_INTERNAL if exc.code == "Internal" else EXIT_INVALID
    except OutputError as exc:
        raise _UsageError(str(exc)) from None
    finally:
        if progress is not None:
            progress.close()
    _print_warnings(result.warnings, Source(name, data.decode("utf-8", "replace")), args.json)
    if not result.outputs:  # with -o, a graph without save_result is written as -o says
        print(json.dumps(_jsonable(result.value)))
    elif args.output:
        stored = result.stored or [None] * len(result.written)
        for path, (cube, fmt, _), how in zip(result.written, result.outputs, stored, strict=True):
            print(f"wrote {path} ({_written(cube, fmt, how)})")
    else:
        for cube, fmt, _ in result.outputs:
            print(f"result ({fmt}; {_shape(cube)}); give -o OUT to write it")
    if args.preview:
        from .data.preview import write_preview
        from .executors.values import Cube

        shown = result.outputs[-1][0] if result.outputs else result.value
        if not isinstance(shown, Cube):
            raise _UsageError("--preview needs a result that is a data cube")
        try:
            from .data.safepaths import fresh_target

            write_preview(shown, fresh_target(args.preview, args.overwrite))
        except (ValueError, OSError) as exc:
            raise _UsageError(f"cannot write the preview {args.preview}: {exc}") from None
        print(f"wrote {args.preview} (preview)")
    if args.stats:
        from .ir.types import format_bytes

        timings = result.timings
        if args.dask:  # the reads ran in the workers' processes, which keep their own counts
            print("bytes read: not counted here (the cluster's workers read)")
        else:
            print(f"bytes read: {format_bytes(result.bytes_read)} ({result.bytes_read} B)")
        print("time: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))
        print(f"peak memory: {memory.report()}")
        if executor == "dask":  # kernels run in the chunks' tasks, which do not book them
            print("kernels: run per chunk in dask's tasks (their times are in 'run'/'write')")
        elif result.kernels is not None:
            k = result.kernels
            print(
                f"kernels: {len(k.kernels)} run, compile (or load from the cache) "
                f"{_milliseconds(k.compile_seconds)}, run {_milliseconds(k.run_seconds)}"
            )
    return EXIT_OK


def _milliseconds(seconds: float) -> str:
    """A duration with the digits that mean something: ``412 ms``, ``3.1 ms``, ``42 µs``
    (a kernel over 10 000 pixels runs in microseconds, which ``0.0 ms`` hid)."""
    ms = seconds * 1000
    if ms >= 10 or ms == 0:
        return f"{ms:.0f} ms"
    return f"{ms:.1f} ms" if ms >= 1 else f"{ms * 1000:.0f} µs"


def _print_warnings(warnings: list, source: Any, as_json: bool) -> None:
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


def _written(value: Any, fmt: str, storage: Any) -> str:
    """What a written output holds: ``GTiff; t:1 × y:500 × x:500; uint16, no-data 0``
    (the stored dtype says why when it is wider than the values, issue 18)."""
    from .executors.values import Cube

    parts = [fmt, _shape(value) if isinstance(value, Cube) else "a value"]
    return "; ".join([*parts, storage.describe()] if storage is not None else parts)


def _shape(cube: Any) -> str:
    """A cube's dimensions and sizes as people read them: ``t:1 × y:500 × x:500``."""
    return " × ".join(f"{d}:{n}" for d, n in cube.data.sizes.items())


class _ProgressBar:
    """A one-line progress bar on stderr, drawn only once a run has taken ``delay`` seconds
    (a quick run prints nothing, issue 18). ``pgc run`` makes one only when stderr is a
    terminal and not with ``--json``. Called as the executor's ``progress(done, total,
    process_id)`` before each node of the top graph, so it moves when a node starts."""

    WIDTH = 30

    def __init__(self, stream: Any = None, delay: float = 1.0, clock: Any = None):
        import time

        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.clock = clock or time.monotonic
        self.start = self.clock()
        self.drawn = False  # a line is on the terminal that close() must end

    def __call__(self, done: int, total: int, process_id: str) -> None:
        if not self.drawn and self.clock() - self.start < self.delay:
            return
        filled = self.WIDTH * done // max(total, 1)
        label = f" {process_id}" if process_id else " done"
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done}/{total}{label:<30}")
        self.drawn = True
        if done == total:
            self.close()
        else:
            self.stream.flush()

    def close(self) -> None:
        """End the bar's line (a run that failed half way too), so what follows starts on
        a line of its own."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def _shows_progress(args: argparse.Namespace) -> bool:
    """Whether ``pgc run`` draws progress: on a terminal only, never with ``--json`` (a
    program reads that output)."""
    return not getattr(args, "json", False) and sys.stderr.isatty()


def _progress_bar(args: argparse.Namespace) -> _ProgressBar | None:
    """The progress bar of ``pgc run`` (:func:`_shows_progress`), or None."""
    return _ProgressBar(sys.stderr) if _shows_progress(args) else None


class _PeakMemory:
    """This run's own peak memory for ``--stats`` (issue 18: ``ru_maxrss`` is the peak of
    the process's whole life, and after ``exec`` it keeps the peak of the process that
    started pgc: a run from a big Python process reported that process's memory).

    On Linux, the kernel's high-water mark of this process's resident memory is reset when
    the run starts (``5`` to ``/proc/self/clear_refs``, Linux 4.0+) and read when it ends
    (``VmHWM``): the peak resident memory of the whole process during the run, Python,
    numpy, GDAL and numba alike, which :meth:`report` gives with the growth over the
    resident memory at the start. Elsewhere, :mod:`tracemalloc` from the start: the peak of
    what Python and numpy allocated during the run, not GDAL's or numba's own buffers.
    Neither counts dask.distributed workers, which are other processes."""

    def __init__(self) -> None:
        self.start_rss = self._status("VmRSS")
        self.started_tracing = False
        if self.start_rss is not None:
            try:
                with open("/proc/self/clear_refs", "w") as f:
                    f.write("5")
                return
            except OSError:
                self.start_rss = None
        import tracemalloc

        self.started_tracing = not tracemalloc.is_tracing()
        if self.started_tracing:
            tracemalloc.start()
        tracemalloc.reset_peak()

    @staticmethod
    def _status(key: str) -> int | None:
        """A size in bytes from /proc/self/status; None where there is none."""
        try:
            with open("/proc/self/status", encoding="ascii") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1]) * 1024  # kB
        except (OSError, ValueError, IndexError):
            pass
        return None

    def report(self) -> str:
        from .ir.types import format_bytes

        if self.start_rss is not None:
            peak = self._status("VmHWM") or 0
            grown = max(0, peak - self.start_rss)
            return (
                f"{format_bytes(peak)} resident at most during the run "
                f"({format_bytes(grown)} more than the {format_bytes(self.start_rss)} "
                "at its start)"
            )
        import tracemalloc

        _, peak = tracemalloc.get_traced_memory()
        if self.started_tracing:
            tracemalloc.stop()
        return f"{format_bytes(peak)} allocated by Python and numpy at most (tracemalloc)"


# A value after --param that means to be an object, an array or a quoted string but is not
# valid JSON: a usage error, never read as a string (a bbox mistyped by the shell's quoting
# became the string "{west: 1}", and the load then ignored it and read the whole tile)
_JSON_STARTS = ("{", "[", '"')


def _parameter(text: str) -> tuple[str, Any]:
    """``NAME=JSON`` of ``--param``: the value is JSON; a bare word that is not JSON is a
    string (``--param method=near``), but a value that starts like an object, an array or
    a quoted string must parse. ValueError (a usage error) names the parameter."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise ValueError(f"--param needs NAME=JSON, got {text!r}")
    if not value.strip():
        raise ValueError(f"--param {name}= has no value (an empty string is {name}='\"\"')")
    try:
        return name, json.loads(value)
    except RecursionError:
        raise ValueError(f"--param {name}: the value nests too deeply") from None
    except ValueError as exc:
        if value.lstrip().startswith(_JSON_STARTS):
            raise ValueError(
                f"--param {name}: the value is not valid JSON ({exc}); objects, arrays and "
                "quoted strings must be JSON (quote the whole value for the shell: "
                f"--param '{name}={{\"west\": ...}}')"
            ) from None
        return name, value  # a bare word: a string


def _parameters(texts: list[str]) -> dict[str, Any]:
    """The values of every ``--param``; a name given twice is a usage error (the first
    value would be dropped without a word)."""
    values: dict[str, Any] = {}
    for text in texts:
        name, value = _parameter(text)
        if name in values:
            raise ValueError(f"--param {name} is given twice")
        values[name] = value
    return values


def _jsonable(value: Any) -> Any:
    from .executors.values import Cube

    return value.to_python() if isinstance(value, Cube) else value


def cmd_conformance(args: argparse.Namespace) -> int:
    from .conformance import ERRATA, load_errata, run_folder, table, to_json

    folder = Path(args.path)
    if not folder.is_dir():
        raise _UsageError(f"{args.path} is not a folder of *.json5 test files")
    try:
        errata = {} if args.as_published else load_errata(args.errata or ERRATA)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise _UsageError(f"cannot read the errata {args.errata}: {exc}") from None
    report = run_folder(folder, _load_specs(args.specs), errata, args.executor, args.pipeline)
    if args.json:
        print(to_json(report))
    else:
        print(table(report))
        if args.failures:
            for r in report.results:
                if r.status == "failed":
                    print(f"FAILED {r.case_id}: {r.reason}")
        corrected = report.corrected()
        if corrected:
            print(
                f"{len(corrected)} cases ran corrected by errata "
                f"(they contradict their process definitions; --as-published runs them "
                f"unchanged): {', '.join(r.case_id for r in corrected)}"
            )
    passed = {r.case_id for r in report.results if r.status == "passed"}
    if args.write_expected:
        Path(args.write_expected).write_text("".join(f"{c}\n" for c in sorted(passed)))
    code = EXIT_OK
    if args.expected:
        wanted = [
            line.strip()
            for line in Path(args.expected).read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        lost = [c for c in wanted if c not in passed]
        for case_id in lost:
            print(f"REGRESSION {case_id} passed before and fails now")
        code = EXIT_INVALID if lost else EXIT_OK
    if not args.json:
        print(f"conformance: {report.summary()}")
    return code


def cmd_bench(args: argparse.Namespace) -> int:
    """The harness lives in the source tree (benchmarks/), not in the installed package."""
    root = Path(__file__).resolve().parent.parent
    if not (root / "benchmarks" / "bench_kernels.py").is_file():
        raise _UsageError(
            "pgc bench runs the harness of a source checkout (benchmarks/bench_kernels.py), "
            "which this installation does not have; clone pgc and install it with "
            "pip install -e '.[bench]'"
        )
    sys.path.insert(0, str(root))
    from benchmarks.bench_kernels import main as bench

    arguments = [a for a in args.arguments if a != "--"]
    try:
        return bench(arguments)
    except SystemExit as exc:  # the harness's own --help and usage errors
        return int(exc.code or 0)


def cmd_collections(args: argparse.Namespace) -> int:
    from .data.catalog import default_catalog

    catalog = default_catalog()
    if args.json:
        listing = {"collections": [catalog.stac(cid) for cid in catalog.ids()], "links": []}
        print(json.dumps(listing, indent=2, ensure_ascii=False))
        return EXIT_OK
    for cid in catalog.ids():
        stac = catalog.stac(cid)
        cube = catalog.cube_type(cid)
        synthetic = " (synthetic)" if (stac.get("summaries") or {}).get("pgc:synthetic") else ""
        print(f"{cid}{synthetic}: {stac.get('title', '')}")
        print(f"  {cube}")
        bands = cube.of_type("bands")
        if bands and bands[0].labels:
            print(f"  bands: {', '.join(map(str, bands[0].labels))}")
    return EXIT_OK


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


def _summary(result, name: str) -> str:
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


if __name__ == "__main__":
    sys.exit(main())
