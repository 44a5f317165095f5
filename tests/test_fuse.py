"""The fuse-elementwise pass and the numba executor's kernel nodes (issue 7) against the
reference executor: random regions of band math, apply, mask and a final reduction over
time, on random cubes with no-data, NaN, infinities, zeros and integer extremes, in random
dimension orders, under both settings of the dtype policy. The operations are the
correctly rounded ones; test_kernels covers the precision of sin, exp and the like."""

from __future__ import annotations

import numpy as np
import xarray as xr
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kernels import compare, cubes, expressions, rooted

from pgc.executors.values import Cube
from pgc.runner import execute

REDUCERS = ["max", "min", "mean", "sum", "count", "median"]
ORDERS = [("t", "bands", "y", "x"), ("bands", "t", "y", "x"), ("y", "x", "t", "bands")]
PICKS = {
    f"p{i}": {"process_id": "array_element",
              "arguments": {"data": {"from_parameter": "data"}, "label": f"b{i}"}}
    for i in range(3)
}  # fmt: skip


def band_math(data, want: str, approx: list) -> dict:
    """A reduce_dimension over the bands whose reducer is a random expression."""
    leaves = [{"from_node": k} for k in PICKS]
    expr = data.draw(expressions(leaves, want, approx=approx, exact=True))
    nodes = {**PICKS, **rooted(expr, want, {"from_node": "p0"})}
    return {"process_id": "reduce_dimension", "arguments": {
        "data": {"from_parameter": "c"}, "dimension": "bands",
        "reducer": {"process_graph": nodes}}}  # fmt: skip


def pixel_work(data, approx: list, last: str) -> dict:
    """An apply of ``last`` whose callback is a random elementwise expression."""
    pixel = [{"from_parameter": "x"}]
    expr = data.draw(expressions(pixel, "number", approx=approx, exact=True))
    process = {"process_graph": rooted(expr, "number", {"from_parameter": "x"})}
    return {"process_id": "apply", "arguments": {"data": {"from_node": last},
                                                 "process": process}}  # fmt: skip


def folding_reducer(data, reducer: str, approx: list | None = None) -> dict:
    """A reducer child graph of one call of ``reducer`` (a random ignore_nodata); ``count``
    with a random elementwise condition callback where ``approx`` is given (and drawn)."""
    args = {"data": {"from_parameter": "data"}}
    if reducer != "count":
        args["ignore_nodata"] = data.draw(st.booleans())
    elif approx is not None and data.draw(st.booleans()):
        x = {"from_parameter": "x"}
        expr = data.draw(expressions([x], "boolean", approx=approx, exact=True))
        args["condition"] = {"process_graph": rooted(expr, "boolean", x)}
    return {"process_graph": {"r": {"process_id": reducer, "arguments": args, "result": True}}}


@settings(deadline=None, max_examples=examples(40))
@given(data=st.data())
def test_fused_regions_equal_the_reference(policy, data):
    approx: list = []
    graph: dict = {"values": band_math(data, "number", approx)}
    last = "values"
    if data.draw(st.booleans()):  # per-pixel work after the band math
        graph["after"] = pixel_work(data, approx, last)
        last = "after"
    if data.draw(st.booleans()):  # a cloud mask computed from the same cube
        graph["cloud"] = band_math(data, "boolean", approx)
        replacement = data.draw(st.sampled_from([None, 0, -1.5]))
        graph["masked"] = {"process_id": "mask", "arguments": {
            "data": {"from_node": last}, "mask": {"from_node": "cloud"},
            "replacement": replacement}}  # fmt: skip
        last = "masked"
    reducer = data.draw(st.sampled_from([None, *REDUCERS]))
    if reducer is not None:
        reducing = folding_reducer(data, reducer, approx)
        graph["folded"] = {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": last}, "dimension": "t", "reducer": reducing}}  # fmt: skip
        last = "folded"
    graph[last]["result"] = True
    cube = data.draw(cubes(3, times=data.draw(st.integers(1, 5))))
    order = data.draw(st.sampled_from(ORDERS))
    cube = Cube(cube.data.transpose(*order), cube.valid.transpose(*order, missing_dims="ignore"))
    document = {"parameters": [{"name": "c", "schema": {}}], "process_graph": graph}
    compare(document, cube, bool(approx))


def composite(cube_dims=("t", "bands", "y", "x")) -> dict:
    """NDVI, masked where SCL says cloud, maximum over time: the issue's composite."""
    return {
        "ndvi": {"process_id": "ndvi", "arguments": {"data": {"from_parameter": "c"},
                                                      "nir": "b2", "red": "b1"}},
        "cloud": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_parameter": "c"}, "dimension": "bands", "reducer": {"process_graph": {
                "s": {"process_id": "array_element",
                      "arguments": {"data": {"from_parameter": "data"}, "label": "b0"}},
                "e": {"process_id": "gt", "arguments": {"x": {"from_node": "s"}, "y": 5},
                      "result": True}}}}},
        "masked": {"process_id": "mask", "arguments": {"data": {"from_node": "ndvi"},
                                                        "mask": {"from_node": "cloud"}}},
        "best": {"process_id": "reduce_dimension", "result": True, "arguments": {
            "data": {"from_node": "masked"}, "dimension": "t", "reducer": {"process_graph": {
                "m": {"process_id": "max", "arguments": {"data": {"from_parameter": "data"}},
                      "result": True}}}}},
    }  # fmt: skip


def sample_cube(times: int = 4, shape=(6, 7), seed: int = 1) -> Cube:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 12, size=(times, 3, *shape)).astype("uint16")
    coords = {"t": np.arange(times), "bands": ["b0", "b1", "b2"]}
    data = xr.DataArray(values, dims=("t", "bands", "y", "x"), coords=coords)
    return Cube(data, xr.DataArray(rng.random(data.shape) > 0.2, coords=data.coords))


def test_the_composite_is_one_kernel_pass():
    document = {"parameters": [{"name": "c", "schema": {}}], "process_graph": composite()}
    result = execute(document, parameters={"c": sample_cube()}, executor="numba")
    assert len(result.kernels.kernels) == 1 and result.kernels.kernels[0].endswith(":max")
    kernel = result.plan.graph.result_node
    assert (kernel.namespace, kernel.process_id) == ("pgc", "kernel")
    compare(document, sample_cube(), approx=False)


def test_kernels_that_do_not_line_up_run_their_body():
    """mask with a cube of other labels: the kernel declines and the body gives the
    reference's result (here its error), never a different one."""
    document = {
        "parameters": [{"name": "c", "schema": {}}, {"name": "m", "schema": {}}],
        "process_graph": {
            "a": {"process_id": "apply", "arguments": {"data": {"from_parameter": "c"},
                  "process": {"process_graph": {"n": {"process_id": "multiply", "arguments": {
                      "x": {"from_parameter": "x"}, "y": 2}, "result": True}}}}},
            "k": {"process_id": "mask", "result": True, "arguments": {
                "data": {"from_node": "a"}, "mask": {"from_parameter": "m"}}},
        },
    }  # fmt: skip
    cube = sample_cube()
    shifted = Cube(cube.data.assign_coords(t=cube.data.t + 100), cube.valid)
    for other in (cube, shifted):
        outcomes = []
        for executor in ("reference", "numba"):
            try:
                value = execute(document, parameters={"c": cube, "m": other}, executor=executor)
                outcomes.append(value.value.filled().values)
            except Exception as exc:  # noqa: BLE001 - both executors must fail alike
                outcomes.append(getattr(exc, "code", type(exc).__name__))
        if isinstance(outcomes[0], str):
            assert outcomes[0] == outcomes[1]
        else:
            np.testing.assert_array_equal(outcomes[0], outcomes[1])


def test_a_graph_from_the_openeo_client_fuses_into_one_kernel():
    import openeo

    cube = openeo.DataCube.load_collection(
        "SENTINEL2_L2A_SAMPLE",
        connection=None,
        temporal_extent=["2023-05-01", "2023-09-01"],
        bands=["B04", "B08", "SCL"],
    )
    scl = cube.band("SCL")
    cloud = (scl == 3) | (scl == 8) | (scl == 9) | (scl == 10)
    ndvi = (cube.band("B08") - cube.band("B04")) / (cube.band("B08") + cube.band("B04"))
    composite_cube = ndvi.mask(cloud).max_time()
    document = {"process_graph": composite_cube.flat_graph()}
    fused = execute(document, executor="numba")
    plain = execute(document)
    assert len(fused.kernels.kernels) == 1
    np.testing.assert_array_equal(fused.value.filled().values, plain.value.filled().values)


def test_mean_over_a_cube_of_an_infinity_is_infinite():
    """Regression (issue 7, found by the fused-regions test): the reference took the mean
    with np.ma.mean, whose division masks a quotient as large as inf, so the mean of [inf]
    over a cube was no-data instead of inf."""
    data = xr.DataArray(np.array([[[np.inf]], [[1.0]]]), dims=("t", "y", "x"))
    cube = Cube(data, xr.DataArray(np.array([[[True]], [[False]]]), dims=data.dims))
    graph = {"parameters": [{"name": "c", "schema": {}}], "process_graph": {"r": {
        "process_id": "reduce_dimension", "result": True, "arguments": {
            "data": {"from_parameter": "c"}, "dimension": "t", "reducer": {"process_graph": {
                "m": {"process_id": "mean", "arguments": {"data": {"from_parameter": "data"}},
                      "result": True}}}}}}}  # fmt: skip
    for executor in ("reference", "numba"):
        result = execute(graph, parameters={"c": cube}, executor=executor).value
        assert bool(result.valid.values.all()) and np.isposinf(result.data.values).all()


def test_results_held_by_the_user_are_never_reused_for_the_next_output():
    """Kernel outputs come from pgc.kernels.buffers: a block is handed out again only when
    no array uses it. Two runs of different data of the same size: the first result, still
    held (here through a view, as xarray may hold it), keeps its values."""
    from pgc.kernels import buffers

    document = {"parameters": [{"name": "c", "schema": {}}], "process_graph": composite()}
    first_cube, second_cube = (
        sample_cube(shape=(400, 700), seed=1),
        sample_cube(shape=(400, 700), seed=2),
    )
    first = execute(document, parameters={"c": first_cube}, executor="numba").value
    view = first.data.values[::2]
    expected = view.copy()
    del first
    second = execute(document, parameters={"c": second_cube}, executor="numba").value
    np.testing.assert_array_equal(view, expected)
    assert not np.shares_memory(view, second.data.values)
    del view, second
    again = execute(document, parameters={"c": first_cube}, executor="numba").value
    assert buffers.pooled_bytes() >= again.data.nbytes  # large outputs come from the pool


def test_mask_on_a_cube_without_no_data_makes_no_data():
    """Regression (issue 7, found by the fused-regions test): a kernel whose inputs all
    have data counted as always valid, so mask(..., replacement=null) wrote no no-data.
    And the reference's ndvi failed (KeyError) on a cube whose validity is one scalar."""
    cube = sample_cube()
    cube = Cube(cube.data, xr.DataArray(True))
    graph = composite()
    del graph["best"]
    graph["masked"]["result"] = True
    document = {"parameters": [{"name": "c", "schema": {}}], "process_graph": graph}
    result = execute(document, parameters={"c": cube}, executor="numba")
    assert len(result.kernels.kernels) == 1
    assert not np.broadcast_to(result.value.valid.values, result.value.data.shape).all()
    compare(document, cube, approx=False)


def masked_composite(reducer: str, ignore_nodata: bool | None) -> dict:
    """The cube itself (every band) masked by a cloud test on one band, then reduced over
    time: the median composite of the workflow benchmark (issue 23)."""
    graph = composite()
    del graph["ndvi"]
    graph["masked"]["arguments"]["data"] = {"from_parameter": "c"}
    args: dict = {"data": {"from_parameter": "data"}}
    if ignore_nodata is not None:
        args["ignore_nodata"] = ignore_nodata
    graph["best"]["arguments"]["reducer"] = {"process_graph": {
        "m": {"process_id": reducer, "arguments": args, "result": True}}}  # fmt: skip
    return {"parameters": [{"name": "c", "schema": {}}], "process_graph": graph}


@settings(deadline=None, max_examples=examples(30))
@given(data=st.data())
def test_a_mask_of_the_cube_itself_folds_into_the_reduction(policy, data):
    """mask(c, cloud(c)) then a reduction over time: one kernel reads the cube's integers
    and the mask, which lacks the bands (it applies to every band, the definition of
    mask), where the reference kept a masked copy of the whole cube (issue 23: the median
    composite at 2048 px went from 1.5 to 1.0 GB). Values, validity and dtype are the
    reference's."""
    reducer = data.draw(st.sampled_from(REDUCERS))
    flag = None if reducer == "count" else data.draw(st.sampled_from([None, True, False]))
    document = masked_composite(reducer, flag)
    cube = data.draw(cubes(3, times=data.draw(st.integers(1, 5))))
    cube = Cube(cube.data.assign_coords(bands=["b0", "b1", "b2"]), cube.valid)
    order = data.draw(st.sampled_from(ORDERS))
    cube = Cube(cube.data.transpose(*order), cube.valid.transpose(*order, missing_dims="ignore"))
    compare(document, cube, approx=False)


def test_the_masked_composite_is_one_kernel_and_a_mask_alone_is_not():
    document = masked_composite("median", None)
    result = execute(document, parameters={"c": sample_cube()}, executor="numba")
    assert result.kernels.kernels and all(k.endswith(":median") for k in result.kernels.kernels)
    assert len(result.kernels.kernels) == 1
    compare(document, sample_cube(), approx=False)
    # the mask as the result: the reference keeps the cube's uint16 there, so the mask
    # runs as the reference does and only the cloud test is a kernel
    graph = document["process_graph"]
    del graph["best"]
    graph["masked"]["result"] = True
    result = execute(document, parameters={"c": sample_cube()}, executor="numba")
    assert result.value.data.dtype == np.dtype("uint16")
    assert len(result.kernels.kernels) == 1 and ":" not in result.kernels.kernels[0]
    compare(document, sample_cube(), approx=False)


@settings(deadline=None, max_examples=examples(30))
@given(data=st.data())
def test_the_ndvi_band_kept_alone_is_a_kernel(policy, data):
    """filter_bands(ndvi(c, target_band=T), [T]) is one region: the NDVI in a bands
    dimension of the one label T, where the reference converted every band into a new
    cube and copied T out (issue 23: the merge workflow); per-pixel work and a fold of
    another dimension after it keep the band. Values, validity, dtype and the labels and
    band metadata of every dimension are the reference's."""
    approx: list = []
    graph: dict = {
        "n": {"process_id": "ndvi", "arguments": {"data": {"from_parameter": "c"}, "nir": "b2",
                                                   "red": "b1", "target_band": "NDVI"}},
        "f": {"process_id": "filter_bands", "arguments": {"data": {"from_node": "n"},
                                                           "bands": ["NDVI"]}},
    }  # fmt: skip
    last = "f"
    if data.draw(st.booleans()):
        graph["a"] = pixel_work(data, approx, last)
        last = "a"
    reducer = data.draw(st.sampled_from([None, *REDUCERS]))
    if reducer is not None:
        reducing = folding_reducer(data, reducer, approx)
        graph["r"] = {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_node": last}, "dimension": data.draw(st.sampled_from(["t", "y"])),
            "reducer": reducing}}  # fmt: skip
        last = "r"
    graph[last]["result"] = True
    cube = data.draw(cubes(3, times=data.draw(st.integers(1, 4))))
    cube = Cube(cube.data.assign_coords(bands=["b0", "b1", "b2"]), cube.valid)
    if data.draw(st.booleans()):  # band metadata, which the NDVI band has blank
        cube = Cube(cube.data.assign_coords(common_name=("bands", ["blue", "red", "nir"])),
                    cube.valid)  # fmt: skip
    order = data.draw(st.sampled_from(ORDERS))
    cube = Cube(cube.data.transpose(*order), cube.valid.transpose(*order, missing_dims="ignore"))
    document = {"parameters": [{"name": "c", "schema": {}}], "process_graph": graph}
    compare(document, cube, bool(approx))
    try:
        plain = execute(document, parameters={"c": cube}, pipeline="none").value
    except Exception:  # noqa: BLE001 - compare saw the same error from both
        return
    fused = execute(document, parameters={"c": cube}, executor="numba")
    assert fused.plan.graph.result_node.process_id == "kernel"
    for name, coord in plain.data.coords.items():
        other = fused.value.data[name].values
        assert coord.values.tolist() == other.tolist() or (  # NaN wavelengths
            coord.dtype.kind == "f" and np.array_equal(coord.values, other, equal_nan=True)), name


def test_an_ndvi_band_that_exists_is_the_references_error():
    graph = {
        "n": {"process_id": "ndvi", "arguments": {"data": {"from_parameter": "c"}, "nir": "b2",
                                                   "red": "b1", "target_band": "b0"}},
        "f": {"process_id": "filter_bands", "result": True,
              "arguments": {"data": {"from_node": "n"}, "bands": ["b0"]}},
    }  # fmt: skip
    document = {"parameters": [{"name": "c", "schema": {}}], "process_graph": graph}
    for executor in ("reference", "numba"):
        try:
            execute(document, parameters={"c": sample_cube()}, executor=executor)
        except Exception as exc:  # noqa: BLE001
            assert getattr(exc, "code", None) == "BandExists", executor
        else:
            raise AssertionError(f"{executor}: no error")


def test_a_null_for_every_pixel_where_a_number_must_be_is_the_references_error():
    """normalized_difference(x, floor(null)) after band math: the reference says 'y' must
    be a number; the kernel made every pixel no-data (found by the ndvi band test)."""
    graph = {
        "n": {"process_id": "ndvi", "arguments": {"data": {"from_parameter": "c"}, "nir": "b2",
                                                   "red": "b1"}},
        "a": {"process_id": "apply", "result": True, "arguments": {
            "data": {"from_node": "n"}, "process": {"process_graph": {
                "f": {"process_id": "floor", "arguments": {"x": None}},
                "d": {"process_id": "normalized_difference", "result": True, "arguments": {
                    "x": {"from_parameter": "x"}, "y": {"from_node": "f"}}}}}}},
    }  # fmt: skip
    document = {"parameters": [{"name": "c", "schema": {}}], "process_graph": graph}
    for executor in ("reference", "numba"):
        try:
            execute(document, parameters={"c": sample_cube()}, pipeline="none", executor=executor)
        except Exception as exc:  # noqa: BLE001
            assert getattr(exc, "code", None) == "ProcessParameterInvalid", executor
        else:
            raise AssertionError(f"{executor}: no error")


def test_count_with_a_condition_is_one_kernel_stored_as_the_reference_stores_it(tmp_path):
    """How many dates each pixel is clear: the condition joins the kernel's expression and
    the kernel counts where it is true (issue 23: 0.66 s at 2048 px in the reference, its
    condition run on the whole cube). The counts are integers by type, so the file holds
    integers, as the reference writes it (a fused count was written as float64)."""
    from test_dask_writing import clear_count

    graph = clear_count("GTiff")
    want = execute(graph, output=tmp_path / "r.tif")
    got = execute(graph, executor="numba", output=tmp_path / "n.tif")
    assert [k.split(":", 1)[1] for k in got.kernels.kernels] == ["count:true"]
    assert got.stored == want.stored and want.stored[0].dtype.startswith("uint")
    import rasterio

    with rasterio.open(tmp_path / "r.tif") as r, rasterio.open(tmp_path / "n.tif") as n:
        assert np.array_equal(r.read(), n.read())
