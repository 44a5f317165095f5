"""Validation as deep as the compiler (issue 18, item 1).

``pgc validate`` / ``pgc.validate`` with a catalog type the graph as ``explain`` does, so the
mistakes users make first (a wrong band, a wrong dimension name, an extent without data, an
output format pgc does not write) are reported before anything runs, with their openEO code
and a JSON pointer. Without a catalog (``catalog=None``, ``--no-catalog``) validation checks
structure and schemas only, and says so. The expected codes come from the definitions:
``reduce_dimension`` names ``DimensionNotAvailable``, ``load_collection`` names
``NoDataAvailable``; a band a collection lacks violates the ``bands`` argument
(``ProcessParameterInvalid``; no definition names an exception for it).
"""

from __future__ import annotations

import json

import pytest

openeo = pytest.importorskip("openeo")
from openeo.rest.datacube import DataCube  # noqa: E402

import pgc  # noqa: E402
from pgc.cli import main  # noqa: E402
from pgc.data.catalog import default_catalog  # noqa: E402
from pgc.errors import did_you_mean  # noqa: E402
from pgc.formats import format_titles  # noqa: E402
from pgc.ir.typerules.base import label_hint  # noqa: E402
from pgc.ir.types import Band  # noqa: E402
from pgc.limits import Limits  # noqa: E402

COLLECTION = "SENTINEL2_L2A_SAMPLE"
EXTENT = {"west": 600000, "south": 5690000, "east": 601000, "north": 5691000, "crs": 32631}
SUMMER = ["2023-05-01", "2023-08-01"]


def load(bands=("B04", "B08"), extent=EXTENT, temporal=SUMMER, cid=COLLECTION) -> DataCube:
    return DataCube.load_collection(
        cid,
        connection=None,
        spatial_extent=extent,
        temporal_extent=list(temporal) if temporal else None,
        bands=list(bands),
    )


def saved(cube: DataCube, fmt: str = "GTiff") -> dict:
    return cube.save_result(format=fmt).flat_graph()


def codes(result) -> list[tuple[str, str]]:
    return [(d.code, d.pointer) for d in result.errors]


# The five mistakes of issue 18, as users write them; (code, pointer) with a catalog, and
# what catalog-free validation finds (the table of the issue's note).
MISTAKES = {
    "wrong band": (
        lambda: saved(load(bands=["B4", "B08"])),
        ("ProcessParameterInvalid", "/loadcollection1/arguments/bands"),
        False,
    ),
    "wrong dimension": (
        lambda: saved(load().reduce_dimension(dimension="time", reducer="mean")),
        ("DimensionNotAvailable", "/reducedimension1/arguments/dimension"),
        False,
    ),
    "bbox outside the collection": (
        lambda: saved(
            load(
                bands=["B04"], extent={"west": 0, "south": 0, "east": 1, "north": 1}, temporal=None
            )
        ),
        ("NoDataAvailable", "/loadcollection1/arguments/spatial_extent"),
        False,
    ),
    "temporal extent without dates": (
        lambda: saved(load(bands=["B04"], temporal=["2025-01-01", "2025-02-01"])),
        ("NoDataAvailable", "/loadcollection1/arguments/temporal_extent"),
        False,
    ),
    "unsupported output format": (
        lambda: saved(load().reduce_dimension(dimension="t", reducer="mean"), "PNG"),
        ("FormatUnsupported", "/saveresult1/arguments/format"),
        True,
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_mistake_has_its_code_at_validation_issue_18(mistake):
    """Issue 18: each mistake validated as "valid" and failed only in explain/run."""
    build, expected, catalog_free_catches = MISTAKES[mistake]
    graph = build()
    typed = pgc.validate(graph, catalog=default_catalog())
    assert typed.mode == "catalog"
    assert codes(typed) == [expected]
    free = pgc.validate(graph)
    assert free.mode == "catalog-free"
    assert codes(free) == ([expected] if catalog_free_catches else [])


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_cli_reports_each_mistake_with_its_mode_issue_18(mistake, tmp_path, capsys):
    build, (code, pointer), catalog_free_catches = MISTAKES[mistake]
    path = tmp_path / "g.json"
    path.write_text(json.dumps(build(), indent=1))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"error {code} at {pointer}" in out
    assert out.strip().splitlines()[-1] == f"{path}: invalid: 1 error; mode: catalog"
    assert main(["validate", "--json", str(path)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "catalog"
    assert [(e["code"], e["pointer"]) for e in report["errors"]] == [(code, pointer)]
    assert report["errors"][0]["line"] > 1  # placed in the text like the front end's errors
    free = main(["validate", "--no-catalog", "--json", str(path)])
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == "catalog-free"
    assert (free == 1) == catalog_free_catches == bool(report["errors"])


def test_catalog_free_mode_for_collections_pgc_does_not_have_issue_18(tmp_path, capsys):
    graph = saved(load(cid="SENTINEL2_L2A_SOMEWHERE_ELSE"))
    free = pgc.validate(graph)
    assert free.ok and free.mode == "catalog-free"
    typed = pgc.validate(graph, catalog=default_catalog())
    assert codes(typed) == [("CollectionNotFound", "/loadcollection1/arguments/id")]
    path = tmp_path / "g.json"
    path.write_text(json.dumps(graph))
    assert main(["validate", "--no-catalog", str(path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"{path}: valid; mode: catalog-free")
    assert main(["validate", str(path)]) == 1
    assert "CollectionNotFound" in capsys.readouterr().out


def test_valid_graphs_stay_valid_in_both_modes_issue_18():
    """Common band names are band names (issue 18, item 2): no error in either mode."""
    common = load(bands=["red", "nir"]).ndvi()
    filtered = load(bands=["B04", "B08"]).filter_bands(["nir", "red"])
    by_label = load().reduce_dimension(
        dimension="bands",
        reducer=lambda d: d.array_element(label="nir") - d.array_element(label="red"),
    )
    for cube in (common, filtered, by_label):
        graph = saved(cube)
        assert pgc.validate(graph).ok
        typed = pgc.validate(graph, catalog=default_catalog())
        assert typed.ok, typed.errors


def test_existing_callers_get_catalog_free_validation_issue_18():
    """``pgc.validate(doc)`` without ``catalog=`` behaves as before: no types, no catalog."""
    graph = saved(load(bands=["B4"]))
    result = pgc.validate(graph)
    assert result.ok and result.mode == "catalog-free" and result.diagnostics == []


def test_structural_errors_come_before_types_issue_18():
    """The IR is built only from a structurally valid graph: a misspelt process is reported
    alone, the wrong band once the structure is fixed."""
    graph = saved(load(bands=["B4"]))
    graph["saveresult1"]["process_id"] = "save_reslt"
    typed = pgc.validate(graph, catalog=default_catalog())
    assert typed.mode == "catalog"
    assert codes(typed) == [("ProcessUnsupported", "/saveresult1/process_id")]


def test_typed_errors_merge_with_warnings_in_document_order_issue_18():
    graph = saved(load(bands=["B4"]))
    graph["unused"] = {"process_id": "pi", "arguments": {}}
    typed = pgc.validate(json.dumps(graph, indent=1), catalog=default_catalog())
    assert [(d.code, d.severity) for d in typed.diagnostics] == [
        ("ProcessParameterInvalid", "error"),
        ("ProcessGraphInvalid", "warning"),  # the unused node, after the load in the text
    ]
    assert typed.errors[0].line == 5  # placed in the text


def test_budget_is_checked_at_validation_issue_18():
    """The plan that would run is over the budget: ProcessGraphComplexity at validation,
    as at compile time; catalog-free validation cannot know the size."""
    graph = saved(load())  # 2 bands x 3 dates x 100 x 100 uint16: 120 kB
    small = Limits(max_cube_bytes=10_000)
    typed = pgc.validate(graph, catalog=default_catalog(), limits=small)
    assert [d.code for d in typed.errors] == ["ProcessGraphComplexity"]
    assert typed.errors[0].pointer == "/loadcollection1"
    assert pgc.validate(graph, limits=small).ok


def test_parameters_without_values_are_fine_with_a_catalog_issue_18():
    """openEO /validation must not report parameters of a user-defined process that have
    no value yet: the typed stage leaves them unknown."""
    process = {
        "parameters": [
            {"name": "bbox", "description": "area", "schema": {"type": "object"}},
            {"name": "fmt", "description": "format", "schema": {"type": "string"}},
        ],
        "process_graph": {
            "l": {
                "process_id": "load_collection",
                "arguments": {
                    "id": COLLECTION,
                    "spatial_extent": {"from_parameter": "bbox"},
                    "temporal_extent": None,
                },
            },
            "s": {
                "process_id": "save_result",
                "arguments": {"data": {"from_node": "l"}, "format": {"from_parameter": "fmt"}},
                "result": True,
            },
        },
    }
    typed = pgc.validate(process, catalog=default_catalog())
    assert typed.ok and typed.mode == "catalog", typed.errors


# ---------------------------------------------------------------------------------------
# Output formats (item 1.2)


@pytest.mark.parametrize("fmt", ["GTiff", "gtiff", "GTIFF", "GeoTIFF", "netCDF", "NETCDF", "json"])
def test_output_format_names_are_case_insensitive_issue_18(fmt):
    graph = saved(load(), fmt)
    assert pgc.validate(graph).ok
    assert pgc.validate(graph, catalog=default_catalog()).ok


def test_unsupported_format_lists_the_formats_pgc_writes_issue_18():
    graph = saved(load(), "JPEG")
    (error,) = pgc.validate(graph).errors
    assert (error.code, error.argument, error.node_id) == (
        "FormatUnsupported",
        "format",
        "saveresult1",
    )
    assert format_titles() in error.message and "GeoJSON" in error.message
    (misspelt,) = pgc.validate(saved(load(), "GTif")).errors
    assert misspelt.code == "FormatUnsupported" and misspelt.hint == "did you mean 'GTiff'?"


def test_unsupported_format_fails_before_running_issue_18():
    """pgc.compile (so explain and run) refuses it too, before any pixel is read."""
    with pytest.raises(pgc.PgcError) as err:
        pgc.compile(saved(load(), "PNG"))
    assert err.value.code == "FormatUnsupported"


# ---------------------------------------------------------------------------------------
# "did you mean" for band names (item 1.3)


def test_did_you_mean_is_one_helper_issue_18():
    assert did_you_mean("ndvl", ["ndvi", "add"]) == "did you mean 'ndvi'?"
    assert did_you_mean("NIR", ["nir", "red"]) == "did you mean 'nir'?"  # case ignored
    assert did_you_mean("B0", ["B01", "B02", "B03", "SCL"], n=3) == (
        "did you mean 'B01', 'B02' or 'B03'?"
    )
    assert did_you_mean("xyz", ["ndvi"]) is None and did_you_mean(3, ["ndvi"]) is None


def test_label_hint_offers_band_and_common_names_issue_18():
    bands = [Band("B04", "red"), Band("B08", "nir")]
    assert label_hint("B4", ["B04", "B08"], bands) == "did you mean 'B04'?"
    assert label_hint("nri", ["B04", "B08"], bands) == "did you mean 'nir'?"
    assert label_hint("zzz", ["B04", "B08"], bands) is None


WRONG_BANDS = {
    "load_collection": (
        lambda: saved(load(bands=["B4", "B08"])),
        "/loadcollection1/arguments/bands",
        "did you mean 'B04'?",
    ),
    "filter_bands": (
        lambda: saved(load().filter_bands(["nri"])),
        "/filterbands1/arguments/bands",
        "did you mean 'nir'?",
    ),
    "array_element": (
        lambda: saved(
            load().reduce_dimension(
                dimension="bands", reducer=lambda d: d.array_element(label="rde")
            )
        ),
        "/reducedimension1/arguments/reducer/process_graph/arrayelement1/arguments/label",
        "did you mean 'red'?",
    ),
}


@pytest.mark.parametrize("where", list(WRONG_BANDS))
def test_wrong_band_names_get_a_hint_issue_18(where):
    build, pointer, hint = WRONG_BANDS[where]
    (error,) = pgc.validate(build(), catalog=default_catalog()).errors
    assert error.pointer == pointer
    assert error.hint == hint
