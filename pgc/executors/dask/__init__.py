"""The dask executor: loads and kernels as chunked dask computations (:mod:`.chunked` and
its forms in :mod:`.reduce`, :mod:`.neighborhood`, :mod:`.columns`), everything else as the
reference runs it on computed cubes. dask itself is imported only when a run starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..numba import NumbaExecutor, fused_hook
from ..reference import Call, RunContext
from ..values import Cube


def chunked_hook(call: Call, own: bool) -> tuple[Any, Call]:
    """The dask executor's hook: the call's chunked form (:data:`pgc.executors.dask.chunked.
    FORMS`), else the call with its cubes computed, to run as the reference runs it. An
    overridden process (``own``) and a call on an empty cube (no chunk to run on; dask
    explain says so too) always run on computed values."""
    from . import chunked

    options = call.context.dask
    if not own and not any(is_empty_cube(v) for v in call.args.values()):
        namespace = call.node.namespace
        form = chunked.FORMS.get(
            f"{namespace}::{call.node.process_id}" if namespace else call.node.process_id
        )
        out = form(call, options) if form is not None else None
        if out is not None:
            return out, call
    return None, Call(call.node, chunked.materialized(call.args, options), call.context)


def is_empty_cube(value: Any) -> bool:
    """A cube with a dimension of no labels, or a dict (a kernel's sources) holding one."""
    if isinstance(value, Cube):
        return 0 in value.data.shape
    return isinstance(value, dict) and any(is_empty_cube(v) for v in value.values())


@dataclass(frozen=True)
class DaskExecutor(NumbaExecutor):
    """Loads and kernels as chunked dask computations (``dask=``: a
    :class:`pgc.executors.dask.chunked.DaskOptions`, e.g. a distributed client); results
    are computed in :meth:`finish`."""

    name: str = "dask"

    def prepare(self, context: RunContext, **settings: Any) -> None:
        from .chunked import DaskOptions

        super().prepare(context)
        dask = settings.get("dask")
        context.dask = dask if dask is not None else DaskOptions()
        context.hooks = (chunked_hook, fused_hook)

    def finish(self, value: Any, context: RunContext, computed_outputs: bool) -> Any:
        from .chunked import materialized

        if computed_outputs:
            context.saved = [
                (materialized(cube, context.dask), fmt, opts) for cube, fmt, opts in context.saved
            ]
        return materialized(value, context.dask)
