"""Small things ``pgc run`` users see (issue 18, item 7): how shapes print, what ``--stats``
measures (this run's own peak memory, the numba kernels' real run time), what the UDF
refusal says, and when the progress bar shows (a terminal, runs past a second, not --json).
"""

from __future__ import annotations

import io
import json
import re
import resource
import sys

import numpy as np
import pytest
from conftest import node

import pgc
from pgc.cli import _ProgressBar, main
from pgc.runner import execute

EXTENT = {"west": 600000, "south": 5694000, "east": 601000, "north": 5695000, "crs": 32631}
LOAD = node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=EXTENT,
            temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04", "B08"])  # fmt: skip


def _ndvi(factor: float = 1.0) -> dict:
    """NDVI times ``factor`` (a factor of its own makes a kernel no other test compiled)."""
    return {
        "l": LOAD,
        "n": node("ndvi", data={"from_node": "l"}, nir="B08", red="B04"),
        "a": node("apply", data={"from_node": "n"}, process={"process_graph": {
            "m": node("multiply", True, x={"from_parameter": "x"}, y=factor)}}),
        "s": node("save_result", True, data={"from_node": "a"}, format="GTiff"),
    }  # fmt: skip


def _run(capsys, tmp_path, graph, *argv):
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code = main(["run", str(path), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_issue18_shapes_print_as_names_and_sizes(capsys, tmp_path):
    code, out, _ = _run(capsys, tmp_path, _ndvi())
    assert code == 0
    assert "result (GTiff; t:1 × y:100 × x:100); give -o OUT to write it" in out


_SIZE = re.compile(r"([\d.]+) (B|kB|MB|GB)")
_UNIT = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def test_issue18_stats_peak_memory_is_this_runs_own(capsys, tmp_path):
    """ru_maxrss is the peak of the process's whole life: after 400 MB held and freed
    before the run, it reported them as the run's peak."""
    held = np.ones(50_000_000)  # 400 MB, touched
    del held
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    code, out, _ = _run(capsys, tmp_path, _ndvi(), "--stats")
    assert code == 0
    [line] = [x for x in out.splitlines() if x.startswith("peak memory:")]
    number, unit = _SIZE.search(line).groups()
    peak = float(number) * _UNIT[unit]
    assert peak < before - 200e6, line  # the 400 MB freed before the run are not in it
    assert "during the run" in line or "tracemalloc" in line  # it says what it measures


def test_issue18_numba_stats_show_the_kernels_run_time():
    """A kernel run once was booked whole as compile time: ``run 0.0 ms`` always."""
    result = execute(_ndvi(1.000018), executor="numba")
    stats = result.kernels
    assert stats.kernels and stats.compile_seconds > 0
    assert stats.run_seconds > 0


def test_issue18_numba_stats_print_the_kernel_time_with_its_digits(capsys, tmp_path):
    code, out, _ = _run(capsys, tmp_path, _ndvi(1.000019), "--executor", "numba", "--stats")
    assert code == 0
    [line] = [x for x in out.splitlines() if x.startswith("kernels:")]
    assert not line.endswith("run 0 ms") and not line.endswith("run 0.0 ms"), line


def test_issue18_the_udf_refusal_names_the_switch():
    graph = {
        "l": LOAD,
        "u": node("run_udf", True, data={"from_node": "l"}, udf="def f(): pass\n",
                  runtime="Python"),
    }  # fmt: skip
    with pytest.raises(pgc.PgcError) as info:
        execute(graph)
    [d] = info.value.diagnostics
    assert d.code == "FeatureUnsupported"
    assert "--python-udf" in d.message and "python_udf=True" in d.message


# -- progress --------------------------------------------------------------------------


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_issue18_the_progress_bar_waits_a_second():
    stream, clock = io.StringIO(), _Clock()
    bar = _ProgressBar(stream, delay=1.0, clock=clock)
    bar(0, 3, "load_collection")
    clock.now = 0.5
    bar(1, 3, "ndvi")
    assert stream.getvalue() == ""  # a quick run prints nothing
    clock.now = 1.5
    bar(2, 3, "save_result")
    assert "2/3 save_result" in stream.getvalue()
    bar(3, 3, "")
    assert stream.getvalue().endswith("\n")  # done: the line is ended


def test_issue18_a_bar_cut_short_by_an_error_ends_its_line():
    stream, clock = io.StringIO(), _Clock()
    bar = _ProgressBar(stream, delay=0.0, clock=clock)
    bar(1, 3, "ndvi")
    bar.close()
    assert stream.getvalue().endswith("\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_issue18_no_progress_bar_for_a_quick_run_on_a_terminal(monkeypatch, tmp_path, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code, _, _ = _run(capsys, tmp_path, _ndvi())
    assert code == 0 and "[" not in terminal.getvalue()


def test_issue18_no_progress_bar_with_json(monkeypatch, tmp_path, capsys):
    import pgc.cli as cli

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    args = cli.build_parser().parse_args(["run", "x.json", "--json"])
    assert cli._progress_bar(args) is None
    args = cli.build_parser().parse_args(["run", "x.json"])
    assert isinstance(cli._progress_bar(args), _ProgressBar)
