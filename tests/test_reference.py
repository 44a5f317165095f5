"""The reference executor on the examples (issue 4): results against numpy on the raw bands.

The expected values are computed here independently: numpy on the generated bands of the
sample collection, with the openEO rules written out by hand (no-data 0 is masked, the
temporal extent is left-closed, median skips no-data).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import ROOT, node

import pgc
from pgc.data import sample
from pgc.runner import execute


@pytest.fixture(scope="module")
def bands():
    return sample.generate()


def _raw(bands, name, dates, rows=slice(0, 500), cols=slice(0, 500)):
    values = bands[name][dates][:, rows, cols].astype("float64")
    return np.where(values == 0, np.nan, values)  # nodata 0


def test_evi_matches_numpy(bands):
    result = execute((ROOT / "examples" / "evi.json").read_text())
    [(cube, fmt, _)] = result.outputs
    assert fmt == "GTiff" and cube.dims == ("t", "y", "x")
    june = [5]  # 2023-06-10 is the only date in [2023-06-01, 2023-07-01)
    blue, red, nir = (_raw(bands, b, june) for b in ("B02", "B04", "B08"))
    with np.errstate(all="ignore"):
        expected = (2.5 * (nir - red)) / ((1 + nir + 6 * red) - 7.5 * blue)
    np.testing.assert_array_equal(cube.filled().values, expected)
    assert result.bytes_read == 3 * 500 * 500 * 2  # three uint16 bands, one date


def test_cloud_masked_ndvi_composite_matches_numpy(bands):
    result = execute((ROOT / "examples" / "ndvi_composite.json").read_text())
    [(cube, _, _)] = result.outputs
    dates = [4, 5, 6, 7]  # May 10 .. Aug 10 within [2023-05-01, 2023-09-01)
    red, nir = _raw(bands, "B04", dates), _raw(bands, "B08", dates)
    scl = bands["SCL"][dates][:, :500, :500]
    with np.errstate(all="ignore"):
        ndvi = (nir - red) / (nir + red)
    ndvi[np.isin(scl, [3, 8, 9, 10])] = np.nan  # cloud, shadow, cirrus: masked
    with warnings.catch_warnings():  # all-NaN pixels: nanmedian warns and gives NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(ndvi, axis=0)
    np.testing.assert_array_equal(cube.filled().values, expected)
    assert cube.dims == ("y", "x")
    # The no-data strip of May stays out of the composite: those pixels have 3 dates.
    assert np.isfinite(cube.filled().values[:, :40]).mean() > 0.9


def test_run_api_with_parameters_and_cubes():
    graph = {"a": node("multiply", result=True, x={"from_parameter": "v"}, y=2)}
    assert pgc.run(graph, parameters={"v": 21}) == 42
    assert pgc.run(graph, parameters={"v": None}) is None  # no-data in, no-data out


def test_unbound_parameter_at_run_time_points_at_the_node():
    graph = {"a": node("multiply", result=True, x={"from_parameter": "v"}, y=2)}
    with pytest.raises(pgc.PgcError) as info:
        pgc.run(graph)
    [d] = info.value.diagnostics
    assert (d.code, d.pointer, d.node_id) == ("ProcessParameterRequired", "/a/arguments/x", "a")


def test_nodata_is_not_nan():
    assert pgc.run({"n": node("is_nan", result=True, x=None)}) is False
    assert pgc.run({"n": node("is_nodata", result=True, x=None)}) is True
    assert pgc.run({"n": node("and", result=True, x=False, y=None)}) is False
    assert pgc.run({"n": node("or", result=True, x=False, y=None)}) is None


def test_cli_run_writes_a_georeferenced_geotiff(tmp_path, capsys):
    import rasterio

    from pgc.cli import main

    out = tmp_path / "evi.tif"
    assert main(["run", str(ROOT / "examples" / "evi.json"), "-o", str(out), "--stats"]) == 0
    text = capsys.readouterr().out
    assert "bytes read: 1.5 MB" in text and "peak memory" in text
    with rasterio.open(out) as dst:
        assert dst.crs.to_epsg() == 32631
        assert tuple(dst.transform)[:6] == (10.0, 0.0, 600000.0, 0.0, -10.0, 5695000.0)
        assert (dst.width, dst.height, dst.count) == (500, 500, 1)


def test_cli_run_preview_png(tmp_path, capsys):
    from pgc.cli import main

    png = tmp_path / "evi.png"
    args = ["run", str(ROOT / "examples" / "evi.json"), "-o", str(tmp_path / "e.tif")]
    assert main([*args, "--preview", str(png)]) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and b"IHDR" in data[:16]
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (500, 500)
