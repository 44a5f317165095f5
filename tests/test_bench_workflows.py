"""benchmarks/bench_workflows.py (issue 23): the whole-workflow benchmark's graphs stay valid
as pgc changes, and its own way of running them gives what ``pgc.run`` gives.

One workflow (the cloud-masked median NDVI composite of examples/) on a 48 px collection,
through the harness's code path: ``pgc run`` in a fresh process on the Zarr collection, and
``pgc.run`` on the values in memory in a fresh process; the openEO stack where installed."""

from __future__ import annotations

import pytest

from benchmarks import bench_workflows as bw

SIDE = 48
NAME = "ndvi_composite"
LIMITS = {"timeout": 120, "limit_gb": 4, "repeat": 1}


@pytest.fixture(scope="module")
def where(tmp_path_factory):
    return bw.ensure(SIDE, tmp_path_factory.mktemp("workflows"))


@pytest.fixture(scope="module")
def expected(where):
    """pgc.run of the workflow's graph, as written, on the collection."""
    import pgc
    from pgc.data.catalog import build_catalog

    result = pgc.run({"process_graph": bw.graph_of(NAME, SIDE)}, catalog=build_catalog((where,)))
    return bw.summarize_result(result)


@pytest.mark.parametrize("config", ["run", "mem"])
def test_the_harness_gives_what_pgc_run_gives(where, expected, config):
    row = bw.measure(NAME, SIDE, config, where, **LIMITS)
    assert row["status"] == "ok", row.get("error")
    assert row["time_s"] > 0 and row["peak_mb"] > 0
    assert expected["finite"] > 0 and row["summary"] == pytest.approx(expected, rel=1e-12)
    if config == "run":
        assert row["bytes_read"] == 7 * 3 * SIDE * SIDE * 2  # 7 dates of B04, B08, SCL
    else:
        assert row["input_bytes"] == 7 * 3 * SIDE * SIDE * 2


def test_the_openeo_stack_computes_the_same(where, expected):
    from benchmarks.peer_openeo import available

    reason = available()
    if reason:
        pytest.skip(reason)
    row = bw.measure(NAME, SIDE, "openeo", where, **LIMITS)
    assert row["status"] == "ok", row.get("error")
    assert bw.same(row["summary"], expected)


def test_the_openeo_stack_as_a_whole_process_writes_what_pgc_run_writes(where):
    """``openeo-run``: the peer's own process, from the Zarr store to the GeoTIFF, gives a
    row like ``run``'s, and its file says the same values as pgc's (EVI, the cheapest)."""
    from benchmarks.peer_openeo import available

    reason = available()
    if reason:
        pytest.skip(reason)
    pgc_row = bw.measure("evi", SIDE, "run", where, **LIMITS)
    row = bw.measure("evi", SIDE, "openeo-run", where, **LIMITS)
    assert row["status"] == "ok", row.get("error")
    assert row["time_s"] > 0 and row["peak_mb"] > 0 and len(row["times"]) == 1
    assert "bytes_read" not in row  # pgc run --stats counts them, the peer says nothing
    assert pgc_row["summary"]["finite"] > 0
    assert bw.same(row["summary"], pgc_row["summary"])


def test_the_peer_opens_the_store_lazily_as_its_load_stac_chunks(where):
    """``read_bands(lazy=True)``: the eager values, unread, one chunk per date and band."""
    import dask.array as da
    import xarray as xr

    eager = bw.read_bands(where, ["B04", "SCL"], [1, 4, 6])
    lazy = bw.read_bands(where, ["B04", "SCL"], [1, 4, 6], lazy=True)
    assert isinstance(lazy.data, da.Array)
    assert lazy.chunks == ((1, 1, 1), (1, 1), (SIDE,), (SIDE,))
    xr.testing.assert_identical(lazy.compute(), eager)


def test_every_workflow_is_an_openeo_graph_pgc_accepts(where):
    """All thirteen graphs validate and type-check against the collection (no data read)."""
    import pgc
    from pgc.data.catalog import build_catalog

    catalog = build_catalog((where,))
    for name in bw.NAMES:
        plan = pgc.compile({"process_graph": bw.graph_of(name, SIDE)}, catalog=catalog)
        assert plan is not None, name


def test_rows_merge_and_the_report_is_written(tmp_path):
    rows = [{"workflow": "evi", "size": 512, "config": c, "status": "ok", "time_s": t,
             "peak_mb": 300.0, "summary": {"n": 1, "finite": 1, "sum": 1.0, "min": 1.0,
                                           "max": 1.0}}
            for c, t in (("reference", 2.0), ("mem", 0.5), ("openeo", 1.0),
                         ("run", 3.0), ("openeo-run", 6.0))]  # fmt: skip
    path = tmp_path / "w.json"
    bw.save_results(path, bw.merge_rows([], rows))
    again = {**rows[1], "time_s": 0.25}
    bw.save_results(path, bw.merge_rows(bw.load_results(path), [again]))
    assert [r["time_s"] for r in bw.load_results(path)] == [3.0, 2.0, 0.25, 1.0, 6.0]
    bw.write_report(path, tmp_path / "w.md")
    text = (tmp_path / "w.md").read_text()
    assert "| evi |" in text and "0.25" in text
    peer = text[text.index("## pgc / openEO stack") :]
    pairs = ("run / openeo-run", "mem / openeo", "peak run / openeo-run", "peak mem / openeo")
    assert f"| workflow | {' | '.join(pairs)} |" in peer
    assert "| evi | 0.50 | 0.25 | 1.00 | 1.00 |" in peer


def test_the_report_says_which_commit_rows_were_measured_at():
    rows = [{"commit": "abc1234"}, {"commit": "abc1234"}, {"commit": "def5678"}, {}]
    assert bw._commits_of(rows) == (
        "Rows measured at abc1234: 2 rows; def5678: 1 row; earlier, not recorded: 1 row."
    )
    assert bw._commits_of([{"commit": "abc1234"}, {"commit": "abc1234"}]) == ""
    assert bw._commits_of([{}, {}]) == ""  # (all before rows kept it)
