"""benchmarks/bench_dask.py (issue 9) runs end to end on a small collection: pgc on one and
two workers and the xarray peer complete within their memory limits, and the report says
how they compare with reading the bytes from disk."""

from __future__ import annotations

from benchmarks import bench_dask


def test_the_dask_benchmark_runs_on_a_small_collection(tmp_path):
    out = tmp_path / "dask.md"
    argv = ["--side", "600", "--dates", "4", "--block", "128", "--memory", "1GB",
            "--data", str(tmp_path), "--out", str(out)]  # fmt: skip
    assert bench_dask.main(argv) == 0
    text = out.read_text()
    assert "0.01 GB on disk" in text and "Speed-up from one worker to two" in text
    rows = [line for line in text.splitlines() if line.startswith("| pgc") or "peer" in line]
    assert len(rows) == 3 and "FAILED" not in text
