"""pgc's errata of the openEO conformance vectors (pgc/conformance_errata.json): each one
corrects a case that contradicts its process definition, applies only to the exact case
it was written for, and is reported."""

from __future__ import annotations

import json

import json5
import pytest
from conftest import UPSTREAM_REASON, VECTORS

from pgc.conformance import ERRATA, case_digest, load_errata, run_folder


def upstream_cases() -> dict[str, dict]:
    cases = {}
    for path in sorted(VECTORS.glob("*.json5")):
        for i, case in enumerate(json5.loads(path.read_text())["tests"]):
            cases[f"{path.name}#{i}"] = case
    return cases


@pytest.mark.skipif(not VECTORS.is_dir(), reason=UPSTREAM_REASON)
def test_every_erratum_matches_a_published_case():
    """A stale erratum (the vector changed) is caught here rather than silently unused."""
    cases = upstream_cases()
    for erratum in json.loads(ERRATA.read_text())["errata"]:
        assert erratum["case"] in cases, erratum["case"]
        assert case_digest(cases[erratum["case"]]) == erratum["digest"], erratum["case"]
        assert len(erratum["reason"]) > 40 and erratum["patch"], erratum["case"]


def test_errata_apply_only_to_the_exact_case(tmp_path):
    case = {"arguments": {"x": 1, "y": 2}, "returns": 4}  # wrong on purpose
    (tmp_path / "add.json5").write_text(json.dumps({"id": "add", "tests": [case]}))
    fix = {"case": "add.json5#0", "reason": "1 + 2 is 3", "patch": {"returns": 3}}
    exact = {("add.json5#0", case_digest(case)): {**fix, "digest": case_digest(case)}}
    report = run_folder(tmp_path, errata=exact)
    assert [(r.status, r.erratum) for r in report.results] == [("passed", "1 + 2 is 3")]
    other = {("add.json5#0", "0123456789abcdef"): {**fix, "digest": "0123456789abcdef"}}
    report = run_folder(tmp_path, errata=other)
    assert [(r.status, r.erratum) for r in report.results] == [("failed", "")]


def test_pgc_errata_load():
    errata = load_errata()
    assert errata and all(len(digest) == 16 for _, digest in errata)
