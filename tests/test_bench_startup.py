"""``python -m benchmarks startup`` (issue 23): how it reads ``-X importtime`` and
``pgc run --stats`` output, and that its report adds up (no timings are checked)."""

from __future__ import annotations

import sys

import pytest

from benchmarks.bench_startup import Case, Sample, import_times, report, stage_times

IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   numpy._core
import time:      2000 |       2100 | numpy
import time:       300 |        300 |     pgc.ir.types
import time:       500 |        800 |   pgc.ir
import time:        50 |        850 | pgc
import time:        70 |         70 | json
"""


def test_imports_are_summed_per_top_level_package():
    per, modules = import_times(IMPORTTIME + "wrote evi.tif\n")
    assert modules == 6
    assert per == pytest.approx({"numpy": 0.0021, "pgc": 0.00085, "other": 0.00007})


def test_stages_are_read_from_the_stats_line():
    out = "wrote x.tif\ntime: validate 1 ms, lower 0 ms, run 469 ms, write 1.5 s\npeak ..."
    assert stage_times(out) == pytest.approx(
        {"validate": 0.001, "lower": 0.0, "run": 0.469, "write": 1.5}
    )
    assert stage_times("no stats here") == {}


def test_the_breakdown_adds_up_to_the_wall():
    python = Case("python", [sys.executable, "-c", "pass"], [Sample(0.04, 0.04, 17e6)])
    python.imports = import_times(IMPORTTIME.replace("numpy", "encodings"))[0]
    run = Case("run", [sys.executable, "-m", "pgc.cli", "run", "g.json", "-o", "/t/evi.tif"])
    run.samples = [Sample(1.9, 1.8, 230e6), Sample(1.5, 1.4, 231e6)]
    run.imports, run.modules = import_times(IMPORTTIME)
    run.warm, run.stages = 0.3, {"run": 0.2, "write": 0.1}
    text = report([python, run], repeat=2)
    assert "| run | 1500 | 1700 | 1400 | 231 | 6 |" in text  # best wall, median, its CPU
    assert "`python -m pgc.cli run g.json -o OUT.tif`" in text
    breakdown = text[text.index("| part |") :].splitlines()
    rows = dict(tuple(c.strip() for c in line.strip("|").split("|")) for line in breakdown)
    parts = ["interpreter start, less its imports", "**imports, all**",
             "**one-time work of a first call**", "**the command's work, warm**"]  # fmt: skip
    assert sum(int(rows[p]) for p in parts) == pytest.approx(int(rows["**wall (best)**"]), abs=2)
    assert rows["**wall (best)**"] == "1500"
