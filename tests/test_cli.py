"""`pgc validate` (issue 2, CLI): output formats and exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from pgc.cli import main

BAD = """{
  "process_graph": {
    "load": {"process_id": "load_collection", "arguments": {"id": "S2",
             "spatial_extent": null, "temporal_extent": null}},
    "x": {"process_id": "ndvl", "arguments": {"data": {"from_node": "load"}},
          "result": true}
  }
}
"""


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


class _Stdin:
    def __init__(self, text: str):
        import io

        self.buffer = io.BytesIO(text.encode())


def test_valid_example_exits_0(capsys):
    code, out, _ = run(capsys, "validate", str(ROOT / "examples" / "evi.json"))
    assert code == 0 and out.strip().endswith("valid; mode: catalog")  # typed (issue 18)


def test_invalid_graph_human_output(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(BAD)
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert f"{path}:5:11: error ProcessUnsupported at /process_graph/x/process_id" in out
    assert "node 'x' (ndvl)" in out
    assert "hint: did you mean 'ndvi'?" in out
    assert '     5 |     "x": {"process_id": "ndvl"' in out  # the offending line, with a caret
    assert out.strip().endswith("invalid: 1 error; mode: catalog")


def test_invalid_graph_json_output(capsys, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(BAD)
    code, out, _ = run(capsys, "validate", "--json", str(path))
    assert code == 1
    errors = json.loads(out)["errors"]
    assert errors == [
        {
            "code": "ProcessUnsupported",
            "message": "Process 'ndvl' is not available.",
            "pointer": "/process_graph/x/process_id",
            "node_id": "x",
            "process_id": "ndvl",
            "hint": "did you mean 'ndvi'?",
            "line": 5,
            "column": 11,
        }
    ]


def test_stdin_and_not_json(capsys, monkeypatch):
    code, out, _ = run(capsys, "validate", "--json", "-", stdin="{nope", monkeypatch=monkeypatch)
    assert code == 1
    assert json.loads(out)["errors"][0]["code"] == "ProcessGraphInvalid"


def test_warnings_do_not_fail(capsys, monkeypatch):
    graph = {
        "a": {"process_id": "pi", "arguments": {}},
        "b": {"process_id": "e", "arguments": {}, "result": True},
    }
    code, out, _ = run(capsys, "validate", "-", stdin=json.dumps(graph), monkeypatch=monkeypatch)
    assert code == 0 and "warning" in out and "valid (1 warning)" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "/nonexistent/graph.json"],
        ["validate"],
        ["frobnicate"],
        ["validate", "--max-nodes", "0", "x.json"],
        ["validate", "--specs", "/nonexistent", "-"],
    ],
)
def test_usage_and_io_errors_exit_2(capsys, argv, monkeypatch):
    code, _, err = run(capsys, *argv, stdin="{}", monkeypatch=monkeypatch)
    assert code == 2 and "error" in err


def test_user_defined_processes_from_a_folder(capsys, tmp_path):
    udps = tmp_path / "udps"
    udps.mkdir()
    (udps / "double.json").write_text(
        json.dumps(
            {
                "id": "double",
                "parameters": [{"name": "v", "schema": {"type": "number"}}],
                "process_graph": {
                    "m": {
                        "process_id": "multiply",
                        "result": True,
                        "arguments": {"x": {"from_parameter": "v"}, "y": 2},
                    }
                },
            }
        )
    )
    graph = tmp_path / "g.json"
    graph.write_text(
        json.dumps({"d": {"process_id": "double", "arguments": {"v": "a"}, "result": True}})
    )
    code, out, _ = run(capsys, "validate", "--json", "--udp", str(udps), str(graph))
    assert code == 1
    assert json.loads(out)["errors"][0]["pointer"] == "/d/arguments/v"


def test_console_script_runs_without_traceback(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 10_000 + "]" * 10_000)
    out = subprocess.run(
        [sys.executable, "-m", "pgc.cli", "validate", str(path)], capture_output=True, text=True
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "ProcessGraphInvalid" in out.stdout


def test_conformance_command_on_a_folder_of_its_own(tmp_path, capsys):
    """Any folder in the json5 format works: two cases, one failing on purpose."""
    (tmp_path / "add.json5").write_text("""{
      id: "add",
      tests: [
        {arguments: {x: 1, y: 2}, returns: 3},
        {arguments: {x: 1, y: {type: "nodata"}}, returns: 5},  // wrong on purpose
      ],
    }""")
    expected = tmp_path / "expected.txt"
    expected.write_text("add.json5#0\nadd.json5#1\n")
    code, out, _ = run(capsys, "conformance", str(tmp_path), "--expected", str(expected))
    assert code == 1
    assert "REGRESSION add.json5#1" in out
    assert out.strip().endswith("conformance: 1 passed, 1 failed, 0 skipped")


def test_bench_runs_the_harness_of_the_checkout(capfd):
    """pgc bench passes its arguments to benchmarks/bench_kernels.py (issue 7), run as
    ``python -m benchmarks`` in its own process (issue 19); a tiny run prints the
    side-by-side table with pgc's rows and the bound."""
    import sys

    from pgc.cli import main

    skip = ["pgc reference", "xarray", "openEO Python stack (warm)"]
    argv = ["bench", "--sizes", "64", "--graphs", "NDVI", "--repeat", "1",
            "--no-peer-first-run", "--skip", *skip]  # fmt: skip
    limit = sys.getrecursionlimit()
    assert main(argv) == 0
    assert sys.getrecursionlimit() == limit  # the peers (which raise it) stay unimported
    out = capfd.readouterr().out
    assert "| bandwidth bound | " in out and "| pgc numba (warm cache) | " in out
