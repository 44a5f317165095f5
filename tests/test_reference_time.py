"""aggregate_temporal in the reference executor, against hand-computed values: date
intervals (left-closed, open ends), times of day (wrapping around midnight), labels."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import node

import pgc
from pgc.executors.values import Cube
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
