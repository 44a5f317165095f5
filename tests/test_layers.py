"""The package's structure holds (issue 19): layers checked by import-linter, and no module
importing another module's private names."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.skipif(shutil.which("lint-imports") is None, reason="import-linter not installed")
def test_the_layers_hold():
    done = subprocess.run(["lint-imports"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 kept, 0 broken" in done.stdout


def test_the_cycles_issue_19_found_are_gone():
    """The import chains that made seven packages one cycle (data -> executors, kernels ->
    executors, executors -> federation ...) are gone, lazy imports included; the graph the
    contract checks does see chains (cli -> executors)."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("pgc")

    def chains(importer, imported):
        return graph.find_shortest_chains(importer=importer, imported=imported)

    assert chains("pgc.cli", "pgc.executors")
    for low, high in [("pgc.data", "pgc.executors"), ("pgc.kernels", "pgc.executors"),
                      ("pgc.kernels", "pgc.data"), ("pgc.executors", "pgc.federation"),
                      ("pgc.passes", "pgc.executors"), ("pgc.compiler", "pgc.runner")]:  # fmt: skip
        assert not chains(low, high), (low, high)


def test_no_private_name_is_imported_across_modules():
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "check_private_imports.py")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.skipif(shutil.which("mypy") is None, reason="mypy not installed")
def test_the_public_surface_type_checks():
    """Issue 19: pgc ships py.typed, and what a back-end embeds (pgc, Session, Options,
    Plan, RunResult, the executor registry and process tables) type-checks."""
    assert (ROOT / "pgc" / "py.typed").is_file()
    done = subprocess.run(["mypy"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
