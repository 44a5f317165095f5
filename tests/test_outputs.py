"""Outputs keep their metadata (issue 18, item 5; item 7's -o without save_result).

Graphs are built offline with the official openEO client, as users write them. What a
file must say is decided from the request (the collection's CRS EPSG:32631, the extent's
10 m grid), not read off pgc's own output, and checked with the readers users have:
rasterio (GDAL), xarray + rioxarray.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import xarray as xr

import pgc
from pgc.runner import OutputError, execute

pytest.importorskip("openeo")
rasterio = pytest.importorskip("rasterio")

COLLECTION = "SENTINEL2_L2A_SAMPLE"
WEST, SOUTH, EAST, NORTH = 600000, 5690000, 600300, 5690300  # 30 x 30 pixels of 10 m
EXTENT = {"west": WEST, "south": SOUTH, "east": EAST, "north": NORTH, "crs": 32631}
TRANSFORM = (10.0, 0.0, float(WEST), 0.0, -10.0, float(NORTH))  # what the extent asks for
EXECUTORS = ["reference", "numba", "dask"]


def load(bands=("B04", "B08"), temporal=("2023-05-01", "2023-08-01")):
    from openeo.rest.datacube import DataCube

    return DataCube.load_collection(
        COLLECTION,
        connection=None,
        fetch_metadata=False,
        spatial_extent=EXTENT,
        temporal_extent=list(temporal),
        bands=list(bands),
    )


def process(pid, **arguments):
    from openeo.processes import process as call

    return call(pid, **arguments)


def graph(cube, fmt: str | None = "GTiff") -> dict:
    return (cube.save_result(format=fmt) if fmt else cube).flat_graph()


def utm_polygon(x0, y0, x1, y1) -> dict:
    """A polygon given in EPSG:32631, as GeoJSON wants it (WGS84)."""
    from rasterio.warp import transform_geom

    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return transform_geom("EPSG:32631", "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})


FIELDS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"field_id": "field_A", "crop": "maize"},
            "geometry": utm_polygon(600020, 5690020, 600140, 5690140),
        },
        {
            "type": "Feature",
            "properties": {"field_id": "field_B", "crop": "wheat"},
            "geometry": utm_polygon(600160, 5690160, 600280, 5690280),
        },
    ],
}


# ---------------------------------------------------------------------------------------
# 1. The CRS and transform survive every process that does not change the grid


def grid_preserving():
    c = load()
    scl = load(["SCL"])
    return {
        "apply_absolute": c.apply(lambda x: x.absolute()),
        "apply_linear_scale_range": c.apply(
            lambda x: process(
                "linear_scale_range", x=x, inputMin=0, inputMax=3000, outputMin=0, outputMax=255
            )
        ),  # fmt: skip
        "linear_scale_range": c.linear_scale_range(0, 3000, 0, 255),
        "apply_clip": c.apply(lambda x: process("clip", x=x, min=0, max=1000)),
        "apply_mod": c.apply(lambda x: process("mod", x=x, y=7)),
        "apply_mod_of_number": c.apply(lambda x: process("mod", x=7, y=x)),
        "apply_add": c.apply(lambda x: process("add", x=x, y=1)),
        "apply_and": c.apply(
            lambda x: process("and", x=process("gt", x=x, y=100), y=process("lt", x=x, y=900))
        ),
        "apply_if_number": c.apply(
            lambda x: process("if", value=process("gt", x=x, y=100), accept=0, reject=x)
        ),
        "apply_dimension_t": c.apply_dimension(dimension="t", process="cumsum"),
        "reduce_t": c.reduce_dimension(dimension="t", reducer="mean"),
        "reduce_bands": c.reduce_dimension(dimension="bands", reducer="max"),
        "filter_temporal": c.filter_temporal(["2023-06-01", "2023-08-01"]),
        "filter_bands": c.filter_bands(["B08"]),
        "mask": c.mask(scl.band("SCL") > 4),
        "merge_cubes": c.merge_cubes(load(["B02"])),
        "rename_labels": c.rename_labels("bands", target=["r", "n"], source=["B04", "B08"]),
        "ndvi": c.ndvi(nir="B08", red="B04"),
        "aggregate_temporal_period": c.aggregate_temporal_period("month", reducer="mean"),
    }


GRID_PRESERVING = sorted(grid_preserving())


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("name", GRID_PRESERVING)
def test_issue_18_geotiff_keeps_crs_and_transform(tmp_path, name, executor):
    """Issue 18: the reference executor's GeoTIFF had no CRS after linear_scale_range, clip
    (and ``and``, ``if`` with a number): xarray drops attributes in np.clip and xr.where,
    and a cube's CRS is an attribute."""
    out = tmp_path / "out.tif"
    execute(graph(grid_preserving()[name]), executor=executor, output=out)
    with rasterio.open(out) as dst:
        assert dst.crs is not None and dst.crs.to_epsg() == 32631, name
        assert tuple(dst.transform)[:6] == TRANSFORM
        assert (dst.width, dst.height) == (30, 30)


def test_issue_18_elementwise_results_keep_the_cube_attributes():
    """The root: every pixel-by-pixel result of the reference has its operands' attributes."""
    from pgc.executors.values import Cube, with_metadata

    a = Cube(xr.DataArray([1.0, 2.0], dims=["x"], attrs={"crs": "32631"}), xr.DataArray(True))
    clipped = np.clip(a.data, 0, 1)
    assert clipped.attrs == {}  # what xarray does, the reason for with_metadata
    assert with_metadata(clipped, 3, a).attrs == {"crs": "32631"}
    assert with_metadata(5, a) == 5


# ---------------------------------------------------------------------------------------
# 2. netCDF (and GeoTIFF) as GDAL and xarray + rioxarray read them


@pytest.mark.parametrize("executor", ["reference", "dask"])
def test_issue_18_netcdf_is_georeferenced_for_gdal_and_rioxarray(tmp_path, executor):
    rioxarray = pytest.importorskip("rioxarray")
    out = tmp_path / "out.nc"
    execute(graph(load().linear_scale_range(0, 3000, 0, 255), "netCDF"), executor=executor,
            output=out)  # fmt: skip
    with xr.open_dataset(out) as ds:
        assert sorted(ds.data_vars) == ["B04", "B08"]  # one variable per band
        assert ds.rio.crs.to_epsg() == 32631
        assert tuple(ds.rio.transform())[:6] == TRANSFORM
        assert tuple(ds["B04"].rio.transform())[:6] == TRANSFORM
        assert ds["B04"].attrs["grid_mapping"] == "spatial_ref"
        assert ds["x"].attrs["standard_name"] == "projection_x_coordinate"
        assert ds["y"].attrs["standard_name"] == "projection_y_coordinate"
        assert ds["x"].attrs["units"] == "m" and ds["y"].attrs["units"] == "m"
        assert ds["t"].attrs["standard_name"] == "time"
        assert ds["t"].values[0] == np.datetime64("2023-05-10T10:30:00")
        assert ds["t"].encoding["units"].startswith("days since")  # a CF time coordinate
        for variable in ds.data_vars.values():  # nothing says no-data is 0
            assert "nodata" not in variable.attrs
            assert math.isnan(variable.encoding["_FillValue"])
        assert "_FillValue" not in ds["x"].encoding or ds["x"].encoding["_FillValue"] is None
    with rasterio.open(f"netcdf:{out}:B04") as band:
        assert band.crs.to_epsg() == 32631
        assert tuple(band.transform)[:6] == TRANSFORM
        assert band.count == 3  # the dates
    del rioxarray


@pytest.mark.parametrize("executor", ["reference", "dask"])
def test_issue_18_geotiff_for_rioxarray(tmp_path, executor):
    rioxarray = pytest.importorskip("rioxarray")
    out = tmp_path / "out.tif"
    execute(graph(load().ndvi(nir="B08", red="B04")), executor=executor, output=out)
    with rioxarray.open_rasterio(out) as data:
        assert data.rio.crs.to_epsg() == 32631
        assert tuple(data.rio.transform())[:6] == TRANSFORM


def test_issue_18_netcdf_no_data_of_integers_matches_the_values(tmp_path):
    """A uint16 band with gaps: _FillValue is the value the pixels without data hold."""
    out = tmp_path / "out.nc"
    cube = load().mask(load(["SCL"]).band("SCL") > 4)
    result = execute(graph(cube, "netCDF"), output=out)
    expected = result.outputs[0][0]
    assert not bool(expected.full_valid().all())  # the mask made gaps
    with xr.open_dataset(out, mask_and_scale=False) as ds:
        fill = ds["B04"].attrs["_FillValue"]
        raw = ds["B04"].values
        assert ds["B04"].dtype == np.uint16
    valid = expected.full_valid().sel(bands="B04").values
    assert (raw[~valid] == fill).all() and not (raw[valid] == fill).any()
    assert (raw[valid] == expected.data.sel(bands="B04").values[valid]).all()


# ---------------------------------------------------------------------------------------
# 3. JSON dates, vector cubes with their properties, GeoJSON; the format table


def test_issue_18_json_dates_are_iso_8601(tmp_path):
    out = tmp_path / "out.json"
    execute(graph(load(["B04"]).filter_bbox(**{**EXTENT, "east": WEST + 20}), "JSON"),
            output=out)  # fmt: skip
    doc = json.loads(out.read_text())
    assert doc["coords"]["t"] == [
        "2023-05-10T10:30:00Z", "2023-06-10T10:30:00Z", "2023-07-10T10:30:00Z"
    ]  # fmt: skip


def zonal_means():
    return load().aggregate_spatial(FIELDS, reducer="mean")


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue_18_vector_csv_keeps_the_field_ids(tmp_path, executor):
    out = tmp_path / "out.csv"
    execute(graph(zonal_means(), "CSV"), executor=executor, output=out)
    rows = list(csv.DictReader(out.open()))
    assert {r["field_id"] for r in rows} == {"field_A", "field_B"}
    assert {r["crop"] for r in rows if r["field_id"] == "field_B"} == {"wheat"}
    assert rows[0]["t"] == "2023-05-10T10:30:00Z"
    assert any(r["value"] for r in rows) and all(float(r["value"]) > 0 for r in rows if r["value"])


def test_issue_18_vector_json_keeps_the_field_ids(tmp_path):
    out = tmp_path / "out.json"
    execute(graph(zonal_means(), "JSON"), output=out)
    doc = json.loads(out.read_text())
    features = doc["features"]
    labels = doc["coords"][features["dimension"]]
    assert [p["field_id"] for p in features["properties"]] == ["field_A", "field_B"]
    assert len(labels) == len(features["properties"]) == len(features["geometries"])


def test_issue_18_vector_netcdf_keeps_the_field_ids(tmp_path):
    out = tmp_path / "out.nc"
    execute(graph(zonal_means(), "netCDF"), output=out)
    with xr.open_dataset(out) as ds:
        assert ds["field_id"].values.tolist() == ["field_A", "field_B"]
        assert ds["wkt"].values[0].startswith("POLYGON")
        assert sorted(ds.data_vars) == ["B04", "B08"]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue_18_geojson_of_a_vector_cube(tmp_path, executor):
    out = tmp_path / "out.geojson"
    result = execute(graph(zonal_means(), "GeoJSON"), executor=executor, output=out)
    collection = json.loads(out.read_text())
    assert collection["type"] == "FeatureCollection"
    features = collection["features"]
    assert [f["properties"]["field_id"] for f in features] == ["field_A", "field_B"]
    assert [f["properties"]["crop"] for f in features] == ["maize", "wheat"]
    assert [f["geometry"]["type"] for f in features] == ["Polygon", "Polygon"]
    ring = features[0]["geometry"]["coordinates"][0]
    assert np.allclose(ring, FIELDS["features"][0]["geometry"]["coordinates"][0])
    cube = result.outputs[0][0].filled().sel(bands="B08")  # [t, geometry]
    assert [f["properties"]["2023-06-10T10:30:00Z/B08"] for f in features] == pytest.approx(
        cube.sel(t="2023-06-10T10:30:00").values.tolist()
    )
    missing = [(t, i) for t in range(3) for i in range(2) if np.isnan(cube.values[t, i])]
    for t, i in missing:  # no data: null
        assert features[i]["properties"][f"{cube.t.values[t]!s:.19}Z/B08"] is None


def test_issue_18_geojson_refuses_a_raster_cube_before_writing(tmp_path):
    out = tmp_path / "out.geojson"
    with pytest.raises(pgc.PgcError, match="stores vector cubes") as info:  # from the types
        execute(graph(load(), "GeoJSON"), output=out)
    assert info.value.code == "FormatUnsuitable"
    assert not out.exists()


def test_issue_18_writers_and_the_format_table_agree():
    from pgc import formats
    from pgc.data import writers

    assert set(writers.WRITERS) == set(formats.OUTPUT_FORMATS)
    assert not hasattr(writers, "ALIASES")  # one table of names: pgc.formats
    for name in [*formats.ALIASES, *(f.title for f in formats.OUTPUT_FORMATS.values())]:
        assert writers.writer_for(name) is writers.WRITERS[formats.output_format(name)]
    with pytest.raises(KeyError):
        writers.writer_for("PNG")


# ---------------------------------------------------------------------------------------
# 4. Narrow dtypes, soundly


def stored(path):
    with rasterio.open(path) as dst:
        return dst.dtypes[0], dst.nodata, dst.read()


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue_18_a_mask_is_written_as_uint8(tmp_path, executor):
    out = tmp_path / "mask.tif"
    cube = load(["SCL"]).band("SCL") > 4
    result = execute(graph(cube), executor=executor, output=out)
    dtype, nodata, values = stored(out)
    assert (dtype, nodata) == ("uint8", 255)
    assert set(np.unique(values)) <= {0, 1, 255}
    reference = execute(graph(cube)).outputs[0][0]
    expected = np.where(reference.full_valid().values, reference.data.values, 255)
    assert (values == expected).all()
    assert result.stored[0].dtype == "uint8"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue_18_bands_passed_through_keep_their_dtype(tmp_path, executor):
    out = tmp_path / "bands.tif"
    execute(graph(load().filter_bands(["B08"])), executor=executor, output=out)
    dtype, nodata, values = stored(out)
    assert (dtype, nodata) == ("uint16", 0)  # the collection's no-data value
    assert values.max() > 0


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue_18_a_count_is_written_as_integers(tmp_path, executor):
    out = tmp_path / "count.tif"
    execute(graph(load().reduce_dimension(dimension="t", reducer="count")), executor=executor,
            output=out)  # fmt: skip
    dtype, nodata, values = stored(out)
    assert np.dtype(dtype).kind in "iu" and np.dtype(dtype).itemsize == 1
    assert values.max() <= 3  # three dates


def test_issue_18_a_replaced_no_data_value_is_not_declared(tmp_path):
    """mask(replacement=0): pixels with data now hold 0, the collection's no-data value, and
    must not read as no-data: another value marks the gaps, or none is needed."""
    out = tmp_path / "replaced.tif"
    cube = load(["B04"]).mask(load(["SCL"]).band("SCL") > 4, replacement=0)
    result = execute(graph(cube), output=out)
    dtype, nodata, values = stored(out)
    saved = result.outputs[0][0]
    valid = saved.full_valid().values.reshape(values.shape)
    assert dtype == "uint16" and (values[valid] == 0).any()
    assert nodata != 0
    assert nodata is None or not (values[valid] == nodata).any()


def test_issue_18_float32_computations_are_written_as_float32(tmp_path):
    from pgc.dtypes import compute_dtype, set_compute_dtype

    before = compute_dtype()
    set_compute_dtype("float32")
    try:
        out = tmp_path / "f32.tif"
        execute(graph(load().ndvi(nir="B08", red="B04")), output=out)
    finally:
        set_compute_dtype(before)
    assert stored(out)[0] == "float32"


def test_issue_18_no_free_no_data_value_widens_and_says_why():
    from pgc.data.storage import storage_for, stored_values
    from pgc.executors.values import Cube

    data = xr.DataArray(np.arange(257, dtype="int64").astype("uint8"), dims=["x"])
    valid = xr.DataArray(np.arange(257) < 256, dims=["x"])  # every uint8 value, and a gap
    storage = storage_for(Cube(data, valid))
    assert storage.dtype == "float32" and math.isnan(storage.nodata)
    assert "every value" in storage.why and storage.why in storage.describe()
    written = stored_values(Cube(data, valid), storage).values
    assert (written[:256] == np.arange(256)).all() and np.isnan(written[256])


def test_issue_18_integral_types_are_narrowed_only_when_the_values_are_whole():
    from pgc.data.storage import storage_for
    from pgc.executors.values import Cube

    def storage(values, valid=True):
        data = xr.DataArray(np.array(values, dtype="float64"), dims=["x"])
        return storage_for(Cube(data, xr.DataArray(valid)), integral=True)

    assert storage([0.0, 12.0]).dtype == "uint8"
    assert storage([0.0, 255.0], xr.DataArray([True, False], dims=["x"])).nodata == 255
    assert storage([0.0, 255.0]).dtype == "uint8"  # no gap: 255 is a value
    assert storage([-1.0, 300.0]).dtype == "int16"
    assert storage([0.5, 2.0]).dtype == "float64"  # not whole: as it is, and why
    assert "not whole" in storage([0.5, 2.0]).why
    assert storage([math.nan, 2.0]).dtype == "float64"


def test_issue_18_cli_says_how_a_file_stores_its_values(tmp_path, capsys):
    from pgc.cli import main

    path = tmp_path / "g.json"
    path.write_text(json.dumps(graph(load(["SCL"]).band("SCL") > 4)))
    assert main(["run", str(path), "-o", str(tmp_path / "m.tif")]) == 0
    assert "uint8, no-data 255" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# 5. -o and save_result's format; -o without save_result


def test_issue_18_a_suffix_naming_another_format_is_refused_before_running(tmp_path):
    out = tmp_path / "x.nc"
    with pytest.raises(OutputError, match=r"\.nc says netCDF, but save_result's format is GTiff"):
        execute(graph(load()), output=out)
    assert not out.exists()


def test_issue_18_written_later_the_suffix_is_checked_too(tmp_path):
    result = execute(graph(load()))
    with pytest.raises(OutputError, match="name it .tif or .tiff"):
        result.write(tmp_path / "x.nc")
    assert result.write(tmp_path / "x.tif") == [tmp_path / "x.tif"]
    assert result.write(tmp_path / "x.out") == [tmp_path / "x.out"]  # a name of one's own


def test_issue_18_cli_refuses_a_tiff_named_nc(tmp_path, capsys):
    from pgc.cli import main

    path = tmp_path / "g.json"
    path.write_text(json.dumps(graph(load())))
    assert main(["run", str(path), "-o", str(tmp_path / "x.nc")]) == 2
    assert "save_result's format is GTiff" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue_18_without_save_result_the_suffix_gives_the_format(tmp_path, executor, capsys):
    from pgc.cli import main

    path = tmp_path / "g.json"
    path.write_text(json.dumps(graph(load().ndvi(nir="B08", red="B04"), None)))
    out = tmp_path / "ndvi.tif"
    assert main(["run", str(path), "-o", str(out), "--executor", executor]) == 0
    assert f"wrote {out} (GTiff" in capsys.readouterr().out
    with rasterio.open(out) as dst:
        assert dst.crs.to_epsg() == 32631 and tuple(dst.transform)[:6] == TRANSFORM
    out = tmp_path / "ndvi.nc"
    assert main(["run", str(path), "-o", str(out), "--executor", executor]) == 0
    with xr.open_dataset(out) as ds:
        assert "values" in ds.data_vars


def test_issue_18_without_save_result_a_value_goes_to_json(tmp_path):
    out = tmp_path / "v.json"
    execute({"a": {"process_id": "add", "arguments": {"x": 1, "y": 2}, "result": True}},
            output=out)  # fmt: skip
    assert json.loads(out.read_text()) == 3


def test_issue_18_without_save_result_an_unknown_suffix_is_a_usage_error(tmp_path, capsys):
    from pgc.cli import main

    path = tmp_path / "g.json"
    path.write_text(json.dumps(graph(load(), None)))
    assert main(["run", str(path), "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "no save_result" in err and ".tif" in err and "Traceback" not in err


def test_float_values_with_data_everywhere_are_stored_without_a_copy():
    """Issue 23: a float64 result whose validity is true everywhere (one value, or one
    spread over its shape as the executors make it) is written as it is; with no-data the
    fill is the same NaN as before."""
    from pgc.data.storage import Storage, stored_values
    from pgc.executors.values import Cube, everywhere

    data = xr.DataArray(np.arange(6.0).reshape(2, 3), dims=("y", "x"))
    for valid in (xr.DataArray(True), everywhere(data)):
        out = stored_values(Cube(data, valid), Storage("float64", np.nan))
        assert np.shares_memory(out.values, data.values)
    holes = data.copy(data=np.array([[True, False, True], [True, True, False]]))
    out = stored_values(Cube(data, holes), Storage("float64", np.nan))
    np.testing.assert_array_equal(out.values, [[0.0, np.nan, 2.0], [3.0, 4.0, np.nan]])
