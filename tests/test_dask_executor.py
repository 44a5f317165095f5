"""The dask executor equals the reference executor (issue 9): the optimizer's random graphs
(tests/test_optimizer_differential.py) run chunk by chunk, with chunks small enough that
every cube has several, on dask's threaded scheduler and on a distributed LocalCluster of
two worker processes on loopback; same cubes bit for bit, or the same error code."""

from __future__ import annotations

from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimizer_differential import assert_same, graphs

from pgc.errors import PgcError
from pgc.executors.dask.chunked import DaskOptions
from pgc.runner import execute


def outcome(graph: dict, **options):
    try:
        return ("value", execute(graph, **options).value)
    except PgcError as exc:
        return ("error", exc.code)


def check(graph: dict, dask: DaskOptions) -> None:
    expected = outcome(graph)
    actual = outcome(graph, executor="dask", dask=dask)
    assert_same(expected, actual, "dask")


@settings(deadline=None, max_examples=examples(60))
@given(graph=graphs(), compiled_from=st.sampled_from([0, None]))
def test_the_dask_executor_equals_the_reference(graph, compiled_from):
    """On chunks of 5 px, the fused kernels compiled (compiled_from=0) or, as on cubes too
    small for numba to pay, their nodes run as numpy (None)."""
    check(graph, DaskOptions(chunk=5, compiled_from=compiled_from))


def test_loads_and_kernels_are_chunked(monkeypatch):
    """A cloud-masked composite: the load is read in chunks and the kernel runs on them
    (the result is a dask computation until the end)."""
    import benchmarks.graphs as examples
    from pgc.executors.dask import chunked

    seen = []
    original = chunked.FORMS["pgc::kernel"]

    def spy(call, options):
        out = original(call, options)
        seen.append(out is not None and chunked.is_lazy(out))
        return out

    monkeypatch.setitem(chunked.FORMS, "pgc::kernel", spy)
    check(examples.cloud_masked_ndvi_composite(), DaskOptions(chunk=32))
    assert seen == [True]


def test_small_kernels_run_their_nodes_on_the_chunks_without_numba(monkeypatch):
    """Below choice.NUMBA_ELEMENTS the chunks run the kernel's body (numpy), as pgc run
    would choose the reference for the whole cube: loading numba's first kernel cost 0.3 s
    of a 2 s run at 512 px. From compiled_from on, the compiled kernel runs."""
    import benchmarks.graphs as examples
    from pgc.executors.numba import kernel_run

    calls = []
    original = kernel_run.run_kernel

    def spy(call):
        calls.append(call.node.id)
        return original(call)

    monkeypatch.setattr(kernel_run, "run_kernel", spy)
    graph = examples.cloud_masked_ndvi_composite()
    check(graph, DaskOptions(chunk=64))
    assert calls == []
    check(graph, DaskOptions(chunk=64, compiled_from=1000))
    assert calls


@settings(
    deadline=None,
    max_examples=examples(12),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(graph=graphs())
def test_the_dask_executor_on_a_local_cluster_equals_the_reference(cluster_client, graph):
    check(graph, DaskOptions(chunk=5, scheduler=cluster_client))


def test_cli_runs_with_the_dask_executor_and_writes_what_the_reference_writes(tmp_path):
    import numpy as np
    import rasterio
    from conftest import ROOT

    from pgc.cli import main

    graph = str(ROOT / "examples" / "evi.json")
    assert main(["run", graph, "-o", str(tmp_path / "d.tif"), "--executor", "dask",
                 "--chunk", "64"]) == 0  # fmt: skip
    assert main(["run", graph, "-o", str(tmp_path / "r.tif")]) == 0
    with rasterio.open(tmp_path / "d.tif") as d, rasterio.open(tmp_path / "r.tif") as r:
        assert np.array_equal(d.read(), r.read(), equal_nan=True)
    assert main(["run", graph, "-o", str(tmp_path / "x.tif"), "--dask", "somewhere"]) == 2
    assert main(["run", graph, "-o", str(tmp_path / "x.tif"), "--chunk", "64"]) == 2


def test_a_kernel_over_sources_with_other_band_labels_runs_chunk_by_chunk():
    """Regression (issue 23): the cube's three bands masked by a cloud test on the load's
    SCL, then their median over time, is one kernel over two sources whose bands differ
    (B02-B04, and B02-B04 with SCL). One dataset of both chunks aligned them on the first's
    bands and dropped SCL: ArrayElementNotAvailable. Now equal to the reference's."""
    from conftest import node

    from pgc.executors.dask import chunked

    window = {"west": 600000, "south": 5694000, "east": 600640, "north": 5694640, "crs": 32631}
    cloud = {"process_graph": {
        "s": node("array_element", data={"from_parameter": "data"}, label="SCL"),
        "c": node("gt", x={"from_node": "s"}, y=7, result=True)}}  # fmt: skip
    median = {"process_graph": {"m": node("median", data={"from_parameter": "data"},
                                          result=True)}}  # fmt: skip
    graph = {
        "l": node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=window,
                  temporal_extent=["2023-01-01", "2023-07-01"],
                  bands=["B02", "B03", "B04", "SCL"]),
        "f": node("filter_bands", data={"from_node": "l"}, bands=["B02", "B03", "B04"]),
        "c": node("reduce_dimension", data={"from_node": "l"}, dimension="bands", reducer=cloud),
        "m": node("mask", data={"from_node": "f"}, mask={"from_node": "c"}),
        "r": node("reduce_dimension", data={"from_node": "m"}, dimension="t", reducer=median,
                  result=True),
    }  # fmt: skip
    seen = []
    original = chunked.FORMS["pgc::kernel"]

    def spy(call, options):
        out = original(call, options)
        seen.append(len(call.args["sources"]) == 2 and out is not None)
        return out

    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(chunked.FORMS, "pgc::kernel", spy)
        check(graph, DaskOptions(chunk=32))
    assert seen == [True]  # one kernel, over both sources, chunk by chunk
