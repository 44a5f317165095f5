"""``pgc.run``: compile a process graph and evaluate it with the executor its plan chooses.

>>> import pgc
>>> pgc.run({"a": {"process_id": "multiply", "arguments": {"x": {"from_parameter": "v"},
...          "y": 2}, "result": True}}, parameters={"v": 21})
42
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import threading
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .gcpause import gc_paused


@dataclass
class RunResult:
    value: Any  # the result node's value (cubes as pgc.executors.values.Cube)
    outputs: list[tuple[Any, str, dict]]  # what save_result nodes saved: (cube, format, options)
    plan: Any
    bytes_read: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    kernels: Any = None  # numba executor: pgc.kernels.codegen.KernelStats
    saved_nodes: list[str] = field(default_factory=list)  # the save_result node of each output
    written: list[Path] = field(default_factory=list)  # what execute(output=...) wrote
    # warnings about the parameter values (pgc.parameters), e.g. a name the graph never uses
    warnings: list = field(default_factory=list)
    # how each written raster file stores its values (pgc.data.storage.Storage; None for
    # JSON, CSV, GeoJSON), aligned with ``written``
    stored: list = field(default_factory=list)
    # what came over the network (pgc.data.reading.ReadStats.network): asset bytes and
    # requests, STAC documents' bytes, and pgc's estimate of the asset bytes; {}: nothing
    network: dict = field(default_factory=dict)
    # the executor that ran, and why it was chosen (executor="auto", pgc.executors.choice)
    executor: str = ""
    executor_reason: str = ""

    def write(self, path: str | Path, overwrite: bool = False) -> list[Path]:
        """Write what save_result saved to ``path`` (several results: numbered files). A
        target that exists is refused (:class:`OutputError`) unless ``overwrite``; even then
        pgc replaces only files and Zarr stores, never another folder. A suffix naming
        another format than save_result's (``x.nc`` for GTiff) is refused too."""
        self.stored = []
        return write_outputs(
            self.outputs,
            Path(path),
            overwrite=overwrite,
            integral=integral_outputs(self.plan, self.saved_nodes, len(self.outputs)),
            stored=self.stored,
        )


class OutputError(ValueError):
    """A result that cannot be written where or as asked (format, folder, shape)."""


def write_outputs(
    outputs: list,
    path: Path,
    dask: Any = None,
    *,
    overwrite: bool = False,
    integral: list[bool] | None = None,
    stored: list | None = None,
) -> list[Path]:
    """Write ``outputs`` (cube, format, options) to ``path``, numbered when there are
    several; chunk by chunk for the dask executor's cubes (``dask``: its options). Every
    target is checked before anything is written: one that exists (a file, a folder that
    is not empty) is refused unless ``overwrite`` (:mod:`pgc.data.safepaths`); so is a
    format that cannot hold its value, or a suffix that names another format.
    ``integral``: per output, whether the types say its values are integers (stored as
    integers where they fit, :mod:`pgc.data.storage`); ``stored``: a list that receives the
    storage of each file written."""
    from .data.safepaths import UnsafeOutput, check_target, fresh_target
    from .data.writers import check_suffix, check_writable, writer_for

    try:
        targets = [
            path if len(outputs) == 1 else path.with_stem(f"{path.stem}_{i + 1}")
            for i in range(len(outputs))
        ]
    except ValueError as exc:  # a path with no name ("/") cannot be numbered
        raise OutputError(f"cannot write {path}: {exc}") from None
    for target, (cube, fmt, _) in zip(targets, outputs, strict=True):
        try:
            writer_for(fmt)
            check_suffix(target, fmt)
            check_writable(cube, fmt)
            check_target(target, overwrite)
        except KeyError:
            raise OutputError(f"cannot write {target}: pgc does not write {fmt!r}") from None
        except UnsafeOutput as exc:
            raise OutputError(str(exc)) from None
        except ValueError as exc:
            raise OutputError(f"cannot write {target}: {exc}") from None
    written = []
    integral = integral or [False] * len(outputs)
    for target, (cube, fmt, options), whole in zip(targets, outputs, integral, strict=True):
        try:
            fresh_target(target, overwrite)
            if dask is not None:
                from .executors.dask.writing import write

                storage = write(cube, target, fmt, options, dask, whole)
            else:
                storage = writer_for(fmt)(cube, target, options, whole)
        except KeyError:
            raise OutputError(f"cannot write {target}: pgc does not write {fmt!r}") from None
        except (ValueError, OSError) as exc:
            raise OutputError(f"cannot write {target}: {exc}") from None
        written.append(target)
        if stored is not None:
            stored.append(storage)
    return written


def integral_outputs(plan: Any, nodes: list[str], count: int) -> list[bool]:
    """Per output, whether the plan's types say its values are integers held as floats
    (:func:`pgc.data.storage.integral_values`); ``nodes``: the save_result node of each;
    none for a result written without save_result (the plan's result node then)."""
    from .data.storage import integral_values

    graph = getattr(plan, "graph", None)
    if graph is None:
        return [False] * count
    if not nodes and graph.result is not None:
        nodes = [graph.result] * count
    flags = [integral_values(graph, node) for node in nodes[:count]]
    return flags + [False] * (count - len(flags))


def check_output_name(graph: Any, path: Path) -> None:
    """Before running: :class:`OutputError` when ``path``'s suffix names another format
    than a save_result node's (``x.nc`` for GTiff), or, for a graph without save_result,
    names no format pgc writes (its result is then written as the suffix says)."""
    from .data.writers import check_suffix, format_of_name
    from .ir.nodes import Literal

    saves = [node for _, node in graph.walk() if node.process_id == "save_result"]
    try:
        if not saves:
            format_of_name(path)
        for node in saves:
            fmt = node.arg("format")
            if isinstance(fmt, Literal) and isinstance(fmt.value, str):
                check_suffix(path, fmt.value)
    except ValueError as exc:
        raise OutputError(f"cannot write {path}: {exc}") from None


def implied_outputs(saved: list, value: Any, output: Path) -> list:
    """What is written to ``output``: what save_result saved or, for a graph without
    save_result, its result in the format ``output``'s suffix names (issue 18)."""
    from .data.writers import format_of_name

    if saved:
        return saved
    try:
        return [(value, format_of_name(output), {})]
    except ValueError as exc:
        raise OutputError(f"cannot write {output}: {exc}") from None


def execute(
    document: Any,
    *,
    parameters: dict[str, Any] | None = None,
    pipeline: str | list[str] = "default",
    catalog: Any = None,
    specs: Any = None,
    user_processes: Any = None,
    name: str = "<input>",
    resolver: Any = None,
    allow_read: Any = (),
    progress: Any = None,
    python_udf: bool = False,
    udf_timeout: float | None = None,
    udf_memory_mb: float | None = None,
    executor: Any = "auto",
    dask: Any = None,
    output: str | Path | None = None,
    overwrite: bool = False,
    limits: Any = None,
    options: Any = None,
    plan_cache: PlanCache | None = None,
    processes: Any = None,
    buffers: Any = None,
) -> RunResult:
    """Compile and run ``document``; raises pgc.PgcError with openEO codes on failure.

    ``options`` (:class:`pgc.Options`): the settings of this call (compute dtype, caches,
    limits when ``limits`` is not given ...), active while it runs; default: the active
    ones (:func:`pgc.options.active`). ``plan_cache``: where compiled plans are kept
    (default: one shared by every call without a session). ``processes``: the
    implementations to run (:class:`pgc.executors.base.ProcessTable`, e.g. a session's
    overrides); an overridden process is never fused into kernels nor chunked.
    ``buffers``: the :class:`pgc.kernels.buffers.BufferPool` kernels' outputs come from
    (default: one shared by every call without a session).

    ``limits`` (:class:`pgc.limits.Limits`): the input limits and the budget, checked from
    the types before anything runs and again while running (``ProcessGraphComplexity``,
    ``RequestTimeout`` past ``max_seconds``). Any failure inside pgc is a PgcError too
    (``Internal``, logged with its traceback on the ``pgc`` logger), never another exception
    (but :class:`OutputError` for ``output``, and ValueError for a wrong ``executor``).

    ``resolver`` maps URLs (``load_stac``) to local paths, or returns None to refuse one.
    ``allow_read``: the folders (str or Path) the resolver's paths must lie in, symlinks
    resolved (others are ``ProcessParameterInvalid``); empty: each path the resolver gives
    is the only place its load reads. Either way a STAC collection's hrefs must stay in its
    folder, and files are opened only through :mod:`pgc.data.access` (no VRT, no network).
    ``executor="auto"`` (the default) chooses per plan from its types
    (:mod:`pgc.executors.choice`: numba where a fused kernel is large enough to pay for
    itself, dask where the run's estimated peak memory is over a quarter of the memory
    and it reads with load_collection, else the reference);
    ``result.executor`` and ``result.executor_reason`` say which and why.
    ``executor="numba"`` runs elementwise work as fused numba kernels (the rest as the
    reference does); ``result.kernels`` then says what the kernels cost.
    ``executor="dask"`` reads and runs the kernels chunk by chunk with dask
    (:mod:`pgc.executors.dask.chunked`; ``dask``: its ``DaskOptions``, e.g. a distributed client).
    Any other name is a plug-in's (:mod:`pgc.executors.registry`, entry points of the
    group ``pgc.executors``), or pass an :class:`~pgc.executors.registry.Executor`.
    ``output``: write what save_result saved there (:meth:`RunResult.write`; raises
    :class:`OutputError`, before running for a suffix naming another format than
    save_result's); a graph without save_result has its result written in the format the
    suffix names (``.tif``, ``.nc``, ``.json`` ...: :func:`pgc.formats.format_for_suffix`),
    and ``outputs`` holds it. The dask executor writes chunk by chunk, never holding it whole,
    and leaves ``outputs`` chunked (dask arrays) instead of computing them again. An
    ``output`` that exists (a file, a folder that is not empty) is refused unless
    ``overwrite=True``; even then pgc replaces only files and Zarr stores it could have
    written, never another folder.
    ``python_udf=True`` lets ``run_udf`` run Python UDFs (in a separate process); off by
    default, because it executes code from the graph; ``udf_timeout`` limits each call
    (seconds, default 60) and ``udf_memory_mb`` its memory (MB of address space beyond the
    worker's own, default ``ref_udf.MEMORY_MB``);
    ``pgc.executors.reference.udf.isolation()`` says what else is enforced.
    """
    if options is not None:  # active for the whole call, in every thread it uses
        arguments = {k: v for k, v in locals().items() if k not in ("document", "options")}
        from .options import using

        with using(options):
            return execute(document, **arguments)
    from .duckarrays import defer_dask_array

    defer_dask_array()  # before xarray first asks about dask: 0.5 s less when dask is unused
    from .data.reading import ReadStats
    from .executors.reference import RunContext
    from .executors.registry import AUTO
    from .executors.registry import get as executor_named
    from .options import active

    overridden: frozenset[str] = getattr(processes, "overridden", frozenset())  # fold leaves them
    limits = limits if limits is not None else active().limits
    choice, lowered = None, None
    if executor == AUTO:  # chosen from the plan's types (pgc.executors.choice)
        choice, lowered = _choice(document, pipeline, catalog, specs, user_processes, name,
                                  limits, plan_cache, processes, parameters)  # fmt: skip
        executor = choice.executor
    runs = executor_named(executor)  # ValueError for an unknown name
    if runs.lowering:
        _check_fusable(processes, runs.name)
        pipeline = with_kernels(pipeline)
    deadline = limits.deadline()
    plan = lowered  # the plan the choice was made from: the one to run when it lowers
    if plan is None or not runs.lowering:
        plan = _plan(document, pipeline, catalog, specs, user_processes, name, limits,
                     plan_cache, overridden)  # fmt: skip
    with _boundary():  # before anything runs: a wrong value never reaches a process
        cautions = _checked_parameters(
            document, parameters, plan, specs, user_processes, limits, name
        )
    context = RunContext(
        limits=limits,
        deadline=deadline,
        catalog=catalog,
        stats=ReadStats(),
        resolver=resolver,
        read_roots=tuple(
            Path(p)
            for p in ([allow_read] if isinstance(allow_read, (str, os.PathLike)) else allow_read)
        ),
        progress=progress,
        python_udf=python_udf,
        udf_timeout=udf_timeout,
        udf_memory_mb=udf_memory_mb,
        processes=processes,
        buffers=buffers,
    )
    runs.prepare(context, dask=dask)
    if output is not None:  # a wrong name fails before the run, not after it
        check_output_name(plan.graph, Path(output))
    start = time.perf_counter()
    written: list[Path] = []
    stored: list = []
    with gc_paused(), _boundary():
        value = runs.run(plan.graph, parameters, context)
        # computed; with output, a lazy executor's saved cubes are computed as written
        value = runs.finish(value, context, computed_outputs=output is None)
        timings = dict(plan.timings, run=time.perf_counter() - start)
        if output is not None:  # the dask executor computes the saved cubes as it writes
            start = time.perf_counter()
            context.saved = implied_outputs(context.saved, value, Path(output))
            written = write_outputs(
                context.saved,
                Path(output),
                context.dask,
                overwrite=overwrite,
                integral=integral_outputs(plan, context.saved_nodes, len(context.saved)),
                stored=stored,
            )
            timings["write"] = time.perf_counter() - start
    return RunResult(
        value,
        context.saved,
        plan,
        context.stats.bytes_read,
        timings,
        context.kernel_stats,
        context.saved_nodes,
        written,
        cautions,
        stored=stored,
        network=context.stats.network(),
        executor=runs.name,
        executor_reason=choice.reason if choice is not None else "asked for",
    )


def _checked_parameters(document, values, plan, specs, user_processes, limits, name) -> list:
    """The warnings about ``values`` (:func:`pgc.parameters.check_parameters`); raises
    PgcError with the errors."""
    from .errors import PgcError
    from .parameters import check_parameters

    if isinstance(user_processes, dict):
        ids = set(user_processes)
    else:
        ids = {p.get("id") for p in user_processes or () if isinstance(p, dict)}
    problems = check_parameters(document, values, plan.initial, specs=specs, user_processes=ids,
                                limits=limits, name=name, memo=plan.memo)  # fmt: skip
    errors = [d for d in problems if d.is_error]
    if errors:
        raise PgcError(errors)
    return [d for d in problems if not d.is_error]


def choose_executor(
    document: Any,
    *,
    pipeline: str | list[str] = "default",
    catalog: Any = None,
    specs: Any = None,
    user_processes: Any = None,
    name: str = "<input>",
    limits: Any = None,
    plan_cache: PlanCache | None = None,
    processes: Any = None,
    parameters: Any = None,
) -> Any:
    """The executor ``executor="auto"`` runs ``document`` with, and why
    (:class:`pgc.executors.choice.Choice`): chosen from the types of the plan lowered with
    the kernels (:func:`pgc.executors.choice.choose`); the reference where ``processes``
    overrides a process the kernels would compute. ``pgc explain`` shows it."""
    from .options import active

    limits = limits if limits is not None else active().limits
    return _choice(document, pipeline, catalog, specs, user_processes, name, limits,
                   plan_cache, processes, parameters)[0]  # fmt: skip


def _choice(document, pipeline, catalog, specs, user_processes, name, limits, plan_cache,
            processes, parameters) -> tuple[Any, Any]:  # fmt: skip
    """:func:`choose_executor`'s choice and the plan lowered with the kernels it was made
    from (None when an override decided), which the numba and dask executors run: one
    plan looked up per run, so ``Plan.reused`` counts runs."""
    from .dtypes import compute_dtype
    from .executors.choice import Choice, choose, parameter_elements

    try:
        _check_fusable(processes, "numba")
    except ValueError:
        fused = ", ".join(sorted(getattr(processes, "overridden", ())))
        reason = f"the session overrides {fused}, which kernels would fuse"
        return Choice("reference", reason), None
    overridden: frozenset[str] = getattr(processes, "overridden", frozenset())
    lowered = _plan(document, with_kernels(pipeline), catalog, specs, user_processes, name,
                    limits, plan_cache, overridden)  # fmt: skip
    key = ("choice", parameter_elements(parameters), lowered.reused > 0, compute_dtype())
    if key not in lowered.memo:
        lowered.memo[key] = choose(lowered.graph, key[1], hot=key[2])
    return lowered.memo[key], lowered


def _check_fusable(processes: Any, executor: str) -> None:
    """Refuse overrides the numba and dask executors would not run: they compile the
    elementwise processes of a graph into kernels (``pgc.kernels.expr``), where a
    replaced implementation cannot take part."""
    overridden: frozenset[str] = getattr(processes, "overridden", frozenset())
    if not overridden:
        return
    from .kernels.expr import ARGUMENTS
    from .kernels.reducers import REDUCERS
    from .passes.fuse import GROWS_THROUGH

    # what fuse-elementwise may turn into kernel nodes (its own tables): the processes a
    # kernel computes, the reducers it folds in, the cube processes it grows through, and
    # array_element, which picks a kernel's inputs
    kernel = {*ARGUMENTS, *REDUCERS, *GROWS_THROUGH, "array_element"}
    fused = sorted(overridden & kernel)
    if fused:
        raise ValueError(
            f"the {executor} executor compiles {', '.join(fused)} into kernels, so an "
            "override of it would not run; override it with executor='reference'"
        )


class PlanCache:
    """Compiled plans of the graphs run last, by what they were compiled from: running the
    same graph again (the next tile, the next request) skips validation, typing and the
    passes. Bounded (least recently used go first); thread-safe. A :class:`pgc.Session`
    holds its own; ``pgc.run`` and :func:`execute` share a default one."""

    def __init__(self) -> None:
        self._plans: OrderedDict[tuple, tuple] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._plans)

    def get(self, key: tuple) -> Any:
        """The plan kept for ``key`` (None: none), with ``reused`` the times it was
        returned before."""
        with self._lock:
            entry = self._plans.get(key)
            if entry is None:
                return None
            self._plans.move_to_end(key)
            plan, holders, reused = entry
            self._plans[key] = (plan, holders, reused + 1)
            return replace(plan, reused=reused)

    def put(self, key: tuple, plan: Any, holders: tuple, size: int) -> None:
        """Keep ``plan`` (and ``holders``, the objects whose ids the key holds: while the
        entry lives, their ids cannot be reused), keeping at most ``size`` plans."""
        with self._lock:
            self._plans[key] = (plan, holders, 1)
            while len(self._plans) > size:
                self._plans.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._plans.clear()


DEFAULT_PLANS = PlanCache()


@contextlib.contextmanager
def _boundary():
    """The API's boundary: an exception that is not pgc's own becomes a PgcError (an
    openEO code; ``Internal`` for a bug, logged with its traceback)."""
    from .errors import PgcError, internal_error

    try:
        yield
    except (PgcError, OutputError):
        raise
    except Exception as exc:  # noqa: BLE001 - user input never ends in a traceback
        raise internal_error(exc) from None


def _plan(
    document, pipeline, catalog, specs, user_processes, name, limits=None, cache=None,
    overridden=frozenset(),
):  # fmt: skip
    """The compiled plan of ``document``: from ``cache`` (default :data:`DEFAULT_PLANS`)
    when the same document was compiled with the same pipeline, catalog (and its
    revision), specs, user processes and options; the active options'
    ``plan_cache_size=0`` turns caching off. Plans are not changed by running them."""
    from .compiler import compile as compile_graph
    from .options import active

    def build():
        return compile_graph(
            document,
            pipeline=pipeline,
            catalog=catalog,
            specs=specs,
            user_processes=user_processes,
            name=name,
            limits=limits,
            overridden=overridden,
        )

    options = active()
    if options.plan_cache_size == 0:
        return build()
    cache = cache if cache is not None else DEFAULT_PLANS
    start = time.perf_counter()
    try:
        key = (
            _document_key(document),
            pipeline if isinstance(pipeline, str) else tuple(pipeline),
            id(catalog),
            getattr(catalog, "revision", None),
            specs if specs is None or isinstance(specs, str) else id(specs),
            json.dumps(user_processes) if user_processes is not None else None,
            name,
            limits,
            tuple(sorted(overridden)),
            options,  # types follow the dtype policy; the default catalog, the specs
        )
    except (TypeError, ValueError):  # not JSON: compile it every time
        return build()
    found = cache.get(key)
    if found is not None:  # (a copy: its timings are this call's)
        found.timings = {"plan cache": time.perf_counter() - start}
        return found
    plan = build()
    cache.put(key, plan, (catalog, specs), options.plan_cache_size)
    return plan


def _document_key(document: Any) -> tuple:
    """What identifies ``document`` in the plan cache: its text, else its pickle when it
    holds only Python's own dicts, lists, strings, numbers, booleans and None (a tag keeps
    a text from equalling a pickle), else its JSON (TypeError, ValueError: not JSON).

    A faithful serialization: documents with equal keys are equal, type for type (1, 1.0
    and True differ; a tuple is not a list), which equality of the objects would not say.
    The pickle is made 4x as fast as the JSON text (4 against 18 us for the EVI graph),
    and a hot plan's run is short: at 1000x1000 the text was a tenth of what pgc added to
    the kernel. Nothing is ever unpickled."""
    import pickle  # (not at start-up: 2 ms)

    if isinstance(document, str | bytes):
        return ("text", document)
    buffer = io.BytesIO()
    try:
        _plain_pickler()(buffer, 5).dump(document)
    except (TypeError, pickle.PicklingError):  # another type (subclasses too): JSON decides
        return ("json", json.dumps(document))
    return ("pickle", buffer.getvalue())


@functools.cache
def _plain_pickler() -> type:
    """A pickler of Python's own containers and scalars only (exact types): any other
    object makes it raise TypeError (pickle would write how to rebuild it, which need not
    say what it holds)."""
    import pickle

    class Plain(pickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            raise TypeError(f"not plain data: {type(obj).__name__}")

    return Plain


def with_kernels(pipeline: str | list[str]) -> list[str]:
    """The numba executor's pipeline: ``pipeline``, then fuse-elementwise (the lowering of
    per-pixel work to kernel nodes: the lowering passes of :data:`pgc.passes.manager.PASSES`)."""
    from .passes.manager import with_lowering

    return with_lowering(pipeline)


def run(document: Any, *, parameters: dict[str, Any] | None = None, **options: Any) -> Any:
    """The result of a process graph: numbers, text, lists and objects; an
    ``xarray.DataArray`` for a data cube (no-data as NaN; its CRS and grid as rioxarray
    reads them); openEO's JSON for a labeled array. For a graph ending in ``save_result``,
    the saved cube. ``parameters`` may hold an ``xarray.DataArray`` (a data cube: NaN is
    no-data, the CRS read as rioxarray writes it) and numpy arrays (openEO arrays).
    :mod:`pgc.executors.convert` says how values go in and come out.

    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.array([[1.0, np.nan], [3.0, 4.0]]), dims=["y", "x"],
    ...                   coords={"y": [15.0, 5.0], "x": [5.0, 15.0]}, attrs={"crs": "32631"})
    >>> out = run({"a": {"process_id": "apply", "arguments": {"data": {"from_parameter": "d"},
    ...     "process": {"process_graph": {"m": {"process_id": "multiply", "arguments": {
    ...     "x": {"from_parameter": "x"}, "y": 2}, "result": True}}}}, "result": True}},
    ...     parameters={"d": da})
    >>> out.values.tolist(), out.spatial_ref.attrs["GeoTransform"]
    ([[2.0, nan], [6.0, 8.0]], '0.0 10.0 0.0 20.0 0.0 -10.0')
    """
    from .executors.convert import parameter_values, result_value

    # numpy arrays become lists before the parameters are checked against their schemas
    parameters = parameter_values(parameters, options.get("limits"))
    result = execute(document, parameters=parameters, **options)
    for warning in result.warnings:  # what pgc run prints on stderr
        warnings.warn(f"{warning.code}: {warning.message}", UserWarning, stacklevel=2)
    value = result.value
    if value is True and result.outputs:
        value = result.outputs[-1][0]
    return result_value(value)
