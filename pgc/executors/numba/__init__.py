"""The numba executor: the reference's node loop, with per-pixel work (the fuse pass's
``pgc::kernel`` nodes) run as compiled kernels (:mod:`.kernel_run`, code from
:mod:`pgc.kernels`). numba itself is imported only when a kernel runs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..pixels import PixelArrays
from ..reference import Call, ReferenceExecutor, RunContext


def fused_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """The numba executor's hook: a pgc::kernel node runs as its compiled kernel (None
    where the data does not fit one: then its body runs, as the reference runs it, on
    whole cubes)."""
    if not call.node.is_kernel:
        return None, call
    if any(isinstance(v, PixelArrays) for v in call.args.values()):
        return None, _computed(call)  # arrays of pixels: the loop runs the body
    from .kernel_run import run_kernel

    out = run_kernel(call)
    return out, (call if out is not None else _computed(call))


def computing_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """The numba executor's first hook: a call that is not a fused kernel gets the whole
    value of every apply_kernel deferred for one (:class:`.stencil.DeferredStencil`)."""
    return None, (call if call.node.is_kernel else _computed(call))


def _computed(call: Call) -> Call:
    """``call`` with every deferred apply_kernel among its arguments computed whole."""
    from .stencil import DeferredStencil

    def computed(value: Any) -> Any:
        if isinstance(value, DeferredStencil):
            return value.value()
        if isinstance(value, dict) and any(isinstance(v, DeferredStencil) for v in value.values()):
            return {k: computed(v) for k, v in value.items()}
        if isinstance(value, list) and any(isinstance(v, DeferredStencil) for v in value):
            return [computed(v) for v in value]
        return value

    args = {name: computed(value) for name, value in call.args.items()}
    if all(args[name] is call.args[name] for name in args):
        return call
    return replace(call, args=args)


def deferring_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """:func:`fused_hook`, but a kernel node whose one reader is a temporal aggregation the
    executor folds (the fuse pass's ``defer``) gives a
    :class:`~.kernel_run.DeferredKernel`: :func:`period_hook` then reduces each group of
    dates from the kernel's inputs. The numba executor's own: only its period_hook reads
    deferred values."""
    marked = call.node.namespace == "pgc" and call.node.literal("defer") is not None
    if marked and not any(isinstance(v, PixelArrays) for v in call.args.values()):
        from .kernel_run import deferred_kernel

        lazy = deferred_kernel(call)
        if lazy is not None:
            return lazy, call
    return fused_hook(call, own)


def stencil_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """The numba executor's apply_kernel: the reference's, its planes weighed by a compiled
    loop that adds alike (:mod:`.stencil`), and deferred: a fused kernel that reads it
    computes it band of rows by band of rows, anything else whole
    (:class:`.stencil.DeferredStencil`, :func:`computing_hook`). A session's own
    apply_kernel runs as it is; with a trace of every node's value, nothing is deferred."""
    if own or call.node.namespace is not None or call.node.process_id != "apply_kernel":
        return None, call
    if any(isinstance(v, PixelArrays) for v in call.args.values()):
        return None, call
    from ..reference.cube import reference_apply_kernel
    from .stencil import compiled_correlated, deferred

    lazy = deferred(call) if call.context.trace is None else None
    if lazy is not None:
        return lazy, call
    return reference_apply_kernel(call, correlate=compiled_correlated), call


def period_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """The numba executor's aggregate_temporal(_period): the reference's, each group of
    dates reduced by a folding kernel where the reducer is one a kernel folds (max, min,
    mean, sum, count, median: :func:`pgc.passes.fuse.foldable`) and the cube fits one;
    the reducer's child graph elsewhere, as the reference runs it."""
    from ...passes.fuse import AGGREGATIONS, foldable

    if call.node.namespace is not None or call.node.process_id not in AGGREGATIONS:
        return None, call
    from ...ir.nodes import Callback
    from .kernel_run import DeferredKernel, fold_cube

    reducer = call.node.arg("reducer")
    folding = foldable(reducer.graph) if isinstance(reducer, Callback) else None
    data = call.args.get("data")
    if isinstance(data, DeferredKernel):  # (deferring_hook: this node is its one reader)
        out = None if own or folding is None else _grouped(call, data, folding)
        if out is not None:
            return out, call
        call = replace(call, args={**call.args, "data": data.value()})
    if own or folding is None or isinstance(call.args.get("data"), PixelArrays):
        return None, call

    def fold(cube: Any, dim: str, positions: list[int]) -> Any:
        return fold_cube(call, cube, dim, *folding)

    return _aggregation(call.node.process_id)(call, fold=fold), call


def _aggregation(process_id: str) -> Any:
    """The reference's aggregate_temporal or aggregate_temporal_period."""
    from ..reference import temporal

    runs = {"aggregate_temporal": temporal.aggregate_temporal,
            "aggregate_temporal_period": temporal.aggregate_temporal_period}  # fmt: skip
    return runs[process_id]


class _NotFolded(Exception):
    """A group of dates no kernel folds: the kernel's values are computed after all."""


def _grouped(call: Call, deferred: Any, folding: tuple[str, bool]) -> Any:
    """The aggregation of a deferred kernel's values, each group of dates (a run of
    positions) reduced by the kernel's expression folded over it: the reference's
    aggregation, given a cube with the values' labels (:meth:`DeferredKernel.labels`, no
    memory) and a fold of the group's positions. None where some group is no run of
    positions or no kernel folds it (then the caller computes the values and aggregates
    them as before)."""

    def fold(cube: Any, along: str, positions: list[int]) -> Any:
        first, stop = positions[0], positions[-1] + 1
        if positions != list(range(first, stop)):
            raise _NotFolded
        out = deferred.fold(along, first, stop, *folding)
        if out is None:
            raise _NotFolded
        return out

    try:
        stand_in = replace(call, args={**call.args, "data": deferred.labels()})
        return _aggregation(call.node.process_id)(stand_in, fold=fold)
    except _NotFolded:
        return None


@dataclass(frozen=True)
class NumbaExecutor(ReferenceExecutor):
    """The reference loop, with per-pixel work lowered to fused numba kernels (whose costs
    the context's ``kernel_stats`` collects)."""

    name: str = "numba"
    lowering: bool = True

    def prepare(self, context: RunContext, **settings: Any) -> None:
        from ...kernels.codegen import KernelStats

        context.kernel_stats = KernelStats()
        context.hooks = (computing_hook, deferring_hook, stencil_hook, period_hook)
        context.settle = _settled


def _settled(value: Any) -> Any:
    """A graph's result, a deferred apply_kernel computed (:func:`stencil_hook`)."""
    from .stencil import DeferredStencil

    return value.value() if isinstance(value, DeferredStencil) else value
