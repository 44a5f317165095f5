"""Values in and out of ``pgc.run`` (issue 19, item 3).

An embedding back-end passes ``xarray.DataArray`` and numpy values and wants results the
xarray ecosystem reads. What is expected comes from the conventions, not from pgc's own
output: rioxarray and CF for the CRS, the grid and no-data (``rio.crs``,
``rio.transform()``, ``rio.nodata``), openEO's data model for arrays (a numpy array is an
array, NaN in it a value), the openEO test vectors' JSON for labeled arrays, GeoJSON for
vector cubes, and numpy's own arithmetic for NDVI.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from conftest import node

import pgc
from pgc.executors.convert import cube_from_xarray, to_geodataframe, to_json
from pgc.executors.values import Cube, all_valid
from pgc.limits import Limits
from pgc.runner import execute

rioxarray = pytest.importorskip("rioxarray")
from rasterio.crs import CRS  # noqa: E402

EXECUTORS = ["reference", "numba", "dask"]
WEST, NORTH = 600000.0, 5695000.0
TRANSFORM = (10.0, 0.0, WEST, 0.0, -10.0, NORTH)  # the grid the fixture's labels say


def param(name: str) -> dict:
    return {"from_parameter": name}


def ref(node_id: str) -> dict:
    return {"from_node": node_id}


def bands_array(dtype: str = "float32") -> xr.DataArray:
    """Two bands (B04, B08) of 12 x 16 pixels of 10 m in EPSG:32631, written as rioxarray
    writes a CRS; one NaN in B04 for float dtypes."""
    rng = np.random.default_rng(19)
    values = rng.integers(1, 5000, (2, 12, 16)).astype(dtype)
    if values.dtype.kind == "f":
        values[0, 1, 2] = np.nan
    da = xr.DataArray(
        values,
        dims=["bands", "y", "x"],
        coords={
            "bands": ["B04", "B08"],
            "y": NORTH - 5 - 10 * np.arange(12),
            "x": WEST + 5 + 10 * np.arange(16),
        },
    )
    return da.rio.write_crs("EPSG:32631")


def band_reducer(result: dict) -> dict:
    nodes = {
        "red": node("array_element", data=param("data"), label="B04"),
        "nir": node("array_element", data=param("data"), label="B08"),
        **result,
    }
    return {"process_graph": nodes}


NDVI = {
    "r": node(
        "reduce_dimension",
        True,
        data=param("data"),
        dimension="bands",
        reducer=band_reducer(
            {"nd": node("normalized_difference", True, x=ref("nir"), y=ref("red"))}
        ),
    )
}


def apply(process_id: str, **arguments) -> dict:
    callback = node(process_id, True, x=param("x"), **arguments)
    return {"a": node("apply", True, data=param("d"), process={"process_graph": {"c": callback}})}


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue_19_ndvi_from_a_dataarray_on_every_executor(executor):
    """Regression (issue 19): a DataArray parameter was "'data' must be a data cube"."""
    da = bands_array()
    red, nir = (da.sel(bands=b).values.astype("float64") for b in ("B04", "B08"))
    expected = (nir - red) / (nir + red)
    result = execute(NDVI, parameters={"data": da}, executor=executor)  # as executors bind it
    cube = result.value
    valid = np.broadcast_to(cube.valid.transpose("y", "x").values, expected.shape)
    assert not valid[1, 2] and valid.sum() == expected.size - 1  # NaN was no-data
    computed = cube.data.transpose("y", "x").values
    np.testing.assert_allclose(computed[valid], expected[valid], rtol=1e-12)
    if executor == "numba":
        assert result.kernels.kernels  # the fused kernel ran, not the reference's loop
    out = pgc.run(NDVI, parameters={"data": da}, executor=executor)
    assert out.dims == ("y", "x")
    np.testing.assert_allclose(out.values, expected, rtol=1e-12)  # NaN at no-data
    assert out.rio.crs == CRS.from_epsg(32631)
    assert tuple(out.rio.transform())[:6] == pytest.approx(TRANSFORM)


def test_issue_19_nan_is_nodata_unless_a_mask_says_otherwise():
    """is_nan is true for NaN and false for anything else, no-data included."""
    da = bands_array().sel(bands="B04", drop=True)
    graph = apply("is_nan")
    assert pgc.run(graph, parameters={"d": da}).values[1, 2] == 0.0  # no-data
    given = cube_from_xarray(da, valid=xr.ones_like(da, dtype=bool))
    out = pgc.run(graph, parameters={"d": given})
    assert out.values[1, 2] == 1.0 and out.values[0, 0] == 0.0  # NaN is a value here


def test_issue_19_integers_declare_their_nodata_as_rioxarray_does():
    da = bands_array("uint16").sel(bands="B08", drop=True)
    da.values[3, 4] = 0
    graph = apply("multiply", y=1)
    assert pgc.run(graph, parameters={"d": da}).values[3, 4] == 0  # nothing said: a value
    said = da.rio.write_nodata(0)  # the attribute _FillValue
    out = pgc.run(graph, parameters={"d": said})
    assert math.isnan(out.values[3, 4]) and np.isfinite(out.values).sum() == out.size - 1
    assert "_FillValue" not in da.attrs  # the caller's array is not changed


def test_issue_19_crs_and_grid_from_a_cf_grid_mapping():
    """CF 1.8, 5.6: the data variable names its grid mapping variable, which holds the CRS
    as WKT; GDAL's GeoTransform gives the grid where x and y have no coordinates."""
    wkt = CRS.from_epsg(3035).to_wkt()
    mapping = xr.DataArray(0, attrs={"crs_wkt": wkt, "GeoTransform": "4000000 20 0 3000000 0 -20"})
    da = xr.DataArray(
        np.arange(6.0).reshape(2, 3),
        dims=["y", "x"],
        coords={"lambert": mapping},
        attrs={"grid_mapping": "lambert"},
    )
    cube = cube_from_xarray(da)
    assert cube.data.attrs["crs"] == "3035" and "lambert" not in cube.data.coords
    assert cube.data.x.values.tolist() == [4000010.0, 4000030.0, 4000050.0]  # pixel centres
    out = pgc.run(apply("add", y=1), parameters={"d": da})
    assert out.rio.crs == CRS.from_epsg(3035)
    assert tuple(out.rio.transform())[:6] == (20.0, 0.0, 4000000.0, 0.0, -20.0, 3000000.0)
    np.testing.assert_array_equal(out.values, da.values + 1)


def test_issue_19_a_loaded_result_says_nodata_as_rioxarray_reads_it(tmp_path):
    """Regression (issue 19): a loaded band's result kept ``nodata: 0`` of the collection,
    so ``rio.nodata`` said 0 of values that hold NaN for no-data."""
    extent = {"west": WEST, "south": NORTH - 100, "east": WEST + 100, "north": NORTH,
              "crs": 32631}  # fmt: skip
    load = node("load_collection", True, id="SENTINEL2_L2A_SAMPLE", spatial_extent=extent,
                temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04"])  # fmt: skip
    out = pgc.run({"l": load})
    assert out.dtype == np.float64  # integers come back as float64 with NaN, as always
    assert math.isnan(out.rio.nodata) and "nodata" not in out.attrs
    assert out.rio.crs == CRS.from_epsg(32631)
    assert tuple(out.rio.transform())[:6] == pytest.approx(TRANSFORM)
    out.isel(t=0, bands=0).rio.to_raster(tmp_path / "b04.tif")
    back = rioxarray.open_rasterio(tmp_path / "b04.tif")
    assert back.rio.crs == CRS.from_epsg(32631)
    assert tuple(back.rio.transform())[:6] == pytest.approx(TRANSFORM)


def test_issue_19_a_result_goes_back_in():
    da = bands_array()
    once = pgc.run(NDVI, parameters={"data": da})
    twice = pgc.run(apply("multiply", y=2), parameters={"d": once})
    np.testing.assert_array_equal(twice.values, 2 * once.values)  # NaN stays no-data
    assert twice.rio.crs == once.rio.crs and twice.rio.transform() == once.rio.transform()


def test_issue_19_filled_keeps_float_values_without_a_copy():
    """Regression (issue 19): ``Cube.filled`` cast and filled every pixel, also when every
    pixel held float data (about 6x the EVI kernel's own time on 6000x6000)."""
    values = xr.DataArray(np.ones((3, 4), "float32"), dims=["y", "x"])
    masks = [True, xr.DataArray(True), xr.ones_like(values, dtype=bool),
             xr.DataArray(np.broadcast_to(True, (3, 4)), dims=["y", "x"])]  # fmt: skip
    for valid in masks:
        assert all_valid(valid)
        out = Cube(values, valid).filled()
        assert out.dtype == np.float32 and np.shares_memory(out.values, values.values)
    some = xr.DataArray(np.array([True, False, True, True]), dims=["x"])
    out = Cube(values, some).filled()
    assert out.dtype == np.float32 and np.isnan(out.values[:, 1]).all()
    assert not np.shares_memory(out.values, values.values) and values.values.all()
    ints = Cube(values.astype("uint16"), some).filled()
    assert ints.dtype == np.float64 and np.isnan(ints.values[:, 1]).all()


def test_issue_19_numpy_arrays_are_openeo_arrays():
    first = {"f": node("first", True, data=param("v"), ignore_nodata=False)}
    assert math.isnan(pgc.run(first, parameters={"v": np.array([np.nan, 2.0])}))  # a value
    masked = np.ma.array([1.0, 2.0], mask=[True, False])
    assert pgc.run(first, parameters={"v": masked}) is None  # a masked element: no-data
    total = {"s": node("sum", True, data=param("v"))}
    assert pgc.run(total, parameters={"v": np.array([3, 4], "int64")}) == 7
    mixed = [np.int64(3), np.float32(0.5)]  # numpy items of a list: Python numbers
    assert pgc.run(total, parameters={"v": mixed}) == 3.5
    times = {"m": node("multiply", True, x=param("v"), y=2)}
    assert pgc.run(times, parameters={"v": np.float32(2.5)}) == 5.0
    with pytest.raises(pgc.PgcError) as err:
        execute(total, parameters={"v": np.zeros(11)}, limits=Limits(max_json_values=10))
    assert err.value.diagnostics[0].code == "ProcessParameterInvalid"
    assert "xarray.DataArray" in err.value.diagnostics[0].message


def test_issue_19_a_dataset_is_refused_with_a_hint():
    ds = bands_array().to_dataset(dim="bands")
    with pytest.raises(pgc.PgcError) as err:
        pgc.run(NDVI, parameters={"data": ds})
    (problem,) = err.value.diagnostics
    assert problem.code == "ProcessParameterInvalid" and problem.argument == "data"
    assert "to_dataarray" in problem.message


def test_issue_19_a_crs_pgc_cannot_read_is_the_parameters_error():
    da = bands_array().drop_vars("spatial_ref").assign_attrs(crs="EPSG:not-a-code")
    with pytest.raises(pgc.PgcError) as err:
        execute(NDVI, parameters={"data": da})
    (problem,) = err.value.diagnostics
    assert problem.code == "ProcessParameterInvalid" and problem.argument == "data"


def test_issue_19_labeled_arrays_come_back_as_openeo_json():
    """Regression (issue 19): pgc.run gave its own LabeledArray object."""
    graph = {"l": node("array_create_labeled", True, data=[None, 1.5], labels=["a", "b"])}
    out = pgc.run(graph)
    # the process test vectors' encoding (openeo-processes tests/README.md)
    assert out == {
        "type": "labeled-array",
        "data": [{"key": "a", "value": None}, {"key": "b", "value": 1.5}],
    }
    assert json.loads(json.dumps(out)) == out


def test_issue_19_vector_cubes_as_geojson_and_geodataframe():
    extent = {"west": WEST, "south": NORTH - 200, "east": WEST + 200, "north": NORTH,
              "crs": 32631}  # fmt: skip
    field = {
        "type": "Polygon",
        "coordinates": [
            [[4.4380, 51.3960], [4.4398, 51.3962], [4.4390, 51.3972], [4.4380, 51.3960]]
        ],
    }
    feature = {"type": "Feature", "id": "f1", "geometry": field, "properties": {"name": "A"}}
    graph = {
        "l": node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=extent,
                  temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04", "B08"]),
        "g": node("load_geojson", data={"type": "FeatureCollection", "features": [feature]},
                  properties=["name"]),
        "a": node("aggregate_spatial", True, data=ref("l"), geometries=ref("g"),
                  reducer={"process_graph": {"m": node("mean", True, data=param("data"))}}),
    }  # fmt: skip
    out = pgc.run(graph)
    assert isinstance(out, xr.DataArray)  # as pgc.run gave vector cubes before
    collection = to_json(out)
    assert collection["type"] == "FeatureCollection"
    (feature_out,) = collection["features"]
    assert feature_out["properties"]["name"] == "A" and feature_out["id"] == "f1"
    values = {k: v for k, v in feature_out["properties"].items() if k != "name"}
    assert len(values) == 2 and all(isinstance(v, float) for v in values.values())
    assert json.loads(json.dumps(collection)) == collection
    geopandas = pytest.importorskip("geopandas")
    frame = to_geodataframe(out)
    assert isinstance(frame, geopandas.GeoDataFrame) and list(frame.index) == ["f1"]
    assert frame.crs is not None and frame.crs.to_epsg() == 4326
    assert frame.loc["f1", "name"] == "A"
    assert {k: frame.loc["f1", k] for k in values} == pytest.approx(values)


def test_issue_19_a_raster_cube_as_openeo_json():
    """openEO's JSON for a data cube (the process test vectors' encoding): dimensions with
    type, axis, labels and reference system, null for no-data."""
    da = bands_array().isel(x=slice(0, 3), y=slice(0, 2))
    doc = to_json(pgc.run(NDVI, parameters={"data": da}))
    assert doc["type"] == "datacube" and doc["order"] == ["y", "x"]
    assert doc["dimensions"]["x"] == {
        "type": "spatial",
        "values": [600005.0, 600015.0, 600025.0],
        "axis": "x",
        "reference_system": "EPSG:32631",
    }
    assert doc["data"][1][2] is None and isinstance(doc["data"][0][0], float)
    json.dumps(doc)
