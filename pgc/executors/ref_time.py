"""Reference implementations: aggregation over calendar periods, processes over a
dimension (``apply_dimension``) and linear interpolation of arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import echo
from ..periods import CLIMATOLOGICAL_NORMALS
from .ref_scalar import FLOAT, _as_float
from .reference import Call, ProcessError, implements
from .values import Cube, CubeArray, LabeledArray, concat, without

# Period labels as the aggregate_temporal_period definition writes them. December belongs
# to the next year's djf, November and December to the next year's ndjfma.
_PERIODS = {
    "hour": lambda t: t.strftime("%Y-%m-%d-%H"),
    "day": lambda t: t.strftime("%Y-") + pd.Index([f"{d:03d}" for d in t.dayofyear]),
    "week": lambda t: t.strftime("%G-%V"),  # ISO 8601 week-numbering year and week
    "dekad": lambda t: (
        t.strftime("%Y-")
        + pd.Index(
            [
                f"{(m - 1) * 3 + min(d // 10, 2):02d}"
                for m, d in zip(t.month, t.day - 1, strict=True)
            ]
        )
    ),
    "month": lambda t: t.strftime("%Y-%m"),
    "season": lambda t: pd.Index(
        [_half_open_year(ts, {12}, ("djf", "mam", "jja", "son"), 3) for ts in t]
    ),
    "tropical-season": lambda t: pd.Index(
        [_half_open_year(ts, {11, 12}, ("ndjfma", "mjjaso"), 6) for ts in t]
    ),
    "year": lambda t: t.strftime("%Y"),
    "decade": lambda t: pd.Index([f"{y // 10 * 10:04d}" for y in t.year]),
    "decade-ad": lambda t: pd.Index([f"{(y - 1) // 10 * 10 + 1:04d}" for y in t.year]),
}


def _half_open_year(ts: pd.Timestamp, next_year: set[int], names: tuple, months: int) -> str:
    """Seasons that start in the year before: ``next_year`` months count to the next
    year's first season; the others in order, ``months`` months each."""
    if ts.month in next_year:
        return f"{ts.year + 1}-{names[0]}"
    first = 12 - len(next_year) + 1  # month where the first season starts
    index = ((ts.month - first) % 12) // months
    return f"{ts.year}-{names[index]}"


def _all_periods(times: pd.DatetimeIndex, period: str) -> list[str]:
    """Every period from the first to the last date, in order (the definition: labels are
    complete for the whole extent, periods without data included)."""
    step = "h" if period == "hour" else "D"
    start, end = times.min().floor(step), times.max().floor(step)
    return list(dict.fromkeys(_PERIODS[period](pd.date_range(start, end, freq=step))))


@implements("aggregate_temporal_period")
def _aggregate_temporal_period(call: Call) -> Cube:
    cube = call.get("data")
    period = call.get("period")
    dim = call.get("dimension") or _temporal_dim(cube)  # the dates' (labels checked below)
    if period not in _PERIODS:
        call.fail("ProcessParameterInvalid", f"Unknown period '{period}'.", "period")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    times = pd.DatetimeIndex(_dates(cube, dim))
    labels = list(_PERIODS[period](times))
    order = _all_periods(times, period) if len(times) else []
    reducer = call.callback("reducer")
    parts = []
    template = without(cube.data, dim)
    for label in order:
        idx = [i for i, lab in enumerate(labels) if lab == label]
        if not idx:  # a period without dates: no-data
            parts.append(_like(None, template))
            continue
        sub = cube.isel({dim: idx})
        result = reducer(data=CubeArray(sub, dim), context=call.get("context"))
        parts.append(_like(result, template))
    return concat(parts, dim, order, cube.dims, template)


def _dates(cube: Cube, dim: str) -> np.ndarray:
    """The labels of ``dim``, which must be dates (none is fine): period labels such as
    '2023-01' (aggregate_temporal_period's) fail with ProcessParameterInvalid on data."""
    labels = cube.data[dim].values
    if len(labels) and not np.issubdtype(labels.dtype, np.datetime64):
        raise ProcessError(
            "ProcessParameterInvalid",
            f"The labels of '{dim}' must be dates; the first is {echo(str(labels[0]))} (labels "
            "of periods, from aggregate_temporal_period say: give this process the dates).",
            "data",
        )
    return labels


def _like(result: Any, template: xr.DataArray) -> Cube:
    if isinstance(result, Cube):
        data = xr.broadcast(_as_float(result.data), template)[0]
        valid = xr.broadcast(result.valid, template)[0]
        return Cube(data, valid)
    valid = result is not None
    return Cube(
        xr.full_like(template, result if valid else 0, dtype=FLOAT),
        xr.full_like(template, valid, dtype=bool),
    )


@implements("apply_dimension")
def _apply_dimension(call: Call) -> Cube:
    """The arrays along ``dimension`` replaced by the process's arrays. Labels stay when
    the dimension stays and the arrays keep their length, else they are 0..n-1. A
    ``target_dimension`` replaces the source dimension: a new one (type other) in its
    place, or an existing one (with one label) that takes the values."""
    cube, dim = call.get("data"), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    result = call.callback("process")(data=CubeArray(cube, dim), context=call.get("context"))
    if not isinstance(result, CubeArray):
        call.fail(
            "ProcessParameterInvalid",
            f"The process must return an array along '{dim}' of the same length at every pixel.",
            "process",
        )
    out = result.cube
    data, valid = out.data, out.full_valid()
    target = call.get("target_dimension")
    same = data.sizes[dim] == cube.data.sizes[dim] and (target is None or target == dim)
    # The source's labels stay (whatever labels the process's arrays carry, e.g. sort's),
    # or they are incrementing integers (the definition).
    index = {dim: cube.data[dim].values if same else np.arange(data.sizes[dim])}
    data, valid = data.assign_coords(index), valid.assign_coords(index)
    if target is None or target == dim:
        return Cube(data.transpose(*cube.dims), valid.transpose(*cube.dims))
    order = [target if d == dim else d for d in cube.dims]
    if target in cube.dims:
        if cube.data.sizes[target] > 1:
            call.fail(
                "ProcessParameterInvalid",
                f"The target dimension '{target}' exists with more than one label.",
                "target_dimension",
            )
        data, valid = (v.isel({target: 0}, drop=True) for v in (data, valid))
        order = [d for d in cube.dims if d != dim]
    data, valid = (v.rename({dim: target}) for v in (data, valid))
    return Cube(data.transpose(*order), valid.transpose(*order))


@implements("array_interpolate_linear")
def _array_interpolate_linear(call: Call) -> Any:
    data = call.get("data")
    if isinstance(data, CubeArray):
        return CubeArray(_interpolate_cube(data), data.dimension)
    values = list(data.values if isinstance(data, LabeledArray) else data)
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


def _interpolate_cube(arr: CubeArray) -> Cube:
    cube, dim = arr.cube, arr.dimension
    data = _as_float(cube.data).transpose(dim, ...)
    valid = cube.full_valid().transpose(dim, ...)
    values = data.values
    known = valid.values & ~np.isnan(values)
    labels = list(cube.data[dim].values)
    filled = _interpolate(
        np.where(valid.values, values, np.nan), known, _positions(labels, len(labels))
    )
    new_valid = valid.values | (~known & ~np.isnan(filled))
    out = data.copy(data=np.where(new_valid, filled, 0.0))
    return Cube(out.transpose(*cube.dims), valid.copy(data=new_valid).transpose(*cube.dims))


@implements("aggregate_temporal")
def _aggregate_temporal(call: Call) -> Cube:
    """Reduce the values in each left-closed interval; labels from ``labels`` or the
    intervals' starts."""
    cube = call.get("data")
    dim = call.get("dimension")
    temporal = [d for d in cube.dims if np.issubdtype(cube.data[d].dtype, np.datetime64)]
    if dim is None:
        if len(temporal) > 1:
            call.fail(
                "TooManyDimensions",
                "The data cube has several temporal dimensions; name one in 'dimension'.",
                "dimension",
            )
        if not temporal:
            call.fail(
                "DimensionNotAvailable", "The data cube has no temporal dimension.", "dimension"
            )
        dim = temporal[0]
    elif dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    intervals = call.get("intervals")
    labels = call.get("labels") or [start for start, _ in intervals]
    if any(label is None for label in labels):
        call.fail(
            "ProcessParameterInvalid",
            "An interval without a start has no default label; give the intervals 'labels'.",
            "intervals",
        )
    times = cube.data[dim].values
    reducer = call.callback("reducer")
    template = cube.data.isel({dim: 0}, drop=True)
    parts = []
    for start, end in intervals:
        idx = list(np.flatnonzero(_in_interval(times, start, end)))
        if not idx:
            parts.append(
                Cube(xr.zeros_like(template, dtype=FLOAT), xr.zeros_like(template, dtype=bool))
            )
            continue
        sub = cube.isel({dim: idx})
        parts.append(
            _like(reducer(data=CubeArray(sub, dim), context=call.get("context")), template)
        )
    return concat(parts, dim, labels, cube.dims)


def _in_interval(times: np.ndarray, start: str | None, end: str | None) -> np.ndarray:
    """Which ``times`` lie in the left-closed interval. Times of day (``HH:MM:SS``) match
    every day, and an interval whose end is not after its start wraps around midnight
    (``["18:00:00", "06:00:00"]`` is the night)."""
    if _is_time_of_day(start) or _is_time_of_day(end):
        day = np.timedelta64(1, "D")
        of_day = (times - times.astype("datetime64[D]")) / np.timedelta64(1, "s")
        lo = 0.0 if start is None else _seconds_of_day(start)
        hi = day / np.timedelta64(1, "s") if end is None else _seconds_of_day(end)
        if lo < hi:
            return (of_day >= lo) & (of_day < hi)
        return (of_day >= lo) | (of_day < hi)
    keep = np.ones(len(times), dtype=bool)
    if start is not None:
        keep &= times >= _as_time(start)
    if end is not None:
        keep &= times < _as_time(end)
    return keep


def _is_time_of_day(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 8 and value[2] == ":" and value[5] == ":"


def _seconds_of_day(value: str) -> float:
    hours, minutes, seconds = (int(part) for part in value.split(":"))
    return float(hours * 3600 + minutes * 60 + seconds)


def _as_time(value: str) -> np.datetime64:
    text = str(value)
    if len(text) == 10:
        text += "T00:00:00"
    return np.datetime64(text.rstrip("Z").split("+")[0], "ns")


def _temporal_dim(cube: Cube) -> str:
    """The dimension of dates, or of period labels (text) after aggregation."""
    dates = [d for d in cube.dims if np.issubdtype(cube.data[d].dtype, np.datetime64)]
    others = [d for d in cube.dims if d not in ("x", "y", "bands")]
    if not (dates or others):
        raise ProcessError("DimensionNotAvailable", "The data cube has no temporal dimension.")
    return (dates or others)[0]


@implements("climatological_normal")
def _climatological_normal(call: Call) -> Cube:
    """The mean of each period (month, season ...) over the years of the climatology
    period, skipping no-data; a period without data is no-data."""
    cube, period = call.get("data"), call.get("period")
    if period not in CLIMATOLOGICAL_NORMALS:
        raise ProcessError("ProcessParameterInvalid", f"Unknown period '{period}'.", "period")
    first, last = (int(y) for y in (call.get("climatology_period") or ["1981", "2010"]))
    dim = _temporal_dim(cube)
    times = pd.DatetimeIndex(_dates(cube, dim))  # as the type rule says
    if period == "climatology-period":
        labels = ["climatology-period"] * len(times)
    else:
        periods = _period_labels(cube.data[dim].values, period)
        labels = [_normal_of(label, period) for label in periods]
    inside = [first <= ts.year <= last for ts in times]
    values = _as_float(cube.data)
    valid = cube.full_valid()
    template = cube.data.isel({dim: 0}, drop=True)
    parts = []
    for label in CLIMATOLOGICAL_NORMALS[period]:
        idx = [i for i, lab in enumerate(labels) if lab == label and inside[i]]
        if not idx:
            parts.append(
                Cube(xr.zeros_like(template, dtype=FLOAT), xr.zeros_like(template, dtype=bool))
            )
            continue
        sub_valid = valid.isel({dim: idx})
        total = values.isel({dim: idx}).where(sub_valid, 0).sum(dim)
        count = sub_valid.sum(dim)
        with np.errstate(all="ignore"):
            parts.append(Cube((total / count).where(count > 0, 0), count > 0))
    names = list(CLIMATOLOGICAL_NORMALS[period])
    return concat(parts, dim, names, cube.dims)


@implements("anomaly")
def _anomaly(call: Call) -> Cube:
    """``data`` minus the normal of each label's period. ``data``'s labels are period
    labels as aggregate_temporal_period writes them (``2020-06`` for month); the normal of
    ``2020-06`` is labeled ``06``, of ``2020-djf`` ``djf``, of a year, decade or
    decade-ad the label itself; a single/climatology period has one normal for all."""
    cube, normals, period = call.get("data"), call.get("normals"), call.get("period")
    dim = _temporal_dim(cube)
    ndim = next(d for d in normals.dims if d not in ("x", "y", "bands"))
    known = [str(v) for v in normals.data[ndim].values]
    single = period in ("single-period", "climatology-period")
    if single and len(known) != 1:
        call.fail(
            "ProcessParameterInvalid",
            f"The normals of a {period} need exactly one label; they have {len(known)}.",
            "normals",
        )
    picks = []
    for label in _period_labels(cube.data[dim].values, period):
        wanted = known[0] if single else _normal_of(label, period)
        if wanted not in known:
            call.fail(
                "ProcessParameterInvalid",
                f"The normals have no label '{wanted}' (for '{label}').",
                "normals",
            )
        picks.append(known.index(wanted))

    def aligned(values: xr.DataArray) -> xr.DataArray:
        chosen = values.isel({ndim: picks}).rename({ndim: dim})
        return chosen.assign_coords({dim: cube.data[dim].values})

    normal_valid = aligned(normals.full_valid())
    valid = cube.full_valid() & normal_valid
    data = _as_float(cube.data) - _as_float(aligned(normals.data))
    return Cube(data.where(valid, 0).transpose(*cube.dims), valid.transpose(*cube.dims))


def _period_labels(labels: np.ndarray, period: str) -> list[str]:
    """Period labels; dates (a cube not aggregated yet) get the label of their period."""
    if np.issubdtype(labels.dtype, np.datetime64) and period in _PERIODS:
        return list(_PERIODS[period](pd.DatetimeIndex(labels)))
    return [str(v) for v in labels]


def _normal_of(label: str, period: str) -> str:
    if period in ("year", "decade", "decade-ad"):
        return label
    if period == "hour":
        return label[-2:]
    suffix = label.split("-", 1)[-1]
    return "365" if period == "day" and suffix == "366" else suffix  # as normals count days


@implements("resample_cube_temporal")
def _resample_cube_temporal(call: Call) -> Cube:
    """For each label of the target's temporal dimension, the source value at the nearest
    date (ties: the earlier), within ``valid_within`` days when given."""
    cube, target = call.get("data"), call.get("target")
    dim = call.get("dimension") or _temporal_dim(cube)
    if dim not in cube.dims or dim not in target.dims:
        call.fail("DimensionNotAvailable", f"Dimension '{dim}' is missing.", "dimension")
    source = cube.data[dim].values.astype("datetime64[ns]").astype("int64")
    wanted = target.data[dim].values.astype("datetime64[ns]").astype("int64")
    within = call.get("valid_within")
    picks, ok = [], []
    for w in wanted:
        distance = np.abs(source - w)
        best = int(np.argmin(distance))
        picks.append(best)
        ok.append(within is None or distance[best] <= within * 86400e9)
    data = cube.data.isel({dim: picks}).assign_coords({dim: target.data[dim].values})
    valid = cube.full_valid().isel({dim: picks}).assign_coords({dim: target.data[dim].values})
    keep = xr.DataArray(np.array(ok), dims=dim, coords={dim: target.data[dim].values})
    return Cube(data, (valid & keep).transpose(*cube.dims))
