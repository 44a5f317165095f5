"""run_udf with Python UDFs: off unless the embedding application enables it; then the UDF
runs in a separate process, with a time limit, and its failures are openEO errors."""

from __future__ import annotations

import io
import json
import os
import struct
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import node, processes_with

import pgc
from pgc.executors import udf_worker
from pgc.executors.reference import udf as ref_udf
from pgc.executors.values import Cube
from pgc.runner import execute

TIMES = pd.date_range("2023-01-01", periods=5, freq="10D").values.astype("datetime64[ns]")
EXTENT = {"west": 600000, "south": 5694800, "east": 600200, "north": 5695000, "crs": 32631}


def code(text: str) -> str:
    return textwrap.dedent(text).lstrip()


DOUBLE = code(
    """
    import xarray

    def apply_datacube(cube: xarray.DataArray, context: dict) -> xarray.DataArray:
        print("a UDF may print")  # must not disturb the result
        return cube * context["factor"]
    """
)


def sample_cube() -> Cube:
    """(t, y, x) values 0..n-1 with no-data at a few places."""
    values = np.arange(5 * 2 * 3, dtype="float64").reshape(5, 2, 3)
    coords = {"t": TIMES, "y": [10.0, 20.0], "x": [1.0, 2.0, 3.0]}
    data = xr.DataArray(values, dims=("t", "y", "x"), coords=coords)
    valid = np.ones(values.shape, bool)
    valid[1, 0, 0] = valid[3, 1, 2] = False
    valid[:, 1, 1] = False
    return Cube(data.where(valid, 0.0), xr.DataArray(valid, dims=data.dims, coords=coords))


def udf_graph(udf: str, **arguments) -> dict:
    run = node("run_udf", True, data={"from_parameter": "cube"}, udf=udf, runtime="Python",
               **arguments)  # fmt: skip
    return {"parameters": [{"name": "cube", "schema": {}}], "process_graph": {"u": run}}


def in_callback(process_id: str, callback: str, udf: str, **arguments) -> dict:
    run = node("run_udf", True, data={"from_parameter": "data"}, udf=udf, runtime="Python",
               **arguments)  # fmt: skip
    outer = node(process_id, True, data={"from_parameter": "cube"}, dimension="t",
                 **{callback: {"process_graph": {"u": run}}})  # fmt: skip
    return {"parameters": [{"name": "cube", "schema": {}}], "process_graph": {"o": outer}}


def run(graph: dict, data=None, **options):
    data = sample_cube() if data is None else data
    return execute(graph, parameters={"cube": data}, python_udf=True, **options).value


def error(graph: dict, data=None, **options) -> pgc.PgcError:
    with pytest.raises(pgc.PgcError) as info:
        run(graph, data, **options)
    return info.value


# ---------------------------------------------------------------------------------------
# Off by default


def test_off_by_default_the_udf_does_not_run(tmp_path):
    marker = tmp_path / "ran"
    # Enabled, the UDF may not write outside its scratch folder either (test_udf_isolation).
    udf = f"try:\n    open({str(marker)!r}, 'w').close()\nexcept OSError:\n    pass\n" + DOUBLE
    graph = udf_graph(udf, context={"factor": 2})
    with pytest.raises(pgc.PgcError) as info:
        execute(graph, parameters={"cube": sample_cube()})
    assert info.value.code == "FeatureUnsupported"
    assert not marker.exists()
    cube = sample_cube()
    out = run(graph, cube)  # the same graph, enabled: the doubled values show the UDF ran
    np.testing.assert_array_equal(
        out.data.where(out.valid, 0.0).values, np.where(cube.valid, 2 * cube.data, 0.0)
    )


# ---------------------------------------------------------------------------------------
# apply_datacube, apply_timeseries; data in and out


def test_apply_datacube_doubles_and_keeps_nodata():
    cube = sample_cube()
    out = run(udf_graph(DOUBLE, context={"factor": 2}))
    assert out.dims == cube.dims
    np.testing.assert_array_equal(out.valid.values, cube.valid.values)
    expected = np.where(cube.valid.values, 2 * cube.data.values, 0.0)
    np.testing.assert_array_equal(out.data.where(out.valid, 0.0).values, expected)
    np.testing.assert_array_equal(out.data.t.values, TIMES)


def test_the_udf_runs_in_another_process():
    udf = code(
        """
        import os

        def apply_datacube(cube, context):
            return cube * 0 + os.getpid()
        """
    )
    out = run(udf_graph(udf))
    pids = np.unique(out.data.values[out.valid.values])
    assert len(pids) == 1 and int(pids[0]) not in (0, os.getpid())


def test_the_udf_does_not_see_the_parents_environment(monkeypatch):
    monkeypatch.setenv("PGC_TEST_SECRET", "hunter2")
    udf = code(
        """
        import os

        def apply_datacube(cube, context):
            return cube * 0 + len(os.environ.get("PGC_TEST_SECRET", ""))
        """
    )
    out = run(udf_graph(udf))
    assert (out.data.values[out.valid.values] == 0).all()


def test_apply_timeseries_in_apply_dimension():
    udf = code(
        """
        import pandas as pd

        def apply_timeseries(series: pd.Series, context: dict) -> pd.Series:
            assert isinstance(series.index, pd.DatetimeIndex)
            return series - series.mean()  # pandas skips NaN (no-data)
        """
    )
    cube = sample_cube()
    out = run(in_callback("apply_dimension", "process", udf))
    values = cube.filled().values
    expected = values - np.nanmean(values, axis=0, keepdims=True)
    np.testing.assert_allclose(out.filled().values, expected)  # NaN where no-data


def test_apply_datacube_as_a_reducer():
    udf = code(
        """
        def apply_datacube(cube, context):
            return cube.max(dim="t")
        """
    )
    cube = sample_cube()
    out = run(in_callback("reduce_dimension", "reducer", udf))
    assert out.dims == ("y", "x")
    expected = np.nanmax(cube.filled().values, axis=0, initial=-np.inf)
    expected[np.isinf(expected)] = np.nan  # a pixel without data stays no-data
    np.testing.assert_array_equal(out.filled().values, expected)
    assert not out.valid.values[1, 1]


def test_numbers_and_arrays_reach_the_udf_as_small_data_arrays():
    udf = code(
        """
        def apply_datacube(cube, context):
            return cube * 2
        """
    )
    assert run(udf_graph(udf), data=[1, 2.5, None]) == [2, 5.0, None]
    assert run(udf_graph(udf), data=21) == 42


# ---------------------------------------------------------------------------------------
# Failures


def test_a_udf_exception_is_a_clean_udf_error():
    udf = code(
        """
        def apply_datacube(cube, context):
            limit = 42
            raise ValueError(f"value above {limit}")
        """
    )
    diagnostic = error(udf_graph(udf)).diagnostics[0]
    assert diagnostic.code == "UdfError"
    assert "ValueError: value above 42" in diagnostic.message
    assert "line 3" in diagnostic.message
    assert "Traceback" not in diagnostic.message and "pgc" not in diagnostic.message
    assert diagnostic.pointer == "/process_graph/u/arguments/udf"


def gone(token: str) -> bool:
    for _ in range(100):  # SIGKILL is delivered asynchronously: give the kernel a moment
        if not processes_with(token):
            return True
        time.sleep(0.05)
    return False


def sleeper(token: str) -> str:
    """Python code that starts a process with ``token`` in its command line."""
    return (
        f'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {token!r}], '
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"
    )


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc")
def test_a_udf_that_sleeps_is_stopped_by_the_timeout(monkeypatch):
    monkeypatch.setattr(ref_udf, "TIMEOUT_SECONDS", 4.0)
    token = f"pgc-test-timeout-{os.getpid()}-{time.time_ns()}"
    udf = code(
        f"""
        import subprocess, sys, time

        def apply_datacube(cube, context):
            {sleeper(token)}
            time.sleep(600)
            return cube
        """
    )
    assert error(udf_graph(udf)).code == "UdfTimeout"
    assert gone(token)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads process states from /proc")
def test_processes_a_udf_starts_do_not_outlive_it():
    token = f"pgc-test-outlive-{os.getpid()}-{time.time_ns()}"
    udf = code(
        f"""
        import subprocess, sys

        def apply_datacube(cube, context):
            {sleeper(token)}
            return cube
        """
    )
    run(udf_graph(udf))
    assert gone(token)


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"runtime": "R"}, "InvalidRuntime"),
        ({"version": "2.7"}, "InvalidVersion"),
        ({"udf": "udfs/my_udf.py"}, "FileNotFound"),
        ({"udf": "https://example.test/udf.py"}, "FeatureUnsupported"),
    ],
)
def test_unsupported_runtimes_versions_and_sources(arguments, expected):
    graph = udf_graph(DOUBLE, context={"factor": 2})
    graph["process_graph"]["u"]["arguments"].update(arguments)
    assert error(graph).code == expected


def test_runtime_name_and_version_of_the_running_python_are_accepted():
    import platform

    major_minor = ".".join(platform.python_version_tuple()[:2])
    graph = udf_graph(DOUBLE, version=major_minor, context={"factor": 3})
    graph["process_graph"]["u"]["arguments"]["runtime"] = "python"
    out = run(graph)
    assert out.data.values[0, 0, 1] == 3.0


@pytest.mark.parametrize(
    ("udf", "message"),
    [
        ("x = 1\n", "No UDF found"),
        ("def apply_datacube(cube, context):\n    return 'text'\n", "xarray.DataArray"),
        ("def apply_datacube(cube, context):\n    return cube.isel(x=0)\n", "keep the dimensions"),
        ("def apply_datacube(cube, context)\n    return cube\n", "SyntaxError"),
    ],
)
def test_udfs_that_break_the_convention(udf, message):
    graph = in_callback("apply_dimension", "process", udf)
    diagnostic = error(graph).diagnostics[0]
    assert diagnostic.code == "UdfError" and message in diagnostic.message


def test_a_udf_that_ends_its_process_is_a_udf_error():
    udf = "import os\nos._exit(3)\n"
    diagnostic = error(udf_graph(udf)).diagnostics[0]
    assert diagnostic.code == "UdfError" and "exit code 3" in diagnostic.message


# ---------------------------------------------------------------------------------------
# The message format between pgc and the UDF process


def test_messages_round_trip_and_refuse_pickles():
    array = sample_cube().filled()
    meta, back = udf_worker.decode_message(udf_worker.encode_message({"kind": "cube"}, array))
    assert meta["kind"] == "cube"
    xr.testing.assert_identical(back, array)
    pickled = io.BytesIO()
    np.save(pickled, np.array([object()], dtype=object), allow_pickle=True)
    blob = pickled.getvalue()
    header = json.dumps({"meta": {"array": {"dims": ["a"], "coords": []}}, "sizes": [len(blob)]})
    message = udf_worker._MAGIC + struct.pack("<Q", len(header)) + header.encode() + blob
    with pytest.raises(ValueError, match="allow_pickle"):
        udf_worker.decode_message(message)
    with pytest.raises(ValueError):
        udf_worker.decode_message(b"not a message")


# ---------------------------------------------------------------------------------------
# A graph built with the official openEO Python client


def test_client_graph_with_a_udf_on_the_sample_collection():
    openeo = pytest.importorskip("openeo")
    from openeo.rest.datacube import DataCube

    loaded = DataCube.load_collection(
        "SENTINEL2_L2A_SAMPLE",
        connection=None,
        fetch_metadata=False,
        spatial_extent=EXTENT,
        temporal_extent=["2023-05-01", "2023-08-01"],
        bands=["B04", "B08"],
    )
    udf = openeo.UDF(DOUBLE, runtime="Python", context={"factor": 0.5})
    applied = loaded.apply_dimension(process=udf, dimension="t")
    graph = applied.flat_graph()
    assert any(n["process_id"] == "apply_dimension" for n in graph.values())
    data = pgc.run(loaded.flat_graph())
    out = pgc.run(graph, python_udf=True)
    np.testing.assert_array_equal(out.values, data.values * 0.5)  # NaN (no-data) stays NaN
    assert np.isnan(data.values).any()


# ---------------------------------------------------------------------------------------
# The command line: pgc run --python-udf


def test_cli_runs_python_udfs_only_when_asked(tmp_path, capsys):
    from pgc.cli import main

    load = node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=EXTENT,
                temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04"])  # fmt: skip
    udf = node("run_udf", True, data={"from_node": "l"}, udf=DOUBLE, runtime="Python",
               context={"factor": 2})  # fmt: skip
    path = tmp_path / "udf.json"
    path.write_text(json.dumps({"process_graph": {"l": load, "u": udf}}))
    assert main(["run", str(path)]) == 1
    assert "FeatureUnsupported" in capsys.readouterr().out
    assert main(["run", str(path), "--python-udf", "--udf-timeout", "60"]) == 0
