"""No-data and NaN through the cube processes of the reference executor, on a small cube
with one no-data pixel and one NaN value, each check written from the process's
definition (what happens to no-data, what to NaN)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from conftest import node, run_process

from pgc.executors.values import Cube
from pgc.runner import execute

DATA = {"from_parameter": "data"}
TIMES = np.array(["2020-06-01", "2020-06-02"], dtype="datetime64[ns]")


def cube() -> Cube:
    """t (2) x bands B04, B08 x y (2) x x (2); B04 at t0, (0, 0) is no-data and B08 at t0,
    (1, 1) is NaN."""
    values = np.arange(1.0, 17.0).reshape(2, 2, 2, 2)
    values[0, 1, 1, 1] = np.nan
    valid = np.ones(values.shape, bool)
    valid[0, 0, 0, 0] = False
    coords = {
        "t": TIMES,
        "bands": ["B04", "B08"],
        "y": [5_000_015.0, 5_000_005.0],
        "x": [600_005.0, 600_015.0],
    }
    data = xr.DataArray(values, dims=["t", "bands", "y", "x"], coords=coords)
    data.attrs["crs"] = "32631"
    return Cube(data, xr.DataArray(valid, dims=data.dims, coords=coords))


def run(process_id: str, **arguments):
    return run_process(process_id, {"c": cube()}, **arguments)


C = {"from_parameter": "c"}


def filled(c: Cube) -> np.ndarray:
    """Values with no-data as None (object array) so NaN and no-data stay apart."""
    values = np.asarray(c.data.values, dtype=object)
    return np.where(np.broadcast_to(c.valid.values, values.shape), values, None)


def is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def test_apply_keeps_nodata_and_nan():
    out = filled(run("apply", data=C, process={"process_graph": {
        "a": node("absolute", x={"from_parameter": "x"}, result=True)}}))  # fmt: skip
    assert out[0, 0, 0, 0] is None and is_nan(out[0, 1, 1, 1]) and out[1, 1, 1, 1] == 16.0


@pytest.mark.parametrize(
    "process_id,arguments,where",
    [
        ("filter_bands", {"bands": ["B04"]}, (0, 0, 0, 0)),
        ("filter_temporal", {"extent": ["2020-06-01", "2020-06-02"]}, (0, 0, 0, 0)),
        ("filter_bbox", {"extent": {"west": 600_000, "east": 600_010, "south": 5_000_010,
                                    "north": 5_000_020, "crs": 32631}}, (0, 0, 0, 0)),
        ("rename_labels", {"dimension": "bands", "source": ["B04", "B08"],
                           "target": ["red", "nir"]}, (0, 0, 0, 0)),  # not enumerated: source
        ("rename_dimension", {"source": "bands", "target": "b"}, (0, 0, 0, 0)),
        ("filter_labels", {"dimension": "t", "condition": {"process_graph": {"d": node(
            "date_between", x={"from_parameter": "value"}, min="2020-06-01",
            max="2020-06-01T12:00:00Z", result=True)}}}, (0, 0, 0, 0)),
    ],
)  # fmt: skip
def test_subsetting_keeps_nodata_where_it_was(process_id, arguments, where):
    out = filled(run(process_id, data=C, **arguments))
    assert out[where] is None
    assert sum(v is None for v in out.ravel()) == 1


def test_ndvi_nodata_in_either_band_gives_nodata_nan_gives_nan():
    out = filled(run("ndvi", data=C, nir="B08", red="B04"))
    assert out[0, 0, 0] is None  # red is no-data
    assert is_nan(out[0, 1, 1])  # nir is NaN
    assert out[1, 0, 0] == pytest.approx((13 - 9) / (13 + 9))


def test_apply_kernel_replaces_nodata_and_nan_with_replace_invalid():
    out = run("apply_kernel", data=C, kernel=[[1, 1, 1], [1, 1, 1], [1, 1, 1]], replace_invalid=100)
    values = out.data.values
    # t0, B04: 1 is no-data -> 100; the 2x2 image's sum with zero border
    assert values[0, 0, 0, 0] == 100 + 2 + 3 + 4
    assert values[0, 1, 0, 0] == 5 + 6 + 7 + 100  # B08's NaN -> 100
    assert out.valid.values.all()


def test_reducers_over_time_skip_nodata_by_default():
    reducer = {"process_graph": {"m": node("mean", data=DATA, result=True)}}
    out = filled(run("reduce_dimension", data=C, dimension="t", reducer=reducer))
    assert out[0, 0, 0] == 9.0  # only t1's value
    assert is_nan(out[1, 1, 1])  # NaN is a value: mean(NaN, 16) is NaN


def test_aggregate_temporal_period_skips_nodata():
    reducer = {"process_graph": {"m": node("max", data=DATA, result=True)}}
    out = filled(run("aggregate_temporal_period", data=C, period="month", reducer=reducer))
    assert out.shape[0] == 1 and out[0, 0, 0, 0] == 9.0


def test_apply_dimension_cumsum_keeps_nodata_and_goes_on():
    process = {"process_graph": {"c": node("cumsum", data=DATA, result=True)}}
    out = filled(run("apply_dimension", data=C, dimension="t", process=process))
    assert out[0, 0, 0, 0] is None and out[1, 0, 0, 0] == 9.0
    assert is_nan(out[1, 1, 1, 1])  # NaN propagates through the sum


def test_reduce_spatial_skips_nodata():
    reducer = {"process_graph": {"m": node("min", data=DATA, result=True)}}
    out = filled(run("reduce_spatial", data=C, reducer=reducer))
    assert out[0, 0] == 2.0  # pixel (0, 0) = 1 is no-data
    assert is_nan(out[0, 1])  # min with a NaN is NaN


def test_resample_cube_temporal_carries_nodata():
    graph = {
        "parameters": [{"name": "c", "schema": {}}],
        "process_graph": {
            "r": node("resample_cube_temporal", data=C, target=C, result=True),
        },
    }
    out = filled(execute(graph, parameters={"c": cube()}, pipeline="none").value)
    assert out[0, 0, 0, 0] is None and is_nan(out[0, 1, 1, 1])


def test_count_counts_valid_values_only():
    """is_valid is false for no-data and NaN, so count over time skips both."""
    reducer = {"process_graph": {"c": node("count", data=DATA, result=True)}}
    out = filled(run("reduce_dimension", data=C, dimension="t", reducer=reducer))
    assert out[0, 0, 0] == 1 and out[1, 1, 1] == 1 and out[1, 0, 0] == 2


def test_save_result_writes_nodata_as_nodata(tmp_path):
    import json

    import rasterio

    graph = {
        "parameters": [{"name": "c", "schema": {}}],
        "process_graph": {
            "f": node("filter_bands", data=C, bands=["B04"]),
            "r": node("reduce_dimension", data={"from_node": "f"}, dimension="t",
                      reducer={"process_graph": {"m": node("first", data=DATA,
                                                           ignore_nodata=False, result=True)}}),
            "s": node("save_result", data={"from_node": "r"}, format="GTiff", result=True),
        },
    }  # fmt: skip
    result = execute(graph, parameters={"c": cube()}, pipeline="none")
    [path] = result.write(tmp_path / "out.tif")
    with rasterio.open(path) as dst:
        band = dst.read(1, masked=True)
    assert band.mask[0, 0] and not band.mask[0, 1]  # the no-data pixel, and a value
    graph["process_graph"]["s"]["arguments"]["format"] = "JSON"
    [path] = execute(graph, parameters={"c": cube()}, pipeline="none").write(tmp_path / "o.json")
    text = path.read_text()
    assert json.loads(text)["values"][0][0][0] is None


def test_scalar_processes_pass_nodata_and_nan_through():
    """The math definitions: no-data in, no-data out; NaN in, NaN out."""
    for process_id, extra in [("arcsin", {}), ("ceil", {}), ("floor", {}), ("round", {}),
                              ("log", {"base": 10}), ("sinh", {}), ("tan", {})]:  # fmt: skip
        graph = {
            "parameters": [{"name": "v", "schema": {}}],
            "process_graph": {
                "n": node(process_id, x={"from_parameter": "v"}, result=True, **extra)
            },
        }
        assert execute(graph, parameters={"v": None}, pipeline="none").value is None
        assert is_nan(execute(graph, parameters={"v": math.nan}, pipeline="none").value)
