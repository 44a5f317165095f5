"""Reductions over y and x in the dask executor (issue 9, pgc.executors.dask.reduce) equal
the reference executor: reduce_dimension over x or y and reduce_spatial with sum, mean,
min, max, count, any and all, with ignore_nodata true and false, on the embedded sample
collection (with its no-data strip, masks and NaN from sqrt) and on random cubes with NaN,
infinities, signed zeros and no-data, in chunks of 1 pixel to more than the cube.

Same dimensions, labels, attributes, dtype and validity, and the same values bit for bit
(on random cubes the signs of zeros too, but for min and max: which of two equal zeros
they keep is up to the order, in numpy as in the tree); except sums and means of values
whose partial sums round (sqrt of the sample's bands): the tree adds in another order than
the reference, so those compare with a relative tolerance of 1e-12 (NaN where NaN
exactly). Every value there has one sign, so no cancellation can make a rounding
difference large relative to the result.
"""

from __future__ import annotations

import contextlib
import math

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from test_optimizer_differential import DATA, X, callback, node, ref, utm_box

from pgc.errors import PgcError
from pgc.executors.dask import chunked
from pgc.executors.dask.chunked import DaskOptions
from pgc.executors.dask.reduce import SPLIT_EVERY
from pgc.executors.values import Cube
from pgc.runner import execute

NUMERIC = ["sum", "mean", "min", "max", "count"]
LOGICAL = ["any", "all"]
BANDS = ["B02", "B04", "B08", "SCL"]
RTOL = 1e-12  # sums and means that round: another order of additions (module docstring)


# -- comparing -----------------------------------------------------------------------------


def outcome(graph: dict, **options):
    try:
        return ("value", execute(graph, **options).value)
    except PgcError as exc:
        return ("error", exc.code)


def assert_same(
    expected: Cube, actual: Cube, rtol: float | None = None, zero_signs: bool = False
) -> None:
    """Dimensions, labels, coordinates, attributes, dtype and validity the same; values
    equal (-0.0 == 0.0; with ``zero_signs`` their signs too), or within ``rtol`` (NaN where
    NaN exactly). The sign of a zero min or max is which of the equal zeros numpy's loop
    keeps, which the order decides, in the reference too: it is not compared."""
    assert isinstance(expected, Cube) and isinstance(actual, Cube)
    assert expected.dims == actual.dims
    assert set(expected.data.coords) == set(actual.data.coords)
    for name, coord in expected.data.coords.items():
        assert coord.dims == actual.data.coords[name].dims, name
        nan_too = coord.dtype.kind == "f"  # band wavelengths: NaN where a band has none
        assert np.array_equal(coord.values, actual.data.coords[name].values, equal_nan=nan_too), (
            name
        )
    assert expected.data.attrs == actual.data.attrs
    ok_e = np.broadcast_to(expected.valid.values, expected.data.shape)
    ok_a = np.broadcast_to(actual.valid.values, actual.data.shape)
    np.testing.assert_array_equal(ok_e, ok_a)
    ve, va = np.where(ok_e, expected.data.values, 0), np.where(ok_a, actual.data.values, 0)
    assert ve.dtype == va.dtype
    if rtol is None or ve.dtype.kind != "f":
        np.testing.assert_array_equal(ve, va)
        if zero_signs and ve.dtype.kind == "f":  # (NaN's sign means nothing)
            np.testing.assert_array_equal(np.signbit(ve) & (ve == 0), np.signbit(va) & (va == 0))
        return
    np.testing.assert_array_equal(np.isnan(ve), np.isnan(va))
    np.testing.assert_allclose(ve, va, rtol=rtol, atol=0)


def folds_y_or_x(call) -> bool:
    """Whether a call the executor offers its chunked forms folds y or x."""
    if call.node.process_id == "reduce_spatial":
        return True
    if call.node.process_id == "reduce_dimension":
        return call.get("dimension") in ("y", "x")
    reduce = call.node.literal("reduce") if call.node.namespace == "pgc" else None
    return isinstance(reduce, dict) and reduce.get("dimension") in ("y", "x")


@contextlib.contextmanager
def watched():
    """For every call that folds y or x: whether its chunked form gave a lazy result."""
    seen: list[bool] = []

    def spy(original):
        def form(call, options):
            out = original(call, options)
            if folds_y_or_x(call):
                seen.append(chunked.is_lazy(out))
            return out

        return form

    with pytest.MonkeyPatch.context() as patch:
        for process_id in ("reduce_dimension", "reduce_spatial", "pgc::kernel"):
            patch.setitem(chunked.FORMS, process_id, spy(chunked.FORMS[process_id]))
        yield seen


def check(graph: dict, dask: DaskOptions, rtol: float | None, folds: int = 1) -> None:
    """The reference's outcome and the dask executor's the same; ``folds`` folds over y or
    x ran as trees (0: they ran as the reference runs them)."""
    expected = outcome(graph)
    with watched() as seen:
        actual = outcome(graph, executor="dask", dask=dask)
    assert expected[0] == actual[0], (expected, actual)
    if expected[0] == "error":
        assert expected[1] == actual[1]
        return
    assert_same(expected[1], actual[1], rtol)
    if folds:
        assert seen == [True] * folds, seen  # every fold over y or x ran as a tree
    else:
        assert seen and not any(seen), seen  # the reference ran it


# -- graphs on the sample collection -------------------------------------------------------


def reducing(process_id: str, ignore: bool | None) -> dict:
    arguments = {"data": DATA}
    if ignore is not None:
        arguments["ignore_nodata"] = ignore
    return callback(r=node(process_id, **arguments))


def cube_nodes(draw) -> tuple[dict, str, bool, bool]:
    """A load (its extent may cross the no-data strip of 2023-05-10, x < 40) and per-pixel
    work: (nodes, the last node, whether its values sum exactly, whether it is boolean)."""
    col, row = draw(st.integers(25, 60)), draw(st.integers(0, 480))
    width, height = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    bands = draw(st.lists(st.sampled_from(BANDS), min_size=1, max_size=2, unique=True))
    start = draw(st.sampled_from(["2023-04-01", "2023-05-01"]))
    end = draw(st.sampled_from(["2023-05-20", "2023-06-20"]))
    nodes = {"l": node("load_collection", id="SENTINEL2_L2A_SAMPLE",
                       spatial_extent=utm_box(col, row, col + width, row + height),
                       temporal_extent=[start, end], bands=bands)}  # fmt: skip
    k = draw(st.sampled_from([0.5, 2, -3]))
    scaled = callback(m=node("multiply", x=X, y=k))
    root = callback(s=node("subtract", x=X, y=1000), q=node("sqrt", x=ref("s")))
    work = draw(st.sampled_from(["load", "scale", "sqrt", "mask", "mask sqrt", "gt", "is_nan"]))
    if work == "load":
        return nodes, "l", True, False
    if work in ("scale", "sqrt", "gt", "is_nan"):
        process = {
            "scale": scaled,
            "sqrt": root,
            "gt": callback(c=node("gt", x=X, y=2000)),
            "is_nan": callback(s=node("subtract", x=X, y=1000), q=node("sqrt", x=ref("s")),
                               n=node("is_nan", x=ref("q"))),
        }[work]  # fmt: skip
        nodes["a"] = node("apply", data=ref("l"), process=process)
        return nodes, "a", work != "sqrt", work == "is_nan"
    # a mask fused with the work it masks (a bare load would be masked by the reference)
    nodes["a"] = node("apply", data=ref("l"), process=scaled if work == "mask" else root)
    nodes["c"] = node("apply", data=ref("l"), process=callback(c=node("lt", x=X, y=1500)))
    nodes["m"] = node("mask", data=ref("a"), mask=ref("c"))
    return nodes, "m", work == "mask", False


@st.composite
def sample_graphs(draw) -> tuple[dict, bool, int]:
    """(a graph folding y, x or both of a sample cube, whether the result must be exact,
    how many folds over y or x it has)."""
    nodes, last, exact, boolean = cube_nodes(draw)
    if not boolean:  # folds over time or bands first (fused kernels): fewer dimensions
        for dim, process_id in draw(
            st.sampled_from([(), (("t", "max"),), (("bands", "mean"), ("t", "min"))])
        ):
            nodes[f"f{dim}"] = node("reduce_dimension", data=ref(last), dimension=dim,
                                    reducer=reducing(process_id, None))  # fmt: skip
            last, exact = f"f{dim}", exact and process_id != "mean"
    process_id = draw(st.sampled_from(NUMERIC + (LOGICAL if boolean else [])))
    ignore = None if process_id == "count" else draw(st.sampled_from([None, True, False]))
    where = draw(st.sampled_from(["x", "y", "spatial", "y then x"]))
    if where == "spatial":
        nodes["r"] = node("reduce_spatial", data=ref(last), reducer=reducing(process_id, ignore))
    for dim in ("y", "x") if where == "y then x" else () if where == "spatial" else (where,):
        nodes[f"r{dim}"] = node("reduce_dimension", data=ref(last), dimension=dim,
                                reducer=reducing(process_id, ignore))  # fmt: skip
        last = f"r{dim}"
    nodes["r" if where == "spatial" else last]["result"] = True
    if where == "y then x":  # means of means round
        exact = exact and process_id != "mean"
    exact = exact or process_id not in ("sum", "mean")
    return {"process_graph": nodes}, exact, 2 if where == "y then x" else 1


@settings(deadline=None, max_examples=examples(40))
@given(case=sample_graphs(), side=st.integers(1, 14))
def test_folds_of_y_and_x_equal_the_reference(case, side):
    graph, exact, folds = case
    check(graph, DaskOptions(chunk=side), None if exact else RTOL, folds)


@settings(
    deadline=None,
    max_examples=examples(5),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=sample_graphs(), side=st.integers(1, 6))
def test_folds_on_a_local_cluster_equal_the_reference(cluster_client, case, side):
    graph, exact, folds = case
    check(graph, DaskOptions(chunk=side, scheduler=cluster_client), None if exact else RTOL, folds)


# -- random cubes: NaN, infinities, signed zeros, no-data ------------------------------------

# values whose sums are exact in float32 and float64 (partial sums stay far below 2**24)
VALUES = [0.0, -0.0, 1.0, -1.0, 2.5, 1000.0, math.nan, math.inf, -math.inf]


@st.composite
def random_cubes(draw, boolean: bool) -> Cube:
    """A cube with dimensions (t,) y, x; its validity over every dimension, over y and x
    only, or one scalar, dense or sparse (lines of no-data along y and x)."""
    times, height, width = draw(st.integers(0, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    dims = ("t", "y", "x") if times else ("y", "x")
    shape = (times, height, width) if times else (height, width)
    elements = st.booleans() if boolean else st.sampled_from(VALUES)
    values = draw(arrays(bool if boolean else "float64", shape, elements=elements))
    coords = {"y": 5695000.0 - 10 * np.arange(height), "x": 600000.0 + 10 * np.arange(width)}
    if times:
        coords["t"] = np.datetime64("2023-01-10") + np.arange(times) * np.timedelta64(30, "D")
    data = xr.DataArray(values, dims=dims, coords=coords, attrs={"crs": "32631", "nodata": 0})
    validity = draw(st.sampled_from(["dense", "sparse", "y and x", "every pixel", "none"]))
    if validity == "every pixel":
        return Cube(data, xr.DataArray(True))
    valid_dims = ("y", "x") if validity == "y and x" else dims
    valid_shape = tuple(data.sizes[d] for d in valid_dims)
    ok = np.full(valid_shape, validity != "none")
    if validity in ("dense", "sparse", "y and x"):
        ok = draw(arrays(bool, valid_shape, elements=st.booleans()))
    if validity == "sparse":  # whole lines without data
        ok &= draw(arrays(bool, valid_shape[-1:], elements=st.booleans()))
        ok &= draw(arrays(bool, valid_shape[:-1], elements=st.booleans()))[..., None]
    return Cube(data, xr.DataArray(ok, dims=valid_dims))


def lazy(cube: Cube, side: int, chunk_validity: bool) -> Cube:
    """``cube`` as the dask executor holds it: chunked along y and x."""
    data = cube.data.chunk({d: side if d in ("y", "x") else -1 for d in cube.dims})
    valid = cube.valid
    if chunk_validity and valid.ndim:
        valid = valid.chunk({d: side if d in ("y", "x") else -1 for d in valid.dims})
    return Cube(data, valid)


@contextlib.contextmanager
def compute_dtype(dtype: str):
    from pgc.dtypes import compute_dtype as current
    from pgc.dtypes import set_compute_dtype

    before = current()
    set_compute_dtype(dtype)
    try:
        yield
    finally:
        set_compute_dtype(before)


FOLDS = [("count", None)] + [(p, i) for p in ("sum", "mean", "min", "max", *LOGICAL)
                              for i in (True, False)]  # fmt: skip


@pytest.mark.parametrize(("process_id", "ignore"), FOLDS)
@settings(deadline=None, max_examples=examples(8))
@given(data=st.data())
def test_folds_of_random_cubes_equal_the_reference(process_id, ignore, data):
    """All values here sum exactly: every reducer is compared bit for bit (but for the sign
    of a zero min or max), with the dtype policy at float64 and at float32."""
    boolean = process_id in LOGICAL or data.draw(st.sampled_from([False, False, True]))
    cube = data.draw(random_cubes(boolean))
    where = data.draw(st.sampled_from(["x", "y", "spatial"]))
    reducer = reducing(process_id, ignore)
    cube_arg = {"from_parameter": "c"}
    if where == "spatial":
        fold = node("reduce_spatial", data=cube_arg, reducer=reducer)
    else:
        fold = node("reduce_dimension", data=cube_arg, dimension=where, reducer=reducer)
    graph = {"parameters": [{"name": "c", "schema": {}}], "process_graph": {
        "r": {**fold, "result": True}}}  # fmt: skip
    side = data.draw(st.integers(1, 8))
    chunked_cube = lazy(cube, side, data.draw(st.booleans()))
    with compute_dtype(data.draw(st.sampled_from(["float64", "float32"]))):
        expected = execute(graph, parameters={"c": cube}).value
        with watched() as seen:
            actual = execute(graph, parameters={"c": chunked_cube}, executor="dask",
                             dask=DaskOptions(chunk=side)).value  # fmt: skip
    assert seen == [True], seen
    assert_same(expected, actual, zero_signs=process_id not in ("min", "max"))


# -- what falls back to the reference ------------------------------------------------------

LOAD = node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=utm_box(30, 0, 36, 5),
            temporal_extent=["2023-04-01", "2023-06-01"], bands=["B02", "B04"])  # fmt: skip
FALLBACKS = {
    "median": callback(r=node("median", data=DATA)),
    "product": callback(r=node("product", data=DATA)),
    "count of everything": callback(r=node("count", data=DATA, condition=True)),
    "two calls": callback(r=node("sum", data=DATA), s=node("multiply", x=ref("r"), y=2)),
    "any of numbers": callback(r=node("any", data=DATA)),
}


@pytest.mark.parametrize("reducer", FALLBACKS.values(), ids=list(FALLBACKS))
def test_reducers_without_a_tree_run_as_the_reference(reducer):
    graph = {"process_graph": {"l": LOAD, "r": {
        **node("reduce_dimension", data=ref("l"), dimension="x", reducer=reducer),
        "result": True}}}  # fmt: skip
    check(graph, DaskOptions(chunk=2), None, folds=0)


def test_no_task_combines_more_than_split_every_partials():
    """The fold is a tree: with 64 chunks along x, no task reads them all."""
    from dask.core import get_dependencies

    from pgc.executors.dask.reduce import Fold, reduce_cube

    values = xr.DataArray(da.arange(3 * 2 * 64.0).reshape(3, 2, 64).rechunk((3, 2, 1)),
                          dims=("t", "y", "x"))  # fmt: skip
    valid = xr.DataArray(da.from_array(np.arange(128).reshape(2, 64) % 3 > 0, chunks=1),
                         dims=("y", "x"))  # fmt: skip
    out = reduce_cube(Cube(values, valid), ("x",), Fold("mean"))
    tasks = dict(out.data.data.__dask_graph__())
    assert max(len(get_dependencies(tasks, key)) for key in tasks) <= SPLIT_EVERY
    graph = {"parameters": [{"name": "c", "schema": {}}], "process_graph": {"r": {
        **node("reduce_dimension", data={"from_parameter": "c"}, dimension="x",
               reducer=reducing("mean", None)), "result": True}}}  # fmt: skip
    expected = execute(graph, parameters={"c": Cube(values.compute(), valid.compute())}).value
    assert_same(expected, Cube(out.data.compute(), out.valid.compute()), RTOL)
