"""The optimizer never changes a result (issue 6): random process graphs over the embedded
collection run with the reference executor without passes, with each pass alone and with
the default pipeline; the results must be identical (dimensions, labels, values bit for
bit, NaN where NaN, no-data where no-data) or fail with the same error code."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pgc.errors import PgcError
from pgc.executors.values import Cube
from pgc.runner import execute

BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12", "SCL"]
DATES = [f"2023-{m:02d}-10T10:30:00Z" for m in range(1, 13)]
X0, Y1, STEP = 600000, 5695000, 10  # west edge, north edge, pixel size of the sample grid
PIPELINES = ["push-filters", "prune-bands", "default"]


def node(process_id: str, **arguments) -> dict:
    return {"process_id": process_id, "arguments": arguments}


def ref(node_id: str) -> dict:
    return {"from_node": node_id}


def callback(**nodes) -> dict:
    last = list(nodes)[-1]
    nodes[last] = {**nodes[last], "result": True}
    return {"process_graph": nodes}


X = {"from_parameter": "x"}
DATA = {"from_parameter": "data"}


class Builder:
    """A graph under construction and what the current cube holds."""

    def __init__(self):
        self.nodes: dict[str, dict] = {}
        self.current = ""
        self.bands: list[str] | None = None  # None: no bands dimension
        self.has_t = True
        self.box = (0, 0, 0, 0)  # current window: col0, row0, col1, row1

    def add(self, process_id: str, **arguments) -> str:
        node_id = f"n{len(self.nodes)}"
        self.nodes[node_id] = node(process_id, **arguments)
        self.current = node_id
        return node_id


def utm_box(col0: float, row0: float, col1: float, row1: float) -> dict:
    return {
        "west": X0 + col0 * STEP,
        "east": X0 + col1 * STEP,
        "north": Y1 - row0 * STEP,
        "south": Y1 - row1 * STEP,
        "crs": 32631,
    }


def wgs84(box: dict) -> dict:
    from rasterio.warp import transform_bounds

    w, s, e, n = transform_bounds("EPSG:32631", "EPSG:4326", box["west"], box["south"],
                                  box["east"], box["north"])  # fmt: skip
    return {"west": w, "south": s, "east": e, "north": n}


@st.composite
def boxes(draw, within: tuple[int, int, int, int]):
    c0, r0, c1, r1 = within
    a = draw(st.integers(c0 - 2, c1 - 1))
    b = draw(st.integers(r0 - 2, r1 - 1))
    width, height = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    offset = draw(st.sampled_from([0, 0.25, 0.5, 0.75]))  # edges on and off pixel centres
    box = utm_box(a + offset, b + offset, a + width + offset, b + height + offset)
    return (wgs84(box) if draw(st.booleans()) else box), (a, b, a + width, b + height)


@st.composite
def graphs(draw) -> dict:
    g = Builder()
    col, row = draw(st.integers(0, 480)), draw(st.integers(0, 480))
    w, h = draw(st.integers(4, 16)), draw(st.integers(4, 16))
    g.box = (col, row, col + w, row + h)
    bands = draw(st.none() | st.lists(st.sampled_from(BANDS), min_size=2, max_size=5,
                                       unique=True))  # fmt: skip
    start = draw(st.integers(0, 10))
    temporal = draw(st.none() | st.just([DATES[start][:10], DATES[min(11, start + 4)][:10]]))
    g.add("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=utm_box(*g.box),
          temporal_extent=temporal, bands=bands)  # fmt: skip
    g.bands = list(bands or BANDS)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(OPS))
        op(draw, g)
    for late in (op_filter_bbox, op_filter_spatial, op_filter_temporal, op_filter_bands):
        if draw(st.booleans()):
            late(draw, g)
    return {"process_graph": {**g.nodes, g.current: {**g.nodes[g.current], "result": True}}}


# -- operations: each adds nodes when the current cube allows it --------------------------


def op_filter_bbox(draw, g: Builder) -> None:
    extent, _ = draw(boxes(g.box))
    g.add("filter_bbox", data=ref(g.current), extent=extent)


def op_filter_spatial(draw, g: Builder) -> None:
    from rasterio.warp import transform_geom

    _, (c0, r0, c1, r1) = draw(boxes(g.box))
    corners = [(c0, r0), (c1, r0), (c1, r1)] + ([(c0, r1)] if draw(st.booleans()) else [])
    ring = [[X0 + c * STEP, Y1 - r * STEP] for c, r in [*corners, corners[0]]]
    polygon = transform_geom("EPSG:32631", "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})
    g.add("filter_spatial", data=ref(g.current), geometries=polygon)


def op_filter_temporal(draw, g: Builder) -> None:
    if not g.has_t:
        return
    a = draw(st.integers(0, 11))
    b = draw(st.integers(a + 1, 12))
    end = DATES[b][:10] if b < 12 else "2024-01-01"
    g.add("filter_temporal", data=ref(g.current), extent=[DATES[a][:10], end])


def op_filter_bands(draw, g: Builder) -> None:
    if not g.bands:
        return
    chosen = draw(st.lists(st.sampled_from(g.bands), min_size=1, max_size=len(g.bands),
                           unique=True))  # fmt: skip
    g.add("filter_bands", data=ref(g.current), bands=chosen)
    g.bands = chosen


def op_apply(draw, g: Builder) -> None:
    k = draw(st.sampled_from([0.5, 2, -3]))
    body = draw(st.sampled_from(["scale", "sqrt", "compare"]))
    if body == "scale":
        process = callback(m=node("multiply", x=X, y=k), a=node("add", x=ref("m"), y=1))
    elif body == "sqrt":
        process = callback(s=node("subtract", x=X, y=1000), q=node("sqrt", x=ref("s")))
    else:
        process = callback(c=node("gt", x=X, y=1200))
    g.add("apply", data=ref(g.current), process=process)


def op_band_math(draw, g: Builder) -> None:
    if not g.bands:
        return
    a, b = draw(st.integers(0, len(g.bands) - 1)), draw(st.integers(0, len(g.bands) - 1))

    def pick(i: int) -> dict:
        if draw(st.booleans()):
            return node("array_element", data=DATA, index=i)
        return node("array_element", data=DATA, label=g.bands[i])

    reducer = callback(p=pick(a), q=pick(b),
                       r=node("normalized_difference", x=ref("p"), y=ref("q")))  # fmt: skip
    g.add("reduce_dimension", data=ref(g.current), dimension="bands", reducer=reducer)
    g.bands = None


def op_reduce_time(draw, g: Builder) -> None:
    if not g.has_t:
        return
    process_id = draw(st.sampled_from(["mean", "max", "median", "min"]))
    g.add("reduce_dimension", data=ref(g.current), dimension="t",
          reducer=callback(r=node(process_id, data=DATA)))  # fmt: skip
    g.has_t = False


def op_kernel(draw, g: Builder) -> None:
    kernel = draw(st.sampled_from([[[1, 1, 1], [1, 1, 1], [1, 1, 1]],
                                   [[0, 1, 0], [1, -4, 1], [0, 1, 0]], [[1, 2, 1]]]))  # fmt: skip
    g.add("apply_kernel", data=ref(g.current), kernel=kernel)


def op_rename(draw, g: Builder) -> None:
    if not g.bands:
        return
    target = [f"r{i}" for i in range(len(g.bands))]
    g.add("rename_labels", data=ref(g.current), dimension="bands", target=target,
          source=list(g.bands))  # fmt: skip
    g.bands = target


def op_mask(draw, g: Builder) -> None:
    source = g.current
    cut = g.add("apply", data=ref(source), process=callback(c=node("lt", x=X, y=900)))
    g.add("mask", data=ref(source), mask=ref(cut))


def op_merge(draw, g: Builder) -> None:
    if not g.bands or len(g.bands) < 2:
        return
    source = g.current
    split = draw(st.integers(1, len(g.bands) - 1))
    left = g.add("filter_bands", data=ref(source), bands=g.bands[:split])
    right = g.add("filter_bands", data=ref(source), bands=g.bands[split:])
    g.add("merge_cubes", cube1=ref(left), cube2=ref(right))


OPS = [op_filter_bbox, op_filter_spatial, op_filter_temporal, op_filter_bands, op_apply,
       op_band_math, op_reduce_time, op_kernel, op_rename, op_mask, op_merge]  # fmt: skip


# -- running and comparing ----------------------------------------------------------------


def outcome(graph: dict, pipeline: str):
    try:
        result = execute(graph, pipeline=pipeline)
    except PgcError as exc:
        return ("error", exc.code), None
    return ("value", result.value), result.bytes_read


def assert_same(expected, actual, pipeline: str) -> None:
    kind, value = expected
    assert actual[0] == kind, (pipeline, expected, actual)
    if kind == "error":
        assert actual[1] == value, pipeline
        return
    a, b = value, actual[1]
    assert isinstance(a, Cube) and isinstance(b, Cube)
    assert a.dims == b.dims, pipeline
    for dim in a.dims:
        assert np.array_equal(a.data[dim].values, b.data[dim].values), (pipeline, dim)
    valid_a = np.broadcast_to(a.valid.values, a.data.shape)
    valid_b = np.broadcast_to(b.valid.values, b.data.shape)
    assert np.array_equal(valid_a, valid_b), pipeline
    va, vb = np.where(valid_a, a.data.values, 0), np.where(valid_b, b.data.values, 0)
    assert va.dtype == vb.dtype, pipeline
    assert np.array_equal(va, vb, equal_nan=va.dtype.kind == "f"), pipeline


def check(graph: dict) -> None:
    expected, bytes_before = outcome(graph, "none")
    for pipeline in PIPELINES:
        actual, bytes_after = outcome(graph, pipeline)
        assert_same(expected, actual, pipeline)
        if bytes_before is not None and bytes_after is not None:
            assert bytes_after <= bytes_before, pipeline


@settings(deadline=None)
@given(graphs())
def test_passes_do_not_change_results(graph):
    check(graph)


# -- regressions hypothesis found (kept as plain tests) -----------------------------------


def polygon(*corners: list[float]) -> dict:
    return {"type": "Polygon", "coordinates": [[*corners, corners[0]]]}


LOAD_4X4 = node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=utm_box(0, 0, 4, 4),
                temporal_extent=None, bands=None)  # fmt: skip
REGRESSIONS: list[dict] = [
    # reduce_dimension over an emptied time dimension crashed the reference executor
    {"process_graph": {
        "n0": {**LOAD_4X4, "arguments": {**LOAD_4X4["arguments"],
                                         "temporal_extent": ["2023-01-10", "2023-05-10"]}},
        "n1": node("filter_temporal", data=ref("n0"), extent=["2023-05-10", "2023-06-10"]),
        "n2": {**node("reduce_dimension", data=ref("n1"), dimension="t",
                      reducer=callback(r=node("mean", data=DATA))), "result": True},
    }},
    # prune-bands left rename_labels naming bands it had removed (LabelNotAvailable)
    {"process_graph": {
        "n0": LOAD_4X4,
        "n1": node("rename_labels", data=ref("n0"), dimension="bands",
                   target=[f"r{i}" for i in range(13)], source=BANDS),
        "n2": {**node("filter_bands", data=ref("n1"), bands=["r0"]), "result": True},
    }},
    # filters that empty the cube: filter_spatial crashed on an empty cube, and absorbing
    # the boxes turned the unoptimized NoDataAvailable into an empty result
    {"process_graph": {
        "n0": LOAD_4X4,
        "n1": node("filter_spatial", data=ref("n0"), geometries=polygon(
            [4.437463149958336, 51.397317345796715], [4.437606847658453, 51.397315582906394],
            [4.437601211144443, 51.39713580184278])),
        "n2": node("filter_bbox", data=ref("n1"), extent=utm_box(0, 0, 1, 1)),
        "n3": {**node("filter_spatial", data=ref("n2"), geometries=polygon(
            [4.437465967955738, 51.3974072363319], [4.437609665937325, 51.397405473435946],
            [4.437606847658453, 51.397315582906394])), "result": True},
    }},
    # a box above filter_spatial crops what the mask left: absorbing it into the load made
    # the mask's crop smaller (other y labels), or empty (NoDataAvailable)
    {"process_graph": {
        "n0": LOAD_4X4,
        "n1": node("filter_spatial", data=ref("n0"), geometries=polygon(
            [4.437465967955738, 51.3974072363319], [4.437753363904333, 51.397403710363854],
            [4.437747726798234, 51.39722392931451])),
        "n2": {**node("filter_bbox", data=ref("n1"), extent=utm_box(0, 0, 1, 2)), "result": True},
    }},
    {"process_graph": {
        "n0": LOAD_4X4,
        "n1": node("filter_spatial", data=ref("n0"), geometries=polygon(
            [4.437465967955738, 51.3974072363319], [4.437609665937325, 51.397405473435946],
            [4.437604029394159, 51.397225692375336])),
        "n2": {**node("filter_bbox", data=ref("n1"), extent=utm_box(0, 1, 1, 2)), "result": True},
    }},
]  # fmt: skip


@pytest.mark.parametrize("graph", REGRESSIONS)
def test_regression(graph):
    check(graph)


# -- a graph as users write it with the official openEO client ---------------------------


def test_client_graph_that_filters_late_reads_only_what_it_needs():
    from openeo.rest.datacube import DataCube

    cube = DataCube.load_collection("SENTINEL2_L2A_SAMPLE", connection=None,
                                    fetch_metadata=False)  # fmt: skip
    red, nir = cube.band("B04"), cube.band("B08")
    ndvi = ((nir - red) / (nir + red)).filter_temporal("2023-06-01", "2023-09-01")
    graph = ndvi.filter_bbox(west=601000, south=5691000, east=601300, north=5691300,
                             crs=32631).flat_graph()  # fmt: skip
    plain, optimized = execute(graph, pipeline="none"), execute(graph)
    assert_same(("value", plain.value), ("value", optimized.value), "default")
    assert optimized.bytes_read * 100 <= plain.bytes_read
    plan = optimized.plan.explain()
    assert "push-filters: absorbed" in plan and "prune-bands: 2 of 13 bands" in plan


def test_fold_keeps_the_references_integer_range():
    """Integers beyond 64 bits become floats in the reference (numerics.bounded_int); the
    fold pass gave the exact 10**600 where the reference gave inf (issue 16)."""
    from pgc.runner import execute

    cases = [
        ("multiply", {"x": 10**300, "y": 10**300}),
        ("subtract", {"x": -(2**64), "y": 2**64}),
        ("add", {"x": 2**63 - 1, "y": 1}),
        ("multiply", {"x": 3**39, "y": 1}),
    ]
    for process_id, arguments in cases:
        graph = {"a": {"process_id": process_id, "arguments": arguments, "result": True}}
        folded = execute(graph, pipeline="default").value
        assert folded == execute(graph, pipeline="none").value
        assert type(folded) is type(execute(graph, pipeline="none").value)
