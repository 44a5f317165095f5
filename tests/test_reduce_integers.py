"""Reductions of integer cubes without no-data (issue 23): mean, min, max and sum read the
integers as they are, each label converted as it is added, instead of a converted copy
of the whole cube. The numbers must be those of the converted copy, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import examples
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgc.executors.reference.reducers import _held_exactly
from pgc.executors.values import Cube
from pgc.runner import execute

DTYPES = ["uint8", "int8", "uint16", "int16", "int32", "uint32", "int64"]


def reduced(cube: Cube, reducer: str, dimension: str = "t") -> Cube:
    graph = {
        "parameters": [{"name": "c", "schema": {}}],
        "process_graph": {"r": {"process_id": "reduce_dimension", "result": True, "arguments": {
            "data": {"from_parameter": "c"}, "dimension": dimension,
            "reducer": {"process_graph": {"m": {"process_id": reducer, "result": True,
                        "arguments": {"data": {"from_parameter": "data"}}}}}}}},
    }  # fmt: skip
    return execute(graph, parameters={"c": cube}, pipeline="none").value


def a_cube(values: np.ndarray) -> Cube:
    dims = ("t", "y", "x")[-values.ndim :]
    coords = {d: np.arange(n) for d, n in zip(dims, values.shape, strict=True)}
    data = xr.DataArray(values, dims=dims, coords=coords)
    return Cube(data, xr.DataArray(True))


@settings(max_examples=examples(80), deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    reducer=st.sampled_from(["mean", "min", "max", "sum"]),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 5), st.integers(1, 5)),
    seed=st.integers(0, 2**16),
)
@example(dtype="uint16", reducer="mean", shape=(12, 2, 3), seed=0)
@example(dtype="int64", reducer="sum", shape=(3, 1, 1), seed=1)
def test_integers_reduce_to_the_numbers_of_their_converted_copy(dtype, reducer, shape, seed):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    ours = reduced(a_cube(values), reducer)
    theirs = reduced(a_cube(values.astype("float64")), reducer)
    assert ours.data.dtype == theirs.data.dtype == np.float64
    np.testing.assert_array_equal(ours.data.values, theirs.data.values)
    np.testing.assert_array_equal(ours.full_valid().values, theirs.full_valid().values)


def test_a_reduced_integer_cube_is_not_converted_whole(monkeypatch):
    from pgc.executors.reference import reducers

    converted = []

    def numbers(cube, *args, **kwargs):
        converted.append(cube.data.dtype)
        return reducers_numbers(cube, *args, **kwargs)

    reducers_numbers = reducers.numbers
    monkeypatch.setattr(reducers, "numbers", numbers)
    cube = a_cube(np.arange(24, dtype="uint16").reshape(4, 2, 3))
    for reducer in ("mean", "min", "max", "sum"):
        assert reduced(cube, reducer).data.dtype == np.float64
    assert converted == []  # no float64 copy of the cube was made
    reduced(cube, "median")  # (no whole-cube form: the median reads the converted copy)
    assert converted == [np.dtype("uint16")]


@pytest.mark.parametrize(
    "integers,floats,exact",
    [("uint16", "float32", True), ("int32", "float32", False), ("int32", "float64", True),
     ("uint32", "float64", True), ("int64", "float64", False), ("bool", "float64", False)],
)  # fmt: skip
def test_which_integers_a_float_dtype_holds_exactly(integers, floats, exact):
    assert _held_exactly(np.dtype(integers), np.dtype(floats)) is exact
