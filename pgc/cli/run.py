"""``pgc run``: a graph end to end on the catalog's data, with the executor, budget, UDF
sandbox, readable folders and dask cluster the options give; what it wrote (or the value it
computed) on stdout, and with ``--stats`` the bytes, times and memory it took.

``--param NAME=JSON`` values are read here (:func:`parse_parameter`) and checked by the
run against the schemas the graph declares.
"""

from __future__ import annotations

import argparse
import contextlib
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
from .meters import PeakMemory, milliseconds, progress_bar, shows_progress
from .show import format_diagnostic, print_warnings


@contextlib.contextmanager
def _dask_options(args: argparse.Namespace, executor: str):
    """The dask executor's options from ``--dask`` and ``--chunk``: a client of the cluster
    at tcp://HOST:PORT, or of a local cluster of N worker processes started (and closed)
    for this run; a progress bar on a terminal."""
    if executor != "dask":
        yield None
        return
    from ..executors.dask.chunked import DaskOptions

    # dask's own bar, on the terminal and never with --json, as pgc run's bar
    options = DaskOptions(chunk=args.chunk, progress=shows_progress(args))
    if not args.dask:
        yield options
        return
    try:
        import distributed
    except ImportError:
        raise UsageError("--dask needs the dask.distributed package") from None
    where = args.dask
    if where.startswith("local:"):
        try:
            workers = int(where.removeprefix("local:"))
        except ValueError:
            raise UsageError(f"--dask local:N needs a number of workers, not {where!r}") from None
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with cluster, distributed.Client(cluster) as client:
            options.scheduler = client
            yield options
        return
    if not where.startswith("tcp://"):
        raise UsageError(f"--dask takes tcp://HOST:PORT or local:N, not {where!r}")
    try:
        client = distributed.Client(where, timeout=10)
    except OSError as exc:
        raise UsageError(f"cannot reach the dask scheduler at {where}: {exc}") from None
    with client:
        options.scheduler = client
        yield options


def _read_options(folders: list[str]) -> dict:
    """execute's resolver and read roots for ``--allow-read`` (none: no resolver)."""
    if not folders:
        return {}
    from ..data.access import FolderResolver, ReadAccess

    return {"resolver": FolderResolver(ReadAccess.of(folders)), "allow_read": tuple(folders)}


def cmd_run(args: argparse.Namespace) -> int:
    """``pgc run FILE``: run the graph; exit 1 with its diagnostics when it is invalid or
    fails while it runs."""
    from ..errors import PgcError
    from ..frontend.source import Source
    from ..limits import Limits
    from ..passes.manager import parse_pipeline
    from ..runner import OutputError, execute

    data, name = read_input(args.file)
    specs = load_specs(args.specs)
    try:
        parse_pipeline(args.pipeline)
        parameters = parse_parameters(args.param)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    executor = "dask" if args.dask else args.executor
    from ..executors.registry import check as check_executor

    try:
        check_executor(executor)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.chunk is not None and executor != "dask":
        raise UsageError("--chunk sets the dask executor's chunks: use it with --executor dask")
    budget = {"max_seconds": args.max_seconds, "max_cube_bytes": args.max_cube_bytes}
    try:
        limits = Limits().replace(**{k: v for k, v in budget.items() if v is not None})
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    memory = PeakMemory() if args.stats else None  # from here: this run's own
    progress = progress_bar(args)
    try:
        with _dask_options(args, executor) as dask:
            result = execute(
                data,
                progress=progress,
                parameters=parameters,
                pipeline=args.pipeline,
                specs=specs,
                name=name,
                user_processes=read_udps(args.udp),
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
        raise UsageError(str(exc)) from None
    finally:
        if progress is not None:
            progress.close()
    print_warnings(result.warnings, Source(name, data.decode("utf-8", "replace")), args.json)
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
        from ..data.preview import write_preview
        from ..executors.values import Cube

        shown = result.outputs[-1][0] if result.outputs else result.value
        if not isinstance(shown, Cube):
            raise UsageError("--preview needs a result that is a data cube")
        try:
            from ..data.safepaths import fresh_target

            write_preview(shown, fresh_target(args.preview, args.overwrite))
        except (ValueError, OSError) as exc:
            raise UsageError(f"cannot write the preview {args.preview}: {exc}") from None
        print(f"wrote {args.preview} (preview)")
    if args.stats:
        _print_stats(result, args, result.executor or executor, memory)
    return EXIT_OK


def _print_stats(result: Any, args: argparse.Namespace, executor: str, memory: Any) -> None:
    """``--stats``: bytes read, time per stage, this run's peak memory and the kernels'
    compile and run time."""
    from ..ir.types import format_bytes

    timings = result.timings
    if args.dask:  # the reads ran in the workers' processes, which keep their own counts
        print("bytes read: not counted here (the cluster's workers read)")
    else:
        print(f"bytes read: {format_bytes(result.bytes_read)} ({result.bytes_read} B)")
        net = result.network
        if net:
            print(f"over the network: {format_bytes(net['bytes'])} ({net['bytes']} B) of assets "
                  f"in {net['requests']} requests, estimated {format_bytes(net['estimate'])} "
                  f"({net['estimate']} B); STAC documents {format_bytes(net['documents'])}")
    print("time: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))
    print(f"peak memory: {memory.report()}")
    print(f"executor: {executor} ({result.executor_reason})")
    if executor == "dask":  # kernels run in the chunks' tasks, which do not book them
        print("kernels: run per chunk in dask's tasks (their times are in 'run'/'write')")
    elif result.kernels is not None:
        k = result.kernels
        print(
            f"kernels: {len(k.kernels)} run, compile (or load from the cache) "
            f"{milliseconds(k.compile_seconds)}, run {milliseconds(k.run_seconds)}"
        )


def _written(value: Any, fmt: str, storage: Any) -> str:
    """What a written output holds: ``GTiff; t:1 × y:500 × x:500; uint16, no-data 0``
    (the stored dtype says why when it is wider than the values, issue 18)."""
    from ..executors.values import Cube

    parts = [fmt, _shape(value) if isinstance(value, Cube) else "a value"]
    return "; ".join([*parts, storage.describe()] if storage is not None else parts)


def _shape(cube: Any) -> str:
    """A cube's dimensions and sizes as people read them: ``t:1 × y:500 × x:500``."""
    return " × ".join(f"{d}:{n}" for d, n in cube.data.sizes.items())


# A value after --param that means to be an object, an array or a quoted string but is not
# valid JSON: a usage error, never read as a string (a bbox mistyped by the shell's quoting
# became the string "{west: 1}", and the load then ignored it and read the whole tile)
_JSON_STARTS = ("{", "[", '"')


def parse_parameter(text: str) -> tuple[str, Any]:
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


def parse_parameters(texts: list[str]) -> dict[str, Any]:
    """The values of every ``--param``; a name given twice is a usage error (the first
    value would be dropped without a word)."""
    values: dict[str, Any] = {}
    for text in texts:
        name, value = parse_parameter(text)
        if name in values:
            raise ValueError(f"--param {name} is given twice")
        values[name] = value
    return values


def _jsonable(value: Any) -> Any:
    from ..executors.values import Cube

    return value.to_python() if isinstance(value, Cube) else value
