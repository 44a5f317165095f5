"""reduce-before-merge (pgc.passes.split_merge, issue 23): a reduction of two cubes merged
along disjoint bands reduces each cube and merges the results. Checked against the graph
run without passes, by the reference executor and by each executor with its lowering,
over the embedded sample: reducers, ignore_nodata, dtypes of each side, both dtype
policies; and the cases the law does not cover are left alone."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimizer_differential import DATA, X, assert_same, callback, node, outcome, ref, utm_box

import pgc
from pgc.runner import execute

FAST = settings(max_examples=examples(40), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
VISIBLE, OTHERS = ["B02", "B03", "B04"], ["B05", "B08", "SCL"]
REDUCERS = ["mean", "max", "min", "median", "sum", "count"]
SEASON = ["2023-03-01", "2023-09-01"]


def merge_then_reduce(box, reducer: str, ignore, right: str, dim: str = "t",
                      extents=(SEASON, SEASON)) -> dict:  # fmt: skip
    """load(visible) merged with a cube of other bands (``right``: as loaded, an NDVI band
    kept beside nothing else, a float scaling, a boolean test), reduced over ``dim``."""
    g = {
        "a": node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=utm_box(*box),
                  temporal_extent=extents[0], bands=VISIBLE),
        "b": node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=utm_box(*box),
                  temporal_extent=extents[1], bands=["B04", "B08"] if right == "ndvi" else OTHERS),
    }  # fmt: skip
    cube = "b"
    if right == "ndvi":
        g["n"] = node("ndvi", data=ref("b"), nir="B08", red="B04", target_band="NDVI")
        g["c"] = node("filter_bands", data=ref("n"), bands=["NDVI"])
        cube = "c"
    elif right in ("scaled", "test"):
        body = (node("multiply", x=X, y=0.5) if right == "scaled" else node("gt", x=X, y=1200))
        g["c"] = node("apply", data=ref("b"), process=callback(f=body))
        cube = "c"
    g["m"] = node("merge_cubes", cube1=ref("a"), cube2=ref(cube))
    args = {} if reducer == "count" or ignore is None else {"ignore_nodata": ignore}
    g["r"] = node("reduce_dimension", data=ref("m"), dimension=dim,
                  reducer=callback(f=node(reducer, data=DATA, **args)))  # fmt: skip
    g["r"]["result"] = True
    return {"process_graph": g}


def split(graph: dict) -> bool:
    """Whether the default pipeline reduces before merging."""
    plan = pgc.compile(graph, verify=True)
    return any(n.process_id == "merge_cubes" and n.id == "r" for n in plan.graph.nodes())


corners = st.tuples(st.integers(0, 480), st.integers(0, 480), st.integers(2, 12),
                    st.integers(2, 12))  # fmt: skip
boxes = corners.map(lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))
RIGHTS = ["loaded", "ndvi", "scaled", "test"]


@FAST
@given(boxes, st.sampled_from(REDUCERS), st.sampled_from([None, True, False]),
       st.sampled_from(RIGHTS), st.sampled_from(["t", "y"]))  # fmt: skip
def test_reducing_each_cube_is_reducing_the_merge(policy, box, reducer, ignore, right, dim):
    graph = merge_then_reduce(box, reducer, ignore, right, dim)
    expected, _ = outcome(graph, "none")
    assert_same(expected, outcome(graph, "default")[0], "default")
    for executor in ("numba", "dask"):
        got = execute(graph, executor=executor).value
        assert_same(expected, ("value", got), executor)


@pytest.mark.parametrize("right", ["loaded", "ndvi"])
def test_the_benchmark_merge_is_split(right):
    assert split(merge_then_reduce((0, 0, 8, 8), "mean", None, right))


@pytest.mark.parametrize(("change", "why"), [
    ({"extents": (SEASON, ["2023-03-01", "2023-06-01"])}, "a date only one cube has"),
    ({"dim": "bands"}, "a reduction over the bands"),
])  # fmt: skip
def test_what_the_law_does_not_cover_stays(change, why):
    graph = merge_then_reduce((0, 0, 8, 8), "count", None, "loaded", **change)
    assert not split(graph), why
    expected, _ = outcome(graph, "none")
    assert_same(expected, outcome(graph, "default")[0], "default")


def test_a_merge_read_elsewhere_stays():
    graph = merge_then_reduce((0, 0, 8, 8), "mean", None, "ndvi")
    g = graph["process_graph"]
    g["r"].pop("result")
    g["s"] = node("merge_cubes", cube1=ref("r"), cube2=ref("m"), overlap_resolver=callback(
        f=node("add", x={"from_parameter": "x"}, y={"from_parameter": "y"})))
    g["s"]["result"] = True
    assert not any(n.id == "r" and n.process_id == "merge_cubes"
                   for n in pgc.compile(graph).graph.nodes())  # fmt: skip


def test_overlapping_bands_stay():
    graph = merge_then_reduce((0, 0, 8, 8), "mean", None, "loaded")
    graph["process_graph"]["b"]["arguments"]["bands"] = ["B04", "B08"]
    graph["process_graph"]["m"]["arguments"]["overlap_resolver"] = callback(
        f=node("max", data=[{"from_parameter": "x"}, {"from_parameter": "y"}]))
    assert not split(graph)
    expected, _ = outcome(graph, "none")
    assert expected[0] == "value" and np.asarray(expected[1].data.bands).tolist() == [
        "B02", "B03", "B04", "B08"]
