"""aggregate_temporal in the reference executor, against hand-computed values: date
intervals (left-closed, open ends), times of day (wrapping around midnight), labels."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import node, run_process

import pgc
from pgc.executors.values import Cube, with_dimension_types
from pgc.runner import execute

TIMES = np.array(
    ["2020-06-01T00:00", "2020-06-01T12:00", "2020-06-02T06:00", "2020-06-02T20:00"],
    dtype="datetime64[ns]",
)
VALUES = np.array([1.0, 2.0, 4.0, 8.0])
MEAN = {"process_graph": {"m": node("mean", data={"from_parameter": "data"}, result=True)}}


def aggregate(intervals, labels=None, valid=None):
    data = xr.DataArray(VALUES.reshape(4, 1), dims=["t", "x"], coords={"t": TIMES, "x": [0.0]})
    ok = xr.DataArray(
        (np.ones(4, bool) if valid is None else np.array(valid)).reshape(4, 1), dims=["t", "x"]
    )
    args = {"data": {"from_parameter": "cube"}, "intervals": intervals, "reducer": MEAN}
    if labels is not None:
        args["labels"] = labels
    graph = {
        "parameters": [{"name": "cube", "schema": {}}],
        "process_graph": {"a": node("aggregate_temporal", result=True, **args)},
    }
    out = execute(graph, parameters={"cube": Cube(data, ok)}, pipeline="none").value
    return [str(v) for v in out.data.t.values], out.filled().values[:, 0].tolist()


def test_date_intervals_are_left_closed():
    labels, values = aggregate([["2020-06-01", "2020-06-02"], ["2020-06-02", "2020-06-03"]])
    assert labels == ["2020-06-01", "2020-06-02"]
    assert values == [1.5, 6.0]


def test_open_ended_intervals_need_labels():
    _, values = aggregate(
        [[None, "2020-06-01T12:00:00Z"], ["2020-06-01T12:00:00Z", None]], labels=["a", "b"]
    )
    assert values == [1.0, 14 / 3]
    with pytest.raises(pgc.PgcError) as err:
        aggregate([[None, "2020-06-02"]])
    assert err.value.code == "ProcessParameterInvalid"


def test_times_of_day_match_every_day_and_wrap_around_midnight():
    labels, values = aggregate([["06:00:00", "18:00:00"], ["18:00:00", "06:00:00"]])
    assert labels == ["06:00:00", "18:00:00"]
    assert values == [3.0, 4.5]  # 12:00 and 06:00; 00:00 and 20:00


def test_interval_without_dates_or_with_only_nodata_gives_nodata():
    _, values = aggregate(
        [["2021-01-01", "2021-02-01"], ["2020-06-01", "2020-06-02"]],
        valid=[False, False, True, True],
    )
    assert np.isnan(values).all()


def apply_dimension(target=None, nodes=None):
    times = np.array(["2020-06-01", "2020-06-02", "2020-06-03"], dtype="datetime64[ns]")
    coords = {"t": times, "bands": ["a", "b"]}
    values = np.arange(6.0).reshape(3, 2)
    data = xr.DataArray(values, dims=["t", "bands"], coords=coords)
    process = {"process_graph": nodes}
    args = {"data": {"from_parameter": "cube"}, "dimension": "t", "process": process}
    if target is not None:
        args["target_dimension"] = target
    graph = {
        "parameters": [{"name": "cube", "schema": {}}],
        "process_graph": {"a": node("apply_dimension", result=True, **args)},
    }
    cube = Cube(data, xr.ones_like(data, dtype=bool))
    return execute(graph, parameters={"cube": cube}, pipeline="none").value


EXTREMA = {"e": node("extrema", data={"from_parameter": "data"}, result=True)}
SORT = {"s": node("sort", data={"from_parameter": "data"}, asc=False, result=True)}


def test_apply_dimension_keeps_labels_when_the_length_stays():
    out = apply_dimension(nodes=SORT)
    assert str(out.data.t.values[0]).startswith("2020-06-01")
    assert out.data.sel(bands="a").values.tolist() == [4.0, 2.0, 0.0]


def test_apply_dimension_new_length_gives_integer_labels():
    out = apply_dimension(nodes=EXTREMA)
    assert out.dims == ("t", "bands") and out.data.t.values.tolist() == [0, 1]
    assert out.data.sel(bands="b").values.tolist() == [1.0, 5.0]


def test_apply_dimension_into_a_new_target_dimension():
    out = apply_dimension(target="stats", nodes=EXTREMA)
    assert out.dims == ("stats", "bands")
    assert out.data.stats.values.tolist() == [0, 1]
    assert out.data.sel(bands="a").values.tolist() == [0.0, 4.0]


def period(name: str, dates: list[str]):
    times = np.array(dates, dtype="datetime64[ns]")
    data = xr.DataArray(np.arange(1.0, len(dates) + 1), dims=["t"], coords={"t": times})
    args = {"data": {"from_parameter": "cube"}, "period": name, "reducer": MEAN}
    graph = {
        "parameters": [{"name": "cube", "schema": {}}],
        "process_graph": {"a": node("aggregate_temporal_period", result=True, **args)},
    }
    cube = Cube(data, xr.ones_like(data, dtype=bool))
    out = execute(graph, parameters={"cube": cube}, pipeline="none").value
    return list(out.data.t.values), out.filled().values.tolist()


def test_periods_are_complete_from_the_first_to_the_last_date():
    labels, values = period("month", ["2020-01-15", "2020-04-02", "2020-04-20"])
    assert labels == ["2020-01", "2020-02", "2020-03", "2020-04"]
    assert values[0] == 1.0 and np.isnan(values[1:3]).all() and values[3] == 2.5


@pytest.mark.parametrize(
    "name,dates,labels",
    [
        ("season", ["2019-12-01", "2020-02-29"], ["2020-djf"]),
        ("tropical-season", ["2019-11-01", "2020-05-01"], ["2020-ndjfma", "2020-mjjaso"]),
        # ISO weeks, labeled YYYY-01 - YYYY-52 (the definition): ISO week 53 counts as 52
        ("week", ["2020-12-31", "2021-01-04"], ["2020-52", "2021-01"]),
        ("dekad", ["2020-01-10", "2020-01-11", "2020-01-31"], ["2020-00", "2020-01", "2020-02"]),
        ("decade", ["2020-01-01", "2029-12-31"], ["2020"]),
        ("decade-ad", ["2020-06-01", "2021-06-01"], ["2011", "2021"]),
    ],
)
def test_period_labels_as_the_definition_writes_them(name, dates, labels):
    assert period(name, dates)[0] == labels


def test_anomaly_subtracts_the_normal_of_each_period_label():
    months = xr.DataArray(
        [10.0, 20.0, 30.0], dims=["t"], coords={"t": ["2020-01", "2020-02", "2021-01"]}
    )
    normals = xr.DataArray([1.0, 2.0], dims=["t"], coords={"t": ["01", "02"]})
    # period labels are text: the cubes say their dimension is temporal (dimension_type)
    cubes = {
        k: with_dimension_types(Cube(v, xr.ones_like(v, dtype=bool)), {"t": "temporal"})
        for k, v in (("d", months), ("n", normals))
    }
    out = run_process("anomaly", cubes, data={"from_parameter": "d"},
                      normals={"from_parameter": "n"}, period="month")  # fmt: skip
    assert out.filled().values.tolist() == [9.0, 18.0, 29.0]


def test_climatological_normal_of_period_labels_is_a_clear_error():
    """The normals average dates; a cube aggregate_temporal_period made has period labels
    ('2023-djf'), which failed with pandas' parse error before."""
    graph = {
        "l": node("load_collection", id="SENTINEL2_L2A_SAMPLE", temporal_extent=None,
                  spatial_extent={"west": 600190, "east": 600290, "north": 5693140,
                                  "south": 5693070, "crs": 32631}, bands=["B04"]),
        "s": node("aggregate_temporal_period", data={"from_node": "l"}, period="season",
                  reducer={"process_graph": {"m": node("mean", data={"from_parameter": "data"},
                                                       result=True)}}),
        "c": node("climatological_normal", data={"from_node": "s"}, period="season",
                  climatology_period=[2023, 2024], result=True),
    }  # fmt: skip
    with pytest.raises(pgc.PgcError) as caught:
        execute(graph)
    (d,) = caught.value.diagnostics
    assert d.code == "ProcessParameterInvalid" and d.pointer == "/c/arguments/data", d
    assert "'2023-djf'" in d.message


def test_climatological_normal_skips_nodata_and_anomaly_propagates_it():
    times = np.array(["2001-01-05", "2002-01-05", "2003-01-05", "2001-02-05"], "datetime64[ns]")
    values = xr.DataArray([1.0, 100.0, 3.0, 5.0], dims=["t"], coords={"t": times})
    valid = xr.DataArray([True, False, True, False], dims=["t"], coords={"t": times})
    normals = run_process("climatological_normal", {"d": Cube(values, valid)},
                          data={"from_parameter": "d"}, period="month",
                          climatology_period=[2001, 2003])  # fmt: skip
    labels, values = normals.data.t.values.tolist(), normals.filled().values.tolist()
    by_month = dict(zip(labels, values, strict=True))
    assert by_month["01"] == 2.0  # mean of 1 and 3; 100 is no-data
    assert np.isnan(by_month["02"]) and not normals.valid.sel(t="02")  # only no-data
    data = xr.DataArray([10.0, 20.0], dims=["t"], coords={"t": ["2004-01", "2004-02"]})
    data = with_dimension_types(Cube(data, xr.ones_like(data, dtype=bool)), {"t": "temporal"})
    cubes = {"d": data, "n": normals}
    out = run_process("anomaly", cubes, data={"from_parameter": "d"},
                      normals={"from_parameter": "n"}, period="month")  # fmt: skip
    assert out.filled().values[0] == 8.0 and not out.valid.values[1]


# Regressions found by the dask executor's property test (issue 9): tracebacks before.
SMALL = {"west": 600190, "east": 600290, "north": 5693140, "south": 5693070, "crs": 32631}
NOTHING = {
    "process_graph": {"c": node("gte", x={"from_parameter": "value"}, y="2023-01-01", result=True)}
}  # fmt: skip (text is not a date: false)


def _load(bands=("B04", "B08")):
    return node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=SMALL,
                temporal_extent=None, bands=list(bands))  # fmt: skip


def _monthly(source: str, **more):
    mean = {"process_graph": {"m": node("mean", data={"from_parameter": "data"}, result=True)}}
    return node("aggregate_temporal_period", data={"from_node": source}, period="month",
                reducer=mean, **more)  # fmt: skip


def test_aggregating_period_labels_by_period_again_is_a_clear_error():
    graph = {"l": _load(), "a": _monthly("l"), "b": _monthly("a", result=True)}
    with pytest.raises(pgc.PgcError) as caught:
        execute(graph)
    (d,) = caught.value.diagnostics
    assert (d.code, d.pointer) == ("ProcessParameterInvalid", "/b/arguments/data")
    assert "'2023-01'" in d.message


@pytest.mark.parametrize("process", ["aggregate_temporal_period", "apply_dimension"])
def test_a_temporal_dimension_without_labels_gives_one_without_labels(process):
    """filter_labels kept no date; aggregating or cumsumming nothing gives nothing."""
    graph = {"l": _load(), "f": node("filter_labels", data={"from_node": "l"}, dimension="t",
                                     condition=NOTHING)}  # fmt: skip
    if process == "aggregate_temporal_period":
        graph["a"] = _monthly("f", result=True)
    else:
        cumsum = {"process_graph": {"c": node("cumsum", data={"from_parameter": "data"},
                                              result=True)}}  # fmt: skip
        graph["a"] = node("apply_dimension", data={"from_node": "f"}, dimension="t",
                          process=cumsum, result=True)  # fmt: skip
    cube = execute(graph).value
    assert cube.dims == ("t", "bands", "y", "x") and dict(cube.data.sizes)["t"] == 0


def test_merging_period_labels_with_dates_is_a_clear_error_and_no_labels_merge():
    merge = node("merge_cubes", cube1={"from_node": "a"}, cube2={"from_node": "m"}, result=True)
    graph = {"l": _load(), "m": _load(["B05"]), "a": _monthly("l"), "j": merge}
    with pytest.raises(pgc.PgcError) as caught:
        execute(graph)
    (d,) = caught.value.diagnostics
    assert (d.code, d.pointer) == ("ProcessParameterInvalid", "/j/arguments/cube2")
    # aggregated, then no period kept: the dates of the other cube
    graph["a"] = node("filter_labels", data={"from_node": "p"}, dimension="t",
                      condition=NOTHING)  # fmt: skip
    graph["p"] = _monthly("l")
    cube = execute(graph).value
    assert dict(cube.data.sizes)["t"] == 12 and list(cube.data.bands.values) == [
        "B04",
        "B08",
        "B05",
    ]
