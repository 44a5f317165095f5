"""A file-backed collection (issue 4): GeoTIFFs described by STAC collection and item JSON.

The test writes the files itself; loading reads only the requested window, bands and
dates, which the byte counts show.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

import pgc
from pgc.data.catalog import Catalog
from pgc.runner import execute

SIZE, STEP, WEST, NORTH = 64, 20.0, 500000.0, 4600000.0
DATES = ["2024-04-01T10:00:00Z", "2024-05-01T10:00:00Z"]
BANDS = ["red", "nir"]


def _write(path, data, kind: str, band: str) -> None:
    if kind == "tif":
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=SIZE,
            height=SIZE,
            count=1,
            dtype="uint16",
            nodata=0,
            crs="EPSG:32633",
            tiled=True,
            blockxsize=16,
            blockysize=16,
            transform=from_origin(WEST, NORTH, STEP, STEP),
        ) as dst:
            dst.write(data, 1)
        return
    import xarray as xr

    array = xr.DataArray(
        data,
        dims=("y", "x"),
        name=band,
        coords={
            "y": NORTH - (np.arange(SIZE) + 0.5) * STEP,
            "x": WEST + (np.arange(SIZE) + 0.5) * STEP,
        },
    )
    if kind == "nc":
        array.to_netcdf(path, engine="netcdf4")
    else:
        array.to_dataset().to_zarr(path, mode="w")


@pytest.fixture(params=["tif", "nc", "zarr"])
def collection(tmp_path, request):
    kind = request.param
    rng = np.random.default_rng(7)
    values = {}
    (tmp_path / "items").mkdir()
    links = []
    for t, date in enumerate(DATES):
        assets = {}
        for band in BANDS:
            data = rng.integers(1, 5000, (SIZE, SIZE), dtype=np.uint16)
            data[:4, :4] = 0  # no-data corner
            values[(t, band)] = data
            path = tmp_path / f"{band}_{t}.{kind}"
            _write(path, data, kind, band)
            assets[band] = {"href": f"../{path.name}"}
        item = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "id": f"item{t}",
            "geometry": None,
            "properties": {"datetime": date},
            "links": [],
            "assets": assets,
        }
        (tmp_path / "items" / f"item{t}.json").write_text(json.dumps(item))
        links.append({"rel": "item", "href": f"items/item{t}.json"})
    stac = {
        "type": "Collection", "stac_version": "1.0.0", "id": "MY_TIFFS", "description": "test",
        "license": "proprietary", "links": links,
        "extent": {"spatial": {"bbox": [[0, 0, 1, 1]]}, "temporal": {"interval": [DATES]}},
        "cube:dimensions": {
            "x": {"type": "spatial", "axis": "x", "extent": [WEST, WEST + SIZE * STEP],
                  "step": STEP, "reference_system": 32633},
            "y": {"type": "spatial", "axis": "y", "extent": [NORTH - SIZE * STEP, NORTH],
                  "step": STEP, "reference_system": 32633},
            "t": {"type": "temporal", "extent": DATES},
            "bands": {"type": "bands", "values": BANDS},
        },
        "summaries": {"raster:bands": [{"name": b, "data_type": "uint16", "nodata": 0}
                                       for b in BANDS]},
    }  # fmt: skip
    (tmp_path / "collection.json").write_text(json.dumps(stac))
    catalog = Catalog()
    assert catalog.add_folder(tmp_path) == "MY_TIFFS"
    return catalog, values


def graph(extent, bands, dates):
    return {
        "l": {
            "process_id": "load_collection",
            "result": True,
            "arguments": {
                "id": "MY_TIFFS",
                "spatial_extent": extent,
                "temporal_extent": dates,
                "bands": bands,
            },
        }
    }


def test_type_comes_from_the_stac_metadata(collection):
    catalog, _ = collection
    cube = catalog.cube_type("MY_TIFFS")
    assert cube.names == ("t", "bands", "y", "x") and cube.dtype == "uint16"
    assert cube.dimension("t").labels == tuple(DATES) and cube.pixels == 2 * 2 * SIZE * SIZE


def test_only_the_window_band_and_date_are_read(collection):
    catalog, values = collection
    extent = {
        "west": WEST + 10 * STEP,
        "east": WEST + 30 * STEP - 1,
        "north": NORTH - 5 * STEP,
        "south": NORTH - 25 * STEP + 1,
        "crs": 32633,
    }
    result = execute(graph(extent, ["nir"], ["2024-05-01", None]), catalog=catalog)
    cube = result.value
    assert cube.data.shape == (1, 1, 20, 20)
    np.testing.assert_array_equal(cube.data.values[0, 0], values[(1, "nir")][5:25, 10:30])
    assert result.bytes_read == 20 * 20 * 2  # one band, one date, the window only
    plan_bytes = result.plan.graph.result_node.type.nbytes
    assert plan_bytes == result.bytes_read  # the IR predicted it


def test_nodata_of_files_is_nodata(collection):
    catalog, values = collection
    out = pgc.run(graph(None, ["red"], None), catalog=catalog)
    assert np.isnan(out.values[0, 0, 0, 0]) and np.isnan(out.values[1, 0, 3, 3])
    assert out.values[0, 0, 10, 10] == values[(0, "red")][10, 10]


def test_load_stac_through_the_applications_resolver(collection):
    catalog, values = collection
    folder = next(iter(catalog.items["MY_TIFFS"])).assets["red"].parent
    url = "https://stac.example.com/my-tiffs/collection.json"
    graph = {
        "l": {
            "process_id": "load_stac",
            "result": True,
            "arguments": {"url": url, "bands": ["red"]},
        }
    }

    def resolver(address: str):  # the embedding application decides what is reachable
        return folder / "collection.json" if address == url else None

    out = pgc.run(graph, resolver=resolver)
    assert out.shape == (2, 1, SIZE, SIZE)
    np.testing.assert_array_equal(out.values[1, 0, 10], values[(1, "red")][10])
    remote = {
        "l": {
            "process_id": "load_stac",
            "result": True,
            "arguments": {"url": "https://example.com/collection.json"},
        }
    }
    with pytest.raises(pgc.PgcError) as info:
        pgc.run(remote)
    assert info.value.code == "FeatureUnsupported"


def test_load_stac_bands_in_the_order_given_and_unknown_ones_refused(collection):
    """Issue 18: load_stac reads ``bands`` as load_collection does (order of the list;
    an unknown band is ProcessParameterInvalid, the code validation gives, not a
    code of pgc's own)."""
    catalog, values = collection
    folder = next(iter(catalog.items["MY_TIFFS"])).assets["red"].parent
    url = "https://stac.example.com/my-tiffs/collection.json"

    def resolver(address: str):
        return folder / "collection.json" if address == url else None

    def run(bands):
        graph = {"l": {"process_id": "load_stac", "result": True,
                       "arguments": {"url": url, "bands": bands}}}  # fmt: skip
        return pgc.run(graph, resolver=resolver)

    out = run(["nir", "red"])
    assert list(out["bands"].values) == ["nir", "red"]
    np.testing.assert_array_equal(out.values[1, 1, 10], values[(1, "red")][10])
    with pytest.raises(pgc.PgcError) as info:
        run(["swir"])
    assert info.value.code == "ProcessParameterInvalid"
    assert "swir" in str(info.value)
