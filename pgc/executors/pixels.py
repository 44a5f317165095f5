"""Array processes over a cube dimension, one pixel at a time.

Inside a reducer or ``apply_dimension``, an array process gets a :class:`CubeArray`: the
array along one dimension for every pixel at once. The common ones (``mean``, ``max``,
``array_element``, ...) have vectorized forms. For the rest, an implementation raises
:class:`PixelLoop` and the reference executor runs it once per pixel on plain values (a
labeled array of the dimension's labels, ``None`` for no-data), then puts the results back
together: a number per pixel makes a cube, an array per pixel makes a new array along the
dimension (the same length at every pixel, or the process fails clearly). Slow, exact,
and the same code as for plain arrays, so the two cannot disagree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from .values import Cube, CubeArray, LabeledArray, concat, without


class PixelLoop(Exception):
    """Raised by an implementation that has no vectorized form for a CubeArray."""


@dataclass
class PixelArrays:
    """One plain array per pixel where their lengths differ (``array_filter``, ``sort``
    dropping no-data, ...): an object ``xarray.DataArray`` over the pixel dimensions.
    Every process given one runs pixel by pixel; a callback must reduce it to one value per
    pixel (or to arrays of one length) before it leaves the callback."""

    arrays: xr.DataArray


def per_pixel(impl, call, error) -> Any:
    """``impl`` run for every pixel of the CubeArray / Cube arguments of ``call``.
    ``error(code, message, argument)`` makes the exception for a failure."""
    lifted = {k: v for k, v in call.args.items() if isinstance(v, CubeArray | Cube | PixelArrays)}
    templates = [_pixels_of(v) for v in lifted.values()]
    template = xr.broadcast(*templates)[0] if len(templates) > 1 else templates[0]
    dims, shape = template.dims, template.shape
    views = {k: _pixel_view(v, dims, shape) for k, v in lifted.items()}
    results = []
    for count, index in enumerate(itertools.product(*(range(n) for n in shape))):
        if count % 4096 == 0:  # the run's time budget holds in this, the slowest loop
            call.context.check_time()
        args = dict(call.args)
        args.update({k: view(index) for k, view in views.items()})
        results.append(impl(type(call)(call.node, args, call.context)))
    return _assemble(results, template, call, error)


def _pixels_of(value: Any) -> xr.DataArray:
    if isinstance(value, CubeArray):
        return without(value.cube.data, value.dimension)
    return value.arrays if isinstance(value, PixelArrays) else value.data


def _pixel_view(value: Any, dims: tuple, shape: tuple):
    """A function from a pixel index to the plain value there."""
    if isinstance(value, PixelArrays):
        arrays = _broadcast(value.arrays, dims, shape).transpose(*dims).values
        return lambda i: arrays[i]
    if isinstance(value, CubeArray):
        cube, dim = value.cube, value.dimension
        order = [*dims, dim]
        data = _broadcast(cube.data, dims, shape, dim).transpose(*order).values
        valid = _broadcast(cube.full_valid(), dims, shape, dim)
        valid = valid.transpose(*order).values
        labels = [plain(v) for v in cube.data[dim].values]
        return lambda i: LabeledArray(
            [plain(x) if ok else None for x, ok in zip(data[i], valid[i], strict=True)], labels
        )
    data = _broadcast(value.data, dims, shape).transpose(*dims).values
    valid = _broadcast(value.full_valid(), dims, shape)
    valid = valid.transpose(*dims).values
    return lambda i: plain(data[i]) if valid[i] else None


def _broadcast(array: xr.DataArray, dims: tuple, shape: tuple, keep: str | None = None):
    missing = {d: n for d, n in zip(dims, shape, strict=True) if d not in array.dims}
    return array.expand_dims(missing) if missing else array


def plain(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="s")) + "Z"
    return value.item() if isinstance(value, np.generic) else value


def _assemble(results: list, template: xr.DataArray, call, error) -> Any:
    arrays = [r for r in results if isinstance(r, list | LabeledArray)]
    if not arrays:
        return _cube_of(results, template, error)
    if len(arrays) != len(results):
        raise error(
            "ProcessParameterInvalid",
            f"'{call.node.process_id}' gave an array at some pixels and not at others.",
            None,
        )
    if len({len(r) for r in arrays}) > 1:
        ragged = np.empty(len(results), dtype=object)
        ragged[:] = results
        return PixelArrays(template.copy(data=ragged.reshape(template.shape)))
    first = arrays[0]
    labels = list(first.labels) if isinstance(first, LabeledArray) else list(range(len(first)))
    source = next((v for v in call.args.values() if isinstance(v, CubeArray)), None)
    dim = source.dimension if source is not None else "array"
    if source is not None:  # labels that came from the dimension get their own type back
        own = {plain(v): v for v in source.cube.data[dim].values}
        if all(label in own for label in labels):
            labels = [own[label] for label in labels]
    columns = [[_values(r)[j] for r in results] for j in range(len(labels))]
    parts = [_cube_of(column, template, error) for column in columns]
    return CubeArray(concat(parts, dim, labels, [*template.dims, dim], template), dim)


def _values(array: Any) -> list:
    return list(array.values) if isinstance(array, LabeledArray) else list(array)


def _cube_of(values: list, template: xr.DataArray, error) -> Cube:
    valid = np.array([v is not None for v in values], dtype=bool).reshape(template.shape)
    known = [v for v in values if v is not None]
    if any(isinstance(v, list | dict | LabeledArray) for v in known):
        raise error(
            "ProcessParameterInvalid",
            "A data cube's values are numbers, booleans, strings or no-data; the process "
            "gave an array or an object as the value of a pixel.",
            None,
        )
    if all(isinstance(v, bool) for v in known):
        dtype, fill = bool, False
    elif all(isinstance(v, int | float) for v in known):
        dtype, fill = "float64", 0.0
    else:
        dtype, fill = object, None
    data = np.array([fill if v is None else v for v in values], dtype=dtype)
    data = data.reshape(template.shape)
    return Cube(template.copy(data=data), template.copy(data=valid))
