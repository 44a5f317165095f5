"""load_url through the embedding application's resolver: GeoTIFF, netCDF and GeoJSON
files, each checked against the values written; no resolver, no reading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from conftest import node

import pgc
from pgc.runner import execute

URL = "https://example.org/data/file"


def load(path, fmt: str, resolver=None):
    graph = {"l": node("load_url", url=URL, format=fmt, result=True)}
    resolve = resolver if resolver is not None else (lambda url: path if url == URL else None)
    return execute(graph, resolver=resolve).value


def test_geotiff_bands_grid_and_nodata(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    values = np.arange(2 * 3 * 4, dtype="uint16").reshape(2, 3, 4)
    values[1, 2, 3] = 65535
    path = tmp_path / "a.tif"
    profile = {"driver": "GTiff", "width": 4, "height": 3, "count": 2, "dtype": "uint16",
               "crs": "EPSG:32631", "transform": from_origin(600_000, 5_000_030, 10, 10),
               "nodata": 65535}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values)
        dst.set_band_description(1, "B04")
    cube = load(path, "GTiff")
    assert list(cube.data.bands.values) == ["B04", "2"]
    assert cube.data.x.values.tolist() == [600_005.0, 600_015.0, 600_025.0, 600_035.0]
    assert cube.data.y.values.tolist() == [5_000_025.0, 5_000_015.0, 5_000_005.0]
    assert cube.data.attrs["crs"] == "32631"
    np.testing.assert_array_equal(cube.data.values[0], values[0])
    assert not cube.valid.values[1, 2, 3] and cube.valid.values.sum() == values.size - 1


def test_netcdf_variables_become_bands(tmp_path):
    times = np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]")
    red = np.array([[[1.0, np.nan]], [[3.0, 4.0]]])
    data = xr.Dataset(
        {"red": (("time", "lat", "lon"), red), "nir": (("time", "lat", "lon"), red * 10)},
        coords={"time": times, "lat": [51.0], "lon": [4.0, 4.1]},
    )
    path = tmp_path / "a.nc"
    data.to_netcdf(path)
    cube = load(path, "netCDF")
    assert cube.dims == ("t", "bands", "y", "x")
    assert list(cube.data.bands.values) == ["red", "nir"]
    assert cube.data.sel(bands="nir").values[1, 0].tolist() == [30.0, 40.0]
    assert not cube.valid.sel(bands="red").values[0, 0, 1]


def test_geojson_is_a_vector_cube(tmp_path):
    point = {"type": "Point", "coordinates": [4.4, 51.2]}
    path = tmp_path / "a.geojson"
    path.write_text(json.dumps({"type": "Feature", "geometry": point, "properties": {}}))
    cube = load(path, "GeoJSON")
    assert cube.dims == ("geometry",) and cube.data.attrs["geometries"] == {0: point}


def test_without_a_resolver_nothing_is_read(tmp_path):
    with pytest.raises(pgc.PgcError) as err:
        load(tmp_path / "a.tif", "GTiff", resolver=lambda url: None)
    assert err.value.code == "FeatureUnsupported"


def test_unknown_or_unsuitable_formats(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("not a raster")
    for fmt in ("Parquet", "GTiff"):
        with pytest.raises(pgc.PgcError) as err:
            load(path, fmt)
        assert err.value.code == "FormatUnsuitable"


def test_writers_ignore_an_encoding_the_values_brought_from_a_file(tmp_path):
    """Labels are written whole even when the cube's coordinates still carry the encoding of
    a file they were read from (xarray keeps it through reindexing): a '<U2' label dtype
    would write 'r10' as 'r1'."""
    from pgc.data import writers
    from pgc.executors.values import Cube

    data = xr.DataArray(
        np.ones((2, 1, 2)), dims=("bands", "y", "x"),
        coords={"bands": ["r0", "r10"], "y": [5.0], "x": [1.0, 2.0]},
    )  # fmt: skip
    data["bands"].encoding = {"dtype": np.dtype("<U2")}
    writers.write_netcdf(Cube(data, xr.DataArray(True)), tmp_path / "a.nc", {})
    with xr.open_dataset(tmp_path / "a.nc") as back:
        assert sorted(back.data_vars) == ["r0", "r10"]  # one variable per band (issue 18)
