"""trim_cube and mask_polygon against hand-made cubes: which labels go, which pixels are
replaced, and that no-data stays no-data as the definitions say."""

from __future__ import annotations

import numpy as np
import xarray as xr
from conftest import run_process

from pgc.executors.values import Cube


def run(process_id: str, c: Cube, **arguments) -> Cube:
    return run_process(process_id, {"c": c}, data={"from_parameter": "c"}, **arguments)


def cube(valid: np.ndarray) -> Cube:
    """bands a..c, x 0..4 (10 m pixels, UTM 31N), one row."""
    coords = {"bands": ["a", "b", "c"], "y": [5_000_005.0], "x": 600_005.0 + 10 * np.arange(5)}
    values = np.arange(15.0).reshape(3, 1, 5)
    data = xr.DataArray(values, dims=["bands", "y", "x"], coords=coords, attrs={"crs": "32631"})
    return Cube(data, xr.DataArray(valid.reshape(3, 1, 5), dims=data.dims, coords=coords))


def test_trim_cube_drops_edges_of_ordered_dimensions_and_any_empty_band():
    valid = np.ones((3, 5), bool)
    valid[:, 0] = False  # first x column: trimmed
    valid[:, 2] = False  # a gap inside x: kept
    valid[1, :] = False  # band b: dropped although it is in the middle
    out = run("trim_cube", cube(valid))
    assert list(out.data.bands.values) == ["a", "c"]
    assert out.data.x.values.tolist() == [600_015.0, 600_025.0, 600_035.0, 600_045.0]
    assert not out.valid.values[:, 0, 1].any()


def test_mask_polygon_replaces_outside_and_leaves_nodata_alone():
    valid = np.ones((3, 5), bool)
    valid[0, 4] = False
    from rasterio.warp import transform_geom

    # a square around the pixel centres x = 600005..600025, given in WGS84 as GeoJSON is
    utm = {
        "type": "Polygon",
        "coordinates": [
            [[600_000, 4_999_990], [600_030, 4_999_990], [600_030, 5_000_020], [600_000, 5_000_020],
             [600_000, 4_999_990]]
        ],
    }  # fmt: skip
    square = transform_geom("EPSG:32631", "EPSG:4326", utm)
    out = run("mask_polygon", cube(valid), mask=square, replacement=-1)
    values = np.where(out.valid.values, out.data.values, np.nan)[:, 0, :]
    assert values[1].tolist() == [5.0, 6.0, 7.0, -1.0, -1.0]
    assert np.isnan(values[0, 4])  # no-data outside the polygon stays no-data
    inside = run("mask_polygon", cube(valid), mask=square, inside=True)
    assert inside.valid.values[1, 0].tolist() == [False, False, False, True, True]
