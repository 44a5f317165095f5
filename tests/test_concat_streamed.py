"""Parts joined along a new dimension as they come (:func:`pgc.executors.values.
concat_streamed`): the same cube as :func:`concat` of the list, whatever the parts' dtypes,
validity and coordinates, and each part free before the next is made."""

from __future__ import annotations

import gc

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from pgc.executors.values import Cube, concat, concat_streamed, everywhere
from pgc.kernels.buffers import BufferPool

LABELS = ["2023-03", "2023-04", "2023-05"]


def part(values: np.ndarray, valid: np.ndarray | None, x: list[float] | None = None) -> Cube:
    data = xr.DataArray(values, dims=("y", "x"), name="ndvi",
                        coords={"y": [10.0, 0.0], "x": x or [0.0, 10.0, 20.0]},
                        attrs={"crs": "32631"})  # fmt: skip
    mask = everywhere(data) if valid is None else xr.DataArray(valid, dims=("y", "x"))
    return Cube(data, mask)


def same(a: Cube, b: Cube) -> None:
    assert a.data.dims == b.data.dims
    assert a.data.dtype == b.data.dtype
    xr.testing.assert_identical(a.data.where(a.full_valid(), 0), b.data.where(b.full_valid(), 0))
    xr.testing.assert_equal(a.full_valid(), b.full_valid())
    assert a.data.attrs == b.data.attrs


@st.composite
def parts(draw):
    """Three parts: int16, float64 or float32 each (mostly alike), some with no-data, one
    perhaps on other x labels."""
    dtypes = draw(st.lists(st.sampled_from(["float64", "float64", "int16", "float32"]),
                           min_size=3, max_size=3))  # fmt: skip
    out = []
    for i, dtype in enumerate(dtypes):
        values = np.arange(6, dtype=dtype).reshape(2, 3) + i
        valid = draw(st.none() | st.lists(st.booleans(), min_size=6, max_size=6))
        other_x = draw(st.booleans()) and draw(st.booleans())
        out.append(part(values, None if valid is None else np.array(valid).reshape(2, 3),
                        [0.0, 10.0, 30.0] if other_x else None))  # fmt: skip
    return out


@settings(max_examples=examples(60), deadline=None)
@given(parts(), st.sampled_from([("t", "y", "x"), ("y", "x", "t")]))
def test_streamed_is_concat_of_the_list(cubes, order):
    same(concat_streamed(iter(cubes), "t", LABELS, order), concat(cubes, "t", LABELS, order))


def test_no_parts_give_the_template():
    template = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"))
    got = concat_streamed(iter([]), "t", [], ("t", "y", "x"), template)
    assert got.data.shape == (0, 2, 3)


def test_a_chunked_part_stays_chunked():
    lazy = part(np.ones((2, 3)), None)
    lazy = Cube(lazy.data.copy(data=da.ones((2, 3), chunks=1)), lazy.valid)
    cubes = [part(np.zeros((2, 3)), None), lazy, part(np.ones((2, 3)), None)]
    got = concat_streamed(iter(cubes), "t", LABELS, ("t", "y", "x"))
    assert not isinstance(got.data.data, np.ndarray)
    same(got, concat(cubes, "t", LABELS, ("t", "y", "x")))


def test_more_parts_than_labels_fail_as_concat_does():
    cubes = [part(np.zeros((2, 3)), None)] * 4
    with pytest.raises(ValueError):
        concat(cubes, "t", LABELS, ("t", "y", "x"))
    with pytest.raises(ValueError):
        concat_streamed(iter(cubes), "t", LABELS, ("t", "y", "x"))


def test_each_part_is_free_before_the_next_is_made():
    """Parts whose values are pooled blocks (as kernels' outputs are): one block serves
    them all, where the list held one block per part."""
    pool = BufferPool(min_bytes=1)

    def one(i: int) -> Cube:
        gc.collect()
        values = pool.take((2, 3), "float64")
        values[...] = i
        return part(values, None)

    made = (one(i) for i in range(len(LABELS)))  # (as aggregate_temporal_period's parts)
    got = concat_streamed(made, "t", LABELS, ("t", "y", "x"))
    assert pool.pooled_bytes() == 6 * 8
    assert got.data.values[:, 0, 0].tolist() == [0.0, 1.0, 2.0]
