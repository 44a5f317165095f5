"""Everyday workflows as users write them with the official openEO Python client (issue 18).

Each workflow is built offline with ``openeo`` (no connection: the client writes the graph
from what the user says, as it does for any back-end), then run on the embedded sample
collection by every executor. The executors must agree with the reference, and a few
results are checked against numpy on the raw sample arrays. The mistakes users make first
each give their exact openEO code at validation, before anything runs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

openeo = pytest.importorskip("openeo")
from openeo.internal.graph_building import PGNode  # noqa: E402
from openeo.processes import ProcessBuilder, array_element, if_, is_nan, or_  # noqa: E402
from openeo.rest.datacube import THIS, DataCube  # noqa: E402

import pgc  # noqa: E402

COLLECTION = "SENTINEL2_L2A_SAMPLE"
EXTENT = {"west": 600000, "south": 5690000, "east": 600640, "north": 5690640, "crs": 32631}
SUMMER = ["2023-05-01", "2023-09-01"]
EXECUTORS = ["reference", "numba", "dask"]


def load(bands=("B04", "B08"), temporal=SUMMER, extent=EXTENT) -> DataCube:
    return DataCube.load_collection(
        COLLECTION,
        connection=None,
        spatial_extent=extent,
        temporal_extent=list(temporal) if temporal else None,
        bands=list(bands) if bands else None,
    )


def graph(cube) -> dict:
    """The flat graph the client would send (a save_result or a cube)."""
    return json.loads(cube.to_json())["process_graph"]


# -- the workflows -------------------------------------------------------------------------


def ndvi_common_names():
    return load(["red", "nir"]).ndvi()


def ndvi_defaults():
    return load(None).ndvi()


def ndvi_by_band_math():
    cube = load()
    red, nir = cube.band("B04"), cube.band("B08")
    return (nir - red) / (nir + red)


def ndvi_reducer_common_labels():
    def ndvi(data: ProcessBuilder):
        nir, red = array_element(data, label="nir"), array_element(data, label="red")
        return (nir - red) / (nir + red)

    return load(None).reduce_dimension(dimension="bands", reducer=ndvi)


def evi():
    cube = load(["blue", "red", "nir"]).apply(lambda x: x * 0.0001)
    b, r, n = cube.band("blue"), cube.band("red"), cube.band("nir")
    return 2.5 * (n - r) / (n + 6.0 * r - 7.5 * b + 1.0)


def filter_bands_common_order():
    return load(None).filter_bands(["nir", "red"])


def scl_cloud_mask_median():
    cube = load(["B04", "B08", "SCL"])
    scl = cube.band("SCL")
    cloudy = (scl == 8) | (scl == 9) | (scl == 3)
    masked = cube.filter_bands(["B04", "B08"]).mask(cloudy)
    return masked.ndvi().reduce_dimension(dimension="t", reducer="median")


def monthly_mean_ndvi():
    return load().ndvi().aggregate_temporal_period(period="month", reducer="mean")


def seasonal_composite():
    return load(temporal=["2023-01-01", "2024-01-01"]).aggregate_temporal_period(
        period="season", reducer="max"
    )


def max_ndvi_over_time():
    return load().ndvi().max_time()


def linear_scale_rgb():
    cube = load(["B02", "B03", "B04"]).median_time()
    return cube.linear_scale_range(0, 3000, 0, 255)


def clip_and_mod():
    return load(["B04"]).apply(lambda x: x.clip(0, 2000)).apply(lambda x: x.mod(7))


def apply_kernel_then_ndvi():
    kernel = [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
    return load().apply_kernel(kernel, factor=1 / 9).ndvi()


def apply_neighborhood_mean():
    return load(["B04"]).apply_neighborhood(
        lambda data: data.apply_kernel(kernel=[[0, 1, 0], [1, 1, 1], [0, 1, 0]], factor=0.2),
        size=[{"dimension": "x", "value": 8, "unit": "px"},
              {"dimension": "y", "value": 8, "unit": "px"}],
    )  # fmt: skip


def resample_coarser():
    return load(["B04"]).resample_spatial(resolution=20, method="average")


def merge_two_indices():
    cube = load(["B02", "B04", "B08"])
    ndvi = cube.filter_bands(["B04", "B08"]).ndvi(target_band="NDVI")
    return ndvi.filter_bands(["NDVI"]).merge_cubes(cube.filter_bands(["B02"]))


def gap_filling():
    cube = load(["B04"], temporal=["2023-01-01", "2024-01-01"])
    cube = cube.apply(lambda x: if_(x > 1500, x))  # bright pixels become no-data
    return cube.apply_dimension(dimension="t", process="array_interpolate_linear")


def count_clear_observations():
    cube = load(["SCL"], temporal=["2023-01-01", "2024-01-01"])
    clear = cube.apply(lambda x: or_(x == 4, x == 5))
    return clear.reduce_dimension(dimension="t", reducer=lambda data: data.sum())


def nan_test_in_callback():
    return load(["B04"]).apply(lambda x: if_(is_nan(x), 0, x))


def rename_and_filter_labels():
    cube = load().rename_labels("bands", target=["red", "nir"], source=["B04", "B08"])
    return cube.filter_labels(lambda label: label == "nir", dimension="bands")


def temporal_filter_after_load():
    return load(temporal=None).filter_temporal(["2023-06-01", "2023-07-01"])


def bbox_filter_after_load():
    small = {"west": 600100, "south": 5690100, "east": 600300, "north": 5690300, "crs": 32631}
    return load().filter_bbox(**small)


def _scaled_ndvi_udp() -> dict:
    """A user-defined process as the client stores one: ndvi times a factor (default 10000)."""
    from openeo.api.process import Parameter
    from openeo.rest.udp import build_process_dict

    data = Parameter.datacube("data", "a cube with red and nir bands")
    factor = Parameter.number("factor", "what ndvi is multiplied by", default=10000)
    processes = openeo.processes
    body = processes.apply(processes.ndvi(data), lambda x: processes.multiply(x, factor))
    return build_process_dict(body, process_id="scaled_ndvi", parameters=[data, factor])


UDPS = [_scaled_ndvi_udp()]


def udp_call_with_default():
    return load().process("scaled_ndvi", {"data": THIS}, namespace="user").max_time()


def udp_call_with_argument():
    return load(None).process("scaled_ndvi", {"data": THIS, "factor": 100})


WORKFLOWS = [
    ndvi_common_names, ndvi_defaults, ndvi_by_band_math, ndvi_reducer_common_labels, evi,
    filter_bands_common_order, scl_cloud_mask_median, monthly_mean_ndvi, seasonal_composite,
    max_ndvi_over_time, linear_scale_rgb, clip_and_mod, apply_kernel_then_ndvi,
    apply_neighborhood_mean, resample_coarser, merge_two_indices, gap_filling,
    count_clear_observations, nan_test_in_callback, rename_and_filter_labels,
    temporal_filter_after_load, bbox_filter_after_load, udp_call_with_default,
    udp_call_with_argument,
]  # fmt: skip


def _value(workflow, executor):
    return pgc.run(graph(workflow()), executor=executor, user_processes=UDPS)


@pytest.fixture(scope="module")
def reference_results():
    return {}


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.__name__)
def test_workflow_runs_alike_on_every_executor(workflow, executor, reference_results):
    """Issue 18: each client-built workflow runs, and every executor gives the reference's
    values, dimensions and labels."""
    name = workflow.__name__
    if name not in reference_results:
        reference_results[name] = _value(workflow, "reference")
    expected = reference_results[name]
    got = expected if executor == "reference" else _value(workflow, executor)
    assert got.dims == expected.dims
    for dim in expected.dims:
        if dim in expected.coords:
            assert list(got[dim].values) == list(expected[dim].values), dim
    np.testing.assert_allclose(got.values, expected.values, rtol=1e-6, equal_nan=True)
    assert np.isfinite(expected.values).any(), "a workflow whose result is all no-data"


# -- results checked against numpy on the raw sample arrays -------------------------------


@pytest.fixture(scope="module")
def raw():
    """The sample's bands over the test extent, as loaded (no processing)."""
    cube = pgc.run(graph(load(None)))
    return {str(b): cube.sel(bands=b).values.astype("float64") for b in cube["bands"].values}


def test_common_names_and_defaults_match_numpy(raw):
    """Issue 18: ndvi() with its default nir/red, common names in load_collection and
    array_element(label="nir") all read B08 and B04."""
    expected = (raw["B08"] - raw["B04"]) / (raw["B08"] + raw["B04"])
    for workflow in (ndvi_common_names, ndvi_defaults, ndvi_reducer_common_labels):
        for executor in EXECUTORS:
            got = _value(workflow, executor)
            np.testing.assert_allclose(got.values, expected, rtol=1e-12, err_msg=executor)


def test_evi_by_common_names_matches_numpy(raw):
    b, r, n = (raw[k] * 0.0001 for k in ("B02", "B04", "B08"))
    expected = 2.5 * (n - r) / (n + 6.0 * r - 7.5 * b + 1.0)
    np.testing.assert_allclose(_value(evi, "numba").values, expected, rtol=1e-9)


def test_filter_bands_by_common_names_keeps_the_requested_order():
    """filter_bands returns the bands in the order asked for, under their band names."""
    got = _value(filter_bands_common_order, "reference")
    assert list(got["bands"].values) == ["B08", "B04"]


def test_prune_bands_keeps_the_bands_common_names_name():
    """prune-bands reads common names as the executors do: the load reads B04 and B08
    (not ``bands=[]`` and not all 13)."""
    for workflow in (ndvi_common_names, ndvi_defaults, ndvi_reducer_common_labels):
        plan = pgc.compile(graph(workflow()))
        loads = [n for _, n in plan.graph.walk() if n.process_id == "load_collection"]
        bands = next(d for d in loads[0].type.dimensions if d.type == "bands")
        assert sorted(bands.labels) == ["B04", "B08"], workflow.__name__


def test_count_of_clear_observations_matches_numpy(raw):
    cube = pgc.run(graph(load(["SCL"], temporal=["2023-01-01", "2024-01-01"])))
    scl = cube.sel(bands="SCL").values
    expected = ((scl == 4) | (scl == 5)).sum(axis=0)
    for executor in EXECUTORS:
        got = _value(count_clear_observations, executor).sel(bands="SCL")
        np.testing.assert_array_equal(got.values, expected, err_msg=executor)


def test_udp_calls_match_the_graph_written_out(raw):
    """Issue 18: a stored process called by id runs, with its default and with an argument."""
    ndvi = (raw["B08"] - raw["B04"]) / (raw["B08"] + raw["B04"])
    for executor in EXECUTORS:
        np.testing.assert_allclose(
            _value(udp_call_with_default, executor).values, np.nanmax(ndvi * 10000, axis=0)
        )
        np.testing.assert_allclose(_value(udp_call_with_argument, executor).values, ndvi * 100)


# -- the mistakes users make first: each its exact code at validation ---------------------


def _pick_nirr():
    return load().reduce_dimension(
        dimension="bands", reducer=lambda data: array_element(data, label="nirr")
    )


MISTAKES = {
    "wrong band name": (
        lambda: load(["B4", "B08"]),
        "ProcessParameterInvalid", "/loadcollection1/arguments/bands",
    ),
    "time instead of t": (
        lambda: load().reduce_dimension(dimension="time", reducer="mean"),
        "DimensionNotAvailable", "/reducedimension1/arguments/dimension",
    ),
    "bbox outside the collection": (
        lambda: load(extent={"west": 4.0, "south": 50.0, "east": 4.1, "north": 50.1}),
        "NoDataAvailable", "/loadcollection1/arguments/spatial_extent",
    ),
    "dates the collection lacks": (
        lambda: load(temporal=["2025-01-01", "2025-02-01"]),
        "NoDataAvailable", "/loadcollection1/arguments/temporal_extent",
    ),
    "dates swapped": (
        lambda: load(temporal=["2023-08-01", "2023-05-01"]),
        "TemporalExtentEmpty", "/loadcollection1/arguments/temporal_extent",
    ),
    "PNG": (
        lambda: load().max_time().save_result(format="PNG"),
        "FormatUnsupported", "/saveresult1/arguments/format",
    ),
    "GeoJSON for a raster": (
        lambda: load().max_time().save_result(format="GeoJSON"),
        "FormatUnsuitable", "/saveresult1/arguments/format",
    ),
    "unknown collection": (
        lambda: DataCube.load_collection("SENTINEL2_L2A", connection=None),
        "CollectionNotFound", "/loadcollection1/arguments/id",
    ),
    "ndvi without a red band": (
        lambda: load(["B08"]).ndvi(),
        "RedBandAmbiguous", "/ndvi1/arguments/red",
    ),
    "a label no band has": (
        _pick_nirr, "ArrayElementNotAvailable",
        "/reducedimension1/arguments/reducer/process_graph/arrayelement1/arguments/label",
    ),
    "a typo in a process id": (
        lambda: load().process("ndvj", {"data": THIS}),
        "ProcessUnsupported", "/ndvj1/process_id",
    ),
    "a stored process without its data": (
        lambda: DataCube(PGNode("scaled_ndvi", factor=3, namespace="user")),
        "ProcessParameterRequired", "/scaledndvi1/arguments",
    ),
}  # fmt: skip


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_mistakes_get_their_code_at_validation(mistake):
    """Issue 18: what a user gets wrong first is found by ``pgc.validate`` with the catalog,
    before anything runs, with the openEO code and a pointer to the argument."""
    from pgc.data.catalog import default_catalog

    build, code, pointer = MISTAKES[mistake]
    result = pgc.validate(graph(build()), catalog=default_catalog(), user_processes=UDPS)
    assert [(d.code, d.pointer) for d in result.errors] == [(code, pointer)]


def test_the_readme_client_example_runs():
    """The README's example of common band names and a user-defined process call runs as
    written (issue 18: the README shows both)."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python\nimport json, openeo, pgc")
    code = readme[start + len("```python\n") : readme.index("```", start + 10)]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own README
    assert scope["ndvi"].dims == ("t", "y", "x")
