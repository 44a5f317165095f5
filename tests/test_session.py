"""Sessions and options (issue 19): a back-end's settings are values, not process globals.

Two sessions in one process keep their own compute dtype and process overrides; threads
sharing a session get the single-threaded results; environment variables reach pgc only
through ``Options.from_env`` (the command line).
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, node

import pgc
from pgc.executors.reference import default_processes
from pgc.options import Options, active

SAMPLE = "SENTINEL2_L2A_SAMPLE"
WINDOW = {"west": 600000, "south": 5690000, "east": 600320, "north": 5690320, "crs": 32631}


def ndvi_graph(date: str = "2023-06-01") -> dict:
    return {
        "l": node("load_collection", id=SAMPLE, spatial_extent=WINDOW,
                  temporal_extent=[date, "2023-12-31"], bands=["B04", "B08"]),
        "n": node("ndvi", result=True, data={"from_node": "l"}),
    }  # fmt: skip


def test_two_sessions_keep_their_own_compute_dtype():
    single = pgc.Session(options=Options(compute_dtype="float32"))
    double = pgc.Session()
    a, b = (s.execute(ndvi_graph()).value.data for s in (single, double))
    assert a.dtype == np.float32 and b.dtype == np.float64
    np.testing.assert_allclose(a.values, b.values, rtol=1e-6)
    default = pgc.runner.execute(ndvi_graph()).value.data  # no session: the defaults
    assert default.dtype == np.float64
    assert active().compute_dtype == "float64"  # nothing leaked into this thread


def test_a_session_keeps_its_own_pool_of_kernel_buffers():
    """Kernels' large outputs come from the pool of the session that runs them (issue 19);
    another session's pool, and the shared one, stay as they were."""
    from pgc.kernels import buffers

    whole = {**ndvi_graph("2023-01-01"), "l": node(
        "load_collection", id=SAMPLE, spatial_extent=None, temporal_extent=None,
        bands=["B04", "B08"])}  # fmt: skip
    one, other = pgc.Session(executor="numba"), pgc.Session(executor="numba")
    off = pgc.Session(executor="numba", options=Options(buffer_pool=False))
    shared = buffers.pooled_bytes()
    result = one.execute(whole).value
    off.execute(whole)
    assert one.buffers.pooled_bytes() >= result.data.nbytes >= buffers.MIN_BYTES
    assert other.buffers.pooled_bytes() == 0 and off.buffers.pooled_bytes() == 0
    assert buffers.pooled_bytes() == shared


def test_two_sessions_keep_their_own_process_overrides():
    graph = {"a": node("absolute", result=True, x=-3)}
    answering = pgc.Session(processes=default_processes().override(absolute=lambda call: 42))
    plain = pgc.Session()
    assert answering.run(graph) == 42  # fold does not compute an overridden process
    assert plain.run(graph) == 3 and pgc.run(graph) == 3
    assert "absolute" not in default_processes().overridden


def test_fold_leaves_only_the_overridden_processes():
    """An overridden process is not computed at compile time; everything else still folds."""
    graph = {
        "a": node("absolute", x=-3),
        "m": node("multiply", x=2, y=3),
        "s": node("add", result=True, x={"from_node": "a"}, y={"from_node": "m"}),
    }
    answering = pgc.Session(processes=default_processes().override(absolute=lambda call: 42))
    result = answering.execute(graph)
    assert result.value == 48
    kept = {n.process_id for n in result.plan.graph.nodes()}
    assert "absolute" in kept and "multiply" not in kept  # folded: 6
    assert pgc.Session().execute(graph).plan.graph.result_node.process_id == "constant"


def test_an_overridden_load_collection_feeds_every_executor():
    """A back-end's own load_collection: every executor runs it (none chunks or fuses it)."""
    reference = pgc.run(ndvi_graph())

    def halved(call):  # the back-end's data: the sample, halved
        from pgc.executors.reference import IMPLEMENTATIONS

        cube = IMPLEMENTATIONS["load_collection"](call)
        return type(cube)(cube.data // 2, cube.valid)

    table = default_processes().override(load_collection=halved)
    for executor in ("reference", "numba", "dask"):
        got = pgc.Session(processes=table, executor=executor).run(ndvi_graph())
        assert got.shape == reference.shape
        assert not np.allclose(got.values, reference.values, equal_nan=True)  # it ran
        np.testing.assert_allclose(
            got.values, pgc.Session(processes=table).run(ndvi_graph()).values, rtol=1e-12
        )


def test_overriding_a_fused_process_is_refused_for_the_kernel_executors():
    table = default_processes().override(ndvi=lambda call: None)
    with pytest.raises(ValueError, match="compiles ndvi into kernels"):
        pgc.Session(processes=table, executor="numba").run(ndvi_graph())


def test_eight_threads_on_one_session_give_the_single_threaded_results():
    session = pgc.Session(options=Options(compute_dtype="float32"), executor="numba")
    dates = [f"2023-{m:02d}-01" for m in range(1, 9)]
    alone = {d: session.run(ndvi_graph(d)).values for d in dates}
    assert session.execute(ndvi_graph()).value.data.dtype == np.float32
    barrier = threading.Barrier(8)

    def work(date):
        barrier.wait()
        return date, session.run(ndvi_graph(date)).values

    with ThreadPoolExecutor(8) as pool:
        together = dict(pool.map(work, dates))
    for date in dates:
        np.testing.assert_array_equal(together[date], alone[date])


def test_environment_variables_reach_the_library_only_through_options(monkeypatch):
    monkeypatch.setenv("PGC_COMPUTE_DTYPE", "float32")
    value = pgc.runner.execute(ndvi_graph()).value.data
    assert value.dtype == np.float64  # the library reads no variable
    assert Options.from_env().compute_dtype == "float32"
    env = {"PGC_PLAN_CACHE": "0", "PGC_CACHE_DIR": "/c", "PGC_BUFFER_POOL": "0",
           "PGC_COLLECTIONS": "/a:/b", "PGC_SPECS": "/s", "PGC_UDF_NO_NAMESPACES": "1"}  # fmt: skip
    options = Options.from_env(env)
    assert (options.plan_cache_size, options.cache_dir, options.buffer_pool) == (
        0,
        Path("/c"),
        False,
    )
    assert options.collections == (Path("/a"), Path("/b")) and options.specs == Path("/s")
    assert options.udf_namespaces is False
    with pytest.raises(ValueError, match="PGC_COMPUTE_DTYPE"):
        Options.from_env({"PGC_COMPUTE_DTYPE": "float16"})


def test_the_command_line_reads_its_environment(monkeypatch, tmp_path, capsys):
    import json

    from pgc.cli import main

    path = tmp_path / "g.json"
    save = node("save_result", result=True, data={"from_node": "n"}, format="GTiff")
    graph = {**ndvi_graph(), "n": node("ndvi", data={"from_node": "l"}), "s": save}
    path.write_text(json.dumps(graph))
    monkeypatch.setenv("PGC_COMPUTE_DTYPE", "float32")
    assert main(["run", str(path), "-o", str(tmp_path / "o.tif")]) == 0
    assert "float32" in capsys.readouterr().out
    assert active().compute_dtype == "float64"  # the command's options ended with it
    monkeypatch.setenv("PGC_COMPUTE_DTYPE", "float16")
    assert main(["validate", str(path)]) == 2
    assert "PGC_COMPUTE_DTYPE" in capsys.readouterr().err


def test_only_the_options_module_reads_the_environment():
    """Issue 19: environment variables are read in one place. (The UDF modules build the
    environment of the processes they start, which is not reading settings.)"""
    allowed = {"pgc/options.py", "pgc/executors/reference/udf.py", "pgc/executors/udf_sandbox.py",
               "pgc/executors/udf_worker.py"}  # fmt: skip
    found = []
    for path in sorted((ROOT / "pgc").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name not in allowed and re.search(r"os\.environ|os\.getenv", path.read_text()):
            found.append(name)
    assert not found, found


def test_a_session_validates_with_its_catalog():
    session = pgc.Session()
    graph = {"l": node("load_collection", result=True, id=SAMPLE, spatial_extent=WINDOW,
                       temporal_extent=None, bands=["B4"])}  # fmt: skip
    result = session.validate(graph)
    assert result.mode == "catalog" and [d.code for d in result.errors] == [
        "ProcessParameterInvalid"
    ]
    assert session.validate(graph, catalog=False).ok


@pytest.mark.parametrize("catalog", [True, False])
def test_pgc_validate_starts_without_the_heavy_libraries(tmp_path, catalog):
    """Issue 19: `pgc validate` imports neither numba nor dask (nor rasterio, xarray);
    without a catalog not even the IR's networkx (typing needs the IR); issue 23: nor numpy,
    typing with the catalog included."""
    import json
    import subprocess
    import sys

    path = tmp_path / "g.json"
    path.write_text(json.dumps(ndvi_graph()))
    flags = [] if catalog else ["--no-catalog"]
    script = (
        "import sys\nfrom pgc.cli import main\n"
        f"code = main({['validate', str(path), *flags]!r})\n"
        "print(sorted(m for m in ('numba', 'dask', 'networkx', 'rasterio', 'xarray', 'numpy')"
        " if m in sys.modules))\nsys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    imported = done.stdout.strip().splitlines()[-1]
    assert imported == ("['networkx']" if catalog else "[]")


def test_making_a_session_imports_no_executor():
    """A back-end makes its sessions at start-up: naming the executor checks it without
    importing any (nor xarray, numba or dask with them); the first run does."""
    import subprocess
    import sys

    script = (
        "import sys, pgc\n"
        "for name in ('reference', 'numba', 'dask'):\n    pgc.Session(executor=name)\n"
        "print(sorted(m for m in ('xarray', 'numba', 'dask', 'pgc.executors.reference')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    with pytest.raises(ValueError, match="unknown executor"):
        pgc.Session(executor="no-such-executor")


def test_the_readme_embedding_example_runs(capsys):
    """Issue 19: the README's "Embedding pgc" back-end code runs as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python", readme.index("## Embedding pgc"))
    code = readme[start + len("```python\n") : readme.index("```\n", start + 10)]
    assert len(code.splitlines()) <= 32
    exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - our own README
    ndvi_line, load_line = capsys.readouterr().out.splitlines()
    assert ndvi_line == "float32 EPSG:32631 0.5789"
    assert load_line == "{'t': 1, 'bands': 1, 'y': 10, 'x': 10} ['SENTINEL2_L2A_SAMPLE']"
