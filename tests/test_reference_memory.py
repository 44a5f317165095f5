"""The reference executor's band math without waste (issue 23): a value is released once
nothing reads it, arithmetic of arrays in memory is written into the kernels' pooled
buffers, an integer band is converted to the compute dtype once. The results stay those of
xarray's operators, value for value, and no value anyone holds is written over."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import xarray as xr
from conftest import examples, node
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import pgc
from pgc.executors.reference.scalar import _UFUNCS, ELEMENTWISE_BINARY, elementwise
from pgc.executors.values import Cube
from pgc.kernels.buffers import BufferPool
from pgc.runner import execute

COORDS = {"y": [30.0, 20.0, 10.0], "x": [5.0, 15.0, 25.0, 35.0]}


def _cube(values: np.ndarray, valid, name: str | None = "v", y=None) -> Cube:
    coords = {**COORDS, "y": y if y is not None else COORDS["y"], "spatial_ref": 0}
    data = xr.DataArray(values, dims=("y", "x"), coords=coords, name=name,
                        attrs={"crs": "EPSG:32631"})  # fmt: skip
    return Cube(data, xr.DataArray(valid) if isinstance(valid, bool) else
                xr.DataArray(valid, dims=("y", "x")))  # fmt: skip


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
values = arrays(np.float64, (3, 4), elements=floats)
masks = st.one_of(st.just(True), arrays(np.bool_, (3, 4)))
numbers = st.one_of(st.integers(-(2**60), 2**60), floats, st.just(True))
operands = st.one_of(st.tuples(values, masks, st.sampled_from(["v", "w", None])), numbers)


def _operand(drawn, shifted: bool = False):
    if not isinstance(drawn, tuple):
        return drawn
    data, valid, name = drawn
    if shifted:  # other labels, which xarray aligns (validity is not aligned: all valid)
        return _cube(data, True, name, y=[31.0, 20.0, 10.0])
    return _cube(data, True if shifted is None else valid, name)


@settings(max_examples=examples(150))
@given(op=st.sampled_from(sorted(_UFUNCS)), x=operands, y=operands, shifted=st.booleans())
@example(op="add", x=(np.ones((3, 4)), True, "v"), y=2**53, shifted=False)  # not weak
@example(op="divide", x=(np.zeros((3, 4)), True, "v"), y=(np.zeros((3, 4)), True, "w"),
         shifted=True)  # fmt: skip
def test_pooled_arithmetic_is_xarrays(op, x, y, shifted):
    x, y = _operand(x, None if shifted else False), _operand(y, shifted)
    if not isinstance(x, Cube) and not isinstance(y, Cube):
        return
    fn = ELEMENTWISE_BINARY[op][0]
    want = elementwise(fn, x, y)
    got = elementwise(fn, x, y, ufunc=_UFUNCS[op], pool=BufferPool(min_bytes=0))
    xr.testing.assert_identical(got.data, want.data)
    assert got.data.dtype == want.data.dtype
    np.testing.assert_array_equal(got.full_valid().values, want.full_valid().values)


def test_pooled_arithmetic_computes_in_the_compute_dtype(policy):
    x = _cube(np.arange(12, dtype=np.uint16).reshape(3, 4), True)
    got = elementwise(ELEMENTWISE_BINARY["multiply"][0], x, 0.1, ufunc=np.multiply,
                      pool=BufferPool(min_bytes=0))  # fmt: skip
    assert got.data.dtype == policy
    np.testing.assert_array_equal(got.data.values, x.data.values.astype(policy) * 0.1)


def test_an_integer_band_is_converted_once_into_a_pooled_buffer():
    band = _cube(np.arange(12, dtype=np.uint16).reshape(3, 4), True)
    pooled = band.in_compute_dtype(pooled=True, pool=BufferPool(min_bytes=0))
    xr.testing.assert_identical(pooled, band.data.astype("float64"))
    assert band.in_compute_dtype() is pooled


def test_a_conversion_kept_follows_the_dtype_policy():
    from pgc.dtypes import compute_dtype, set_compute_dtype

    band, before = _cube(np.arange(12, dtype=np.uint16).reshape(3, 4), True), compute_dtype()
    try:
        for dtype in ("float64", "float32", "float64"):
            set_compute_dtype(dtype)
            assert band.in_compute_dtype().dtype == dtype
    finally:
        set_compute_dtype(before)


def _apply(data: dict, process_id: str, y: float) -> dict:
    callback = {"f": node(process_id, result=True, x={"from_parameter": "x"}, y=y)}
    return node("apply", data=data, process={"process_graph": callback})


def _chain(length: int, save_at: int | None = None) -> dict:
    """cube x 2, then + 1 (length - 1 times), each an apply node; save_result of node
    ``save_at``'s value."""
    graph = {"n0": _apply({"from_parameter": "cube"}, "multiply", 2)}
    for i in range(1, length):
        graph[f"n{i}"] = _apply({"from_node": f"n{i - 1}"}, "add", 1)
    if save_at is not None:
        graph["save"] = node("save_result", data={"from_node": f"n{save_at}"}, format="netCDF")
    graph[f"n{length - 1}"]["result"] = True
    cube = {"type": "object", "subtype": "datacube"}
    return {"parameters": [{"name": "cube", "schema": cube}], "process_graph": graph}


def _cube_parameter(side: int, start: float = 0.0) -> xr.DataArray:
    values = np.arange(side * side, dtype=np.float64).reshape(side, side) + start
    return xr.DataArray(values, dims=("y", "x"),
                        coords={"y": np.arange(side)[::-1] * 10.0 + 5, "x": np.arange(side) *
                                10.0 + 5}, attrs={"crs": "32631"})  # fmt: skip


def test_a_chain_of_band_math_holds_a_few_values_not_all():
    cube = _cube_parameter(1000)  # 8 MB a value, over the pool's smallest block
    run = pgc.Session(executor="reference")
    run.run(_chain(12), parameters={"cube": cube})  # the pool's blocks exist
    tracemalloc.start()
    try:
        out = run.run(_chain(12), parameters={"cube": cube})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out.values, cube.values * 2 + 11)
    # every one of the 12 intermediates was kept to the end before (12 x 8 MB and more)
    assert peak < 4 * cube.nbytes, f"{peak / 1e6:.0f} MB"


@pytest.mark.parametrize("save_at", [0, 3])
def test_a_saved_value_is_not_written_over_by_what_reads_it_later(save_at):
    cube = _cube_parameter(600)  # 2.9 MB: pooled
    result = execute(_chain(6, save_at=save_at), parameters={"cube": cube},
                     executor="reference")  # fmt: skip
    saved = result.outputs[0][0]
    np.testing.assert_array_equal(saved.data.values, cube.values * 2 + save_at)
    np.testing.assert_array_equal(result.value.data.values, cube.values * 2 + 5)


def test_a_result_the_caller_holds_is_not_written_over_by_the_next_run():
    first = pgc.run(_chain(4), parameters={"cube": _cube_parameter(600)}, executor="reference")
    kept = first.values.copy()
    for start in (1.0, 2.0):
        pgc.run(_chain(4), parameters={"cube": _cube_parameter(600, start)},
                executor="reference")  # fmt: skip
    np.testing.assert_array_equal(first.values, kept)
