"""The numba executor: the reference's node loop, with per-pixel work (the fuse pass's
``pgc::kernel`` nodes) run as compiled kernels (:mod:`.kernel_run`, code from
:mod:`pgc.kernels`). numba itself is imported only when a kernel runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..pixels import PixelArrays
from ..reference import Call, ReferenceExecutor, RunContext


def fused_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """The numba executor's hook: a pgc::kernel node runs as its compiled kernel (None
    where the data does not fit one: then its body runs, as the reference runs it)."""
    if call.node.namespace != "pgc" or call.node.process_id != "kernel":
        return None, call
    if any(isinstance(v, PixelArrays) for v in call.args.values()):
        return None, call  # a kernel's cubes are arrays of pixels: the loop runs the body
    from .kernel_run import run_kernel

    return run_kernel(call), call


def stencil_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """The numba executor's apply_kernel: the reference's, its planes weighed by a compiled
    loop that adds alike (:mod:`.stencil`); a session's own apply_kernel runs as it is."""
    if own or call.node.namespace is not None or call.node.process_id != "apply_kernel":
        return None, call
    if any(isinstance(v, PixelArrays) for v in call.args.values()):
        return None, call
    from ..reference.cube import reference_apply_kernel
    from .stencil import compiled_correlated

    return reference_apply_kernel(call, correlate=compiled_correlated), call


def period_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """The numba executor's aggregate_temporal(_period): the reference's, each group of
    dates reduced by a folding kernel where the reducer is one a kernel folds (max, min,
    mean, sum, count, median: :func:`pgc.passes.fuse.foldable`) and the cube fits one;
    the reducer's child graph elsewhere, as the reference runs it."""
    if own or call.node.namespace is not None or call.node.process_id not in (
        "aggregate_temporal", "aggregate_temporal_period"
    ):
        return None, call
    from ...ir.nodes import Callback
    from ...passes.fuse import foldable

    reducer = call.node.arg("reducer")
    folding = foldable(reducer.graph) if isinstance(reducer, Callback) else None
    if folding is None or isinstance(call.args.get("data"), PixelArrays):
        return None, call
    from ..reference import temporal
    from .kernel_run import fold_cube

    def fold(cube: Any, dim: str) -> Any:
        return fold_cube(call, cube, dim, *folding)

    runs = {"aggregate_temporal": temporal.aggregate_temporal,
            "aggregate_temporal_period": temporal.aggregate_temporal_period}  # fmt: skip
    return runs[call.node.process_id](call, fold=fold), call


@dataclass(frozen=True)
class NumbaExecutor(ReferenceExecutor):
    """The reference loop, with per-pixel work lowered to fused numba kernels (whose costs
    the context's ``kernel_stats`` collects)."""

    name: str = "numba"
    lowering: bool = True

    def prepare(self, context: RunContext, **settings: Any) -> None:
        from ...kernels.codegen import KernelStats

        context.kernel_stats = KernelStats()
        context.hooks = (fused_hook, stencil_hook, period_hook)
