"""The numba executor's kernels inside the reference executor: ``apply`` and
``reduce_dimension`` over the bands whose callbacks are elementwise run as one fused
kernel; every other node (and any callback a kernel cannot express) runs in the reference
implementation, so every graph runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..dtypes import compute_dtype
from ..executors.values import Cube
from ..ir.nodes import Callback
from .codegen import always_valid, load
from .codegen import call as call_kernel
from .expr import from_callback


def try_kernel(call: Any) -> Cube | None:
    """The node's value computed by a fused kernel, or None (then the reference runs)."""
    node = call.node
    cube = call.args.get("data")
    if not isinstance(cube, Cube) or 0 in cube.data.shape or cube.data.dtype.kind not in "biuf":
        return None
    if node.process_id == "apply":
        return _apply(call, cube)
    if node.process_id == "reduce_dimension":
        return _reduce_bands(call, cube)
    return None


def _apply(call: Any, cube: Cube) -> Cube | None:
    callback = call.node.arg("process")
    translated = (
        from_callback(callback.graph, "apply", None) if isinstance(callback, Callback) else None
    )
    if translated is None:
        return None
    expr, _ = translated
    if _all_valid(cube):
        return _run(call, expr, [(cube.data.values, None)], cube.data)
    valid = np.broadcast_to(cube.valid.transpose(*_dims_of(cube)).values, cube.data.shape)
    return _run(call, expr, [(cube.data.values, valid)], cube.data)


def _reduce_bands(call: Any, cube: Cube) -> Cube | None:
    dim = call.node.literal("dimension")
    callback = call.node.arg("reducer")
    if dim not in cube.dims or not isinstance(callback, Callback):
        return None
    if cube.data[dim].dtype.kind not in "UO":  # band names: a bands dimension
        return None
    labels = tuple(str(v) for v in cube.data[dim].values)
    translated = from_callback(callback.graph, "bands", labels)
    if translated is None:
        return None
    expr, bands = translated
    axis = cube.dims.index(dim)
    values = np.moveaxis(cube.data.values, axis, 0)
    template = cube.data.isel({dim: 0}, drop=True)
    if _all_valid(cube):
        return _run(call, expr, [(values[b], None) for b in bands], template)
    full = np.broadcast_to(cube.valid.transpose(*_dims_of(cube)).values, cube.data.shape)
    valid = np.moveaxis(full, axis, 0)
    return _run(call, expr, [(values[b], valid[b]) for b in bands], template)


def _all_valid(cube: Cube) -> bool:
    """Whether the cube says every pixel has data without a per-pixel mask."""
    return cube.valid.ndim == 0 and bool(cube.valid.values)


def _dims_of(cube: Cube) -> list[str]:
    """The data's dimensions that the validity has (it may have fewer: broadcast)."""
    return [d for d in cube.dims if d in cube.valid.dims]


def _run(call: Any, expr, inputs: list, template: xr.DataArray) -> Cube:
    """Run the kernel on ``inputs`` (value, validity or None: all valid)."""
    shape = template.shape
    masked = tuple(ok is not None for _, ok in inputs)
    arrays = []
    for value, ok in inputs:
        arrays += [value] if ok is None else [value, np.broadcast_to(ok, shape)]
    dtype = compute_dtype()
    out = np.empty(shape, dtype=bool if expr.boolean else dtype)
    full = always_valid(expr, masked)
    out_ok = None if full else np.empty(shape, dtype=bool)
    kernel = load(expr, len(shape), len(inputs), dtype, masked)
    call_kernel(kernel, arrays, out, out_ok, call.context.kernel_stats, expr.key())
    data = template.copy(data=out)
    data.attrs = dict(template.attrs)
    valid = xr.DataArray(True) if full else template.copy(data=out_ok)
    return Cube(data, valid)


def describe(plan: Any) -> str:
    """Every kernel the numba executor would run for ``plan``: the node, its expression and
    the generated source (``pgc explain --kernels``)."""
    from ..dtypes import compute_dtype
    from ..ir.types import CubeType
    from .codegen import source

    parts = []
    for graph, node in plan.graph.walk():
        data = node.arg("data")
        producer = graph.node(data.id) if hasattr(data, "id") and data.id in graph else None
        cube = producer.type if producer is not None else None
        if not isinstance(cube, CubeType) or cube.unknown_dimensions:
            continue
        translated = None
        if node.process_id == "apply" and isinstance(node.arg("process"), Callback):
            translated = from_callback(node.arg("process").graph, "apply", None)
            ndim = len(cube.dimensions)
        elif node.process_id == "reduce_dimension" and isinstance(node.arg("reducer"), Callback):
            dim = cube.dimension(str(node.literal("dimension")))
            if dim is not None and dim.type == "bands" and dim.labels is not None:
                labels = tuple(str(v) for v in dim.labels)
                translated = from_callback(node.arg("reducer").graph, "bands", labels)
                ndim = len(cube.dimensions) - 1
        if translated is None:
            continue
        expr, inputs = translated
        parts.append(
            f"# kernel for node {node.id} ({node.process_id}): {expr.size()} operations, "
            f"inputs {inputs}\n# {expr}\n"
            + source(expr, ndim, len(inputs), compute_dtype(), (True,) * len(inputs))
        )
    return "\n".join(parts) if parts else "# no node runs as a fused kernel\n"
