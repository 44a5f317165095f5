"""Golden tests of the passes (issue 3): input IR, expected IR after the pipeline.

Each ``golden/<name>.ir`` names its pipeline in a ``# pipeline: ...`` line and states the
law the rewrite relies on (a ``# unchanged`` line: the case where nothing may move);
``golden/<name>.expected.ir`` is the plan after the pipeline.
Set PGC_UPDATE_GOLDEN=1 to rewrite the expected files (then review the diff).
Differential checks against the reference executor join these when it exists (issue 4).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from pgc.data.catalog import build_catalog
from pgc.ir.infer import Environment, infer_graph
from pgc.ir.parser import parse_ir
from pgc.ir.printer import print_graph
from pgc.passes.manager import PassContext, parse_pipeline, run_pipeline
from pgc.specs import load_specs

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(p for p in GOLDEN.glob("*.ir") if not p.name.endswith(".expected.ir"))


def env() -> Environment:
    """The sample collections and a STAC-backed one (golden/stac_catalog.toml; typing a
    load of it reaches no network)."""
    return Environment(load_specs(), _catalog())


@functools.cache
def _catalog():
    return build_catalog((GOLDEN / "stac_catalog.toml",))


def typed(text: str):
    e = env()
    graph = infer_graph(parse_ir(text), e)
    assert [d for d in e.diagnostics if d.is_error] == []
    return graph


def pipeline_of(text: str) -> list[str]:
    for line in text.splitlines():
        if line.startswith("# pipeline:"):
            return parse_pipeline(line.split(":", 1)[1])
    raise AssertionError("golden file without '# pipeline:' line")


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path):
    text = path.read_text()
    graph, log = run_pipeline(typed(text), pipeline_of(text), PassContext(env()), verify=True)
    out = print_graph(infer_graph(graph, env()))
    expected = path.with_suffix(".expected.ir")
    if os.environ.get("PGC_UPDATE_GOLDEN"):
        expected.write_text(out)
    assert out == expected.read_text()
    # every golden case exercises its pass, or (marked "# unchanged") must leave it alone
    unchanged = any(line.strip() == "# unchanged" for line in text.splitlines())
    assert any(r.changed for r in log.records) != unchanged


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_files_round_trip(path: Path):
    for text in (path.read_text(), path.with_suffix(".expected.ir").read_text()):
        printed = print_graph(typed(text))
        assert print_graph(typed(printed)) == printed


@pytest.mark.parametrize("name", ["dce", "cse", "fold", "push-filters", "prune-bands",
                                  "load-grid"])  # fmt: skip
def test_passes_do_not_mutate_their_input(name):
    case = "load_grid_near_same_crs" if name == "load-grid" else "default_pipeline_evi"
    text = (GOLDEN / f"{case}.ir").read_text()
    graph = typed(text)
    before = print_graph(graph)
    run_pipeline(graph, [name], PassContext(env()), verify=True)
    assert print_graph(graph) == before


def test_passes_reach_a_fixed_point():
    graph = typed((GOLDEN / "default_pipeline_evi.ir").read_text())
    once, _ = run_pipeline(graph, parse_pipeline("default"), PassContext(env()))
    twice, log = run_pipeline(once, parse_pipeline("default"), PassContext(env()))
    assert not any(r.changed for r in log.records)
    assert print_graph(twice) == print_graph(once)


def test_unknown_pass_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown pass"):
        parse_pipeline("dce,frobnicate")
    assert parse_pipeline("none") == []


def test_optimizer_passes_on_long_chains_do_not_recurse():
    """Regression (issue 6): the band analysis recursed once per node of a chain."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import pgc
    from benchmarks.graphs import apply_chain
    from pgc.compiler import compile as compile_graph

    plan = compile_graph(json.dumps(apply_chain(2000)), limits=pgc.Limits(max_nodes=10_000))
    assert len(plan.graph) == 2001
