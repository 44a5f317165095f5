"""Issue 19: facts about processes in one place. Every key of specs/traits.json has a reader
(pgc.specs.Traits), the tables that repeat a trait are derived from it or agree with it,
and ``pgc processes [ID]`` shows a process's row across all tables."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

from pgc.cli import main
from pgc.specs import Traits, bundled_traits, load_specs

ABOUT = json.loads((ROOT / "specs" / "traits.json").read_text())["_about"]
RAW = json.loads((ROOT / "specs" / "traits.json").read_text())["processes"]
READERS = {name for name, value in vars(Traits).items() if isinstance(value, property)}
DEFAULTS = {"elementwise": False, "pure": True, "deterministic": True, "callbacks": {}}


def run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


# -- traits ------------------------------------------------------------------------------


def test_every_traits_key_has_a_reader_issue_19():
    """A key the file documents but no code reads is a fact nobody uses (or reads through
    a string that a typo would break silently)."""
    assert set(ABOUT) - {"what"} == READERS
    used = {key for traits in RAW.values() for key in traits}
    assert used <= READERS, used - READERS


def test_every_reader_gives_the_files_value_or_its_default_issue_19():
    specs = load_specs()
    for pid, raw in RAW.items():
        traits = specs[pid].traits
        assert traits == bundled_traits()[pid] == raw
        for key in READERS:
            want = raw.get(key, DEFAULTS.get(key))
            assert getattr(traits, key) == want, (pid, key)


def test_every_process_in_the_traits_is_defined_issue_19():
    specs = load_specs()
    assert set(RAW) <= set(specs.ids())
    assert set(specs.ids()) <= set(RAW)  # and every definition has its traits
    for pid, raw in RAW.items():  # callbacks name parameters the definition has
        assert set(raw.get("callbacks", {})) <= set(specs[pid].parameter_names), pid


# -- tables that repeat a trait ----------------------------------------------------------------


def test_derived_tables_keep_what_they_listed_issue_19():
    """The lists these tables had before issue 19 derived them from the traits."""
    from pgc.analysis.bands import ALONG_DIMENSION, PER_BAND
    from pgc.executors.dask.chunked import LAZY
    from pgc.executors.dask.neighborhood import FORMS  # noqa: F401  (loads the module)

    old_lazy = {"filter_bbox", "filter_temporal", "filter_bands", "filter_spatial"}
    assert old_lazy | {"mask_polygon", "save_result"} == LAZY
    old_per_band = {"apply", "filter_bbox", "filter_spatial", "filter_temporal"}
    old_per_band |= {"apply_kernel", "aggregate_temporal", "aggregate_temporal_period"}
    old_per_band |= {"resample_spatial", "mask_polygon", "trim_cube"}
    assert old_per_band <= PER_BAND
    # mask and anomaly keep the dimensions but read a second cube with its own bands
    assert not PER_BAND & {"mask", "anomaly", "apply_neighborhood", "apply_polygon", "ndvi"}
    old_along = {"reduce_dimension", "apply_dimension", "filter_labels", "rename_labels"}
    assert old_along <= ALONG_DIMENSION


def test_tables_of_implementations_agree_with_the_traits_issue_19():
    """Tables that hold code (numpy functions, kernel templates, folding functions) cannot
    be derived; the trait they imply must hold for every entry."""
    from pgc.executors.dask import reduce as chunked_reduce
    from pgc.executors.reference.scalar import ELEMENTWISE_BINARY, ELEMENTWISE_UNARY
    from pgc.kernels.expr import ARGUMENTS, BINARY, UNARY
    from pgc.kernels.reducers import REDUCERS
    from pgc.passes.fold import FOLDABLE

    traits = bundled_traits()
    for pid in [*ELEMENTWISE_UNARY, *ELEMENTWISE_BINARY, *UNARY, *BINARY]:
        assert traits[pid].elementwise and traits[pid].kind == "scalar", pid
    for pid in [*REDUCERS, *chunked_reduce.NUMERIC, *chunked_reduce.LOGICAL]:
        assert traits[pid].kind == "reducer", pid
    for pid in FOLDABLE:
        t = traits[pid]
        assert t.pure and t.deterministic and t.kind in ("scalar", "constant"), pid
    specs = load_specs()
    for pid in [*UNARY, *BINARY]:  # kernel operands in the definition's order
        assert ARGUMENTS[pid] == specs[pid].parameter_names[: len(ARGUMENTS[pid])], pid


def test_tables_are_named_by_their_role_issue_19():
    import pgc.ir.typerules as typerules
    import pgc.passes.laws as laws

    assert set(typerules.TYPE_RULES) == set(load_specs().ids())
    assert {"apply", "ndvi", "merge_cubes"} <= set(laws.FILTER_LAWS)
    assert not hasattr(typerules, "RULES") and not hasattr(laws, "RULES")


# -- pgc processes ------------------------------------------------------------------------------


def test_pgc_processes_shows_one_row_across_all_tables_issue_19(capsys):
    code, out, err = run(capsys, "processes", "ndvi")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("ndvi: NDVI")
    assert "    nir?: band-name" in lines  # the parameters, optional marked
    assert "  traits: kind=cube, dims=bands:index" in lines
    assert "  type rule: yes" in lines
    text = "\n".join(lines)
    assert "filter laws: filters move below it: ndvi: computed per pixel and date" in text
    assert "reference: pgc.executors.reference.cube." in text
    assert "kernel: fuse-elementwise grows a kernel through it" in text
    assert "dask: the reference on each chunk alone" in text


@pytest.mark.parametrize(
    ("pid", "expected"),
    [
        ("add", ["passes: fold computes it", "kernel: binary template ({0} + {1})"]),
        ("filter_bbox", ["a filter of kind 'bbox'", "dask: the reference's own implementation"]),
        (
            "apply_kernel",
            ["prune-bands: computes each band alone", "dask: each chunk with the halo"],
        ),
        ("mean", ["kernel: a reduction kernel", "dask: none"]),
        ("run_ogcapi", ["requires=external-service", "kernel: none"]),
    ],
)
def test_pgc_processes_rows_issue_19(capsys, pid, expected):
    code, out, _ = run(capsys, "processes", pid)
    assert code == 0
    for text in expected:
        assert text in out, (pid, text)


def test_pgc_processes_lists_every_process_with_its_flags_issue_19(capsys):
    code, out, _ = run(capsys, "processes")
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()}
    assert sorted(rows) == load_specs().ids()
    assert rows["add"] == ["type-rule", "reference", "kernel", "----"]
    assert rows["reduce_dimension"] == ["type-rule", "reference", "kernel", "dask"]
    assert rows["aggregate_spatial_window"] == ["type-rule", "reference", "------", "----"]
    code, out, _ = run(capsys, "processes", "--json")
    listed = {row["id"]: row for row in json.loads(out)}
    assert listed["filter_bbox"] == {
        "id": "filter_bbox", "type-rule": True, "reference": True, "kernel": False, "dask": True
    }  # fmt: skip


def test_pgc_processes_json_and_unknown_ids_issue_19(capsys):
    code, out, _ = run(capsys, "processes", "save_result", "--json")
    row = json.loads(out)
    assert code == 0 and row["traits"] == {"kind": "export", "pure": False}
    assert [p["name"] for p in row["parameters"]] == ["data", "format", "options"]
    code, out, err = run(capsys, "processes", "ndvii")
    assert code == 2 and out == "" and "no process 'ndvii'; did you mean 'ndvi'?" in err


def test_pgc_processes_imports_neither_numba_nor_dask_issue_19():
    script = (
        "import sys; from pgc.cli import main; main(['processes', 'reduce_dimension']); "
        "print(sorted(m for m in ('numba', 'dask') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.splitlines()[-1] == "[]"
