"""The process specs (issue 2): complete, generated from upstream, replaceable."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, UPSTREAM, needs_upstream

import pgc
from pgc.specs import SpecsError, load_specs


def test_all_processes_and_proposals():
    specs = load_specs()
    assert len(specs) == 155
    proposals = [p for p in specs.processes.values() if p.proposal]
    assert len(proposals) == 37
    assert specs.version == "2.0.0-rc.2"
    assert {"load_collection", "reduce_dimension", "ndvi", "cumsum", "load_stac"} <= set(
        specs.ids()
    )


def test_specs_keep_facts_not_prose():
    for path in (ROOT / "specs" / "processes").glob("*.json"):
        text = path.read_text()
        raw = json.loads(text)
        assert raw["summary"] and "\n" not in raw["summary"]
        assert '"description"' not in text, path.name
        assert "examples" not in raw and "links" not in raw
    spec = load_specs()["filter_temporal"]
    assert set(spec.exceptions) == {"DimensionNotAvailable", "TemporalExtentEmpty"}
    assert spec.parameter("dimension").optional and spec.parameter("dimension").default is None
    assert not spec.parameter("extent").has_default


def test_every_process_has_traits():
    specs = load_specs()
    traits = json.loads((ROOT / "specs" / "traits.json").read_text())["processes"]
    assert set(traits) == set(specs.ids())
    assert specs["add"].traits["elementwise"] is True
    assert specs["reduce_dimension"].traits["callbacks"] == {"reducer": "reducer"}
    assert specs["save_result"].traits["pure"] is False


@needs_upstream
def test_specs_are_what_the_importer_writes():
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "import_specs.py"), str(UPSTREAM), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@needs_upstream
def test_upstream_layout_folder_can_replace_specs():
    specs = load_specs(UPSTREAM)
    assert len(specs) == 155 and specs["ndvi"].traits["dims"] == "bands:index"


def _custom_folder(tmp_path):
    (tmp_path / "processes").mkdir(parents=True)
    custom = {
        "id": "my_index",
        "summary": "A back-end's own process.",
        "parameters": [
            {"name": "data", "schema": {"type": "object", "subtype": "datacube"}},
            {"name": "gain", "schema": {"type": "number"}, "optional": True},
        ],
        "returns": {"schema": {"type": "object", "subtype": "datacube"}},
    }
    (tmp_path / "processes" / "my_index.json").write_text(json.dumps(custom))
    return tmp_path


GRAPH = {
    "l": {
        "process_id": "my_index",
        "arguments": {"data": {"from_parameter": "c"}, "gain": "high"},
        "result": True,
    }
}


def test_custom_spec_folder_from_python(tmp_path):
    specs = load_specs(_custom_folder(tmp_path))
    assert specs.ids() == ["my_index"]
    result = pgc.validate(GRAPH, specs=specs)
    assert [(d.code, d.pointer) for d in result.errors] == [
        ("ProcessParameterInvalid", "/l/arguments/gain")
    ]
    # With pgc's own specs the process does not exist.
    assert pgc.validate(GRAPH).errors[0].code == "ProcessUnsupported"


def test_custom_specs_from_cli_and_environment(tmp_path):
    folder = _custom_folder(tmp_path / "specs")
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps(GRAPH))
    cmd = [sys.executable, "-m", "pgc.cli", "validate", "--json", str(graph)]
    by_flag = subprocess.run(cmd + ["--specs", str(folder)], capture_output=True, text=True)
    assert by_flag.returncode == 1
    assert json.loads(by_flag.stdout)["errors"][0]["code"] == "ProcessParameterInvalid"
    env = {"PGC_SPECS": str(folder), "PATH": ""}
    by_env = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert json.loads(by_env.stdout)["errors"][0]["code"] == "ProcessParameterInvalid"


def test_processes_listing_file(tmp_path):
    listing = {
        "processes": [{"id": "only", "parameters": [], "returns": {"schema": {}}}],
        "links": [],
    }
    path = tmp_path / "processes.json"
    path.write_text(json.dumps(listing))
    specs = load_specs(path)
    assert specs.ids() == ["only"]
    assert pgc.validate(
        {"n": {"process_id": "only", "arguments": {}, "result": True}}, specs=specs
    ).ok


def test_missing_spec_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SpecsError, match="no process definitions"):
        load_specs(tmp_path / "nowhere")
