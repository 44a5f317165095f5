"""Reference implementations: aggregation over calendar periods, processes over a
dimension (``apply_dimension``) and linear interpolation of arrays.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import xarray as xr

from ...errors import echo
from ...periods import (
    CLIMATOLOGICAL_NORMALS,
    PERIOD_PATTERNS,
    PERIODS,
    instant,
    normal_label,
    period_label,
    periods_between,
    time_of_day,
)
from ..values import (
    Cube,
    CubeArray,
    LabeledArray,
    concat_streamed,
    dimension_type,
    dimensions_of_type,
    in_compute_dtype,
    with_dimension_types,
    without,
)
from .arguments import array_values, cube_argument, numbers_only
from .loop import Call, ProcessError
from .scalar import FLOAT
from .table import implements


def temporal_labels(cube: Cube, dim: str, argument: str = "data") -> np.ndarray:
    """The labels of ``dim`` as instants (datetime64[ns], UTC): dates, or RFC 3339 texts
    such as aggregate_temporal's default labels. Other labels (aggregate_temporal_period's
    '2023-01', times of day) fail with ProcessParameterInvalid on ``argument``: the
    processes that compare or group dates cannot place them."""
    labels = cube.data[dim].values
    if np.issubdtype(labels.dtype, np.datetime64):
        return labels.astype("datetime64[ns]")
    moments = [instant(v) for v in labels]
    bad = [v for v, m in zip(labels, moments, strict=True) if m is None]
    if bad:
        raise ProcessError(
            "ProcessParameterInvalid",
            f"The labels of '{dim}' must be dates; it has {echo(str(bad[0]))} (labels of "
            "periods, from aggregate_temporal_period say: give this process the dates).",
            argument,
        )
    return np.array([_as_datetime64(m) for m in moments], dtype="datetime64[ns]")


def _as_datetime64(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "ns")


def _as_datetimes(times: np.ndarray) -> list[datetime]:
    """datetime64 values as naive UTC datetimes (microseconds: periods need no finer)."""
    return [t.astype("datetime64[us]").item() for t in times]


def _named_temporal(call: Call, cube: Cube, name: str) -> str:
    """``name``, a temporal dimension of ``cube``: DimensionNotAvailable when it does not
    exist (the definitions), or is not temporal (pgc, as in the type rules)."""
    if name not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension {echo(name)}.",
                  "dimension")  # fmt: skip
    if dimension_type(cube, name) != "temporal":
        call.fail(
            "DimensionNotAvailable",
            f"Dimension {echo(name)} is {dimension_type(cube, name)}, not temporal.",
            "dimension",
        )
    return name


def _temporal_dimensions(call: Call, cube: Cube) -> list[str]:
    temporal = dimensions_of_type(cube, "temporal")
    if not temporal:
        call.fail("DimensionNotAvailable", "The data cube has no temporal dimension.", "data")
    return temporal


def filter_dimensions(call: Call, cube: Cube) -> list[str]:
    """The dimensions filter_temporal filters: ``dimension``, or every temporal one."""
    name = call.get("dimension")
    if name is not None:
        return [_named_temporal(call, cube, name)]
    return _temporal_dimensions(call, cube)


def aggregated_dimension(call: Call, cube: Any) -> str:
    """The temporal dimension aggregate_temporal(_period) reduces: ``dimension``, or the
    only temporal one (the definitions: TooManyDimensions when none is named and there are
    several; DimensionNotAvailable when there is none)."""
    if not isinstance(cube, Cube):
        call.fail("ProcessParameterInvalid", "'data' must be a data cube.", "data")
    name = call.get("dimension")
    if name is not None:
        return _named_temporal(call, cube, name)
    temporal = _temporal_dimensions(call, cube)
    if len(temporal) > 1:
        call.fail(
            "TooManyDimensions",
            f"The data cube has several temporal dimensions ({', '.join(temporal)}); name "
            "one in 'dimension'.",
            "dimension",
        )
    return temporal[0]


def temporal_extent(interval: Any, argument: str) -> tuple[Any, Any]:
    """A left-closed interval of dates or date-times as its bounds (datetime64[ns] UTC,
    None for an open end): ProcessParameterInvalid when it is not two instants (one may be
    null), TemporalExtentEmpty when the end is not later than the start (filter_temporal,
    and load_stac's ``temporal_extent`` on a cube read whole)."""
    pair = isinstance(interval, list | tuple) and len(interval) == 2
    if not pair or interval[0] is interval[1] is None:
        raise ProcessError(
            "ProcessParameterInvalid",
            f"{echo(argument)} must be two instants, at most one of them null.",
            argument,
        )
    bounds = []
    for value in interval:
        moment = None if value is None else instant(value)
        if value is not None and moment is None:
            raise ProcessError(
                "ProcessParameterInvalid",
                f"{echo(str(value))} in {echo(argument)} is not a date or date-time.",
                argument,
            )
        bounds.append(None if moment is None else _as_datetime64(moment))
    start, end = bounds
    if start is not None and end is not None and end <= start:
        raise ProcessError(
            "TemporalExtentEmpty",
            f"The temporal interval [{interval[0]}, {interval[1]}) is empty: its end must be "
            "later than its start.",
            argument,
        )
    return start, end


def _along(like: xr.DataArray, dim: str, values: np.ndarray, target_labels: Any) -> xr.DataArray:
    """``values`` (``dim`` first, then ``like``'s other dimensions) as an array with
    ``like``'s other coordinates and ``target_labels`` along ``dim`` (which may have none
    in ``like``)."""
    rest = without(like, dim)
    out = xr.DataArray(values, dims=(dim, *rest.dims), coords=rest.coords, attrs=like.attrs)
    return out.assign_coords({dim: target_labels})


def _as_temporal(cube: Cube, dim: str) -> Cube:
    """``cube`` with ``dim`` said to be temporal: its new labels (periods, intervals'
    labels) are text, which would read as 'other' (see values.dimension_type), while the
    definitions keep the dimension's type."""
    return with_dimension_types(cube, {dim: "temporal"})


class _Reduced:
    """The reducer's value for each group of labels along ``dim``, as cubes shaped like
    the data without ``dim``. An empty group is reduced too (the definitions: the array is
    empty, which "leads to a no-data value for most reducers"; count gives 0), once, as a
    plain empty array (reduce_dimension does so): every pixel's is the same."""

    def __init__(self, call: Call, cube: Cube, dim: str, fold: Fold | None = None):
        self.call, self.cube, self.dim = call, cube, dim
        self.reducer = call.callback("reducer")
        self.template = without(cube.data, dim)
        self.empty: Cube | None = None
        self.fold = fold

    def of(self, positions: list[int]) -> Cube:
        if not positions:
            if self.empty is None:
                self.empty = self._value(LabeledArray([], []))
            return self.empty
        first, last = positions[0], positions[-1]
        if last - first + 1 == len(positions) and positions == list(range(first, last + 1)):
            # a run of dates (sorted labels): a view, not a copy (issue 23)
            group = self.cube.isel({self.dim: slice(first, last + 1)})
        else:
            group = self.cube.isel({self.dim: positions})
        return self._value(CubeArray(group, self.dim), positions)

    def _value(self, array: CubeArray | LabeledArray, positions: list[int] = ()) -> Cube:
        if self.fold is not None and isinstance(array, CubeArray):
            folded = self.fold(array.cube, self.dim, positions)
            if folded is not None:  # the executor's own form of the same reducer
                return _like(folded, self.template)
        value = self.reducer(data=array, context=self.call.get("context"))
        if isinstance(value, CubeArray | LabeledArray | list):
            self.call.fail(
                "ProcessParameterInvalid",
                "The reducer must compute a single value, not an array.",
                "reducer",
            )
        return _like(value, self.template)


# an executor's own reduction of a group of labels (the numba executor's folding kernel:
# the group's cube, the dimension, the group's positions along it in the data -> the
# reduced cube, or None where it does not fit), for the reducer the node's child graph
# is; the reference calls the child graph
Fold = Callable[[Cube, str, list[int]], "Cube | None"]


@implements("aggregate_temporal_period")
def aggregate_temporal_period(call: Call, fold: Fold | None = None) -> Cube:
    """One label per period from the first date's to the last date's, periods without
    data included (their array is empty); the dimension keeps its name and place.
    ``fold``: how the executor reduces a group (:data:`Fold`)."""
    cube, period = call.get("data"), call.get("period")
    if period not in PERIODS:
        call.fail("ProcessParameterInvalid", f"Unknown period {echo(str(period))}.", "period")
    dim = aggregated_dimension(call, cube)
    moments = _as_datetimes(temporal_labels(cube, dim))
    labels = [period_label(m, period) for m in moments]
    order = periods_between(min(moments), max(moments), period) if moments else []
    groups: dict[str, list[int]] = {label: [] for label in order}
    for i, label in enumerate(labels):
        groups[label].append(i)
    reduced = _Reduced(call, cube, dim, fold)
    parts = (reduced.of(groups[label]) for label in order)  # (one at a time: concat_streamed)
    return _as_temporal(concat_streamed(parts, dim, order, cube.dims, reduced.template), dim)


def _like(result: Any, template: xr.DataArray) -> Cube:
    if isinstance(result, Cube):
        data = xr.broadcast(in_compute_dtype(result.data), template)[0]
        valid = xr.broadcast(result.valid, template)[0]
        return Cube(data, valid)
    valid = result is not None
    if valid and (isinstance(result, str | list | dict) or not np.isscalar(result)):
        raise ProcessError(
            "ProcessParameterInvalid",
            "The reducer must compute a number, boolean or null for each pixel.",
            "reducer",
        )
    return Cube(
        xr.full_like(template, result if valid else 0, dtype=FLOAT),
        xr.full_like(template, valid, dtype=bool),
    )


@implements("apply_dimension")
def _apply_dimension(call: Call) -> Cube:
    """The arrays along ``dimension`` replaced by the process's arrays (at least one value
    each, the definition). The three cases of the definition:

    - no (or the same) ``target_dimension``: the dimension keeps its name, type and place;
      its labels (and band metadata) stay when the arrays keep their length, else they are
      0..n-1;
    - an existing target with a single label: the source is dropped and the target, in
      its place with its name and type, takes the values, labelled 0..n-1;
    - a new target: it takes the source's place, type other, labelled 0..n-1.
    """
    from ...data.bands import METADATA, bands_of, without_band_metadata

    cube, dim = cube_argument(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    target = call.get("target_dimension")
    existing = target is not None and target != dim and target in cube.dims
    if existing and cube.data.sizes[target] != 1:
        call.fail(
            "ProcessParameterInvalid",
            f"The target dimension '{target}' exists with {cube.data.sizes[target]} labels; "
            "an existing target dimension must have a single label.",
            "target_dimension",
        )
    bands = tuple(bands_of(cube.data, dim)) if dimension_type(cube, dim) == "bands" else ()
    seen = Cube(without_band_metadata(cube.data, dim), without_band_metadata(cube.valid, dim))
    array = CubeArray(seen, dim, bands)
    result = call.callback("process")(data=array, context=call.get("context"))
    if not isinstance(result, CubeArray):
        call.fail(
            "ProcessParameterInvalid",
            f"The process must return an array along '{dim}' of the same length at every pixel.",
            "process",
        )
    out = result.cube
    data = without_band_metadata(out.data, dim)
    valid = without_band_metadata(out.full_valid(), dim)
    if data.sizes[dim] == 0 and cube.data.sizes[dim] > 0:  # (none from none is no fault)
        call.fail(
            "ProcessParameterInvalid",
            "The process must return an array with at least one element.",
            "process",
        )
    if target is None or target == dim:
        kind = dimension_type(cube, dim)
        if data.sizes[dim] == cube.data.sizes[dim]:  # labels and band metadata stay
            kept = [c for c in (dim, *METADATA) if c in cube.data.coords
                    and cube.data.coords[c].dims == (dim,)]  # fmt: skip
            coords = {c: cube.data.coords[c] for c in kept}
        else:
            coords = {dim: np.arange(data.sizes[dim])}
        data, valid = data.assign_coords(coords), valid.assign_coords(coords)
        result = Cube(data.transpose(*cube.dims), valid.transpose(*cube.dims))
        return with_dimension_types(result, {dim: kind})
    index = {dim: np.arange(data.sizes[dim])}
    data, valid = data.assign_coords(index), valid.assign_coords(index)
    order = [target if d == dim else d for d in cube.dims]
    kind = "other"
    if target in cube.dims:  # its name, type and place; the source is dropped
        kind = dimension_type(cube, target)
        data, valid = (v.isel({target: 0}, drop=True) for v in (data, valid))
        order = [d for d in cube.dims if d != dim]
    data, valid = (v.rename({dim: target}) for v in (data, valid))
    result = Cube(data.transpose(*order), valid.transpose(*order))
    return with_dimension_types(result, {target: kind})


@implements("array_interpolate_linear")
def _array_interpolate_linear(call: Call) -> Any:
    data = call.get("data")
    if isinstance(data, CubeArray):
        return CubeArray(_interpolate_cube(data), data.dimension)
    values = numbers_only(array_values(call))  # the schema: numbers and no-data
    labels = data.labels if isinstance(data, LabeledArray) else None
    x = _positions(labels, len(values))
    y = np.array([np.nan if v is None else v for v in values], dtype=FLOAT)
    filled = _interpolate(y[:, None], ~np.isnan(y)[:, None], x)[:, 0]
    # Known values stay as given; gaps between known values get the interpolant.
    out = [
        values[i] if not np.isnan(y[i]) or np.isnan(filled[i]) else float(filled[i])
        for i in range(len(values))
    ]
    return LabeledArray(out, labels) if labels is not None else out


def _positions(labels: list | None, n: int) -> np.ndarray:
    """x values: numeric or temporal labels, else the indices (the definition's rule)."""
    if labels is not None:
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in labels):
            return np.asarray(labels, dtype=FLOAT)
        if all(isinstance(v, np.datetime64) for v in labels):
            return np.asarray(labels, dtype="datetime64[ns]").astype("int64").astype(FLOAT)
    return np.arange(n, dtype=FLOAT)


def _interpolate(y: np.ndarray, known: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Fill unknown values between known ones along axis 0 (not leading/trailing ones).
    Infinities are known values: between -inf and 0.1 lies -inf."""
    n = y.shape[0]
    index = np.arange(n).reshape((n,) + (1,) * (y.ndim - 1))
    prev = np.maximum.accumulate(np.where(known, index, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(known, index, n)[::-1], axis=0)[::-1]
    inside = ~known & (prev >= 0) & (nxt < n)
    p, q = np.clip(prev, 0, n - 1), np.clip(nxt, 0, n - 1)
    yp, yq = np.take_along_axis(y, p, axis=0), np.take_along_axis(y, q, axis=0)
    xs = x.reshape(index.shape)
    xp, xq = x[p], x[q]
    with np.errstate(all="ignore"):
        w = (xs - xp) / (xq - xp)
        filled = yp * (1 - w) + yq * w  # not yp + (yq - yp) * w: that is NaN next to an inf
    return np.where(inside, filled, y)


# pixels interpolated at once: :func:`_interpolate` makes a dozen temporaries of its input's
# size (positions, weights, neighbours), 5 GB for 12 dates at 2048 px where blocks of this
# many pixels keep them in the cache (gap filling at 2048 px: 14 s and 5.7 GB -> 4 s and 2.1 GB)
INTERPOLATE_PIXELS = 2**14


def _interpolate_cube(arr: CubeArray) -> Cube:
    cube, dim = arr.cube, arr.dimension
    data = in_compute_dtype(cube.data).transpose(dim, ...)
    valid = cube.full_valid().transpose(dim, ...)
    n = data.shape[0]
    values, ok = data.values.reshape(n, -1), valid.values.reshape(n, -1)
    labels = list(cube.data[dim].values)
    x = _positions(labels, len(labels))
    out, new_valid = np.empty_like(values), np.empty_like(ok)
    for start in range(0, values.shape[1], INTERPOLATE_PIXELS):  # pixel by pixel: blocks
        part = slice(start, start + INTERPOLATE_PIXELS)
        v, k = values[:, part], ok[:, part]
        known = k & ~np.isnan(v)
        filled = _interpolate(np.where(k, v, np.nan), known, x)
        new_valid[:, part] = k | (~known & ~np.isnan(filled))
        out[:, part] = np.where(new_valid[:, part], filled, 0.0)
    result = data.copy(data=out.reshape(data.shape))
    new = valid.copy(data=new_valid.reshape(valid.shape))
    return Cube(result.transpose(*cube.dims), new.transpose(*cube.dims))


@implements("aggregate_temporal")
def aggregate_temporal(call: Call, fold: Fold | None = None) -> Cube:
    """Reduce the values in each left-closed interval (intervals may overlap; one without
    data reduces an empty array); labels from ``labels`` or the intervals' starts.
    ``fold``: how the executor reduces a group (:data:`Fold`)."""
    cube = call.get("data")
    dim = aggregated_dimension(call, cube)
    intervals = call.get("intervals")
    if not isinstance(intervals, list) or not intervals:
        call.fail("ProcessParameterInvalid", "'intervals' must be a list of intervals.",
                  "intervals")  # fmt: skip
    bounds = [_interval(call, interval) for interval in intervals]
    labels = _interval_labels(call, intervals)
    times = temporal_labels(cube, dim)
    reduced = _Reduced(call, cube, dim, fold)
    parts = (reduced.of([int(i) for i in np.flatnonzero(_in_interval(times, *b))])
             for b in bounds)  # fmt: skip
    return _as_temporal(concat_streamed(parts, dim, labels, cube.dims, reduced.template), dim)


def _interval_labels(call: Call, intervals: list) -> list:
    """``labels``, or the starts of the intervals. The definition: as many labels as
    intervals, distinct (DistinctDimensionLabelsRequired when the starts repeat)."""
    given = call.get("labels") or []
    labels = list(given) or [interval[0] for interval in intervals]
    if any(isinstance(v, bool) or not isinstance(v, str | int | float | None) for v in labels):
        call.fail("ProcessParameterInvalid", "Labels must be numbers or strings.", "labels")
    if given and len(labels) != len(intervals):
        call.fail(
            "ProcessParameterInvalid",
            f"There are {len(labels)} labels for {len(intervals)} intervals.",
            "labels",
        )
    if any(label is None for label in labels):
        call.fail(
            "ProcessParameterInvalid",
            "An interval without a start has no default label; give the intervals 'labels'.",
            "intervals",
        )
    if len({_label_key(v) for v in labels}) != len(labels):
        call.fail(
            "DistinctDimensionLabelsRequired",
            "The labels of the intervals are not distinct"
            + ("." if given else " (interval starts); give distinct ones in 'labels'."),
            "labels" if given else "intervals",
        )
    return labels


def _label_key(label: Any) -> Any:
    """Labels that name the same instant are the same label ('2020-01-01' and
    '2020-01-01T00:00:00Z'); others compare as they are."""
    moment = instant(label)
    return moment.astimezone(UTC) if moment is not None else label


def _interval(call: Call, interval: Any) -> tuple[str, Any, Any]:
    """An interval's bounds: instants (datetime64, None for an open end) or, for times of
    day, seconds since midnight (marked by a str kind). The definition: the end must be
    later than the start (TemporalExtentEmpty), except for times without dates, where an
    end not after the start wraps around midnight."""
    if not isinstance(interval, list | tuple) or len(interval) != 2:
        call.fail(
            "ProcessParameterInvalid",
            "Each interval must be a list of two instants (or null).",
            "intervals",
        )
    start, end = interval
    if start is None and end is None:
        call.fail("ProcessParameterInvalid",
                  "An interval must not be open at both ends.", "intervals")  # fmt: skip
    times = [time_of_day(v) for v in interval]
    if any(t is not None for t in times):
        if any(t is None and v is not None for t, v in zip(times, interval, strict=True)):
            call.fail(
                "ProcessParameterInvalid",
                f"The interval {echo(str(interval))} mixes a time of day with a date.",
                "intervals",
            )
        return ("time", times[0], times[1])
    moments = [None if v is None else instant(v) for v in interval]
    for v, m in zip(interval, moments, strict=True):
        if v is not None and m is None:
            call.fail("ProcessParameterInvalid",
                      f"{echo(str(v))} is not a date, date-time or time.", "intervals")  # fmt: skip
    lo, hi = (None if m is None else _as_datetime64(m) for m in moments)
    if lo is not None and hi is not None and hi <= lo:
        call.fail(
            "TemporalExtentEmpty",
            f"The interval [{start}, {end}) is empty: its end must be later than its start.",
            "intervals",
        )
    return ("instants", lo, hi)


def _in_interval(times: np.ndarray, kind: str, lo: Any, hi: Any) -> np.ndarray:
    """Which ``times`` lie in the left-closed interval. Times of day match every day, and
    an interval whose end is not after its start wraps around midnight
    (``["18:00:00", "06:00:00"]`` is the night)."""
    if kind == "time":
        of_day = (times - times.astype("datetime64[D]")) / np.timedelta64(1, "s")
        lo = 0.0 if lo is None else lo
        hi = 86400.0 if hi is None else hi
        if lo < hi:
            return (of_day >= lo) & (of_day < hi)
        return (of_day >= lo) | (of_day < hi)
    keep = np.ones(len(times), dtype=bool)
    if lo is not None:
        keep &= times >= lo
    if hi is not None:
        keep &= times < hi
    return keep


def _one_temporal(call: Call, cube: Any, argument: str) -> str:
    """The only temporal dimension of ``argument`` (climatological_normal and anomaly want
    "exactly one temporal dimension"; the definitions name no exception, and the type
    rules say ProcessParameterInvalid)."""
    if not isinstance(cube, Cube):
        call.fail("ProcessParameterInvalid", f"{echo(argument)} must be a data cube.", argument)
    temporal = dimensions_of_type(cube, "temporal")
    if len(temporal) != 1:
        call.fail(
            "ProcessParameterInvalid",
            f"Argument {echo(argument)} must have exactly one temporal dimension; it has "
            f"{len(temporal)}{': ' + ', '.join(temporal) if temporal else ''}.",
            argument,
        )
    return temporal[0]


@implements("climatological_normal")
def _climatological_normal(call: Call) -> Cube:
    """The mean of each period (month, season ...) over the years of the climatology
    period, skipping no-data; a period without data is no-data. A season belongs to the
    year it ends in (the December before 1981 to 1981's djf), so the definition's seasons
    that "span two consecutive years" count when their first months are in the data, and
    the incomplete one at the end of the last year never does."""
    cube, period = call.get("data"), call.get("period")
    if period not in CLIMATOLOGICAL_NORMALS:
        call.fail("ProcessParameterInvalid", f"Unknown period {echo(str(period))}.", "period")
    first, last = _climatology_years(call)
    dim = _one_temporal(call, cube, "data")
    moments = _as_datetimes(temporal_labels(cube, dim))
    if period == "climatology-period":
        years = [m.year for m in moments]
        normals = ["climatology-period"] * len(moments)
    else:
        labels = [period_label(m, period) for m in moments]
        years = [int(label[:4]) for label in labels]
        normals = [normal_label(label, period) for label in labels]
    skipped = _incomplete_first_season(moments, period, first)
    names = list(CLIMATOLOGICAL_NORMALS[period])
    group = np.array(
        [
            names.index(label) if first <= year <= last and (year, label) != skipped else -1
            for label, year in zip(normals, years, strict=True)
        ],
        dtype=int,
    )
    data = in_compute_dtype(cube.data).transpose(dim, ...)
    ok = cube.full_valid().transpose(dim, ...).values
    values, inside = np.where(ok, data.values, 0.0), group >= 0
    total = np.zeros((len(names),) + values.shape[1:], dtype=values.dtype)
    count = np.zeros(total.shape, dtype=int)
    np.add.at(total, group[inside], values[inside])  # one pass over the dates, not per period
    np.add.at(count, group[inside], ok[inside])
    with np.errstate(all="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    out = _along(data, dim, mean, target_labels=names)
    result = Cube(out.transpose(*cube.dims), out.copy(data=count > 0).transpose(*cube.dims))
    return _as_temporal(result, dim)


def _climatology_years(call: Call) -> tuple[int, int]:
    """The first and last year of ``climatology_period`` (default 1981-2010)."""
    years = call.get("climatology_period") or [1981, 2010]
    try:
        first, last = (int(y) for y in years)
    except (TypeError, ValueError):
        call.fail("ProcessParameterInvalid",
                  "'climatology_period' must be two years, the first and the last.",
                  "climatology_period")  # fmt: skip
    if first > last:
        call.fail(
            "ProcessParameterInvalid",
            f"The climatology period's first year {first} is after its last year {last}.",
            "climatology_period",
        )
    return first, last


def _incomplete_first_season(
    moments: list[datetime], period: str, first: int
) -> tuple[int, str] | None:
    """The first season of the climatology period when the data lacks its months in the
    year before (the definition: "If not available, the first season is not taken into
    account"): (year, name), e.g. (1981, 'djf') without December 1980; else None."""
    if period not in ("season", "tropical-season"):
        return None
    name, before = ("djf", {12}) if period == "season" else ("ndjfma", {11, 12})
    have = {m.month for m in moments if m.year == first - 1}
    return None if before <= have else (first, name)


@implements("anomaly")
def _anomaly(call: Call) -> Cube:
    """``data`` minus the normal of each label's period. ``data``'s labels are period
    labels as aggregate_temporal_period writes them (``2020-06`` for month); the normal of
    ``2020-06`` is labeled ``06``, of ``2020-djf`` ``djf``, of a year, decade or
    decade-ad the label itself; a single/climatology period has one normal for all."""
    cube, normals, period = call.get("data"), call.get("normals"), call.get("period")
    dim = _one_temporal(call, cube, "data")
    ndim = _one_temporal(call, normals, "normals")
    known = [str(v) for v in normals.data[ndim].values]
    single = period in ("single-period", "climatology-period")
    if not single and period not in PERIOD_PATTERNS:
        call.fail("ProcessParameterInvalid", f"Unknown period {echo(str(period))}.", "period")
    if single and len(known) != 1:
        call.fail(
            "ProcessParameterInvalid",
            f"The normals of a {period} need exactly one label; they have {len(known)}.",
            "normals",
        )
    picks = []
    for label in _data_labels(call, cube, dim, period):
        wanted = known[0] if single else normal_label(label, period)
        if wanted not in known:
            call.fail(
                "ProcessParameterInvalid",
                f"The normals have no label {echo(wanted)} (for {echo(label)}).",
                "normals",
            )
        picks.append(known.index(wanted))

    def aligned(values: xr.DataArray) -> xr.DataArray:
        chosen = values.isel({ndim: picks}).drop_vars(ndim).rename({ndim: dim})
        return chosen.assign_coords({dim: cube.data[dim]})

    valid = cube.full_valid() & aligned(normals.full_valid())
    data = in_compute_dtype(cube.data) - in_compute_dtype(aligned(normals.data))
    data = data.where(valid, 0).transpose(*cube.dims).assign_coords(cube.data.coords)
    return Cube(data, valid.transpose(*cube.dims).assign_coords(cube.data.coords))


def _data_labels(call: Call, cube: Cube, dim: str, period: str) -> list[str]:
    """``data``'s labels, which must be the period's (the definition lists them; any for a
    single or climatology period), as the type rule checks them."""
    labels = [str(v) for v in cube.data[dim].values]
    pattern = PERIOD_PATTERNS.get(period)
    bad = [v for v in labels if pattern is not None and not re.fullmatch(pattern, v)]
    if bad:
        call.fail(
            "ProcessParameterInvalid",
            f"The data's temporal labels must be those of period {echo(period)} "
            f"(aggregate_temporal_period computes them); it has {echo(bad[0])}.",
            "data",
        )
    return labels


@implements("resample_cube_temporal")
def _resample_cube_temporal(call: Call) -> Cube:
    """For each label of the target's temporal dimension, the source value at the nearest
    date (ties: the earlier). With ``valid_within``, each pixel takes the nearest date
    within that many days whose value is valid (is_valid: data, not NaN, finite), else
    no-data."""
    cube, target = call.get("data"), call.get("target")
    for name, value in (("data", cube), ("target", target)):
        if not isinstance(value, Cube):
            call.fail("ProcessParameterInvalid", f"{echo(name)} must be a data cube.", name)
    within = call.get("valid_within")
    for dim in _resampled_dimensions(call, cube, target):
        cube = _resample_one(call, cube, target, dim, within)
    return cube


def _resampled_dimensions(call: Call, cube: Cube, target: Cube) -> list[str]:
    """``dimension``, which must exist in both cubes (DimensionNotAvailable) and be
    temporal in both (DimensionMismatch); or every temporal dimension of ``data`` that
    ``target`` has as a temporal one too (none: DimensionMismatch)."""
    name = call.get("dimension")
    ours, theirs = (dimensions_of_type(c, "temporal") for c in (cube, target))
    if name is not None:
        if name not in cube.dims or name not in target.dims:
            where = "data" if name not in cube.dims else "target"
            call.fail(
                "DimensionNotAvailable", f"Dimension {echo(name)} does not exist in {where}.",
                "dimension",
            )  # fmt: skip
        if name not in ours or name not in theirs:
            call.fail("DimensionMismatch",
                      f"Dimension {echo(name)} must be temporal in both data cubes.",
                      "dimension")  # fmt: skip
        return [name]
    common = [d for d in ours if d in theirs]
    if not common:
        call.fail(
            "DimensionMismatch",
            "The data cubes have no temporal dimension with the same name (data: "
            f"{', '.join(ours) or 'none'}; target: {', '.join(theirs) or 'none'}).",
            "target",
        )
    return common


def _resample_one(call: Call, cube: Cube, target: Cube, dim: str, within: Any) -> Cube:
    """``cube`` with ``dim`` resampled onto ``target``'s labels of ``dim``: each pixel
    tries the source dates from the nearest on (ties: the earlier) and takes the first it
    may (any without ``valid_within``; else a valid value within the window)."""
    source = temporal_labels(cube, dim).astype("int64")
    wanted = temporal_labels(target, dim, "target").astype("int64")
    values, valid = cube.data.transpose(dim, ...), cube.full_valid().transpose(dim, ...)
    usable = valid.values.copy()
    if within is None:
        usable[:] = True  # the definition: "independent of the value (including no-data)"
    elif np.issubdtype(values.dtype, np.floating):
        usable &= np.isfinite(values.values)  # is_valid: NaN and infinities are not valid
    reach = np.inf if within is None else float(within) * 86400e9  # days, in nanoseconds
    out = np.zeros((len(wanted),) + values.shape[1:], dtype=values.dtype)
    ok = np.zeros(out.shape, dtype=bool)
    for j, w in enumerate(wanted):
        distance = np.abs(source - w).astype(FLOAT)
        taken = np.zeros(out.shape[1:], dtype=bool)
        for i in np.lexsort((source, distance)):
            if distance[i] > reach or taken.all():
                break
            pick = ~taken & usable[i]
            out[j] = np.where(pick, values.values[i], out[j])
            ok[j] = np.where(pick, valid.values[i], ok[j])
            taken |= pick
    data = _along(values, dim, out, target.data[dim])
    return Cube(data.transpose(*cube.dims), data.copy(data=ok).transpose(*cube.dims))
