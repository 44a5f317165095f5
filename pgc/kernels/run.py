"""The numba executor's side of a ``pgc::kernel`` node (made by the fuse-elementwise pass):
pick each input from its source cube (views, no copies), check that they line up, and run
the compiled loop. Anything the kernel does not cover gives None, and the executor runs
the node's body (the nodes the kernel replaced) as the reference does: every graph runs,
and with the reference's errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..dtypes import compute_dtype
from ..executors.values import Cube
from .codegen import always_valid, load
from .codegen import call as call_kernel
from .expr import Expr, from_json


def run_kernel(call: Any) -> Cube | None:
    """The kernel node's value computed by its compiled loop, or None."""
    sources = call.args.get("sources")
    if not isinstance(sources, dict) or not all(_numeric(c) for c in sources.values()):
        return None
    try:
        expr = from_json(call.node.literal("expression"))
    except ValueError:
        return None
    leaves = [_leaf(sources, spec) for spec in call.node.literal("inputs") or []]
    if not leaves or any(leaf is None for leaf in leaves) or not _aligned(leaves):
        return None
    if len(leaves) <= max(expr.inputs()):
        return None
    reduce = call.node.literal("reduce")
    if reduce is None:
        return _run(call, expr, leaves)
    return _run_reduce(call, expr, leaves, reduce)


def _numeric(cube: Any) -> bool:
    return isinstance(cube, Cube) and 0 not in cube.data.shape and cube.data.dtype.kind in "biuf"


def _leaf(sources: dict, spec: list) -> tuple | None:
    """(value array, validity array or None, template DataArray) of one kernel input: a
    whole source cube, or one element of one of its dimensions."""
    name, dim, kind, selector = spec
    cube = sources.get(name)
    if cube is None:
        return None
    data = cube.data
    valid = None
    if not (cube.valid.ndim == 0 and bool(cube.valid.values)):  # a per-pixel mask
        ok = cube.valid.transpose(*[d for d in cube.dims if d in cube.valid.dims]).values
        valid = np.broadcast_to(ok.reshape(_expanded(cube, ok)), data.shape)
    if dim is None:
        return data.values, valid, data
    if dim not in data.dims:
        return None
    labels = data[dim].values
    if kind == "index":
        if not 0 <= selector < len(labels):
            return None
        position = selector
    else:
        if labels.dtype.kind not in "UO":  # dates, numbers: the reference's label rules
            return None
        if kind == "band":  # ndvi: a band name, else a common name
            selector = _band(data, list(labels), selector)
        found = [i for i, label in enumerate(labels) if label == selector]
        if len(found) != 1:
            return None
        position = found[0]
    axis = data.dims.index(dim)
    values = np.moveaxis(data.values, axis, 0)[position]
    if valid is not None:
        valid = np.moveaxis(valid, axis, 0)[position]
    return values, valid, data.isel({dim: position}, drop=True)


def _band(data: xr.DataArray, bands: list, name: str) -> str | None:
    """The band ``name`` names: itself, or the band with that common name (as ndvi reads
    them in the reference executor)."""
    if name in bands:
        return name
    for band, common in data.attrs.get("common_names", {}).items():
        if common == name and band in bands:
            return band
    return None


def _expanded(cube: Cube, ok: np.ndarray) -> tuple:
    """The validity's shape with length-1 axes for the dimensions it does not have."""
    sizes = dict(zip([d for d in cube.dims if d in cube.valid.dims], ok.shape, strict=True))
    return tuple(sizes.get(d, 1) for d in cube.dims)


def _aligned(leaves: list) -> bool:
    """Whether every input has the same dimensions, sizes and labels (else the reference
    decides how they combine)."""
    first = leaves[0][2]
    for _, _, template in leaves[1:]:
        if template is first:
            continue
        if template.dims != first.dims or template.shape != first.shape:
            return False
        for dim in first.dims:
            a, b = first.coords.get(dim), template.coords.get(dim)
            if (a is None) != (b is None):
                return False
            if a is not None and not np.array_equal(a.values, b.values):
                return False
    return True


def _inputs(leaves: list, expr: Expr) -> tuple[list, tuple]:
    arrays, masked = [], []
    for values, valid, _ in leaves:
        arrays += [values] if valid is None else [values, valid]
        masked.append(valid is not None)
    return arrays, tuple(masked)


def _run(call: Any, expr: Expr, leaves: list) -> Cube:
    template = leaves[0][2]
    shape = template.shape
    arrays, masked = _inputs(leaves, expr)
    dtype = compute_dtype()
    out = np.empty(shape, dtype=bool if expr.boolean else dtype)
    full = always_valid(expr, masked)
    out_ok = None if full else np.empty(shape, dtype=bool)
    kernel = load(expr, len(shape), len(leaves), dtype, masked)
    call_kernel(kernel, arrays, out, out_ok, call.context.kernel_stats, expr.key())
    return _cube(template, out, out_ok)


def _run_reduce(call: Any, expr: Expr, leaves: list, reduce: dict) -> Cube | None:
    dim, reducer = reduce.get("dimension"), reduce.get("reducer")
    template = leaves[0][2]
    if dim not in template.dims or template.sizes[dim] == 0:
        return None
    axis = template.dims.index(dim)
    reduced = template.isel({dim: 0}, drop=True)
    arrays, masked = _inputs(leaves, expr)
    arrays = [np.moveaxis(a, axis, 0) for a in arrays]
    if reduced.ndim < 2:  # the kernel walks rows: give a single row one
        arrays = [a[:, None] for a in arrays]
    shape = reduced.shape if reduced.ndim >= 2 else (1, *reduced.shape)
    dtype = compute_dtype()
    out = np.empty(shape, dtype=dtype)
    out_ok = np.empty(shape, dtype=bool)
    flag = bool(reduce.get("ignore_nodata", True))
    kernel = load(expr, len(shape), len(leaves), dtype, masked, (reducer, flag))
    key = f"{expr.key()}:{reducer}"
    call_kernel(kernel, arrays, out, out_ok, call.context.kernel_stats, key)
    return _cube(reduced, out.reshape(reduced.shape), out_ok.reshape(reduced.shape))


def _cube(template: xr.DataArray, out: np.ndarray, out_ok: np.ndarray | None) -> Cube:
    data = template.copy(data=out)
    data.attrs = dict(template.attrs)
    valid = xr.DataArray(True) if out_ok is None else template.copy(data=out_ok)
    return Cube(data, valid)


def describe(plan: Any) -> str:
    """Every kernel node of ``plan`` (compiled with fuse-elementwise): its expression and the
    generated source for inputs that all have a per-pixel mask, as ``pgc explain
    --kernels`` prints them. The dtype is the compute dtype; the number of dimensions is
    the node's when its type knows it (else 3 is shown)."""
    from ..ir.types import CubeType
    from .codegen import source
    from .reducers import reduce_source

    parts = []
    for _, node in plan.graph.walk():
        if node.namespace != "pgc" or node.process_id != "kernel":
            continue
        expr = from_json(node.literal("expression"))
        inputs = node.literal("inputs")
        reduce = node.literal("reduce")
        cube = node.type
        known = isinstance(cube, CubeType) and not cube.unknown_dimensions
        ndim = len(cube.dimensions) if known else 3
        masked = (True,) * len(inputs)
        if reduce is None:
            text = source(expr, ndim, len(inputs), compute_dtype(), masked)
        else:
            args = (reduce["reducer"], reduce["ignore_nodata"])
            text = reduce_source(expr, max(ndim, 2), len(inputs), compute_dtype(), masked, *args)
        picks = ", ".join(_pick_text(spec) for spec in inputs)
        parts.append(
            f"# kernel {node.id}: {expr.size()} operations; inputs {picks}\n# {expr}\n{text}"
        )
    return "\n".join(parts) if parts else "# no node runs as a fused kernel\n"


def _pick_text(spec: list) -> str:
    name, dim, kind, selector = spec
    if dim is None:
        return name
    return f"{name}[{dim}#{selector}]" if kind == "index" else f"{name}[{dim}={selector!r}]"
