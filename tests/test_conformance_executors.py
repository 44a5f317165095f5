"""The openEO conformance vectors give the same verdicts whatever runs them (issue 17): with
the default pipeline (constant folding included: ``pgc conformance`` alone runs the graph as
written) and with every executor, each case that passes with the reference executor and no
passes (``tests/conformance/expected_pass.txt``) passes too."""

from __future__ import annotations

import pytest
from conftest import ROOT, UPSTREAM_REASON, VECTORS

from pgc.conformance import load_errata, run_folder

EXPECTED = ROOT / "tests" / "conformance" / "expected_pass.txt"


@pytest.mark.skipif(not VECTORS.is_dir(), reason=UPSTREAM_REASON)
@pytest.mark.parametrize(
    "executor,pipeline",
    [("reference", "default"), ("numba", "default"), ("dask", "default")],
)
def test_vectors_pass_on_every_executor_and_with_the_default_pipeline(executor, pipeline):
    wanted = {line.strip() for line in EXPECTED.read_text().splitlines() if line.strip()}
    report = run_folder(VECTORS, errata=load_errata(), executor=executor, pipeline=pipeline)
    passed = {r.case_id for r in report.results if r.status == "passed"}
    lost = {r.case_id: r.reason for r in report.results if r.case_id in wanted - passed}
    assert not lost, lost
