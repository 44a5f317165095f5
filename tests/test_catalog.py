"""The catalog (issues 3/4): STAC collections with the datacube extension become cube types."""

from __future__ import annotations

import json

from pgc.cli import main
from pgc.data.catalog import Catalog, cube_type_of, default_catalog
from pgc.grid import window_for_bbox


def test_sample_collection_metadata():
    stac = default_catalog().stac("SENTINEL2_L2A_SAMPLE")
    assert stac["summaries"]["pgc:synthetic"] == [True]
    cube = default_catalog().cube_type("SENTINEL2_L2A_SAMPLE")
    assert cube.names == ("t", "bands", "y", "x")
    bands = cube.dimension("bands").labels
    assert bands == (
        "B01",
        "B02",
        "B03",
        "B04",
        "B05",
        "B06",
        "B07",
        "B08",
        "B8A",
        "B09",
        "B11",
        "B12",
        "SCL",
    )
    nir = cube.band("B08")
    assert (nir.common_name, nir.wavelength, nir.nodata, nir.scale, nir.offset) == (
        "nir",
        0.842,
        0,
        0.0001,
        -0.1,
    )
    assert cube.dimension("x").crs == "32631" and cube.dimension("x").size == 512
    assert len(cube.dimension("t").labels) == 12
    assert cube.dtype == "uint16" and cube.nbytes == 12 * 13 * 512 * 512 * 2


def test_a_collection_of_ones_own():
    stac = {
        "id": "MY_DEM",
        "cube:dimensions": {
            "y": {
                "type": "spatial",
                "axis": "y",
                "extent": [0, 100],
                "step": 10,
                "reference_system": 3035,
            },
            "x": {
                "type": "spatial",
                "axis": "x",
                "extent": [0, 200],
                "step": 10,
                "reference_system": 3035,
            },
        },
    }
    catalog = Catalog()
    catalog.add(stac)
    cube = catalog.cube_type("MY_DEM")
    assert cube.names == ("y", "x") and cube.pixels == 200 and cube.dtype == "float64"
    assert cube_type_of(stac) == cube


def test_pixel_centre_rule():
    grid = ((0.0, 100.0), (0.0, 100.0), 10.0)
    assert window_for_bbox(*grid, None).shape == (10, 10)
    # Centres at 5, 15, ...: a box from 4 to 16 holds two centres per axis.
    w = window_for_bbox(*grid, (4, 4, 16, 16))
    assert w.shape == (2, 2) and (w.y0, w.x0) == (8, 0)
    assert window_for_bbox(*grid, (6, 6, 14, 14)).shape == (0, 0)  # no centre inside
    assert window_for_bbox(*grid, (-50, -50, 500, 500)).shape == (10, 10)


def test_cli_collections(capsys):
    assert main(["collections"]) == 0
    assert "SENTINEL2_L2A_SAMPLE (synthetic)" in capsys.readouterr().out
    assert main(["collections", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in listing["collections"]] == [
        "SENTINEL2_L2A_SAMPLE", "SENTINEL2_L2A_SAMPLE_32632"
    ]  # fmt: skip
