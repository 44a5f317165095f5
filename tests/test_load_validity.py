"""The validity of loaded values (issue 23): values in memory without any no-data value
get one true, not a mask of their size; with some, the mask says where; lazy values keep
a lazy mask. And a small part picked out of a cube is copied plane by plane."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr

from pgc.executors.values import Cube, all_valid


def values(dtype: str = "uint16") -> xr.DataArray:
    rng = np.random.default_rng(2)
    data = rng.integers(1, 100, (3, 2, 4, 5)).astype(dtype)
    return xr.DataArray(data, dims=("t", "bands", "y", "x"), coords={"bands": ["a", "b"]})


@pytest.mark.parametrize("nodata", [None, 0, 0.0, 65535, float("nan")])
def test_values_without_nodata_are_valid_as_one_true(nodata):
    cube = Cube.from_nodata(values(), nodata)
    assert cube.valid.ndim == 0 and bool(cube.valid) and all_valid(cube.valid)


@pytest.mark.parametrize("dtype,nodata,hole", [("uint16", 0, 0), ("float64", -9999.0, -9999.0),
                                               ("float32", float("nan"), np.nan)])  # fmt: skip
def test_values_with_nodata_get_the_mask(dtype, nodata, hole):
    data = values(dtype)
    data.values[1, 0, 2, 3] = hole
    cube = Cube.from_nodata(data, nodata)
    expected = np.ones(data.shape, bool)
    expected[1, 0, 2, 3] = False
    assert cube.valid.dims == data.dims
    np.testing.assert_array_equal(cube.valid.values, expected)


def test_lazy_values_keep_a_lazy_mask():
    data = values().chunk({"t": 1})
    cube = Cube.from_nodata(data, 0)
    assert isinstance(cube.valid.data, da.Array) and cube.valid.shape == data.shape


def test_a_small_consecutive_part_is_a_copy_of_its_own():
    data = values("float64")
    cube = Cube(data, data > 10)
    part = cube.isel({"t": [1]})
    assert not np.shares_memory(part.data.values, data.values)
    assert not np.shares_memory(part.valid.values, cube.valid.values)
    assert part.data.values.flags.c_contiguous
    xr.testing.assert_identical(part.data, data.isel(t=[1]))
    xr.testing.assert_identical(part.valid, cube.valid.isel(t=[1]))
    most = cube.isel({"t": [1, 2]})  # two of three: a view
    assert np.shares_memory(most.data.values, data.values)
