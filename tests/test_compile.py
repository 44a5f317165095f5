"""pgc.compile, Plan, raising and the compile/explain commands (issue 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, node

import pgc
from pgc.cli import main
from pgc.compiler import compile as compile_graph
from pgc.errors import PgcError

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
@pytest.mark.parametrize("pipeline", ["none", "default"])
def test_examples_compile_explain_and_raise_to_valid_openeo(path: Path, pipeline):
    plan = compile_graph(path.read_text(), pipeline=pipeline, verify=True)
    plan.graph.verify()
    text = plan.explain(verbose=True)
    assert "# estimated bytes read" in text and "load_collection(" in text
    raised = plan.to_openeo()
    result = pgc.validate(raised)
    assert result.ok, result.errors
    # JSON -> IR -> JSON -> IR gives the same plan (an equivalent graph; the remarks say
    # what the passes did, which differs the second time).
    again = compile_graph(json.dumps(raised), pipeline=pipeline)
    assert _without_remarks(again.text()) == _without_remarks(plan.text())


def _without_remarks(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_ir_text_compiles_like_the_json(path: Path):
    plan = compile_graph(path.read_text(), pipeline="none")
    assert compile_graph(plan.text(), pipeline="none").text() == plan.text()


def test_cube_sizes_are_estimated():
    plan = compile_graph((ROOT / "examples" / "evi.json").read_text(), pipeline="none")
    load = plan.graph.node("loadcollection1")
    # 1 date x 3 bands x 500 x 500 pixels of uint16
    assert load.type.pixels == 3 * 500 * 500 and load.type.nbytes == 2 * 3 * 500 * 500
    assert plan.bytes_read() == 1_500_000


def test_type_errors_are_rejected_with_code_and_pointer():
    graph = {
        "l": node(
            "load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=None, temporal_extent=None
        ),
        "r": node(
            "reduce_dimension",
            result=True,
            data={"from_node": "l"},
            dimension="time",
            reducer={
                "process_graph": {"m": node("mean", result=True, data={"from_parameter": "data"})}
            },
        ),
    }
    with pytest.raises(PgcError) as info:
        compile_graph(graph)
    [d] = info.value.diagnostics
    assert (d.code, d.pointer) == ("DimensionNotAvailable", "/r/arguments/dimension")


def test_unknown_collection_is_collection_not_found():
    graph = {
        "l": node(
            "load_collection", result=True, id="NOPE", spatial_extent=None, temporal_extent=None
        )
    }
    with pytest.raises(PgcError) as info:
        compile_graph(graph)
    assert [(d.code, d.pointer) for d in info.value.diagnostics] == [
        ("CollectionNotFound", "/l/arguments/id")
    ]


def test_invalid_graph_raises_validation_errors():
    with pytest.raises(PgcError) as info:
        compile_graph({"a": node("nope", result=True)})
    assert info.value.code == "ProcessUnsupported"


def test_per_pass_timings_and_verbose_unchanged():
    plan = compile_graph((ROOT / "examples" / "evi.json").read_text(), pipeline="dce,cse,fold")
    assert [r.name for r in plan.log.records] == ["dce", "cse", "fold"]
    assert all(r.seconds >= 0 for r in plan.log.records)
    assert "## after dce: unchanged" in plan.explain(verbose=True)
    assert {"validate", "lower", "infer", "passes"} <= set(plan.timings)


def run(capsys, *argv):
    code = main(list(argv))
    return code, capsys.readouterr()


def test_cli_compile_emits_ir_json_dot(capsys, tmp_path):
    evi = str(ROOT / "examples" / "evi.json")
    code, out = run(capsys, "compile", evi)
    assert code == 0 and out.out.startswith("process() {")
    code, out = run(capsys, "compile", evi, "--emit", "json")
    assert code == 0 and pgc.validate(out.out).ok
    code, out = run(capsys, "compile", evi, "--emit", "dot", "-p", "none")
    assert code == 0 and out.out.startswith("digraph plan {")
    target = tmp_path / "plan.ir"
    code, _ = run(capsys, "compile", evi, "-o", str(target))
    assert code == 0 and target.read_text().startswith("process() {")
    code, out = run(capsys, "compile", str(target), "-p", "none")
    assert out.out == target.read_text()


def test_cli_explain_verbose_and_errors(capsys, tmp_path):
    code, out = run(capsys, "explain", str(ROOT / "examples" / "ndvi_composite.json"), "--verbose")
    assert code == 0 and "## after fold" in out.out and "## plan" in out.out
    bad = tmp_path / "bad.ir"
    bad.write_text("process() {\n  %a = pi(\n}\n")
    code, out = run(capsys, "explain", str(bad))
    assert code == 1 and "^" in out.out
    code, out = run(capsys, "compile", str(ROOT / "examples" / "evi.json"), "-p", "nope")
    assert code == 2


def test_user_defined_process_shadowing_a_predefined_one():
    """A user process named like a predefined one is the one that runs (issue 18: calls
    are inlined, so the user's ``absolute`` folds, not the predefined ``ndvi``)."""
    udp = {
        "id": "ndvi",
        "parameters": [{"name": "v", "schema": {"type": "number"}}],
        "returns": {"schema": {"type": "number"}},
        "process_graph": {"x": node("absolute", result=True, x={"from_parameter": "v"})},
    }
    plan = compile_graph({"n": node("ndvi", result=True, v=-1)}, user_processes=[udp])
    n = plan.graph.node("n")
    assert (n.process_id, n.literal("x"), str(n.type)) == ("constant", 1, "integer")
    assert pgc.validate(plan.to_openeo(), user_processes=[udp]).ok


def test_cli_compile_with_user_processes(capsys, tmp_path):
    udp = tmp_path / "double.json"
    udp.write_text(
        json.dumps(
            {
                "id": "double",
                "parameters": [{"name": "v", "schema": {"type": "number"}}],
                "returns": {"schema": {"type": "number"}},
                "process_graph": {
                    "m": node("multiply", result=True, x={"from_parameter": "v"}, y=2)
                },
            }
        )
    )
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"d": node("double", result=True, v=3)}))
    code, out = run(capsys, "compile", str(graph), "--udp", str(udp))
    assert code == 0 and "%d = constant(x=6) : integer" in out.out  # inlined and folded


def test_running_a_graph_again_reuses_its_plan_until_the_catalog_changes(monkeypatch):
    from pgc.data.catalog import Catalog, default_catalog
    from pgc.runner import execute

    catalog = Catalog()
    sample = default_catalog().stac("SENTINEL2_L2A_SAMPLE")
    catalog.add({**sample, "id": "S2"})
    graph = {"process_graph": {
        "load": node("load_collection", id="S2", spatial_extent=None, temporal_extent=None,
                     bands=["B04"]),
        "n": {**node("dimension_labels", data={"from_node": "load"}, dimension="bands"),
              "result": True}}}  # fmt: skip
    first = execute(graph, catalog=catalog)
    again = execute(graph, catalog=catalog)
    assert "validate" in first.timings and set(again.timings) == {"plan cache", "run"}
    assert again.plan.graph is first.plan.graph and again.value == first.value == ["B04"]
    catalog.add(
        {
            **sample,
            "id": "S2",
            "cube:dimensions": {
                **sample["cube:dimensions"],
                "bands": {"type": "bands", "values": ["B04", "B99"]},
            },
        }
    )
    changed = execute(graph, catalog=catalog)  # compiled again: the catalog's revision moved
    assert "validate" in changed.timings and changed.plan.graph is not first.plan.graph
    from pgc.options import Options

    assert "validate" in execute(graph, catalog=catalog, options=Options(plan_cache_size=0)).timings
