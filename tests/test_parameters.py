"""Parameter values are checked before anything runs (issue 18, item 4).

Graphs are built as users build them, with the official openEO client offline: a
user-defined process declares ``bbox`` (a bounding box, required) and ``factor`` (a number,
default 2); its bare ``flat_graph()`` declares nothing (open parameters). Expectations come
from the openEO API: a value that violates the declared schema is
``ProcessParameterInvalid``, a required parameter without a value
``ProcessParameterRequired``, a name the process does not declare
``ProcessParameterUnsupported`` ("Process '{process}' does not support parameter
'{parameter}'"); a graph that declares nothing does not know its parameters, so a name it
never uses is only a warning.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from conftest import node

import pgc
from pgc.cli import main
from pgc.runner import execute

BBOX = {"west": 600000, "south": 5694000, "east": 600500, "north": 5694500, "crs": 32631}
EXECUTORS = ["reference", "numba", "dask"]


def _documents() -> tuple[dict, dict]:
    """(the user-defined process with declared parameters, its bare flat graph)."""
    from openeo.api.process import Parameter
    from openeo.rest.datacube import DataCube

    bbox = Parameter.bounding_box(name="bbox", description="the area")
    factor = Parameter.number(name="factor", description="a scale", default=2)
    cube = DataCube.load_collection(
        "SENTINEL2_L2A_SAMPLE",
        connection=None,
        spatial_extent=bbox,
        temporal_extent=["2023-06-01", "2023-07-01"],
        bands=["B04"],
    )
    graph = (cube * factor).flat_graph()
    process = {"id": "scaled", "process_graph": graph,
               "parameters": [bbox.to_dict(), factor.to_dict()]}  # fmt: skip
    return process, graph


PROCESS, FLAT = _documents()


def _error(document, parameters, **options):
    with pytest.raises(pgc.PgcError) as info:
        execute(document, parameters=parameters, **options)
    return info.value.diagnostics


def _raw_b04() -> np.ndarray:
    """B04 of the bbox as the collection holds it (the truth the scaled results follow)."""
    graph = {"l": node("load_collection", True, id="SENTINEL2_L2A_SAMPLE", spatial_extent=BBOX,
                       temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04"])}  # fmt: skip
    return pgc.run(graph).values


# -- declared parameters ----------------------------------------------------------------


def test_issue18_declared_bbox_without_north_is_invalid_naming_the_parameter():
    """Before: ``Internal`` (a KeyError deep in load_collection)."""
    partial = {k: v for k, v in BBOX.items() if k != "north"}
    [d] = _error(PROCESS, {"bbox": partial})
    assert d.code == "ProcessParameterInvalid" and d.argument == "bbox"
    assert "'bbox'" in d.message and "'north'" in d.message
    assert d.pointer == "/parameters/0"  # the declaration, which the CLI shows as a line


def test_issue18_declared_bbox_of_the_wrong_type_never_runs_over_the_whole_tile():
    """Before: a string for the bbox was ignored, and the run read the whole tile."""
    [d] = _error(PROCESS, {"bbox": "abc"})
    assert d.code == "ProcessParameterInvalid" and d.argument == "bbox"
    assert "got a string" in d.message


def test_issue18_a_number_parameter_given_a_string_is_invalid_not_internal():
    """Before: ``Internal`` (numpy's UFuncTypeError in multiply)."""
    [d] = _error(PROCESS, {"bbox": BBOX, "factor": "x"})
    assert (d.code, d.argument, d.pointer) == ("ProcessParameterInvalid", "factor", "/parameters/1")


def test_issue18_a_required_parameter_without_value_is_required_before_the_run():
    [d] = _error(PROCESS, {"factor": 3})
    assert (d.code, d.argument) == ("ProcessParameterRequired", "bbox")
    assert "no default" in d.message


def test_issue18_an_undeclared_name_is_unsupported_with_a_hint():
    """A misspelt name would leave the parameter at its default: an error, not a warning."""
    [d] = _error(PROCESS, {"bbox": BBOX, "facter": 3})
    assert (d.code, d.argument, d.severity) == ("ProcessParameterUnsupported", "facter", "error")
    assert d.hint == "did you mean 'factor'?"


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue18_defaults_of_declared_parameters_apply_in_every_executor(executor):
    raw = _raw_b04()
    default = pgc.run(PROCESS, parameters={"bbox": BBOX}, executor=executor)
    given = pgc.run(PROCESS, parameters={"bbox": BBOX, "factor": 3}, executor=executor)
    np.testing.assert_array_equal(default.values, 2 * raw)
    np.testing.assert_array_equal(given.values, 3 * raw)


# -- a graph that declares nothing ------------------------------------------------------


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue18_open_parameters_still_run_with_values(executor):
    out = pgc.run(FLAT, parameters={"bbox": BBOX, "factor": 3}, executor=executor)
    np.testing.assert_array_equal(out.values, 3 * _raw_b04())


def test_issue18_open_bbox_without_north_is_checked_where_it_is_used():
    """The argument's schema (load_collection's spatial_extent) decides. Before: Internal."""
    partial = {k: v for k, v in BBOX.items() if k != "north"}
    [d] = _error(FLAT, {"bbox": partial, "factor": 2})
    assert (d.code, d.argument, d.node_id) == (
        "ProcessParameterInvalid", "spatial_extent", "loadcollection1"
    )  # fmt: skip
    assert "'bbox'" in d.message and "'north'" in d.message
    assert d.pointer == "/loadcollection1/arguments/spatial_extent"


def test_issue18_open_bbox_of_the_wrong_type_never_runs_over_the_whole_tile():
    [d] = _error(FLAT, {"bbox": "abc", "factor": 2})
    assert d.code == "ProcessParameterInvalid" and "'bbox'" in d.message


def test_issue18_open_parameter_in_a_callback_is_checked_against_the_callbacks_argument():
    [d] = _error(FLAT, {"bbox": BBOX, "factor": "x"})
    assert (d.code, d.node_id, d.argument) == ("ProcessParameterInvalid", "multiply1", "y")


def test_issue18_open_parameter_without_value_is_required_before_the_run():
    [d] = _error(FLAT, {"bbox": BBOX})
    assert (d.code, d.node_id) == ("ProcessParameterRequired", "multiply1")
    assert "'factor'" in d.message


def test_issue18_an_unused_name_of_an_open_graph_is_a_warning_and_the_run_goes_ahead():
    result = execute(FLAT, parameters={"bbox": BBOX, "factor": 2, "fctor": 3})
    [w] = result.warnings
    assert (w.code, w.severity, w.hint) == (
        "ProcessParameterUnsupported", "warning", "did you mean 'factor'?"
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pgc.run(FLAT, parameters={"bbox": BBOX, "factor": 2, "fctor": 3})
    assert any("fctor" in str(c.message) for c in caught)


def test_issue18_a_callbacks_own_parameter_hides_a_top_level_one_of_the_same_name():
    """``x`` inside apply's callback is the callback's pixel value, not the graph's ``x``:
    a top-level value named ``x`` is unused (a warning), not checked against multiply."""
    graph = {
        "l": node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=BBOX,
                  temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04"]),
        "a": node("apply", True, data={"from_node": "l"}, process={"process_graph": {
            "m": node("multiply", True, x={"from_parameter": "x"}, y=2)}}),
    }  # fmt: skip
    result = execute(graph, parameters={"x": "not a number"})
    assert [w.code for w in result.warnings] == ["ProcessParameterUnsupported"]


def test_issue18_nulls_in_arrays_are_nodata_not_schema_errors():
    """fit_curve's ``data`` items are numbers in the definition; a labeled array with gaps
    (null, no-data) is what cubes give, and runs."""
    graph = {"f": node("fit_curve", True, data={"from_parameter": "v"}, parameters=[0, 0],
                       function={"process_graph": {"y": node("add", True, x={"from_parameter": "x"},
                                                             y=0)}})}  # fmt: skip
    execute(graph, parameters={"v": [1, None, 5, 7]})  # no error


def test_issue18_values_that_are_not_json_are_not_checked():
    """A cube or NaN an embedding application passes has no schema to fit."""
    assert pgc.run({"a": node("absolute", True, x={"from_parameter": "v"})},
                   parameters={"v": float("nan")}) != 0  # fmt: skip


def test_issue18_values_nesting_past_the_limit_are_invalid_not_a_recursion_error():
    deep: list = []
    for _ in range(2000):
        deep = [deep]
    [d] = _error(PROCESS, {"bbox": deep})
    assert (d.code, d.argument) == ("ProcessParameterInvalid", "bbox")


def test_issue18_parameters_that_are_not_a_mapping_are_invalid():
    [d] = _error(PROCESS, [("bbox", BBOX)])
    assert d.code == "ProcessParameterInvalid"


# -- the command line -------------------------------------------------------------------


def _cli(capsys, tmp_path, document, *argv):
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(document))
    try:
        code = main(["run", str(path), *argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_issue18_cli_invalid_parameter_is_an_openeo_error_on_the_declarations_line(
    capsys, tmp_path
):
    partial = {k: v for k, v in BBOX.items() if k != "north"}
    code, out, _ = _cli(capsys, tmp_path, PROCESS, "--param", f"bbox={json.dumps(partial)}")
    assert code == 1
    assert "error ProcessParameterInvalid at /parameters/0" in out and "'north'" in out
    assert "Traceback" not in out


def test_issue18_cli_invalid_json_after_param_is_a_usage_error_naming_it(capsys, tmp_path):
    """Before: ``{west: 1}`` became a string, and the load ignored it."""
    code, _, err = _cli(capsys, tmp_path, PROCESS, "--param", "bbox={west: 600000}")
    assert code == 2
    assert "--param bbox: the value is not valid JSON" in err


def test_issue18_cli_bare_words_are_still_strings():
    from pgc.cli import _parameter

    assert _parameter("method=near") == ("method", "near")
    assert _parameter('method="near"') == ("method", "near")
    assert _parameter("k=2.5") == ("k", 2.5)


def test_issue18_cli_a_name_given_twice_is_a_usage_error(capsys, tmp_path):
    code, _, err = _cli(capsys, tmp_path, FLAT, "--param", "factor=2", "--param", "factor=3")
    assert code == 2 and "--param factor is given twice" in err


def test_issue18_cli_open_graph_runs_with_param_and_warns_on_stderr(capsys, tmp_path):
    code, out, err = _cli(capsys, tmp_path, FLAT, "--param", f"bbox={json.dumps(BBOX)}",
                          "--param", "factor=2", "--param", "factr=1")  # fmt: skip
    assert code == 0
    assert json.loads(out)  # the values, as today
    assert "warning ProcessParameterUnsupported" in err and "did you mean 'factor'?" in err


def test_a_plan_run_again_checks_every_runs_values():
    """A compiled plan keeps what it declares and where it uses its parameters for its next
    runs (issue 23: the check cost a hot 1000 px EVI as much as its kernel), never the
    verdict on the values: good values, then bad ones, then good again."""
    from pgc.runner import PlanCache

    cache = PlanCache()
    good = execute(PROCESS, parameters={"bbox": BBOX, "factor": 3}, plan_cache=cache)
    [d] = _error(PROCESS, {"bbox": BBOX, "factor": "x"}, plan_cache=cache)
    assert (d.code, d.argument) == ("ProcessParameterInvalid", "factor")
    [d] = _error(PROCESS, {"factor": 3}, plan_cache=cache)
    assert (d.code, d.argument) == ("ProcessParameterRequired", "bbox")
    again = execute(PROCESS, parameters={"bbox": BBOX, "factor": 3}, plan_cache=cache)
    assert again.plan.memo is good.plan.memo and again.plan.reused >= 3  # the same plan
    assert any(key[0] == "declared" for key in good.plan.memo if isinstance(key, tuple))
    np.testing.assert_array_equal(again.value.data.values, good.value.data.values)
