"""The temporal processes against their openEO definitions (issue 17): filter_temporal,
aggregate_temporal, aggregate_temporal_period, climatological_normal, anomaly,
resample_cube_temporal, date_shift, date_difference, date_between.

The oracles are the definitions' sentences (quoted in each test), computed here
independently of pgc: which labels an interval holds, how aggregate_temporal_period writes
the label of each period, the nearest date. Processes run through the public path
(``run_process``: validation, type rules, the reference executor).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import examples, node, run_process
from hypothesis import example, given, settings
from hypothesis import strategies as st

import pgc
from pgc.executors.values import Cube, dimension_type, with_dimension_types

# -------------------------------------------------------------------------------------
# Helpers


def callback(process_id: str, **arguments) -> dict:
    args = {"data": {"from_parameter": "data"}, **arguments}
    return {"process_graph": {"r": node(process_id, result=True, **args)}}


MAX = callback("max")
COUNT_ALL = callback("count", condition=True)  # count: "true counts all elements"


def cube_of(
    labels: dict[str, list], types: dict[str, str], values=None, valid=None
) -> Cube:
    """A cube with these dimensions (name: labels, in order) and openEO types; values
    0, 1, 2, ... unless given; all valid unless ``valid`` says otherwise."""
    coords = {}
    for name, axis in labels.items():
        dates = len(axis) and isinstance(axis[0], np.datetime64 | datetime)
        coords[name] = np.array(axis, dtype="datetime64[ns]") if dates else np.asarray(axis)
    shape = tuple(len(v) for v in labels.values())
    data = np.arange(int(np.prod(shape)), dtype="float64").reshape(shape) if values is None \
        else np.asarray(values, dtype="float64").reshape(shape)  # fmt: skip
    ok = np.ones(shape, bool) if valid is None else np.asarray(valid, bool).reshape(shape)
    array = xr.DataArray(np.where(ok, data, 0.0), dims=list(labels), coords=coords)
    cube = Cube(array, xr.DataArray(ok, dims=list(labels), coords=coords))
    return with_dimension_types(cube, types)


def run(process_id: str, cube: Cube | None = None, **arguments):
    values = {} if cube is None else {"c": cube}
    data = {} if cube is None else {"data": {"from_parameter": "c"}}
    return run_process(process_id, values, **data, **arguments)


def run_fast(process_id: str, cube: Cube | None = None, **arguments):
    """As :func:`run`, with every argument but callbacks passed as a parameter: the graph
    is the same for every example, so it compiles once (the plan cache), and the values
    meet the run-time checks (the examples with literals meet the compile-time ones)."""
    values = {} if cube is None else {"c": cube}
    args = {} if cube is None else {"data": {"from_parameter": "c"}}
    for name, value in arguments.items():
        if isinstance(value, dict) and "process_graph" in value:
            args[name] = value
        else:
            values[f"p_{name}"] = value
            args[name] = {"from_parameter": f"p_{name}"}
    return run_process(process_id, values, **args)


def error_of(process_id: str, cube: Cube | None = None, **arguments) -> str:
    with pytest.raises(pgc.PgcError) as caught:
        run(process_id, cube, **arguments)
    return caught.value.code


def texts(cube: Cube, dim: str) -> list[str]:
    """A dimension's labels as text: dates as ISO instants."""
    values = cube.data[dim].values
    if np.issubdtype(values.dtype, np.datetime64):
        return [str(v.astype("datetime64[s]")) for v in values]
    return [str(v) for v in values]


def at(cube: Cube, dim: str, i: int) -> list:
    """The values (None: no-data) of position ``i`` along ``dim``, as nested lists."""
    return cube.isel({dim: i}).to_python()


def instants(draw_from: datetime, span_days: int, size: int):
    """``size`` distinct sorted instants within ``span_days`` after ``draw_from``, to the
    minute (datetime64[ns])."""
    minutes = st.lists(st.integers(0, span_days * 1440), min_size=size, max_size=size,
                       unique=True).map(sorted)  # fmt: skip
    return minutes.map(
        lambda ms: [np.datetime64(draw_from + timedelta(minutes=m), "ns") for m in ms]
    )


@st.composite
def dated_cubes(
    draw, name: str = "t", start=datetime(2019, 1, 1), span_days: int = 800,
    max_dates: int = 6, position: int | None = None, integers: bool = True,
):  # fmt: skip
    """A cube with a temporal dimension ``name`` (at ``position`` among a spatial x and a
    bands dimension), integer values (sums and maxima are exact) and some no-data."""
    size = draw(st.integers(1, max_dates))
    times = draw(instants(start, span_days, size))
    dims = {"x": [0.5, 1.5], "bands": ["B1"]}
    order = list(dims)
    order.insert(draw(st.integers(0, 2)) if position is None else position, name)
    labels = {d: times if d == name else dims[d] for d in order}
    types = {name: "temporal", "x": "spatial", "bands": "bands"}
    count = size * 2
    number = st.integers(-100, 100) if integers else st.floats(-1e3, 1e3)
    values = draw(st.lists(number, min_size=count, max_size=count))
    valid = draw(st.lists(st.booleans(), min_size=count, max_size=count))
    return cube_of(labels, types, values, [v or i % 3 for i, v in enumerate(valid)])


def utc(value: np.datetime64) -> datetime:
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=UTC)


# -------------------------------------------------------------------------------------
# filter_temporal


@st.composite
def extents(draw, start=datetime(2019, 1, 1), span_days=800):
    """A left-closed interval of date-times or dates; at most one end open."""
    a, b = sorted(draw(st.lists(st.integers(0, span_days * 1440), min_size=2, max_size=2,
                                unique=True)))  # fmt: skip
    ends = [start + timedelta(minutes=a), start + timedelta(minutes=b)]
    as_date = draw(st.booleans())
    written = [e.strftime("%Y-%m-%d") if as_date else e.strftime("%Y-%m-%dT%H:%M:%SZ")
               for e in ends]  # fmt: skip
    if written[0] == written[1]:
        written = [e.strftime("%Y-%m-%dT%H:%M:%SZ") for e in ends]
    open_end = draw(st.sampled_from([None, 0, 1]))
    if open_end is not None:
        written[open_end] = None
    return written


def _bound(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # dates: UTC


def _inside(moment: datetime, extent: list) -> bool:
    lo, hi = (_bound(v) for v in extent)
    return (lo is None or moment >= lo) and (hi is None or moment < hi)


@settings(max_examples=examples(40))
@given(dated_cubes(name="when"), extents())
def test_filter_temporal_keeps_the_labels_in_the_left_closed_interval(cube, extent):
    """"the filter checks whether each of the temporal dimension labels is greater than or
    equal to the lower boundary (start date/time) and less than the value of the upper
    boundary" -- on a temporal dimension not called ``t`` (it crashed: Internal)."""
    out = run_fast("filter_temporal", cube, extent=extent)
    kept = [i for i, t in enumerate(cube.data["when"].values) if _inside(utc(t), extent)]
    assert out.dims == cube.dims  # "The dimensions ... remain unchanged"
    assert texts(out, "when") == [texts(cube, "when")[i] for i in kept]
    for j, i in enumerate(kept):
        assert at(out, "when", j) == at(cube, "when", i)
    assert dimension_type(out, "when") == "temporal"


@settings(max_examples=examples(25))
@given(st.data(), extents())
def test_filter_temporal_without_dimension_filters_every_temporal_dimension(data, extent):
    """"If no specific dimension is specified, the filter applies to all temporal
    dimensions"; a named one is the only one filtered."""
    t1 = data.draw(instants(datetime(2019, 1, 1), 800, data.draw(st.integers(1, 4))))
    t2 = data.draw(instants(datetime(2019, 1, 1), 800, data.draw(st.integers(1, 4))))
    cube = cube_of({"a": t1, "x": [0.0], "b": t2},
                   {"a": "temporal", "x": "spatial", "b": "temporal"})  # fmt: skip
    out = run_fast("filter_temporal", cube, extent=extent)
    for name, times in (("a", t1), ("b", t2)):
        want = [str(t.astype("datetime64[s]")) for t in times if _inside(utc(t), extent)]
        assert texts(out, name) == want
    only_b = run_fast("filter_temporal", cube, extent=extent, dimension="b")
    assert texts(only_b, "a") == texts(cube, "a")
    assert texts(only_b, "b") == texts(out, "b")


def test_filter_temporal_reads_time_zones_and_dates():
    """Extent items are RFC 3339 date-times "with a time zone" or dates ("The time zone is
    UTC. Missing time components are all 0")."""
    times = [np.datetime64("2020-01-01T00:00"), np.datetime64("2020-01-01T23:00"),
             np.datetime64("2020-01-02T00:00")]  # fmt: skip
    cube = cube_of({"t": times}, {"t": "temporal"})
    out = run("filter_temporal", cube, extent=["2020-01-01T01:00:00+01:00", "2020-01-02"])
    assert texts(out, "t") == ["2020-01-01T00:00:00", "2020-01-01T23:00:00"]


def test_filter_temporal_exceptions():
    """DimensionNotAvailable: "A dimension with the specified name does not exist";
    TemporalExtentEmpty: "The second instant in time must always be greater/later than
    the first"; the data must have a temporal dimension."""
    times = [np.datetime64("2020-01-01"), np.datetime64("2020-02-01")]
    cube = cube_of({"when": times, "x": [0.0]}, {"when": "temporal", "x": "spatial"})
    extent = ["2020-01-01", "2020-01-15"]
    assert error_of("filter_temporal", cube, extent=extent, dimension="t") == (
        "DimensionNotAvailable"
    )
    assert error_of("filter_temporal", cube, extent=extent, dimension="x") == (
        "DimensionNotAvailable"
    )
    for empty in (["2020-01-15", "2020-01-15"], ["2020-01-15", "2020-01-01"]):
        assert error_of("filter_temporal", cube, extent=empty) == "TemporalExtentEmpty"
    flat = cube_of({"x": [0.0, 1.0]}, {"x": "spatial"})
    assert error_of("filter_temporal", flat, extent=extent) == "DimensionNotAvailable"


# -------------------------------------------------------------------------------------
# aggregate_temporal


@st.composite
def intervals(draw, start=datetime(2019, 1, 1), span_days=800):
    """1-4 intervals (may overlap) with distinct starts, as date-times."""
    count = draw(st.integers(1, 4))
    starts = draw(st.lists(st.integers(0, span_days * 1440), min_size=count, max_size=count,
                           unique=True))  # fmt: skip
    out = []
    for s in starts:
        length = draw(st.integers(1, span_days * 1440 // 2))
        ends = [start + timedelta(minutes=s), start + timedelta(minutes=s + length)]
        out.append([e.strftime("%Y-%m-%dT%H:%M:%SZ") for e in ends])
    return out


@settings(max_examples=examples(40))
@given(dated_cubes(name="time"), intervals(), st.booleans())
@example(  # an interval without dates: count is 0, not no-data (the reducer sees [])
    cube_of({"time": [np.datetime64("2020-01-01")], "x": [0.0]},
            {"time": "temporal", "x": "spatial"}),
    [["2021-01-01T00:00:00Z", "2021-02-01T00:00:00Z"]],
    False,
)  # fmt: skip
def test_aggregate_temporal_reduces_the_values_of_each_interval(cube, spans, named):
    """"For each interval, all data along the dimension will be passed through the
    reducer"; intervals are left-closed and "allowed to overlap"; "If no labels are
    specified, the start of the temporal interval will be used as label"; "If there's no
    data for the interval, the array is empty"."""
    labels = [f"i{k}" for k in range(len(spans))] if named else None
    args = {"intervals": spans, "reducer": COUNT_ALL}
    if labels:
        args["labels"] = labels
    counted = run_fast("aggregate_temporal", cube, **args)
    maxima = run_fast("aggregate_temporal", cube, **{**args, "reducer": MAX})
    assert counted.dims == cube.dims  # "A new data cube with the same dimensions"
    assert texts(counted, "time") == (labels or [s[0] for s in spans])
    assert dimension_type(counted, "time") == "temporal"
    times = [utc(t) for t in cube.data["time"].values]
    for k, span in enumerate(spans):
        members = [i for i, t in enumerate(times) if _inside(t, span)]
        pixels = np.asarray(counted.isel({"time": k}).data.values).ravel()
        assert set(pixels.tolist()) == {float(len(members))}
        assert at(maxima, "time", k) == _max_along(cube, "time", members)


def _max_along(cube: Cube, dim: str, members: list[int]) -> list:
    """max over ``members`` along ``dim`` per pixel, skipping no-data ("An array with
    solely no-data values returns the no-data value")."""
    sub = cube.isel({dim: members})
    valid = sub.full_valid()
    out = sub.data.where(valid, -np.inf).max(dim) if members else sub.data.sum(dim)
    return Cube(out, valid.any(dim)).to_python()


def test_aggregate_temporal_times_of_day_wrap_around_midnight():
    """Intervals may be "Time only, formatted as HH:MM:SS"; the end must be later than
    the start "except when using time without date"."""
    times = [np.datetime64(f"2020-06-0{d}T{h:02d}:00") for d in (1, 2) for h in (3, 12, 20)]
    cube = cube_of({"t": times}, {"t": "temporal"}, values=[1, 2, 4, 8, 16, 32])
    out = run("aggregate_temporal", cube, intervals=[["06:00:00", "18:00:00"],
              ["18:00:00", "06:00:00"]], reducer=callback("sum"))  # fmt: skip
    assert out.to_python() == [2 + 16, 1 + 4 + 8 + 32]
    assert texts(out, "t") == ["06:00:00", "18:00:00"]


def test_aggregate_temporal_exceptions():
    """TooManyDimensions: "The data cube contains multiple temporal dimensions. The
    parameter `dimension` must be specified"; DimensionNotAvailable: "does not exist or no
    temporal dimension is available"; DistinctDimensionLabelsRequired: "the user-specified
    values for the start times of the temporal intervals are not distinct";
    TemporalExtentEmpty: "At least one of the intervals is empty"; "The number of labels
    and the number of intervals need to be equal"."""
    t = [np.datetime64("2020-01-01"), np.datetime64("2020-02-01")]
    two = cube_of({"a": t, "b": t}, {"a": "temporal", "b": "temporal"})
    spans = [["2020-01-01", "2020-03-01"]]
    args = {"intervals": spans, "reducer": MAX}
    assert error_of("aggregate_temporal", two, **args) == "TooManyDimensions"
    assert run("aggregate_temporal", two, dimension="b", **args).dims == ("a", "b")
    assert error_of("aggregate_temporal", two, dimension="c", **args) == "DimensionNotAvailable"
    flat = cube_of({"x": [0.0, 1.0]}, {"x": "spatial"})
    assert error_of("aggregate_temporal", flat, **args) == "DimensionNotAvailable"
    one = cube_of({"t": t, "x": [0.0]}, {"t": "temporal", "x": "spatial"})
    assert error_of("aggregate_temporal", one, dimension="x", **args) == "DimensionNotAvailable"
    same_start = [["2020-01-01", "2020-02-01"], ["2020-01-01T00:00:00Z", "2020-03-01"]]
    assert error_of("aggregate_temporal", one, intervals=same_start, reducer=MAX) == (
        "DistinctDimensionLabelsRequired"
    )
    assert run("aggregate_temporal", one, intervals=same_start, reducer=MAX,
               labels=["a", "b"]).dims == ("t", "x")  # fmt: skip
    backwards = [["2020-02-01", "2020-01-01"]]
    assert error_of("aggregate_temporal", one, intervals=backwards, reducer=MAX) == (
        "TemporalExtentEmpty"
    )
    assert error_of("aggregate_temporal", one, reducer=MAX, intervals=spans * 2,
                    labels=["a"]) == "ProcessParameterInvalid"  # fmt: skip


def test_aggregate_temporal_checks_intervals_given_at_run_time():
    """The same exceptions when the intervals come from a parameter (no literal to check
    before running)."""
    t = [np.datetime64("2020-01-01"), np.datetime64("2020-02-01")]
    one = cube_of({"t": t}, {"t": "temporal"})
    for spans, code in (
        ([["2020-02-01", "2020-01-01"]], "TemporalExtentEmpty"),
        ([["2020-01-01", "2020-02-01"], ["2020-01-01", "2020-03-01"]],
         "DistinctDimensionLabelsRequired"),
    ):  # fmt: skip
        with pytest.raises(pgc.PgcError) as caught:
            run_process("aggregate_temporal", {"c": one, "i": spans},
                        data={"from_parameter": "c"}, intervals={"from_parameter": "i"},
                        reducer=MAX)  # fmt: skip
        assert caught.value.code == code


# -------------------------------------------------------------------------------------
# aggregate_temporal_period: labels as the definition writes them

_SEASON = {12: ("djf", 1), 1: ("djf", 0), 2: ("djf", 0), 3: ("mam", 0), 4: ("mam", 0),
           5: ("mam", 0), 6: ("jja", 0), 7: ("jja", 0), 8: ("jja", 0), 9: ("son", 0),
           10: ("son", 0), 11: ("son", 0)}  # fmt: skip
_TROPICAL = {m: ("ndjfma", 1 if m >= 11 else 0) if m >= 11 or m <= 4 else ("mjjaso", 0)
             for m in range(1, 13)}  # fmt: skip


def expected_label(t: pd.Timestamp, period: str) -> str:
    """The label of the period holding ``t``, from the definition's text: "`hour`:
    `YYYY-MM-DD-00` - `YYYY-MM-DD-23`", "`day`: `YYYY-001` - `YYYY-365`" (its example: the
    days 2020-01-01 to 2020-12-31 give 365 labels), "`week`: `YYYY-01` - `YYYY-52`" of
    ISO 8601, "`dekad`: `YYYY-00` - `YYYY-36`" (three per month: days 1-10, 11-20, 21-end),
    "`season`: `YYYY-djf` (December - February)", "`tropical-season`: `YYYY-ndjfma`
    (November - April)", "`year`: `YYYY`", "`decade`: `YYY0`", "`decade-ad`: `YYY1`"."""
    if period == "hour":
        return f"{t.year:04d}-{t.month:02d}-{t.day:02d}-{t.hour:02d}"
    if period == "day":
        return f"{t.year:04d}-{min(t.dayofyear, 365):03d}"
    if period == "week":
        iso = t.isocalendar()
        return f"{iso[0]:04d}-{min(iso[1], 52):02d}"
    if period == "dekad":
        third = 0 if t.day <= 10 else 1 if t.day <= 20 else 2
        return f"{t.year:04d}-{(t.month - 1) * 3 + third:02d}"
    if period == "month":
        return f"{t.year:04d}-{t.month:02d}"
    if period in ("season", "tropical-season"):
        name, later = (_SEASON if period == "season" else _TROPICAL)[t.month]
        return f"{t.year + later:04d}-{name}"
    if period == "year":
        return f"{t.year:04d}"
    if period == "decade":
        return f"{t.year - t.year % 10:04d}"
    return f"{t.year - (t.year - 1) % 10:04d}"  # decade-ad: from a year ending in 1


FORMATS = {
    "hour": r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])-([01]\d|2[0-3])",
    "day": r"\d{4}-(00[1-9]|0[1-9]\d|[12]\d\d|3[0-5]\d|36[0-5])",
    "week": r"\d{4}-(0[1-9]|[1-4]\d|5[0-2])",
    "dekad": r"\d{4}-([0-2]\d|3[0-6])",
    "month": r"\d{4}-(0[1-9]|1[0-2])",
    "season": r"\d{4}-(djf|mam|jja|son)",
    "tropical-season": r"\d{4}-(ndjfma|mjjaso)",
    "year": r"\d{4}",
    "decade": r"\d{3}0",
    "decade-ad": r"\d{3}1",
}
SPANS = {"hour": 2, "day": 30, "week": 300, "dekad": 300}  # days the dates may span


@settings(max_examples=examples(40))
@given(st.sampled_from(sorted(FORMATS)), st.data())
@example("week", None)  # ISO week 53 (2020-12-28 - 2021-01-03) is labeled 52
@example("day", None)  # 2020-12-31: day 366 of a leap year is labeled 365
def test_aggregate_temporal_period_labels_every_period_as_the_definition(period, data):
    """"The dimension labels in the new data cube are complete for the whole extent of the
    source data cube" and written as the definition lists them; "For each interval, all
    data along the dimension will be passed through the reducer" (count: how many)."""
    if data is None:
        times = [np.datetime64("2020-12-20"), np.datetime64("2020-12-31T12:00"),
                 np.datetime64("2021-01-02")]  # fmt: skip
        cube = cube_of({"x": [0.0], "t": times}, {"x": "spatial", "t": "temporal"})
    else:
        span = SPANS.get(period, 4000)
        cube = data.draw(dated_cubes(start=datetime(2016, 3, 1), span_days=span))
    out = run_fast("aggregate_temporal_period", cube, period=period, reducer=COUNT_ALL)
    stamps = [pd.Timestamp(t) for t in cube.data["t"].values]
    step = "h" if period == "hour" else "D"
    every = pd.date_range(min(stamps).floor(step), max(stamps).floor(step), freq=step)
    complete = list(dict.fromkeys(expected_label(t, period) for t in every))
    assert texts(out, "t") == complete
    assert all(re.fullmatch(FORMATS[period], label) for label in complete)
    assert out.dims == cube.dims and dimension_type(out, "t") == "temporal"
    for k, label in enumerate(complete):
        members = sum(expected_label(t, period) == label for t in stamps)
        values = np.asarray(out.isel({"t": k}).data.values).ravel()
        assert set(values.tolist()) == {float(members)}, label


@pytest.mark.parametrize(
    "dates,labels",
    [
        (["2020-01-01", "2020-12-31"], [f"2020-{d:03d}" for d in range(1, 366)]),
        (["2020-01-05"], ["2020-005"]),
    ],
)
def test_aggregate_temporal_period_days_as_the_definition_example(dates, labels):
    """"if `period` is set to `day` and the source data cube has two dimension labels at
    the beginning of the year (`2020-01-01`) and the end of a year (`2020-12-31`), the
    process returns a data cube with 365 dimension labels (`2020-001`, `2020-002`, ...,
    `2020-365`)"; "just one dimension label `2020-01-05`" gives "`2020-005`"."""
    cube = cube_of({"t": [np.datetime64(d) for d in dates]}, {"t": "temporal"})
    out = run("aggregate_temporal_period", cube, period="day", reducer=MAX)
    assert texts(out, "t") == labels


@settings(max_examples=examples(25))
@given(dated_cubes(name="when", span_days=200, max_dates=5), st.sampled_from(["month", "dekad"]))
def test_aggregate_temporal_period_keeps_the_dimension_name_and_place(cube, period):
    """"A new data cube with the same dimensions. The dimension properties (name, type ...)
    remain unchanged, except for the resolution and dimension labels of the given temporal
    dimension"; the maximum of each period is that of its dates; a period without data
    gives max's no-data ("An array with solely no-data values returns the no-data
    value")."""
    out = run_fast("aggregate_temporal_period", cube, period=period, reducer=MAX)
    assert out.dims == cube.dims and dimension_type(out, "when") == "temporal"
    stamps = [pd.Timestamp(t) for t in cube.data["when"].values]
    for k, label in enumerate(texts(out, "when")):
        members = [i for i, t in enumerate(stamps) if expected_label(t, period) == label]
        if members:
            assert at(out, "when", k) == _max_along(cube, "when", members)
        else:
            assert not out.isel({"when": k}).full_valid().values.any()


def test_aggregate_temporal_period_exceptions():
    """TooManyDimensions: "The data cube contains multiple temporal dimensions. The
    parameter `dimension` must be specified"; DimensionNotAvailable: "the specified
    dimension does not exist or no temporal dimension is available"."""
    t = [np.datetime64("2020-01-01"), np.datetime64("2020-02-01")]
    two = cube_of({"a": t, "b": t}, {"a": "temporal", "b": "temporal"})
    args = {"period": "month", "reducer": MAX}
    assert error_of("aggregate_temporal_period", two, **args) == "TooManyDimensions"
    out = run("aggregate_temporal_period", two, dimension="a", **args)
    assert texts(out, "a") == ["2020-01", "2020-02"] and texts(out, "b") == texts(two, "b")
    assert error_of("aggregate_temporal_period", two, dimension="t", **args) == (
        "DimensionNotAvailable"
    )
    flat = cube_of({"x": [0.0, 1.0]}, {"x": "spatial"})
    assert error_of("aggregate_temporal_period", flat, **args) == "DimensionNotAvailable"


# -------------------------------------------------------------------------------------
# climatological_normal and anomaly


@settings(max_examples=examples(20))
@given(dated_cubes(start=datetime(1999, 10, 1), span_days=365 * 4, max_dates=8, position=0),
       st.sampled_from(["month", "season", "tropical-season", "climatology-period"]))
def test_climatological_normal_averages_each_period_over_the_years(cube, period):
    """"The temporal dimension has the following dimension labels" (`01` - `12`, `djf` ...,
    `climatology-period`); the normal is the average of the period's values in the
    climatology period (no-data skipped), seasons belonging to the year they end in: "If
    the required months before the actual climate period are available, the season is
    taken into account. ... The incomplete season at the end of the last year is never
    taken into account"."""
    years = [2000, 2002]
    out = run_fast("climatological_normal", cube, period=period, climatology_period=years)
    names = {"month": [f"{m:02d}" for m in range(1, 13)],
             "season": ["djf", "mam", "jja", "son"], "tropical-season": ["ndjfma", "mjjaso"],
             "climatology-period": ["climatology-period"]}[period]  # fmt: skip
    assert texts(out, "t") == names and out.dims == cube.dims
    stamps = [pd.Timestamp(t) for t in cube.data["t"].values]
    months_before = {"season": {12}, "tropical-season": {11, 12}}.get(period, set())
    have_before = {t.month for t in stamps if t.year == years[0] - 1}
    for k, name in enumerate(names):
        members = []
        for i, t in enumerate(stamps):
            if period == "climatology-period":
                year, normal = t.year, name
            else:
                label = expected_label(t, period)
                year, normal = int(label[:4]), label[5:]
            first_season = name in ("djf", "ndjfma") and year == years[0]
            if first_season and not months_before <= have_before:
                continue  # "If not available, the first season is not taken into account"
            if normal == name and years[0] <= year <= years[1]:
                members.append(i)
        sub = cube.isel({"t": members})
        values, valid = sub.data.values, sub.full_valid().values
        with np.errstate(all="ignore"):
            mean = np.where(valid, values, 0).sum(axis=0) / valid.sum(axis=0)
        got_valid = out.isel({"t": k}).full_valid().values
        assert (got_valid == (valid.sum(axis=0) > 0)).all(), name
        got = out.isel({"t": k}).data.values
        assert np.allclose(got[got_valid], mean[got_valid]), name


def test_climatological_normal_of_days_has_365_labels():
    """"`day`: `001` - `365`"."""
    times = [np.datetime64("2000-12-31"), np.datetime64("2001-01-01")]
    out = run("climatological_normal", cube_of({"t": times}, {"t": "temporal"}),
              period="day", climatology_period=[2000, 2001])  # fmt: skip
    assert texts(out, "t") == [f"{d:03d}" for d in range(1, 366)]
    assert out.to_python()[364] == 0.0 and out.to_python()[0] == 1.0  # 2000-12-31: day 366


def test_climatological_normal_needs_exactly_one_temporal_dimension():
    """data: "A data cube with exactly one temporal dimension"."""
    t = [np.datetime64("2000-01-01")]
    two = cube_of({"a": t, "b": t}, {"a": "temporal", "b": "temporal"})
    assert error_of("climatological_normal", two, period="month",
                    climatology_period=[2000, 2001]) == "ProcessParameterInvalid"  # fmt: skip


@settings(max_examples=examples(30))
@given(st.data(), st.sampled_from(["month", "season", "year", "dekad", "hour", "single-period"]))
def test_anomaly_subtracts_the_normal_of_each_label(data, period):
    """"It compares the data for each label in the temporal dimension with the corresponding
    data in the normals data cube by subtracting the normal from the data"; the result has
    "the same dimensions" and properties; no-data in either gives no-data."""
    span = {"hour": 3, "dekad": 300}.get(period, 3000)
    cube = data.draw(dated_cubes(start=datetime(2001, 1, 1), span_days=span, position=1))
    aggregated = run("aggregate_temporal_period", cube, period=period, reducer=MAX) \
        if period != "single-period" else cube  # fmt: skip
    labels = texts(aggregated, "t")
    normal_of = {
        "year": lambda label: label,
        "single-period": lambda label: "all",
    }.get(period, lambda label: label.rsplit("-", 1)[1])
    wanted = sorted({normal_of(label) for label in labels})
    count = len(wanted) * 2
    normals = cube_of(
        {"t": wanted, "x": [0.5, 1.5]}, {"t": "temporal", "x": "spatial"},
        values=data.draw(st.lists(st.integers(-50, 50), min_size=count, max_size=count)),
        valid=data.draw(st.lists(st.booleans(), min_size=count, max_size=count)),
    )  # fmt: skip
    out = run_process("anomaly", {"d": aggregated, "n": normals}, data={"from_parameter": "d"},
                      normals={"from_parameter": "n"}, period=period)  # fmt: skip
    assert out.dims == aggregated.dims and texts(out, "t") == labels
    assert dimension_type(out, "t") == "temporal"
    for k, label in enumerate(labels):
        normal = normals.sel({"t": normal_of(label)})
        row = aggregated.isel({"t": k})
        want = Cube(row.data - normal.data, row.full_valid() & normal.full_valid())
        got = out.isel({"t": k})
        order = want.data.dims
        ok = want.full_valid().values
        assert (got.full_valid().transpose(*order).values == ok).all()
        assert np.allclose(got.data.transpose(*order).values[ok], want.data.values[ok])


def test_anomaly_exceptions():
    """The data's labels must be the period's ("`month`: `YYYY-01` - `YYYY-12`") and the
    normals must hold the period's labels; both need "exactly one temporal dimension"."""
    data = cube_of({"t": ["2020-01", "2020-02"]}, {"t": "temporal"})
    normals = cube_of({"t": ["01"]}, {"t": "temporal"})
    def anomaly(d, n, period="month"):  # noqa: E306
        with pytest.raises(pgc.PgcError) as caught:
            run_process("anomaly", {"d": d, "n": n}, data={"from_parameter": "d"},
                        normals={"from_parameter": "n"}, period=period)  # fmt: skip
        return caught.value.code, caught.value.diagnostics[0].pointer
    where = ("ProcessParameterInvalid", "/process_graph/n/arguments/normals")
    assert anomaly(data, normals) == where
    dates = cube_of({"t": [np.datetime64("2020-01-01")]}, {"t": "temporal"})
    assert anomaly(dates, normals)[0] == "ProcessParameterInvalid"  # dates, not months
    assert anomaly(data, cube_of({"t": ["01", "02"]}, {"t": "temporal"}), "single-period") == (
        where
    )


# -------------------------------------------------------------------------------------
# resample_cube_temporal


def nearest(source: list[datetime], target: datetime, allowed) -> int | None:
    """The index of the nearest allowed source date; ties: "choosing the earlier
    timestamps"."""
    best = None
    for i, s in sorted(enumerate(source), key=lambda p: (abs(p[1] - target), p[1])):
        if allowed(i, s):
            best = i
            break
    return best


@settings(max_examples=examples(40))
@given(dated_cubes(span_days=60, integers=False), st.data(),
       st.one_of(st.none(), st.integers(0, 20)))  # fmt: skip
@example(  # a tie: 2020-01-02 is as near to 2020-01-01 as to 2020-01-03; the earlier wins
    cube_of({"t": [np.datetime64("2020-01-03"), np.datetime64("2020-01-01")], "x": [0.0]},
            {"t": "temporal", "x": "spatial"}, values=[3, 1]),
    None, None,
)  # fmt: skip
def test_resample_cube_temporal_takes_the_nearest_date(cube, data, within):
    """"Resamples ... using the nearest neighbor method"; "The rare case of ties is
    resolved by choosing the earlier timestamps"; with `valid_within`, "searches for valid
    values within the given period of days before and after the target timestamps. Valid
    values are determined based on the function is_valid()" (per pixel), else no-data."""
    if data is None:
        wanted = [np.datetime64("2020-01-02")]
    else:
        wanted = data.draw(instants(datetime(2018, 12, 20), 80, data.draw(st.integers(1, 4))))
    target = cube_of({"t": wanted}, {"t": "temporal"})
    args = {} if within is None else {"valid_within": within}
    out = run_process("resample_cube_temporal", {"c": cube, "g": target},
                      data={"from_parameter": "c"}, target={"from_parameter": "g"}, **args)
    assert out.dims == cube.dims and texts(out, "t") == texts(target, "t")
    source = [utc(t) for t in cube.data["t"].values]
    stacked = cube.data.transpose("t", ...).values
    valid = cube.full_valid().transpose("t", ...).values
    got = out.data.transpose("t", ...).values
    got_valid = out.full_valid().transpose("t", ...).values
    for j, w in enumerate(utc(t) for t in target.data["t"].values):
        for pixel in np.ndindex(stacked.shape[1:]):
            def allowed(i, s, pixel=pixel, w=w):
                if within is None:
                    return True
                usable = valid[(i, *pixel)] and np.isfinite(stacked[(i, *pixel)])
                return bool(usable) and abs(s - w) <= timedelta(days=within)
            i = nearest(source, w, allowed)
            ok = i is not None and bool(valid[(i, *pixel)])
            assert got_valid[(j, *pixel)] == ok
            if ok:
                assert got[(j, *pixel)] == stacked[(i, *pixel)]


def test_resample_cube_temporal_exceptions_and_several_dimensions():
    """"If the dimension is not set or is set to `null`, the process resamples all temporal
    dimensions that exist with the same names in both data cubes"; "A dimension is given,
    but it does not exist in any of the data cubes: DimensionNotAvailable"; "A dimension is
    given, but one of them is not temporal: DimensionMismatch"; "No specific dimension name
    is given and there are no temporal dimensions with the same name in the data:
    DimensionMismatch"."""
    t = [np.datetime64("2020-01-01"), np.datetime64("2020-01-05")]
    cube = cube_of({"a": t, "b": t}, {"a": "temporal", "b": "temporal"}, values=[0, 1, 2, 3])
    target = cube_of({"a": [np.datetime64("2020-01-04")], "b": [np.datetime64("2020-01-02")]},
                     {"a": "temporal", "b": "temporal"})  # fmt: skip

    def resample(c, g, **args):
        return run_process("resample_cube_temporal", {"c": c, "g": g},
                           data={"from_parameter": "c"}, target={"from_parameter": "g"},
                           **args)  # fmt: skip

    assert resample(cube, target).to_python() == [[2]]  # a: 01-05, b: 01-01
    assert resample(cube, target, dimension="b").to_python() == [[0], [2]]
    for args, other, code in (
        ({"dimension": "c"}, target, "DimensionNotAvailable"),
        ({"dimension": "x"}, cube_of({"x": [0.0]}, {"x": "spatial"}), "DimensionNotAvailable"),
        ({}, cube_of({"c": t}, {"c": "temporal"}), "DimensionMismatch"),
        ({"dimension": "a"}, cube_of({"a": ["p"]}, {"a": "other"}), "DimensionMismatch"),
    ):
        with pytest.raises(pgc.PgcError) as caught:
            resample(cube, other, **args)
        assert caught.value.code == code, args


# -------------------------------------------------------------------------------------
# date_shift, date_difference, date_between

DATE_SHIFT_EXAMPLES = [
    ("2020-02-01T17:22:45Z", 6, "month", "2020-08-01T17:22:45Z"),
    ("2021-03-31T00:00:00+02:00", -7, "day", "2021-03-24T00:00:00+02:00"),
    ("2020-02-29T17:22:45Z", 1, "year", "2021-02-28T17:22:45Z"),
    ("2020-01-31", 1, "month", "2020-02-29"),
    ("2016-12-31T23:59:59Z", 1, "second", "2017-01-01T00:00:00Z"),
    ("2018-12-31T17:22:45Z", 1150, "millisecond", "2018-12-31T17:22:46.150Z"),
    ("2018-01-01", 25, "hour", "2018-01-02"),
    ("2018-01-01", -1, "hour", "2017-12-31"),
]


@pytest.mark.parametrize("date,value,unit,returns", DATE_SHIFT_EXAMPLES)
def test_date_shift_examples_of_the_definition(date, value, unit, returns):
    """The definition's examples (time zones kept: "This process doesn't have any effect on
    the time zone")."""
    assert run("date_shift", date=date, value=value, unit=unit) == returns


def test_date_shift_takes_leap_seconds_and_never_returns_them():
    """"Leap seconds can be passed to the process, but will never be returned"; invalid
    times are "rounded down"."""
    assert run("date_shift", date="2016-12-31T23:59:60Z", value=0, unit="second") == (
        "2016-12-31T23:59:59Z"
    )


zones = st.sampled_from(["Z", "+02:00", "-05:30", "+00:00"])
moments = st.datetimes(datetime(1900, 1, 1), datetime(2100, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)


def written(moment: datetime, zone: str) -> str:
    """RFC 3339: a four-digit year."""
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%S") + zone


@settings(max_examples=examples(60))
@given(moments, zones, st.integers(-5000, 5000), st.sampled_from(["day", "week"]))
@example(datetime(2000, 1, 1), "+00:00", 1, "day")  # written +00:00 stays so (it became Z)
@example(datetime(2021, 3, 31), "+02:00", -7, "day")  # it became 2021-03-23T22:00:00Z
def test_date_shift_by_days_changes_only_the_date(moment, zone, value, unit):
    """"Manipulations with the unit `year`, `month`, `week` or `day` do never change the
    time"; "week: Weeks (equivalent to 7 days)"; the time zone stays; shifting back is the
    identity."""
    shifted = run_fast("date_shift", date=written(moment, zone), value=value, unit=unit)
    days = value * (7 if unit == "week" else 1)
    assert shifted == written(moment + timedelta(days=days), zone)
    assert run_fast("date_shift", date=shifted, value=-value, unit=unit) == written(moment, zone)


@settings(max_examples=examples(60))
@given(moments, zones, st.integers(-1800, 1800), st.sampled_from(["month", "year"]))
def test_date_shift_by_months_rounds_invalid_days_down(moment, zone, value, unit):
    """"If any of the manipulations result in an invalid date or time, the corresponding
    part is rounded down to the next valid date": the day is the original one or the
    month's last, the time and the time zone stay."""
    shifted = run_fast("date_shift", date=written(moment, zone), value=value, unit=unit)
    months = moment.year * 12 + moment.month - 1 + value * (12 if unit == "year" else 1)
    year, month = divmod(months, 12)
    last = (pd.Timestamp(year=year, month=month + 1, day=1) + pd.offsets.MonthEnd(0)).day
    day = min(moment.day, last)
    assert shifted == written(moment.replace(year=year, month=month + 1, day=day), zone)


def assert_shift_is_difference(text: str, value: int, unit: str) -> None:
    """date_difference between ``text`` and ``text`` shifted by ``value`` units is
    ``value`` (negative with the dates swapped); a shift past the years 1 to 9999 is
    ProcessParameterInvalid."""
    try:
        shifted = run_fast("date_shift", date=text, value=value, unit=unit)
    except pgc.PgcError as err:
        assert err.code == "ProcessParameterInvalid"
        return
    assert run_fast("date_difference", date1=text, date2=shifted, unit=unit) == value
    assert run_fast("date_difference", date1=shifted, date2=text, unit=unit) == -value


@settings(max_examples=examples(60))
@given(moments, zones, st.integers(-10**9, 10**9),
       st.sampled_from(["millisecond", "second", "minute", "hour"]))  # fmt: skip
def test_date_shift_and_date_difference_agree(moment, zone, value, unit):
    """date_shift adds "The period of time in the unit given"; date_difference gives "the
    difference between date1 and date2 in the given unit": the difference of a date-time
    and its shift by ``value`` units is ``value``; date1 later gives a negative number."""
    assert_shift_is_difference(written(moment, zone), value, unit)


@settings(max_examples=examples(40))
@given(moments.filter(lambda m: m.day <= 28), zones, st.integers(-1800, 1800),
       st.sampled_from(["month", "year"]))  # fmt: skip
@example(datetime(1, 1, 1), "Z", 9998, "year")  # to the last year pgc computes with
def test_date_difference_counts_calendar_months_as_date_shift(moment, zone, value, unit):
    """date_difference "returns the difference between date1 and date2 in the given unit":
    a date shifted by ``value`` months (or years) is ``value`` months (years) later, as
    long as no day is rounded down."""
    assert_shift_is_difference(written(moment, zone), value, unit)


@pytest.mark.parametrize(
    "date1,date2,unit,returns",
    [
        ("2020-01-01T00:00:00.0Z", "2020-01-01T00:00:15.5Z", "second", 15.5),
        ("2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00", "second", 0),
        ("2020-01-02", "2020-01-01", "second", -86400),
        ("2020-01-02", "2020-01-01", "day", -1),
        ("2020-01-15", "2021-07-15", "month", 18),
        ("2020-01-15", "2022-01-15", "year", 2),
        ("2020-01-31", "2020-02-29", "month", 1),  # date_shift's month: rounded down
    ],
)
def test_date_difference_examples(date1, date2, unit, returns):
    """The definition's examples ("If `date1` < `date2`, the returned value is positive"),
    and calendar months and years as date_shift counts them."""
    assert run("date_difference", date1=date1, date2=date2, unit=unit) == returns


@settings(max_examples=examples(60))
@given(st.lists(st.tuples(moments, zones), min_size=3, max_size=3), st.booleans())
def test_date_between_compares_instants(points, exclude_max):
    """"checks whether `x` is later than or equal to `min` and before or equal to `max`"
    (before `max` with `exclude_max`); "min MUST be before or equal to max or otherwise the
    process always returns `false`"; time zones count."""
    x, lo, hi = (written(m, z) for m, z in points)
    a, b, c = (_bound(v) for v in (x, lo, hi))  # instants, their time zones honoured
    want = b <= a and (a < c if exclude_max else a <= c)
    assert run_fast("date_between", x=x, min=lo, max=hi, exclude_max=exclude_max) is want


def test_date_between_times_of_day():
    """x, min and max may be "Time only, formatted as HH:MM:SS. The time zone is UTC"."""
    assert run("date_between", x="12:00:00", min="06:00:00", max="18:00:00") is True
    assert run("date_between", x="18:00:00", min="06:00:00", max="18:00:00",
               exclude_max=True) is False  # fmt: skip
    assert run("date_between", x="05:00:00", min="18:00:00", max="06:00:00") is False
    assert run("date_between", x="2020-01-01T12:30:00+02:00", min="10:00:00",
               max="11:00:00") is True  # fmt: skip


# -------------------------------------------------------------------------------------
# The type rules say what the reference computes

SMALL = {"west": 600190, "east": 600290, "north": 5693140, "south": 5693070, "crs": 32631}


def typed_and_run(nodes: dict) -> tuple:
    """The result's inferred type and its value, for a graph over the sample collection
    (whose dates the catalog knows: the type rules see labels)."""
    from pgc.runner import execute

    graph = {"l": node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=SMALL,
                       temporal_extent=None, bands=["B04"]), **nodes}  # fmt: skip
    result = execute(graph, pipeline="none")
    plan = result.plan.graph
    return plan.node(plan.result).type, result.value


def _type_labels(cube_type, name: str) -> list[str]:
    from pgc.ir.typerules.base import label_as_text

    return [label_as_text(v, True).rstrip("Z") if re.match(r"\d{4}-\d\d-\d\dT", str(v)) else
            str(v) for v in cube_type.dimension(name).labels]  # fmt: skip


@pytest.mark.parametrize("period", ["week", "dekad", "month", "season", "tropical-season",
                                    "year", "decade", "decade-ad"])  # fmt: skip
def test_aggregate_temporal_period_type_has_the_labels_the_reference_computes(period):
    """The type rule follows the definition's labels, as the reference: "complete for the
    whole extent of the source data cube"."""
    cube_type, value = typed_and_run({"a": node("aggregate_temporal_period",
                                                data={"from_node": "l"}, period=period,
                                                reducer=MAX, result=True)})  # fmt: skip
    assert _type_labels(cube_type, "t") == texts(value, "t")
    assert [d.name for d in cube_type.dimensions] == list(value.dims)
    assert cube_type.dimension("t").type == "temporal"


@pytest.mark.parametrize("extent", [["2023-03-01T00:00:00+01:00", "2023-06-10T10:30:00Z"],
                                    ["2023-03-10", None], [None, "2023-02-10T10:30:00.001Z"]])
def test_filter_temporal_type_has_the_labels_the_reference_keeps(extent):
    """Both compare each label with the left-closed interval, time zones honoured."""
    cube_type, value = typed_and_run({"f": node("filter_temporal", data={"from_node": "l"},
                                                extent=extent, result=True)})  # fmt: skip
    assert _type_labels(cube_type, "t") == texts(value, "t")


@pytest.mark.parametrize("period", ["day", "month", "season", "tropical-season",
                                    "climatology-period"])  # fmt: skip
def test_climatological_normal_type_has_the_labels_the_reference_computes(period):
    """"The temporal dimension has the following dimension labels" -- in the type too."""
    cube_type, value = typed_and_run({"c": node("climatological_normal", data={"from_node": "l"},
                                                period=period, climatology_period=[2022, 2023],
                                                result=True)})  # fmt: skip
    assert _type_labels(cube_type, "t") == texts(value, "t")


def test_a_temporal_dimension_without_labels():
    """A filter can leave no date: the processes then give their results for no dates
    (no-data normals, no-data resampled values), not an Internal error (climatological
    normals and resampling from no dates crashed)."""
    empty = cube_of({"t": np.array([], dtype="datetime64[ns]"), "x": [0.0, 1.0]},
                    {"t": "temporal", "x": "spatial"})  # fmt: skip
    some = cube_of({"t": [np.datetime64("2020-01-01")], "x": [0.0, 1.0]},
                   {"t": "temporal", "x": "spatial"})  # fmt: skip
    assert run("filter_temporal", empty, extent=["2020-01-01", None]).dims == ("t", "x")
    assert texts(run("aggregate_temporal_period", empty, period="month", reducer=MAX),
                 "t") == []  # fmt: skip
    counted = run("aggregate_temporal", empty, intervals=[["2020-01-01", "2020-02-01"]],
                  reducer=COUNT_ALL)  # fmt: skip
    assert counted.to_python() == [[0, 0]]
    normals = run("climatological_normal", empty, period="season")
    assert texts(normals, "t") == ["djf", "mam", "jja", "son"]
    assert not normals.full_valid().values.any()
    resampled = run_process("resample_cube_temporal", {"c": empty, "g": some},
                            data={"from_parameter": "c"}, target={"from_parameter": "g"})
    assert resampled.to_python() == [[None, None]]
