"""The dtype a result is stored in, and the value that marks no data there (issue 18).

Results used to be written as float64 whatever they held: a boolean mask took 8 bytes a
pixel, a uint16 band passed through came back as float64. The rule now, for raster files
(GeoTIFF, netCDF, Zarr), read off the values and never losing one:

- booleans (comparisons, masks): ``uint8``, 0 and 1, no-data 255;
- integers (bands passed through ``filter_bands``, ``mask`` ...): their own dtype. No-data
  needs a value that no pixel with data holds: the collection's no-data value if free,
  else the dtype's largest, else its smallest; when all are taken (rare), floats with NaN
  (``float32`` holds every value of 16 bits or fewer exactly), and :attr:`Storage.why`
  says why;
- floats: their dtype (``float32`` under the float32 compute dtype), NaN for no data;
  where the type rules know the values are integers held as floats (a ``count`` reducer:
  see :func:`integral_values`), the smallest integer dtype that holds every value and a
  free no-data value, if the values are whole and finite (else floats, and why).

Deciding looks at the values (is there no data? which values are taken?): a few reductions,
cheap on numpy arrays; for the dask executor's chunked results one more pass over the data
before writing, only for integer results and float results the types call integers (other
floats and booleans are decided from the dtype alone).

>>> import numpy as np, xarray as xr
>>> from pgc.executors.values import Cube
>>> mask = xr.DataArray(np.array([True, False]), dims=["x"])
>>> storage_for(Cube(mask, xr.DataArray([True, False], dims=["x"])))
Storage(dtype='uint8', nodata=255, why='')
>>> counts = xr.DataArray(np.array([3.0, 12.0]), dims=["x"])
>>> storage_for(Cube(counts, xr.DataArray(True)), integral=True).dtype
'uint8'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

BOOLEAN_NODATA = 255  # booleans are 0 and 1: 255 is never a value
# the integer dtypes a float result of whole numbers may be narrowed to, smallest first
INTEGER_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32")


@dataclass(frozen=True)
class Storage:
    """How a result is stored: ``dtype``, the ``nodata`` value (NaN for floats; None: every
    pixel has data and none is declared) and ``why`` it is not narrower, for the user."""

    dtype: str
    nodata: float | int | None
    why: str = ""

    def describe(self) -> str:
        """``uint16, no-data 0`` (and the reason when it is wider than the values)."""
        text = self.dtype
        if self.nodata is not None:
            nodata = (
                "NaN" if isinstance(self.nodata, float) and math.isnan(self.nodata) else self.nodata
            )
            text += f", no-data {nodata}"
        return f"{text} ({self.why})" if self.why else text


Compute = Callable[..., tuple]


def all_valid(valid: Any) -> bool:
    """Whether a cube's validity ``valid`` is true at every pixel, read as cheaply as it
    can be: one boolean (a 0-d array), or the distinct elements of a broadcast array
    (axes of stride 0 hold one value); a full mask costs one read of a byte a pixel (an
    eighth of the float64 values a fill would copy). A chunked (dask) mask is not
    computed for this: False.

    >>> all_valid(True), all_valid(np.broadcast_to(True, (3, 4))), all_valid(np.eye(2) > 0)
    (True, True, False)
    """
    if isinstance(valid, bool | np.bool_):
        return bool(valid)
    values = valid.data if isinstance(valid, xr.DataArray) else valid
    if not isinstance(values, np.ndarray):
        return False
    if values.ndim == 0:  # one flag for every pixel (most kernels' results)
        return bool(values)
    if values.size == 0:  # no pixel lacks data (and a broadcast of none has no element 0)
        return True
    distinct = values[tuple(0 if s == 0 else slice(None) for s in values.strides)]
    return bool(np.all(distinct))


def eager(*values: Any) -> tuple:
    """The values as numpy (what :func:`storage_for` computes with on numpy cubes)."""
    return tuple(np.asarray(v.values if isinstance(v, xr.DataArray) else v) for v in values)


def storage_for(cube: Any, integral: bool = False, compute: Compute = eager) -> Storage:
    """How to store ``cube`` (a :class:`pgc.executors.values.Cube`); ``integral``: the type
    rules say its values are integers (:func:`integral_values`); ``compute``: how to compute
    the few reductions deciding it (the dask executor's scheduler for chunked cubes)."""
    dtype = np.dtype(cube.data.dtype)
    if dtype.kind == "b":
        return Storage("uint8", BOOLEAN_NODATA)
    if dtype.kind in "iu":
        return _integer_storage(cube, compute)
    if dtype.kind != "f":
        raise ValueError(f"a raster file holds numbers; these values are {dtype} (text?)")
    narrowed = _integral_storage(cube, compute) if integral else None
    if isinstance(narrowed, Storage):
        return narrowed
    return Storage(dtype.name, math.nan, narrowed or "")


def _valid(cube: Any) -> xr.DataArray:
    valid = cube.valid
    return valid if isinstance(valid, xr.DataArray) else xr.DataArray(bool(valid))


def _integer_storage(cube: Any, compute: Compute) -> Storage:
    """Integers keep their dtype, with a no-data value no pixel with data holds."""
    data, valid = cube.data, _valid(cube)
    info = np.iinfo(data.dtype)
    candidates = []
    declared = cube.data.attrs.get("nodata")
    if _is_whole(declared) and info.min <= declared <= info.max:
        candidates.append(int(declared))
    candidates += [c for c in (int(info.max), int(info.min)) if c not in candidates]
    missing, *taken = compute((~valid).any(), *[(valid & (data == c)).any() for c in candidates])
    if not missing:
        return Storage(data.dtype.name, None)
    for candidate, used in zip(candidates, taken, strict=True):
        if not used:
            return Storage(data.dtype.name, candidate)
    wide = "float32" if data.dtype.itemsize <= 2 else "float64"
    return Storage(
        wide,
        math.nan,
        f"{data.dtype.name} values with no data: the pixels with data take every value "
        f"that could mark it ({', '.join(map(str, candidates))})",
    )


def _integral_storage(cube: Any, compute: Compute) -> Storage | str:
    """The smallest integer storage of float values the types call integers, or why not."""
    data, valid = cube.data, _valid(cube)
    finite = np.isfinite(data)
    usable = valid & finite
    missing, infinite, fractional, low, high = compute(
        (~valid).any(),
        (valid & ~finite).any(),
        (usable & (data != np.floor(data))).any(),
        data.where(usable).min(),
        data.where(usable).max(),
    )
    if infinite:
        return "integers, but some are NaN or infinite"
    if fractional:
        return "integers by type, but some values are not whole"
    low, high = (0, 0) if np.isnan(low) else (int(low), int(high))
    for name in INTEGER_DTYPES:
        info = np.iinfo(name)
        if not (info.min <= low and high <= info.max):
            continue
        if not missing:
            return Storage(name, None)
        if high < info.max:
            return Storage(name, int(info.max))
        if low > info.min:
            return Storage(name, int(info.min))
    return "integers beyond int32, or with no value free to mark no data"


def _is_whole(value: Any) -> bool:
    return (
        isinstance(value, int | float | np.number)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and float(value).is_integer()
    )


def stored_values(cube: Any, storage: Storage) -> xr.DataArray:
    """``cube``'s values as ``storage`` says: its dtype, ``nodata`` where there is no data
    (lazy for a chunked cube). Only values :func:`storage_for` checked are cast."""
    data, valid = cube.data, _valid(cube)
    dtype = np.dtype(storage.dtype)
    if dtype.kind == "f":
        # no copy where the values are stored as they are (astype copies even to its own
        # dtype): a 2048 px, 12-date float64 result was copied twice before being written
        data = data if data.dtype == dtype else data.astype(dtype)
        if all_valid(valid):  # data everywhere (one value, or one spread over the shape)
            return data
        return data.where(valid, np.array(np.nan, dtype)[()])
    fill = np.array(0 if storage.nodata is None else storage.nodata, dtype)[()]
    if data.dtype.kind == "b":
        data = data.astype(dtype)
    # the fill in the values' own dtype keeps integers integers (xarray's where would make
    # floats of them); floats of whole numbers are cast after the fill
    return data.where(valid, fill).astype(dtype)


def integral_values(graph: Any, node_id: str) -> bool:
    """Whether the type rules know the values of ``node_id`` (of ``graph``, the compiled
    plan's; for a ``save_result`` node, the values it saves) are integers held as floats:
    the cube comes from a process whose callback returns integers (``reduce_dimension``
    with ``count``), whose values the executors compute in the compute dtype.

    >>> from pgc.compiler import compile as compile_graph
    >>> load = {"process_id": "load_collection", "arguments": {"id": "SENTINEL2_L2A_SAMPLE",
    ...         "spatial_extent": None, "bands": ["B04"], "temporal_extent": None}}
    >>> count = {"process_graph": {"c": {"process_id": "count", "arguments": {"data":
    ...          {"from_parameter": "data"}}, "result": True}}}
    >>> plan = compile_graph({"l": load, "r": {"process_id": "reduce_dimension", "arguments":
    ...     {"data": {"from_node": "l"}, "dimension": "t", "reducer": count}}, "s": {
    ...     "process_id": "save_result", "arguments": {"data": {"from_node": "r"},
    ...     "format": "GTiff"}, "result": True}})
    >>> integral_values(plan.graph, "s")
    True
    """
    from ..ir.nodes import Callback, NodeRef

    if node_id not in graph:
        return False
    node = graph.node(node_id)
    if node.process_id == "save_result":
        source = node.arg("data")
        if not isinstance(source, NodeRef) or source.id not in graph:
            return False
        node = graph.node(source.id)
    while node.is_kernel:  # fused: what it replaced
        body = node.arg("body")
        if not isinstance(body, Callback) or body.graph.result is None:
            return False
        node = body.graph.result_node
    callbacks = [cb.graph for _, cb in node.callbacks()]
    return bool(callbacks) and all(_returns_integers(g) for g in callbacks)


def _returns_integers(graph: Any) -> bool:
    from ..ir.graph import IRError
    from ..ir.types import ArrayType, ScalarType

    try:
        kind = graph.result_node.type
    except IRError:  # a graph without a result node: nothing is known
        return False
    if isinstance(kind, ArrayType):
        kind = kind.item
    return (
        isinstance(kind, ScalarType)
        and "integer" in kind.kinds
        and kind.kinds
        <= {
            "integer",
            "null",
        }
    )
