"""Processes that never mix pixels run on each chunk alone on the dask executor (issue 9,
pgc.executors.dask.columns), geometries mask chunk by chunk (filter_spatial,
mask_polygon), and aggregate_spatial computes only the geometries' pixels: the same cubes
as the reference, bit for bit, and nothing computed whole before the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dask_executor import check

from pgc.executors.dask import chunked
from pgc.executors.dask.chunked import DaskOptions
from pgc.runner import execute

BOX = {"west": 600190, "east": 600290, "north": 5693140, "south": 5693070, "crs": 32631}


def load(bands=("B04", "B08"), node="l"):
    return {node: {"process_id": "load_collection", "arguments": {
        "id": "SENTINEL2_L2A_SAMPLE", "spatial_extent": BOX, "temporal_extent": None,
        "bands": list(bands)}}}  # fmt: skip


def call(process_id, data="l", result=False, **arguments):
    out = {"process_id": process_id, "arguments": {"data": {"from_node": data}, **arguments}}
    return {**out, "result": True} if result else out


def callback(process_id, **arguments):
    return {"process_graph": {"c": {"process_id": process_id, "arguments": arguments,
                                    "result": True}}}  # fmt: skip


DATA = {"from_parameter": "data"}
X = {"from_parameter": "x"}
MEDIAN = callback("median", data=DATA)
GRAPHS = {
    "aggregate_temporal_period, ndvi, rename_labels": {
        **load(),
        "a": call("aggregate_temporal_period", period="month", reducer=MEDIAN),
        "n": call("ndvi", "a", nir="B08", red="B04", target_band="NDVI"),
        "r": call(
            "rename_labels",
            "n",
            True,
            dimension="bands",
            target=["red", "nir", "ndvi"],
            source=["B04", "B08", "NDVI"],
        ),
    },  # fmt: skip
    "apply_dimension over t": {
        **load(),
        "a": call(
            "apply_dimension", result=True, dimension="t", process=callback("cumsum", data=DATA)
        ),
    },  # fmt: skip
    "apply_dimension over bands into a new dimension": {
        **load(),
        "a": call(
            "apply_dimension",
            result=True,
            dimension="bands",
            target_dimension="stats",
            process=callback("extrema", data=DATA),
        ),
    },  # fmt: skip
    "merge_cubes of two loads": {
        **load(["B04"]),
        **load(["B08", "SCL"], node="m"),
        "j": {
            "process_id": "merge_cubes",
            "result": True,
            "arguments": {"cube1": {"from_node": "l"}, "cube2": {"from_node": "m"}},
        },
    },  # fmt: skip
    "filter_labels on dates": {
        **load(),
        "f": call(
            "filter_labels",
            result=True,
            dimension="t",
            condition=callback("gt", x={"from_parameter": "value"}, y="2023-05-01"),
        ),
    },  # fmt: skip
    "reduce_dimension over t with a reducer no kernel has (sd)": {
        **load(),
        "r": call(
            "reduce_dimension", result=True, dimension="t", reducer=callback("sd", data=DATA)
        ),
    },  # fmt: skip
    "climatological_normal, then the anomaly": {
        **load(),
        "s": call("aggregate_temporal_period", period="season", reducer=MEDIAN),
        "c": call("climatological_normal", period="season", climatology_period=[2023, 2024]),
        "a": call("anomaly", "s", True, normals={"from_node": "c"}, period="season"),
    },  # fmt: skip
}


def spied(monkeypatch, process_ids=None) -> list:
    """(process id, whether its chunked form made a lazy cube) for every call of one."""
    from pgc.executors.dask.columns import COLUMNS

    seen = []
    for process_id in process_ids or COLUMNS:
        original = chunked.FORMS[process_id]

        def spy(call, options, original=original, process_id=process_id):
            out = original(call, options)
            seen.append((process_id, out is not None and chunked.is_lazy(out)))
            return out

        monkeypatch.setitem(chunked.FORMS, process_id, spy)
    return seen


@pytest.mark.parametrize("name", GRAPHS)
def test_a_process_that_never_mixes_pixels_runs_on_each_chunk(monkeypatch, name):
    seen = spied(monkeypatch)
    check({"process_graph": GRAPHS[name]}, DaskOptions(chunk=4))
    assert seen and all(lazy for _, lazy in seen), seen


def test_on_a_local_cluster(cluster_client, monkeypatch):
    """The call, its callback and the reference's code travel to worker processes."""
    seen = spied(monkeypatch)
    graph = GRAPHS["aggregate_temporal_period, ndvi, rename_labels"]
    check({"process_graph": graph}, DaskOptions(chunk=4, scheduler=cluster_client))
    assert [p for p, lazy in seen if lazy] == [
        "aggregate_temporal_period", "ndvi", "rename_labels"
    ]  # fmt: skip


def test_apply_dimension_whose_arrays_may_change_length_runs_whole(monkeypatch):
    """sort drops no-data: the arrays' length, and so the labels, depend on the values of
    all pixels, which no chunk sees."""
    seen = spied(monkeypatch)
    sort = {"process_graph": {
        "s": {"process_id": "sort", "arguments": {"data": DATA}},
        "e": {"process_id": "array_apply", "result": True, "arguments": {
            "data": {"from_node": "s"}, "process": callback("absolute", x=X)}}}}  # fmt: skip
    graph = {**load(), "a": call("apply_dimension", result=True, dimension="t", process=sort)}
    check({"process_graph": graph}, DaskOptions(chunk=4))
    assert seen == [("apply_dimension", False)]


def test_over_y_or_x_it_runs_whole(monkeypatch):
    """apply_dimension over x mixes the pixels of a row: no chunk has them all."""
    seen = spied(monkeypatch)
    graph = {**load(), "a": call("apply_dimension", result=True, dimension="x",
                                 process=callback("cumsum", data=DATA))}  # fmt: skip
    check({"process_graph": graph}, DaskOptions(chunk=4))
    assert seen == [("apply_dimension", False)]


def test_cubes_on_other_grids_run_whole(monkeypatch):
    """merge_cubes of cubes that do not share a grid (other extents): the reference merges
    the whole cubes."""
    seen = spied(monkeypatch)
    shifted = {**BOX, "west": BOX["west"] + 30, "east": BOX["east"] + 30}
    other = load(["B08"], node="m")
    other["m"]["arguments"]["spatial_extent"] = shifted
    merge = {"cube1": {"from_node": "l"}, "cube2": {"from_node": "m"}}
    graph = {**load(["B04"]), **other,
             "j": {"process_id": "merge_cubes", "result": True, "arguments": merge}}  # fmt: skip
    check({"process_graph": graph}, DaskOptions(chunk=4))
    assert seen == [("merge_cubes", False)]


def test_explain_says_which_run_on_each_chunk():
    from pgc.compiler import compile
    from pgc.executors.dask.explain import describe

    graph = {**GRAPHS["aggregate_temporal_period, ndvi, rename_labels"]}
    graph["r"] = {**graph["r"], "result": False}
    graph["x"] = call("apply_dimension", "r", True, dimension="x",
                      process=callback("cumsum", data=DATA))  # fmt: skip
    text = describe(compile({"process_graph": graph}))
    for name in ("a", "n", "r"):
        assert f"%{name}  chunked" in text and "never mixes pixels" in text, text
    assert "%x  whole    apply_dimension" in text, text


EXAMPLES = Path(__file__).parent.parent / "examples"


def never_whole(monkeypatch) -> list:
    """The cubes with y and x that the run computes whole (through chunked.materialized)."""
    whole = []
    original = chunked.materialized

    def spy(value, options):
        if chunked.is_lazy(value) and {"y", "x"} <= set(value.dims):
            whole.append(value.dims)
        return original(value, options)

    monkeypatch.setattr(chunked, "materialized", spy)
    return whole


def test_the_crop_features_example_runs_chunk_by_chunk(monkeypatch):
    """filter_spatial masks in chunks; ndvi, the monthly means and the interpolation over
    time follow chunk by chunk; aggregate_spatial computes the fields' pixels only."""
    nodes = json.loads((EXAMPLES / "crop_features.json").read_text())["process_graph"]
    del nodes["saveresult1"]
    nodes["aggregatespatial1"]["result"] = True
    chain = ["filter_spatial", "ndvi", "aggregate_temporal_period", "apply_dimension"]
    seen, whole = spied(monkeypatch, chain), never_whole(monkeypatch)
    check({"process_graph": nodes}, DaskOptions(chunk=64))
    assert seen == [(p, True) for p in chain] and whole == []


def fields() -> dict:
    nodes = json.loads((EXAMPLES / "crop_features.json").read_text())["process_graph"]
    collection = nodes["aggregatespatial1"]["arguments"]["geometries"]
    far = {"type": "Polygon", "coordinates": [[[5.0, 50.0], [5.001, 50.0], [5.001, 50.001],
                                               [5.0, 50.0]]]}  # fmt: skip
    empty = {"type": "GeometryCollection", "geometries": []}
    extra = [{"type": "Feature", "properties": {"field_id": name}, "geometry": geometry}
             for name, geometry in (("outside", far), ("empty", empty))]  # fmt: skip
    return {**collection, "features": [*collection["features"], *extra]}


@pytest.mark.parametrize("target", [None, "counts"])
def test_aggregate_spatial_computes_the_geometries_pixels_only(monkeypatch, target):
    """Fields over a whole sample tile (not cut by filter_spatial), one outside the data and
    one empty: the reference's values and counts, and no cube computed whole."""
    graph = {**load(["B04", "B08"]),
             "a": call("aggregate_spatial", result=True, geometries=fields(),
                       reducer=MEDIAN, target_dimension=target)}  # fmt: skip
    graph["l"]["arguments"]["spatial_extent"] = None
    whole = never_whole(monkeypatch)
    check({"process_graph": graph}, DaskOptions(chunk=128))
    assert whole == []


def test_aggregate_spatial_on_a_local_cluster(cluster_client):
    graph = {**load(["B04"]),
             "a": call("aggregate_spatial", result=True, geometries=fields(),
                       reducer=callback("mean", data=DATA))}  # fmt: skip
    graph["l"]["arguments"]["spatial_extent"] = None
    check({"process_graph": graph}, DaskOptions(chunk=128, scheduler=cluster_client))


def masked_fields(inside: bool) -> dict:
    nodes = json.loads((EXAMPLES / "crop_features.json").read_text())["process_graph"]
    fields = nodes["filterspatial1"]["arguments"]["geometries"]
    return {"loadcollection1": nodes["loadcollection1"],
            "m": call("mask_polygon", "loadcollection1", True, mask=fields, inside=inside,
                      replacement=None if inside else -1)}  # fmt: skip


@pytest.mark.parametrize("inside", [False, True])
def test_mask_polygon_masks_chunk_by_chunk(monkeypatch, inside):
    seen = spied(monkeypatch, ["mask_polygon"])
    check({"process_graph": masked_fields(inside)}, DaskOptions(chunk=64))
    assert seen == [("mask_polygon", True)]


def test_mask_polygon_on_a_local_cluster(cluster_client, monkeypatch):
    seen = spied(monkeypatch, ["mask_polygon"])
    check({"process_graph": masked_fields(True)}, DaskOptions(chunk=64, scheduler=cluster_client))
    assert seen == [("mask_polygon", True)]


# -- property: random chains of the processes that never mix pixels --------------------------

BANDS = ("B02", "B03", "B04", "B08", "SCL")
REDUCERS = ("mean", "max", "median", "first", "last", "sd", "count")


@st.composite
def column_graphs(draw) -> dict:
    """A load of 2-4 bands (B04 and B08 among them), then 1-4 random steps of processes
    that never mix pixels, each with random arguments; a second load may be merged in."""
    others = draw(st.lists(st.sampled_from(("B02", "B03", "SCL")), max_size=2, unique=True))
    bands = ["B04", "B08", *others]
    nodes, last = load(bands), "l"
    for i in range(draw(st.integers(1, 4))):
        step = draw(st.sampled_from(STEPS))
        made = step(draw, bands, last)
        if made is None:
            continue
        node, bands = made
        nodes[f"s{i}"], last = node, f"s{i}"
    nodes[last] = {**nodes[last], "result": True}
    return {"process_graph": nodes}


def _aggregate(draw, bands, data):
    reducer = callback(draw(st.sampled_from(REDUCERS)), data=DATA)
    period = draw(st.sampled_from(("month", "season", "dekad", "year")))
    return call("aggregate_temporal_period", data, period=period, reducer=reducer), bands


def _apply_dimension(draw, bands, data):
    dimension = draw(st.sampled_from(("t", "bands")))
    process = draw(
        st.sampled_from(("cumsum", "sort", "cummax", "extrema", "array_interpolate_linear"))
    )
    arguments = {"dimension": dimension, "process": callback(process, data=DATA)}
    if dimension == "bands" and draw(st.booleans()):
        arguments["target_dimension"] = "stats"
    return call("apply_dimension", data, **arguments), bands if dimension == "t" else None


def _ndvi(draw, bands, data):
    if not bands or not {"B04", "B08"} <= set(bands):
        return None
    return call("ndvi", data, nir="B08", red="B04", target_band="NDVI"), [*bands, "NDVI"]


def _rename(draw, bands, data):
    if not bands:
        return None
    target = [f"r_{b}" for b in bands]
    return call("rename_labels", data, dimension="bands", target=target, source=bands), target


def _filter_dates(draw, bands, data):
    month = draw(st.integers(1, 12))
    condition = callback("gte", x={"from_parameter": "value"}, y=f"2023-{month:02d}-01")
    return call("filter_labels", data, dimension="t", condition=condition), bands


def _reduce_time(draw, bands, data):
    reducer = callback(draw(st.sampled_from(("sd", "variance", "first"))), data=DATA)
    return call("reduce_dimension", data, dimension="t", reducer=reducer), bands


def _merge(draw, bands, data):
    if not bands:
        return None
    extra = draw(st.sampled_from(("B05", "B11", "B12")))
    merged = {"process_id": "merge_cubes", "arguments": {
        "cube1": {"from_node": data}, "cube2": {"from_node": f"m_{extra}"}}}  # fmt: skip
    return merged, [*bands, extra]


STEPS = (_aggregate, _apply_dimension, _ndvi, _rename, _filter_dates, _reduce_time, _merge)


@settings(deadline=None, max_examples=examples(40))
@given(graph=column_graphs(), side=st.integers(3, 7))
def test_random_chains_of_them_equal_the_reference(graph, side):
    nodes = graph["process_graph"]
    for node in list(nodes.values()):  # the loads a merge reads
        if node["process_id"] == "merge_cubes":
            other = node["arguments"]["cube2"]["from_node"]
            nodes.update(load([other.removeprefix("m_")], node=other))
    check(graph, DaskOptions(chunk=side))


def test_band_metadata_of_a_chunked_result_is_not_computed_from_the_chunks(tmp_path):
    """map_blocks makes the result's band metadata (common_name along bands) an output of
    the chunks: a dask array whose every read computed the whole graph again, the loads
    included. Written to netCDF (one variable per band, with its common_name), the dask
    executor reads what the reference reads, once (a float result: an integer one is read
    twice, for its range first, to choose how it is stored)."""
    scl = {"process_graph": {
        "e": {"process_id": "array_element", "arguments": {"data": DATA, "label": "SCL"}},
        "c": {"process_id": "eq", "arguments": {"x": {"from_node": "e"}, "y": 3},
              "result": True},
    }}  # fmt: skip
    graph = {"process_graph": {
        **load(["B04", "B08", "SCL"]),
        "f": call("filter_bands", bands=["B04", "B08"]),
        "s": call("reduce_dimension", dimension="bands", reducer=scl),
        "m": call("mask", "f", mask={"from_node": "s"}),
        "a": call("aggregate_temporal_period", "m", period="month", reducer=MEDIAN),
        "o": call("save_result", "a", True, format="netCDF"),
    }}  # fmt: skip
    read = {}
    for executor in ("reference", "dask"):
        result = execute(graph, executor=executor, output=tmp_path / f"{executor}.nc")
        read[executor] = result.bytes_read
    assert read["dask"] == read["reference"] > 0
    with xr.open_dataset(tmp_path / "dask.nc") as written:
        assert written["B04"].attrs.get("common_name") == "red"
