"""The node loop: what every process graph means, written once for every executor.

It interprets the typed IR node by node, in order, with one small implementation per
process id (the run's :class:`~pgc.executors.base.ProcessTable`, by default the reference
executor's :data:`~pgc.executors.reference.table.IMPLEMENTATIONS`). The numba and dask
executors add to it through hooks (``RunContext.hooks``), not branches. Callbacks are
closures over their graph and the enclosing scope; a callback over a cube runs once for
all pixels (its parameters are cubes or :class:`~pgc.executors.values.CubeArray` views),
which is exact because openEO callbacks are pure and act on each pixel alone. It aims to
be right, not fast: every optimization and every other executor is tested against it.

Errors carry openEO codes and point at the node that failed:

>>> from pgc.compiler import compile
>>> run_graph(compile({"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True},
...                    }, pipeline="none").graph)
3
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import Diagnostic, PgcError, from_exception
from ...ir.graph import Graph
from ...ir.nodes import (
    ArrayValue,
    Callback,
    Literal,
    Node,
    NodeRef,
    ObjectValue,
    ParamRef,
    Value,
    value_refs,
)  # fmt: skip
from ...pointer import join
from ..pixels import PixelArrays, PixelLoop, per_pixel
from ..values import Cube, stack
from .table import IMPLEMENTATIONS


class ProcessError(Exception):
    """A process failed for a reason its definition names (``code``)."""

    def __init__(self, code: str, message: str, argument: str | None = None):
        super().__init__(message)
        self.code, self.message, self.argument = code, message, argument

    def __reduce__(self):  # pickled whole (a dask worker's error comes back to the client)
        return (type(self), (self.code, self.message, self.argument))


_UNBOUND = object()


@dataclass
class RunContext:
    """What a run shares: the catalog, read statistics, results written by save_result."""

    catalog: Any = None
    stats: Any = None  # pgc.data.reading.ReadStats
    saved: list[tuple[Any, str, dict]] = field(default_factory=list)  # (value, format, opts)
    saved_nodes: list[str] = field(default_factory=list)  # the save_result node of each
    trace: dict[int, Any] | None = None  # with a dict: every node's value, by id(node)
    # Maps a URL (load_stac ...) to a local path; the embedding application decides what
    # may be reached (pgc itself does no network I/O). None: URLs are refused.
    resolver: Callable[[str], Any] | None = None
    progress: Callable[[int, int, str], None] | None = None  # (done, total, process id)
    # run_udf with Python code runs (in a separate process) only when the embedding
    # application turns this on: it executes user code.
    python_udf: bool = False
    udf_timeout: float | None = None  # seconds per run_udf call; None: ref_udf's default
    udf_memory_mb: float | None = None  # address space of a UDF process; None: ref_udf's
    # The numba executor: with stats, elementwise apply / band math run as fused kernels
    kernel_stats: Any = None  # pgc.kernels.codegen.KernelStats
    # The dask executor: with options, loads and kernels are chunked dask computations
    dask: Any = None  # pgc.executors.dask.chunked.DaskOptions
    # What an executor adds to the node loop (pgc.executors.registry: numba's kernels,
    # dask's chunked forms): each hook takes a call and whether the session overrides its
    # process, and gives (a value, or None to go on, and the call to go on with)
    hooks: tuple[Callable[[Any, bool], tuple[Any, Any]], ...] = ()
    # what an executor makes of a graph's result (the run's, a callback's) before it
    # leaves the graph: the numba executor computes a value it deferred
    settle: Callable[[Any], Any] | None = None
    # The folders the resolver's paths must lie in (pgc.data.access); empty: each path the
    # resolver gives is the only place its load may read (a collection's folder, a file)
    read_roots: tuple = ()
    # The budget (pgc.limits.Limits): sizes that depend on the data are checked against it
    # while running; ``deadline`` is the time.monotonic() by which the run must end
    limits: Any = None
    deadline: float | None = None
    # the implementations to run (pgc.executors.base.ProcessTable, a session's overrides);
    # None: the reference executor's own
    processes: Any = None
    # where the numba executor's large outputs come from (pgc.kernels.buffers.BufferPool,
    # a session's own); None: the pool shared by runs without a session
    buffers: Any = None

    def check_time(self) -> None:
        """RequestTimeout once the run's deadline has passed: called between processes and
        in the reference executor's long loops (pixel by pixel, kernel cells)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            seconds = self.limits.max_seconds if self.limits is not None else None
            raise ProcessError(
                "RequestTimeout",
                f"The run took longer than its budget of {seconds} seconds.",
            )


@dataclass
class Closure:
    """A callback, ready to be called with its parameters."""

    graph: Graph
    scope: list[dict[str, Any]]
    context: RunContext

    def __call__(self, **params: Any) -> Any:
        return _run(self.graph, [*self.scope, params], self.context)


@dataclass
class Call:
    """One process call: its node and evaluated arguments."""

    node: Node
    args: dict[str, Any]
    context: RunContext

    def get(self, name: str, default: Any = None) -> Any:
        value = self.args.get(name, default)
        return default if value is None and default is not None else value

    def callback(self, name: str) -> Closure:
        value = self.args.get(name)
        if not isinstance(value, Closure):
            raise ProcessError(
                "ProcessParameterRequired",
                f"Process '{self.node.process_id}' needs a callback '{name}'.",
                name,
            )
        return value

    def fail(self, code: str, message: str, argument: str | None = None):
        raise ProcessError(code, message, argument)

    def resolve(self, url: str, argument: str) -> Any:
        """The local path the embedding application's resolver gives for ``url``
        (load_stac, load_url, run_udf); pgc itself does no network I/O."""
        resolver = self.context.resolver
        path = resolver(url) if resolver is not None else None
        if path is None:  # the URL not echoed: it may be a local path
            self.fail(
                "FeatureUnsupported",
                f"pgc cannot reach the URL given as '{argument}': it does no network I/O, and "
                "the embedding application's resolver does not give this URL.",
                argument,
            )
        from ...data.access import ReadAccess, ReadRefused, sentence

        try:
            roots = self.context.read_roots or (path,)
            return ReadAccess.of(roots).check(path, f"the file given as '{argument}'")
        except ReadRefused as refused:  # outside the read roots, or missing
            self.fail("ProcessParameterInvalid", sentence(refused), argument)
        except (TypeError, OSError):  # not a path
            self.fail("ProcessParameterInvalid", f"The URL given as '{argument}' is no file.",
                      argument)  # fmt: skip

    def within_budget(self, count: int, limit: str, what: str, argument: str | None) -> None:
        """ProcessGraphComplexity when ``count`` (of ``what``) is over the run's budget
        ``limit`` (a :class:`~pgc.limits.Limits` field), before anything that size is made:
        the run-time twin of the type rules' check, for sizes only the data shows."""
        limits = self.context.limits
        bound = getattr(limits, limit) if limits is not None else None
        if bound is not None and count > bound:
            self.fail(
                "ProcessGraphComplexity",
                f"This makes {count} {what}, over the budget of {bound}.",
                argument,
            )

    def read_access(self, path: Any) -> Any:
        """Where a load may read the file ``path`` (from :meth:`resolve`): the run's read
        roots, or that file alone (a :class:`pgc.data.access.ReadAccess`)."""
        from ...data.access import ReadAccess

        return ReadAccess.of(self.context.read_roots or (path,))


def run_graph(
    graph: Graph, parameters: dict[str, Any] | None = None, context: RunContext | None = None
) -> Any:
    """The value of ``graph`` given values for its parameters: openEO values, or what an
    embedding application holds (an ``xarray.DataArray`` is a data cube, a numpy array an
    array: :mod:`pgc.executors.convert`), converted here so every executor takes them."""
    from ..convert import parameter_values
    from .table import load_implementations

    load_implementations()
    context = context or RunContext()
    if context.catalog is None:
        from ...data.catalog import default_catalog

        context.catalog = default_catalog()
    top = parameter_values(parameters, context.limits)
    for p in graph.parameters:
        if p.name not in top and p.has_default:
            top[p.name] = p.default
    return _run(graph, [top], context, context.progress)


def _run(
    graph: Graph,
    scope: list[dict[str, Any]],
    context: RunContext,
    progress: Callable[[int, int, str], None] | None = None,
) -> Any:
    """The value of ``graph``'s result: every node in order (:meth:`Graph.branch_order`:
    a branch finished before the next starts), but ``if`` is lazy (the
    definition: the branch not taken is not computed), so nodes that only a branch of an
    ``if`` reads run when that branch is taken (:func:`_deferred`), else never."""
    results: dict[str, Any] = {}
    nodes = graph.branch_order()
    deferred = _deferred(graph, nodes)
    # with lazy branches a node's last reader may run out of order: keep every value then
    dead = {} if deferred else _dead_after(graph, nodes)
    for done, node in enumerate(nodes):
        if progress is not None:
            progress(done, len(nodes), node.process_id)
        if node.id not in deferred:
            _evaluate(graph, node, results, scope, context, deferred)
        for gone in dead.get(node.id, ()):
            del results[gone]
    if progress is not None:
        progress(len(nodes), len(nodes), "")
    value = results[graph.result]
    return value if context.settle is None else context.settle(value)


def _dead_after(graph: Graph, nodes: list[Node]) -> dict[str, list[str]]:
    """node id -> the nodes whose values nothing reads once it has run (its inputs read
    last by it; itself if nothing reads it), so that a run holds only the values still to
    be read: a chain of band math held every intermediate cube to the end (a 3-band EVI
    on 6000 x 6000 px peaked at 2.6 GB where numpy needs 1.6 GB). The result is kept."""
    position = {node.id: i for i, node in enumerate(nodes)}
    dead: dict[str, list[str]] = {}
    for node in nodes:
        if node.id == graph.result:
            continue
        users = graph.users(node.id)
        last = max(users, key=position.__getitem__) if users else node.id
        dead.setdefault(last, []).append(node.id)
    return dead


BRANCHES = ("accept", "reject")  # the arguments of ``if`` that only its value decides on


def _deferred(graph: Graph, nodes: list[Node]) -> frozenset[str]:
    """The nodes whose value only branches of ``if`` nodes need (directly, or through other
    such nodes): not the result, and every reader either an ``if`` reading it only as
    ``accept``/``reject``, or deferred itself. Users come after a node in ``nodes``, so one
    pass backwards decides each node after all its readers."""
    if not any(node.process_id == "if" and node.namespace is None for node in nodes):
        return frozenset()
    deferred: set[str] = set()
    for node in reversed(nodes):
        users = graph.users(node.id)
        if node.id == graph.result or not users:
            continue
        if all(user in deferred or _only_in_branches(graph.node(user), node.id) for user in users):
            deferred.add(node.id)
    return frozenset(deferred)


def _only_in_branches(user: Node, node_id: str) -> bool:
    if user.process_id != "if" or user.namespace is not None:
        return False
    return all(
        name in BRANCHES or node_id not in set(value_refs(value)) for name, value in user.arguments
    )


def _demand(
    graph: Graph, ids: set[str], results: dict, scope: list, context: RunContext,
    deferred: frozenset[str],
) -> None:  # fmt: skip
    """Run the deferred nodes ``ids`` read (and what they read in turn), in graph order."""
    needed, stack = set(), [i for i in ids if i in deferred and i not in results]
    while stack:
        node_id = stack.pop()
        if node_id in needed:
            continue
        needed.add(node_id)
        node = graph.node(node_id)
        stack += [i for i in node.node_refs() if i in deferred and i not in results]
    for node in graph.nodes():
        if node.id in needed:
            _evaluate(graph, node, results, scope, context, deferred)


def _evaluate(
    graph: Graph, node: Node, results: dict, scope: list, context: RunContext,
    deferred: frozenset[str],
) -> None:  # fmt: skip
    """Run one node (its inputs computed) and keep its value in ``results``."""
    try:
        context.check_time()
    except ProcessError as exc:
        raise node_error(node, exc.code, exc.message, exc.argument) from None
    skip: set[str] = set()
    if deferred and node.process_id == "if" and node.namespace is None:
        skip = _branches_not_taken(graph, node, results, scope, context, deferred)
    args = {
        name: None if name in skip else _value(value, results, scope, context, node, name)
        for name, value in node.arguments
    }
    table = context.processes if context.processes is not None else IMPLEMENTATIONS
    impl = table.get(node.process_id if node.namespace != "pgc" else f"pgc::{node.process_id}")
    # an overridden process runs as the session's table says, never as a chunked form
    own = context.processes is not None and node.process_id in context.processes.overridden
    try:
        if impl is None:
            raise ProcessError(
                "ProcessUnsupported",
                f"The reference executor cannot run '{node.process_id}' yet.",
            )
        call = Call(node, args, context)
        out = None
        for hook in context.hooks:  # the executor's own forms first (registry.Executor)
            out, call = hook(call, own)
            if out is not None:
                break
        try:
            if out is None and any(isinstance(v, PixelArrays) for v in call.args.values()):
                raise PixelLoop
            results[node.id] = out if out is not None else impl(call)
        except PixelLoop:
            results[node.id] = per_pixel(impl, call, ProcessError)
        if isinstance(results[node.id], Cube):
            results[node.id] = results[node.id].in_order()
            _check_size(results[node.id], context)
        if context.trace is not None:
            context.trace[id(node)] = results[node.id]
    except ProcessError as exc:
        raise node_error(node, exc.code, exc.message, exc.argument) from None
    except PgcError:  # from a callback's node, which it names
        raise
    except Exception as exc:  # noqa: BLE001 - the boundary of every process call
        raise node_error(node, *from_exception(exc), None) from None


def _branches_not_taken(
    graph: Graph, node: Node, results: dict, scope: list, context: RunContext,
    deferred: frozenset[str],
) -> set[str]:  # fmt: skip
    """Run what the branch of an ``if`` that its value takes reads; the branch not taken
    (its name), which is not computed. A value that is not one boolean (a cube: a choice
    per pixel) takes both."""
    value = node.arg("value")
    decided = None if value is None else _value(value, results, scope, context, node, "value")
    taken = set(BRANCHES)
    if decided is True:
        taken = {"accept"}
    elif decided is False or decided is None:
        taken = {"reject"}
    ids = {i for name in taken for i in value_refs(node.arg(name))}
    _demand(graph, ids, results, scope, context, deferred)
    return set(BRANCHES) - taken


def _check_size(cube: Cube, context: RunContext) -> None:
    """ProcessGraphComplexity for a computed cube over the budget (sizes the types could
    not know: labels from the data, a load_stac's items). Chunked cubes are not held
    whole, and are not checked."""
    limits = context.limits
    data = cube.data.data
    if limits is None or not isinstance(data, np.ndarray) or data.nbytes <= limits.max_cube_bytes:
        return
    from ...ir.types import format_bytes

    raise ProcessError(
        "ProcessGraphComplexity",
        f"This made a data cube of {format_bytes(data.nbytes)}, over the budget of "
        f"{format_bytes(limits.max_cube_bytes)} for one value.",
    )


def _value(
    value: Value, results: dict, scope: list, context: RunContext, node: Node, argument: str
) -> Any:
    if isinstance(value, Literal):
        return value.value
    if isinstance(value, NodeRef):
        return results[value.id]
    if isinstance(value, ParamRef):
        for frame in reversed(scope):
            if value.name in frame:
                return frame[value.name]
        raise node_error(
            node, "ProcessParameterRequired", f"Parameter '{value.name}' has no value.", argument
        )
    if isinstance(value, ArrayValue):
        items = [_value(v, results, scope, context, node, argument) for v in value.items]
        return stack(items) if any(isinstance(v, Cube) for v in items) else items
    if isinstance(value, ObjectValue):
        return {k: _value(v, results, scope, context, node, argument) for k, v in value.items}
    if isinstance(value, Callback):
        return Closure(value.graph, scope, context)
    raise TypeError(f"unknown value {value!r}")  # pragma: no cover


def node_error(node: Node, code: str, message: str, argument: str | None) -> PgcError:
    """The :class:`PgcError` for a run-time failure of ``node``: one diagnostic with
    ``code`` and ``message`` whose JSON pointer leads to the node in the user's document,
    and to ``argument`` inside it when the node was not inlined from a user-defined process
    (then the call's place is the pointer). The dask executor's chunked forms raise it as
    the reference does, so both report the same error."""
    pointer = node.origin.pointer if node.origin else ""
    if argument and pointer and not node.origin.inlined:  # inlined: the call's place
        pointer = join(pointer, "arguments", argument)
    return PgcError(
        [
            Diagnostic(
                code,
                message,
                pointer,
                node_id=node.origin.node_id if node.origin else node.id,
                process_id=node.process_id,
                argument=argument,
            )
        ]
    )
