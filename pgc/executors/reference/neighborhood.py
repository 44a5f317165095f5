"""Reference implementations of neighbourhood processes.

- ``apply_neighborhood`` cuts the cube into neighbourhoods of ``size`` (plus ``overlap``
  on both sides), runs ``process`` on each as a cube of its own and writes back each
  neighbourhood's part without the overlap.
- ``aggregate_spatial_window`` reduces non-overlapping x/y windows; the reducer sees every
  window at once, as a :class:`~pgc.executors.values.CubeArray` over the window's pixels.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..values import Cube, CubeArray, validity_array
from .arguments import cube_argument
from .cube import as_cube_like
from .loop import Call, ProcessError
from .table import implements

SPATIAL = ("x", "y")


def _grid_step(cube: Cube, dim: str) -> float:
    """The signed distance between neighbouring labels of spatial ``dim``.

    A dimension with one label has no step of its own: it takes the other axis' pixel size,
    x growing eastwards and y southwards (north-up), as the sample grids do."""
    coords = cube.data[dim].values
    if len(coords) > 1:
        return float(coords[1] - coords[0])
    x, y = _planar(cube)
    other = y if dim == x else x
    others = cube.data[other].values if other in cube.dims else []
    size = abs(float(others[1] - others[0])) if len(others) > 1 else 1.0
    return size if dim == x else -size


def _planar(cube: Cube) -> tuple[str, str]:
    """The names of the cube's x and y dimensions (:mod:`pgc.executors.spatial`; x and y
    where it has none, as the sample grids)."""
    from ..spatial import horizontal

    x, y = horizontal(cube)
    return x or "x", y or "y"


def _grid_labels(cube: Cube, dim: str, positions: np.ndarray) -> np.ndarray:
    """Labels of spatial ``dim`` at ``positions``, continuing the grid beyond the cube."""
    coords = cube.data[dim].values
    inside = (positions >= 0) & (positions < len(coords))
    beyond = coords[0] + _grid_step(cube, dim) * positions
    return np.where(inside, coords[np.clip(positions, 0, len(coords) - 1)], beyond)


# ---------------------------------------------------------------------------------------
# apply_neighborhood


@dataclass(frozen=True)
class _Duration:
    """An ISO 8601 duration: calendar months (years included) plus a fixed time span."""

    months: int
    delta: pd.Timedelta

    def after(self, start: pd.Timestamp, times: int = 1) -> pd.Timestamp:
        """``start`` plus ``times`` this duration; past the last time pandas can hold (a
        size of centuries), the latest time, which is after every label."""
        try:
            return start + pd.DateOffset(months=self.months * times) + self.delta * times
        except (OverflowError, ValueError):  # pandas' OutOfBounds errors are ValueErrors
            return pd.Timestamp.max

    def before(self, start: pd.Timestamp) -> pd.Timestamp:
        try:
            return start - pd.DateOffset(months=self.months) - self.delta
        except (OverflowError, ValueError):
            return pd.Timestamp.min


# The duration pattern of the apply_neighborhood definition (chunk-size values).
_DURATION = re.compile(
    r"(-?)P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)([DW]))?"
    r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?"
)


def _duration(text: str, argument: str) -> _Duration:
    match = _DURATION.fullmatch(text)
    if match is None or match.group(1) == "-":
        raise ProcessError(
            "ProcessParameterInvalid",
            f"'{text}' is not a positive ISO 8601 duration such as 'P5D'.",
            argument,
        )
    _, years, months, count, unit, hours, minutes, seconds = match.groups()
    days = int(count or 0) * (7 if unit == "W" else 1)
    try:
        delta = pd.Timedelta(
            days=days, hours=int(hours or 0), minutes=int(minutes or 0), seconds=float(seconds or 0)
        )
    except (OverflowError, ValueError):  # longer than pandas can hold: longer than any cube
        delta = pd.Timedelta.max
    return _Duration(12 * int(years or 0) + int(months or 0), delta)


@dataclass(frozen=True)
class Span:
    """One neighbourhood along one dimension.

    ``window`` holds the positions of the neighbourhood's labels in the dimension, -1 where
    it reaches beyond the cube (padding, x and y only); ``labels`` are its labels; ``own``
    marks the positions the neighbourhood writes back (neither overlap nor padding)."""

    window: np.ndarray
    labels: np.ndarray
    own: np.ndarray


@implements("apply_neighborhood")
def _apply_neighborhood(call: Call) -> Cube:
    """Run ``process`` on each neighbourhood and stitch the results without the overlap.

    The sliding window moves by ``size``. Along x and y every neighbourhood has the same
    shape, ``min(size, pixels) + 2 * overlap``: the overlap beyond the cube and the rest of
    the last, partial neighbourhood are no-data pixels on labels that continue the grid
    (the definition: "the missing overlap at the borders ... as no-data values"). Other
    dimensions cannot invent labels: there the last neighbourhood is shorter and the
    overlap stops at the cube's first and last label. The process must return a cube with
    the dimensions and labels it was given (DataCubePropertiesImmutable)."""
    cube = cube_argument(call)
    process = call.callback("process")
    if 0 in cube.data.shape:  # no pixel: no neighbourhood to run the process on
        return cube
    sizes, overlaps = (
        neighbourhood_sizes(call, cube, "size"),
        neighbourhood_sizes(call, cube, "overlap"),
    )
    spans = [neighbourhood_spans(call, cube, d, sizes.get(d), overlaps.get(d)) for d in cube.dims]
    values, valid = cube.data.values, validity_array(cube)
    pieces = []
    for combination in itertools.product(*spans):
        window = neighbourhood_cube(cube, values, valid, combination)
        result = process(data=window, context=call.get("context"))
        pieces.append((combination, unchanged_shape(call, result, window)))
    return _stitch(cube, pieces)


def neighbourhood_sizes(call: Call, cube: Cube, argument: str) -> dict[str, dict]:
    """``size`` or ``overlap`` by dimension name."""
    entries = call.get(argument) or []
    if not isinstance(entries, list):
        call.fail("ProcessParameterInvalid", f"'{argument}' must be a list.", argument)
    out: dict[str, dict] = {}
    for entry in entries:
        name = entry.get("dimension") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            call.fail(
                "ProcessParameterInvalid", f"Each '{argument}' needs a 'dimension'.", argument
            )
        if name not in cube.dims:
            call.fail(
                "DimensionNotAvailable", f"The data cube has no dimension '{name}'.", argument
            )
        if name in out:
            call.fail("ProcessParameterInvalid", f"Dimension '{name}' is listed twice.", argument)
        out[name] = entry
    return out


def _measure(call: Call, cube: Cube, dim: str, entry: dict | None, argument: str) -> Any:
    """How far ``entry`` reaches along ``dim``: a number of labels, a :class:`_Duration`
    (temporal dimensions), or None (``size``: all labels; ``overlap``: none).

    Numbers along x and y are in ``unit``: pixels, metres, or (no unit) the units of the
    cube's reference system, as the definition says; a distance that is not a whole number
    of pixels is rounded up, so a neighbourhood never holds less than asked for."""
    value = entry.get("value") if entry else None
    if value is None:
        return None
    unit = entry.get("unit")
    temporal = np.issubdtype(cube.data[dim].dtype, np.datetime64)
    if isinstance(value, str) and temporal:
        return _duration(value, argument)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        call.fail(
            "ProcessParameterInvalid",
            f"The {argument} of dimension '{dim}' must be a non-negative number"
            + (" or an ISO 8601 duration." if temporal else "."),
            argument,
        )
    planar = dim in _planar(cube)
    if unit == "m" and not planar:
        call.fail("ProcessParameterInvalid", f"Dimension '{dim}' is not in metres.", argument)
    pixels = value
    if planar and unit != "px":
        pixels = value / (abs(_grid_step(cube, dim)) * _metres_per_unit(cube, unit))
    return math.ceil(pixels - 1e-9)


def _metres_per_unit(cube: Cube, unit: str | None) -> float:
    """Metres per unit of the cube's reference system (1: no unit given, or no CRS)."""
    crs = cube.data.attrs.get("crs")
    if unit != "m" or crs is None:
        return 1.0
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    try:
        parsed = CRS.from_user_input(f"EPSG:{crs}" if str(crs).isdigit() else crs)
        return float(parsed.linear_units_factor[1])  # CRSError if not projected
    except CRSError:
        raise ProcessError(
            "ProcessUnsupported",
            "The reference executor takes sizes in metres on projected grids only; "
            "give them in pixels ('px').",
            "size",
        ) from None


def neighbourhood_spans(
    call: Call, cube: Cube, dim: str, size_entry: dict | None, overlap_entry: dict | None
) -> list[Span]:
    """The neighbourhoods along ``dim``."""
    size = _measure(call, cube, dim, size_entry, "size")
    overlap = _measure(call, cube, dim, overlap_entry, "overlap")
    if size == 0:
        call.fail("ProcessParameterInvalid", f"The size of dimension '{dim}' is 0.", "size")
    timed = [isinstance(m, _Duration) for m in (size, overlap) if m is not None]
    if any(timed) and not all(timed):
        raise ProcessError(
            "ProcessUnsupported",
            f"The reference executor cannot mix a duration and a number of labels along "
            f"dimension '{dim}'.",
            "overlap",
        )
    if any(timed):
        return _temporal_spans(call, cube, dim, size, overlap)
    return _positional_spans(cube, dim, size, overlap or 0)


def _positional_spans(cube: Cube, dim: str, size: int | None, overlap: int) -> list[Span]:
    """Neighbourhoods of ``size`` labels (None: all); x and y are padded to full windows."""
    n = cube.data.sizes[dim]
    pad = dim in _planar(cube)
    size = n if size is None else min(size, n) if pad else size
    spans = []
    for start in range(0, n, size):
        window = np.arange(start - overlap, start + size + overlap)
        if not pad:
            window = window[(window >= 0) & (window < n)]
        inside = (window >= 0) & (window < n)
        own = inside & (window >= start) & (window < start + size)
        labels = _grid_labels(cube, dim, window) if pad else cube.data[dim].values[window]
        spans.append(Span(np.where(inside, window, -1), labels, own))
    return spans


def _temporal_spans(
    call: Call, cube: Cube, dim: str, size: _Duration | None, overlap: _Duration | None
) -> list[Span]:
    """Neighbourhoods of ``size`` from the earliest label on: [start + k * size,
    start + (k + 1) * size), the overlap widening each by ``overlap`` on both sides.
    Neighbourhoods without labels are skipped."""
    labels = cube.data[dim].values
    times = pd.DatetimeIndex(labels)
    if size is None:
        return [Span(np.arange(len(times)), labels, np.ones(len(times), dtype=bool))]
    start = times.min()
    if size.after(start) <= start:
        call.fail("ProcessParameterInvalid", f"The size of dimension '{dim}' is 0.", "size")
    chunk = _chunk_numbers(times, start, size)
    spans = []
    for k in np.unique(chunk):
        low, high = size.after(start, int(k)), size.after(start, int(k) + 1)
        if overlap is not None:
            low, high = overlap.before(low), overlap.after(high)
        window = np.flatnonzero((times >= low) & (times < high))
        spans.append(Span(window, labels[window], chunk[window] == k))
    return spans


def _chunk_numbers(times: pd.DatetimeIndex, start: pd.Timestamp, size: _Duration) -> np.ndarray:
    """For each time, the number k of the neighbourhood it falls in."""
    if size.months == 0:  # fixed length: no need to walk (a size of seconds over years)
        return np.asarray((times - start) // size.delta, dtype=np.int64)
    chunk = np.zeros(len(times), dtype=np.int64)
    k = 1
    while size.after(start, k) <= times.max():  # at least a month per step: few steps
        chunk[np.asarray(times >= size.after(start, k))] = k
        k += 1
    return chunk


def _outer_and(masks: list[np.ndarray]) -> np.ndarray:
    """The outer product of 1-d boolean masks (True where all are)."""
    out = np.ones([len(m) for m in masks], dtype=bool)
    for axis, mask in enumerate(masks):
        shape = [1] * len(masks)
        shape[axis] = len(mask)
        out &= mask.reshape(shape)
    return out


def neighbourhood_cube(
    cube: Cube, values: np.ndarray, valid: np.ndarray, spans: tuple[Span, ...]
) -> Cube:
    """One neighbourhood as a cube; positions beyond the cube are no-data."""
    take = np.ix_(*[np.maximum(s.window, 0) for s in spans])
    inside = _outer_and([s.window >= 0 for s in spans])
    coords = {d: s.labels for d, s in zip(cube.dims, spans, strict=True)}
    data = np.where(inside, values[take], 0).astype(values.dtype)
    return Cube(
        xr.DataArray(data, dims=cube.dims, coords=coords, attrs=dict(cube.data.attrs)),
        xr.DataArray(valid[take] & inside, dims=cube.dims, coords=coords),
    )


def unchanged_shape(call: Call, result: Any, window: Cube) -> Cube:
    """``result`` as a cube like ``window``; DataCubePropertiesImmutable if the process
    changed the dimensions or their labels."""
    if not isinstance(result, Cube) or set(result.dims) != set(window.dims):
        got = (
            f"the dimensions {', '.join(result.dims) or '(none)'}"
            if isinstance(result, Cube)
            else "no data cube"
        )
        call.fail(
            "DataCubePropertiesImmutable",
            f"The process must return a data cube with the dimensions "
            f"{', '.join(window.dims)}; it returned {got}.",
            "process",
        )
    for dim in window.dims:
        if not np.array_equal(result.data[dim].values, window.data[dim].values):
            call.fail(
                "DataCubePropertiesImmutable",
                f"The process must keep the labels of dimension '{dim}'.",
                "process",
            )
    valid = result.full_valid()
    return Cube(result.data.transpose(*window.dims), valid.transpose(*window.dims))


def _stitch(cube: Cube, pieces: list[tuple[tuple[Span, ...], Cube]]) -> Cube:
    """The neighbourhoods' own positions written back into a cube shaped like ``cube``."""
    dtype = np.result_type(*[piece.data.dtype for _, piece in pieces])
    data = np.zeros(cube.data.shape, dtype=dtype)
    valid = np.zeros(cube.data.shape, dtype=bool)
    for spans, piece in pieces:
        source = np.ix_(*[np.flatnonzero(s.own) for s in spans])
        target = np.ix_(*[s.window[s.own] for s in spans])
        data[target] = piece.data.values[source]
        valid[target] = piece.valid.values[source]
    out = cube.data.copy(data=np.where(valid, data, 0).astype(dtype))
    return Cube(out, out.copy(data=valid))


# ---------------------------------------------------------------------------------------
# aggregate_spatial_window

_WINDOW = "__window__"  # the dimension the reducer's array runs along (a window's pixels)


@implements("aggregate_spatial_window")
def _aggregate_spatial_window(call: Call) -> Cube:
    """Reduce each ``size`` = [x, y] pixel window to one value, labelled with the window's
    centre.

    Windows start at the corner ``align`` names (upper = largest y, left = smallest x);
    ``boundary`` "pad" fills the last windows with no-data pixels (their labels continue
    the grid), "trim" drops pixels that fill no whole window. The reducer's array holds
    a window's pixels row by row in the cube's order (for ``first``, ``last``, ...)."""
    cube = cube_argument(call)
    for dim in SPATIAL:
        if dim not in cube.dims:
            call.fail("ProcessParameterInvalid", f"The data cube has no dimension '{dim}'.")
    size_x, size_y = _window_size(call)
    boundary, align = call.get("boundary", "pad"), call.get("align", "upper-left")
    if boundary not in ("pad", "trim"):
        call.fail("ProcessParameterInvalid", f"Unknown boundary '{boundary}'.", "boundary")
    corners = ("lower-left", "upper-left", "lower-right", "upper-right")
    if align not in corners:
        call.fail("ProcessParameterInvalid", f"Unknown alignment '{align}'.", "align")
    trim = boundary == "trim"
    columns = _windows(cube, "x", size_x, trim, low_end="left" in align)
    rows = _windows(cube, "y", size_y, trim, low_end="lower" in align)
    windows = _gather(cube, rows, columns)
    if 0 in windows.data.shape:  # trimmed to nothing: there is nothing to reduce
        empty = windows.data.isel({_WINDOW: 0}, drop=True).astype("float64")
        return Cube(empty.transpose(*cube.dims), empty.astype(bool).transpose(*cube.dims))
    result = call.callback("reducer")(data=CubeArray(windows, _WINDOW), context=call.get("context"))
    if isinstance(result, CubeArray) or (isinstance(result, Cube) and _WINDOW in result.dims):
        call.fail(
            "ProcessParameterInvalid", "The reducer must return one value per window.", "reducer"
        )
    template = windows.data.isel({_WINDOW: 0}, drop=True)
    out = as_cube_like(result, Cube(template, xr.ones_like(template, dtype=bool)))
    data = out.data.transpose(*cube.dims)
    data.attrs.update(cube.data.attrs)
    return Cube(data, out.valid.transpose(*cube.dims))


def _window_size(call: Call) -> tuple[int, int]:
    size = call.get("size")
    ok = isinstance(size, list) and len(size) == 2
    if not ok or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size):
        call.fail("ProcessParameterInvalid", "'size' must be two positive integers [x, y].", "size")
    return size[0], size[1]


def _windows(
    cube: Cube, dim: str, size: int, trim: bool, low_end: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The windows along spatial ``dim``: their pixel positions ``[window, size]`` (-1 for
    padding) and the coordinates of their centres. ``low_end``: windows start at the
    smallest coordinate, else at the largest."""
    n = cube.data.sizes[dim]
    count = n // size if trim else -(-n // size)
    from_first = (_grid_step(cube, dim) > 0) == low_end  # does the aligned corner come first?
    offset = 0 if from_first else n - count * size
    positions = offset + np.arange(count)[:, None] * size + np.arange(size)[None, :]
    first, last = (_grid_labels(cube, dim, positions[:, i]) for i in (0, -1))
    centres = (first + last) / 2
    return np.where((positions >= 0) & (positions < n), positions, -1), centres


def _gather(
    cube: Cube, rows: tuple[np.ndarray, np.ndarray], columns: tuple[np.ndarray, np.ndarray]
) -> Cube:
    """The windows' pixels as a cube [..., y, x, _WINDOW] (padding: no-data)."""
    (row_pos, row_centres), (col_pos, col_centres) = rows, columns
    order = [*(d for d in cube.dims if d not in SPATIAL), "y", "x"]
    values = cube.data.transpose(*order).values
    valid = cube.full_valid().transpose(*order).values
    iy = np.maximum(row_pos, 0)[:, :, None, None]
    ix = np.maximum(col_pos, 0)[None, None, :, :]
    inside = (row_pos >= 0)[:, :, None, None] & (col_pos >= 0)[None, None, :, :]

    def windowed(a: np.ndarray) -> np.ndarray:
        # [..., rows, row pixel, columns, column pixel] -> [..., rows, columns, pixel]
        block = np.swapaxes(a, -3, -2)
        return block.reshape(*block.shape[:-2], block.shape[-2] * block.shape[-1])

    data = windowed(np.where(inside, values[..., iy, ix], 0).astype(values.dtype))
    ok = windowed(valid[..., iy, ix] & inside)
    dims = [*order, _WINDOW]
    coords = {d: cube.data[d].values for d in order[:-2]}
    coords.update(y=row_centres, x=col_centres)
    coords[_WINDOW] = np.arange(data.shape[-1])
    return Cube(
        xr.DataArray(data, dims=dims, coords=coords), xr.DataArray(ok, dims=dims, coords=coords)
    )


# ---------------------------------------------------------------------------------------
# flatten_dimensions, unflatten_dimension
