"""resample_spatial's block statistics (issue 23): where each target pixel covers whole
source pixels, average, min, max, sum and rms are computed from the blocks, not warped by
GDAL. Checked against GDAL's warp of the same slices (the differential tests), and the
conditions under which the blocks are taken."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import examples, run_process
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgc.executors.reference import resample as module
from pgc.executors.reference.resample import Grid, aligned_factors, block_statistic
from pgc.executors.values import Cube


def grid(columns: int, rows: int, step: float, west: float, north: float,
         crs: str | None = "32631", ystep: float | None = None) -> Grid:  # fmt: skip
    ystep = step if ystep is None else ystep
    x = west + step * (np.arange(columns) + 0.5)
    y = north - ystep * (np.arange(rows) + 0.5)
    return Grid(crs, x, y)


def gdal(plane: np.ndarray, usable: np.ndarray, source: Grid, target: Grid, method: str):
    values = np.where(usable, plane.astype(float), np.nan)
    return module._reproject(values, source, target, method, np.nan)


@settings(max_examples=examples(150), deadline=None)
@given(
    ky=st.integers(1, 4),
    kx=st.integers(1, 4),
    rows=st.integers(2, 6),
    columns=st.integers(2, 6),
    step=st.sampled_from([0.5, 1.0, 10.0, 20.0, 60.0]),
    west=st.sampled_from([600_000.0, 0.0, -1234.5, 300.0]),
    north=st.sampled_from([5_000_000.0, 100.0, -77.0]),
    missing=st.sampled_from([0.0, 0.3, 0.9]),
    method=st.sampled_from(sorted(module.BLOCK_METHODS)),
    seed=st.integers(0, 2**16),
)
@example(ky=3, kx=3, rows=6, columns=7, step=10.0, west=600_000.0, north=-77.0, missing=0.3,
         method="sum", seed=1)  # fmt: skip
@example(ky=3, kx=1, rows=2, columns=2, step=0.5, west=600_000.0, north=5_000_000.0,
         missing=0.0, method="sum", seed=0)  # fmt: skip
def test_blocks_equal_gdals_warp_of_an_aligned_grid(ky, kx, rows, columns, step, west, north,
                                                    missing, method, seed):  # fmt: skip
    rng = np.random.default_rng(seed)
    plane = rng.integers(0, 10_000, (rows * ky, columns * kx)).astype(np.uint16)
    usable = rng.random(plane.shape) >= missing
    source = grid(columns * kx, rows * ky, step, west, north)
    target = grid(columns, rows, step * kx, west, north, ystep=step * ky)
    assert aligned_factors(source, target) == (ky, kx)
    ours, theirs = (
        block_statistic(plane, usable, (ky, kx), method),
        gdal(plane, usable, source, target, method),
    )
    empty = ~usable.reshape(rows, ky, columns, kx).any(axis=(1, 3))
    assert np.isnan(ours[empty]).all()
    if method == "sum":  # GDAL's sum of a block without valid pixels: about 1e-12
        theirs[empty] = np.nan
    # GDAL's weights are 1 up to the rounding of the coordinates in pixels (0.5 m pixels at
    # 5,000 km: weights 1 - 7e-10 were seen); the blocks' sums of integers are exact
    rounding = 1e-12 + 1e-15 * max(abs(west), abs(north)) / step
    np.testing.assert_allclose(ours, theirs, rtol=rounding, atol=0)


def test_the_statistics_of_a_block_are_the_definitions():
    plane = np.array([[1, 2, 10, 20], [3, 4, 30, 40]], dtype=np.uint16)
    usable = np.array([[True, True, False, False], [True, False, False, False]])
    blocks = {m: block_statistic(plane, usable, (2, 2), m) for m in module.BLOCK_METHODS}
    assert blocks["average"][0, 0] == 2.0 and blocks["sum"][0, 0] == 6.0
    assert blocks["min"][0, 0] == 1.0 and blocks["max"][0, 0] == 3.0
    assert blocks["rms"][0, 0] == pytest.approx(np.sqrt(14 / 3), rel=1e-15)
    assert all(np.isnan(b[0, 1]) for b in blocks.values())


@pytest.mark.parametrize(
    "target,why",
    [
        (grid(3, 2, 20.0, 600_010.0, 5e6), "shifted by half a target pixel"),
        (grid(2, 2, 30.0, 600_000.0, 5e6), "not a whole number of source pixels"),
        (grid(3, 2, 20.0, 600_000.0, 5e6, crs="4326"), "another CRS"),
        (grid(2, 2, 20.0, 600_000.0, 5e6), "covers part of the source"),
        (grid(3, 3, 20.0, 600_000.0, 5e6), "reaches past the source"),
        (
            Grid("32631", 600_000.0 - 20 * (np.arange(3) + 0.5), 5e6 - 20 * (np.arange(2) + 0.5)),
            "x decreasing",
        ),
    ],
)
def test_grids_not_aligned_are_warped(target, why):
    source = grid(6, 4, 10.0, 600_000.0, 5e6)
    assert aligned_factors(source, grid(3, 2, 20.0, 600_000.0, 5e6)) == (2, 2)
    assert aligned_factors(source, target) is None, why


def _cube(values: np.ndarray, valid: np.ndarray) -> Cube:
    t, rows, columns = values.shape
    coords = {
        "t": np.arange(t).astype("datetime64[D]").astype("datetime64[ns]"),
        "y": 5_000_040.0 - 10.0 * (np.arange(rows) + 0.5),
        "x": 600_000.0 + 10.0 * (np.arange(columns) + 0.5),
    }
    data = xr.DataArray(values, dims=["t", "y", "x"], coords=coords, attrs={"crs": "32631"})
    return Cube(data, xr.DataArray(valid, dims=data.dims, coords=coords))


@pytest.mark.parametrize("method", sorted(module.BLOCK_METHODS))
@pytest.mark.parametrize("dtype", ["uint16", "float64"])
def test_resample_spatial_gives_what_gdal_gave(monkeypatch, method, dtype):
    """Through the process: values, validity, dtype and grid as the warp gave them, with
    no-data, NaN and infinities (left out: these methods take valid pixels only)."""
    rng = np.random.default_rng(11)
    values = rng.integers(0, 5000, (3, 8, 12)).astype(dtype)
    valid = rng.random(values.shape) > 0.25
    valid[0, :2, :2] = False  # a block without valid pixels
    if dtype == "float64":
        values[1, 0, 0], values[1, 5, 5], values[2, 3, 3] = np.nan, np.inf, -np.inf
    c = _cube(values, valid)

    def resampled():
        return run_process("resample_spatial", {"c": c}, data={"from_parameter": "c"},
                           resolution=20, method=method)  # fmt: skip

    ours = resampled()
    monkeypatch.setattr(module, "BLOCK_METHODS", set())
    theirs = resampled()
    assert ours.data.dtype == theirs.data.dtype
    assert ours.data.dims == theirs.data.dims
    for name in ("x", "y", "t"):
        np.testing.assert_array_equal(ours.data[name].values, theirs.data[name].values)
    ok = theirs.full_valid().values
    if method == "sum":  # GDAL's sum of a block without valid pixels is about 1e-12
        ok &= np.abs(theirs.data.values) > 1e-6
    np.testing.assert_array_equal(ours.full_valid().values, ok)
    np.testing.assert_allclose(ours.data.values[ok], theirs.data.values[ok], rtol=1e-12)
