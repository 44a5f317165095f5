"""The dask executor equals the reference executor (issue 9): the optimizer's random graphs
(tests/test_optimizer_differential.py) run chunk by chunk, with chunks small enough that
every cube has several, on dask's threaded scheduler and on a distributed LocalCluster of
two worker processes on loopback; same cubes bit for bit, or the same error code."""

from __future__ import annotations

from conftest import examples
from hypothesis import HealthCheck, given, settings
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
@given(graph=graphs())
def test_the_dask_executor_equals_the_reference(graph):
    check(graph, DaskOptions(chunk=5))


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
