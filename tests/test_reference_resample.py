"""resample_spatial and resample_cube_spatial against numpy block statistics, with
no-data left out, reprojection, and the type rules' output grid."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import run_process

import pgc
from pgc.executors.values import Cube

STEP = 10.0


def cube(values=None, valid=None, dtype="float64") -> Cube:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1000, size=(2, 4, 6)).astype(dtype) if values is None else values
    coords = {
        "t": np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]"),
        "y": 5_000_040.0 - STEP * (np.arange(4) + 0.5),
        "x": 600_000.0 + STEP * (np.arange(6) + 0.5),
    }
    data = xr.DataArray(values, dims=["t", "y", "x"], coords=coords, attrs={"crs": "32631"})
    ok = np.ones(values.shape, bool) if valid is None else valid
    return Cube(data, xr.DataArray(ok, dims=data.dims, coords=coords))


def resample(c: Cube, **arguments) -> Cube:
    return run_process("resample_spatial", {"c": c}, data={"from_parameter": "c"}, **arguments)


def blocks(a: np.ndarray) -> np.ndarray:
    """(t, 4, 6) -> (t, 2, 3, 4): the 2x2 blocks of each slice, flattened."""
    t = a.shape[0]
    return a.reshape(t, 2, 2, 3, 2).transpose(0, 1, 3, 2, 4).reshape(t, 2, 3, 4)


@pytest.mark.parametrize(
    "method,reduce",
    [("average", np.mean), ("max", np.max), ("min", np.min), ("sum", np.sum)],
)
def test_block_statistics(method, reduce):
    c = cube()
    out = resample(c, resolution=20, method=method)
    expected = reduce(blocks(c.data.values), axis=-1)
    np.testing.assert_allclose(out.data.values, expected, rtol=1e-12)
    assert out.valid.values.all()
    np.testing.assert_allclose(out.data.x.values, 600_000 + 20 * (np.arange(3) + 0.5))
    np.testing.assert_allclose(out.data.y.values, 5_000_040 - 20 * (np.arange(2) + 0.5))


def test_nodata_pixels_are_left_out_and_empty_blocks_give_nodata():
    valid = np.ones((2, 4, 6), bool)
    valid[0, 0, 0] = False  # one pixel of the first block
    valid[0, 2:4, 4:6] = False  # the whole last block
    c = cube(valid=valid)
    out = resample(c, resolution=20, method="average")
    first = c.data.values[0, :2, :2].ravel()[1:]
    assert out.data.values[0, 0, 0] == pytest.approx(first.mean())
    assert not out.valid.values[0, 1, 2]
    assert out.valid.values[1].all()


def test_selecting_methods_keep_the_dtype_others_give_float():
    c = cube(dtype="uint16")
    assert resample(c, resolution=20, method="max").data.dtype == np.uint16
    assert resample(c, resolution=20, method="bilinear").data.dtype == np.float64


def test_same_resolution_is_the_identity():
    c = cube()
    assert resample(c, resolution=10) is c or np.array_equal(
        resample(c, resolution=10).data.values, c.data.values
    )


def test_reprojection_keeps_a_constant_field_and_moves_the_grid():
    c = cube(values=np.full((2, 4, 6), 7.0))
    out = resample(c, projection=4326)
    assert out.data.attrs["crs"] == "4326"
    assert set(np.unique(out.data.values[out.valid.values])) == {7.0}
    from rasterio.warp import transform

    corners_x, corners_y = [600_000, 600_060, 600_000, 600_060], [5e6, 5e6, 5_000_040, 5_000_040]
    lons, lats = transform("EPSG:32631", "EPSG:4326", corners_x, corners_y)
    lon, lat = out.data.x.values, out.data.y.values
    assert min(lons) < lon.min() < lon.max() < max(lons)
    assert min(lats) < lat.min() < lat.max() < max(lats)


def test_unknown_projection_fails_clearly():
    with pytest.raises(pgc.PgcError) as err:
        resample(cube(), projection=999999)
    assert err.value.code in ("ProcessParameterInvalid", "CRSInvalid")


def test_resample_cube_spatial_takes_the_target_grid():
    c = cube()
    target = resample(c, resolution=20, method="near")
    out = run_process("resample_cube_spatial", {"c": c, "g": target},
                      data={"from_parameter": "c"}, target={"from_parameter": "g"},
                      method="average")  # fmt: skip
    np.testing.assert_allclose(out.data.values, blocks(c.data.values).mean(axis=-1))
    np.testing.assert_array_equal(out.data.x.values, target.data.x.values)


@pytest.mark.parametrize("method", ["average", "bilinear", "max", "near"])
def test_slices_warped_on_threads_equal_one_after_the_other(monkeypatch, method):
    """GDAL warps slices on several threads at once (issue 23); each slice's result is its
    own, bit for bit, whatever runs beside it."""
    from pgc.executors.reference import resample as module

    rng = np.random.default_rng(5)
    values = rng.normal(500, 200, size=(6, 4, 6))
    valid = rng.random((6, 4, 6)) > 0.2
    values[rng.random((6, 4, 6)) < 0.1] = np.nan
    c = cube(values[:2], valid[:2])
    c = Cube(xr.concat([c.data] * 3, "t").assign_coords(
        t=np.arange(6).astype("datetime64[D]").astype("datetime64[ns]")),
        xr.DataArray(valid, dims=("t", "y", "x")))  # fmt: skip
    monkeypatch.setattr(module, "THREADED_PIXELS", 0)
    threaded = resample(c, resolution=20, method=method)
    monkeypatch.setattr(module, "MAX_THREADS", 1)
    serial = resample(c, resolution=20, method=method)
    np.testing.assert_array_equal(threaded.data.values, serial.data.values)
    np.testing.assert_array_equal(threaded.full_valid().values, serial.full_valid().values)


@pytest.mark.parametrize("method", ["bilinear", "average", "near"])
def test_one_slice_warped_on_gdals_threads_equals_one_thread(monkeypatch, method):
    """A slice warped alone (an export reprojected) runs on GDAL's own threads (issue 23),
    each computing its own part of the output: the same values as one thread."""
    from pgc.executors.reference import resample as module

    rng = np.random.default_rng(6)
    values = rng.normal(500, 200, size=(2, 4, 6))
    values[0, 1, 2] = np.nan
    valid = np.ones((2, 4, 6), bool)
    valid[0, 3, 0] = False
    both = cube(values, valid)
    c = Cube(both.data.isel(t=[0]), both.valid.isel(t=[0]))  # one slice
    monkeypatch.setattr(module, "THREADED_PIXELS", 0)
    monkeypatch.setattr(module, "MAX_THREADS", 4)
    threaded = resample(c, resolution=0, projection=4326, method=method)
    monkeypatch.setattr(module, "MAX_THREADS", 1)
    serial = resample(c, resolution=0, projection=4326, method=method)
    np.testing.assert_array_equal(threaded.data.values, serial.data.values)
    np.testing.assert_array_equal(threaded.full_valid().values, serial.full_valid().values)
