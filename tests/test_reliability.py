"""The map from ``shared/RELIABILITY.md`` to the tests that keep its promises (issue 16).

:data:`PROMISES` has one row per promise pgc makes or relies on in that document, section by
section (error codes, structural rules, numerics of fused kernels, openEO semantics,
untrusted input, files, network and budgets): the promise in short, and the test that would
fail if it broke, as ``tests/FILE.py::test_name`` (``[case-id]`` names one case of a
parametrized corpus, e.g. of ``test_bad_corpus.py``) or as a file of the hostile corpus,
``tests/hostile/CLASS/NAME.json`` (run by ``test_hostile.py``). Where no other test checked a
promise, the test is here, below the table. A promise that does not hold today has its test
marked ``xfail(strict=True)`` with the reason, so that fixing pgc turns it into a failure
that asks for the mark to go.

:func:`test_every_promise_has_a_test` checks that every row names a test function that
exists (module level or in a class) or a corpus file that exists, and that every test of
this file is in the table. A new promise in ``RELIABILITY.md`` needs a row here, and a test.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import json
import logging
import math
import os
import signal
import socket
import stat
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import ROOT, node

import pgc
from pgc.executors.values import Cube
from pgc.runner import execute, with_kernels

BAD = "tests/test_bad_corpus.py::test_bad_graph_is_rejected_with_code_and_pointer"
HOSTILE = "tests/hostile/"
HERE = "tests/test_reliability.py::"

PROMISES: list[tuple[str, str]] = [
    # -- openEO error codes (API errors.json) ---------------------------------------------
    ("ProcessGraphMissing: no process_graph", f"{BAD}[doc-empty-object]"),
    ("ProcessGraphMissing: an empty process_graph", f"{BAD}[doc-empty-process-graph]"),
    ("ProcessGraphInvalid: bad JSON", f"{BAD}[text-not-json]"),
    ("ProcessGraphInvalid: a node that is not an object", f"{BAD}[node-not-object]"),
    ("ProcessGraphInvalid: no result node", f"{BAD}[no-result-node]"),
    ("ProcessGraphInvalid: several result nodes", f"{BAD}[two-result-nodes]"),
    ("ProcessGraphInvalid: several result nodes in a child graph",
     f"{BAD}[two-result-nodes-in-callback]"),
    ("ProcessGraphInvalid: no result node in a child graph", f"{BAD}[no-result-node-in-callback]"),
    ("ProcessGraphInvalid: a dangling from_node", f"{BAD}[from-node-missing]"),
    ("ProcessGraphInvalid: an out-of-scope from_node", f"{BAD}[from-node-to-parent-graph]"),
    ("ProcessGraphInvalid: cycles", f"{BAD}[cycle-two-nodes]"),
    ("ProcessGraphInvalid: bad reference objects", f"{BAD}[reference-extra-key]"),
    ("ProcessGraphInvalid: structural limits", f"{BAD}[limit-max-nodes]"),
    ("ProcessUnsupported: unknown process_id in the namespace", f"{BAD}[unknown-process]"),
    ("ProcessUnsupported: the message names the process and the namespace",
     HERE + "test_unknown_process_message_names_process_and_namespace"),
    ("ProcessParameterUnsupported: an argument the process does not have",
     f"{BAD}[unknown-argument]"),
    ("ProcessParameterRequired: a required argument is missing",
     f"{BAD}[missing-required-argument]"),
    ("ProcessParameterRequired: an unbound from_parameter at run time",
     "tests/test_reference.py::test_unbound_parameter_at_run_time_points_at_the_node"),
    ("ProcessParameterRequired: an unbound from_parameter when validating for a run",
     f"{BAD}[unbound-parameter-at-run-time]"),
    ("ProcessParameterInvalid: a value violating the schema", f"{BAD}[number-is-string]"),
    ("ProcessParameterInvalid: a callback where a value is expected", f"{BAD}[callback-as-value]"),
    ("ProcessParameterInvalid: a value where a callback is expected", f"{BAD}[value-as-callback]"),
    ("ProcessParameterInvalid: a wrong callback signature (returns the wrong type)",
     f"{BAD}[callback-returns-wrong-type]"),
    ("ProcessGraphComplexity: estimated cost over the budget",
     HOSTILE + "budget/resample_to_a_tenth_of_a_millimetre.json"),
    ("CollectionNotFound: unknown collection",
     "tests/test_compile.py::test_unknown_collection_is_collection_not_found"),
    ("RequestTimeout: the execution deadline", HOSTILE + "budget/time_budget.json"),
    ("FeatureUnsupported: a capability switched off (UDFs)",
     "tests/test_udf.py::test_off_by_default_the_udf_does_not_run"),
    ("Internal: user input never produces it (any JSON gives diagnostics only)",
     "tests/test_properties.py::test_any_json_document_gives_diagnostics_only"),
    ("Internal: user input never produces it (mutated graphs give diagnostics only)",
     "tests/test_properties.py::test_mutated_graphs_give_diagnostics_only"),
    ("Process definitions' own exceptions at compile time (DimensionNotAvailable, "
     "TemporalExtentEmpty)", "tests/test_typerules.py::test_filter_temporal_errors"),
    ("Process definitions' own exceptions at compile time (MinMaxSwapped)",
     f"{BAD}[clip-min-greater-than-max]"),
    ("Process definitions' own exceptions at compile time (BandFilterParameterMissing)",
     f"{BAD}[filter-bands-without-bands]"),
    ("ProcessParameterMissing and ProcessArgument* (not standard) are never used",
     HERE + "test_no_nonstandard_error_codes"),
    ("/validation: always a list of errors, empty = valid",
     HERE + "test_validation_is_a_list_of_errors_empty_when_valid"),
    ("/validation: parameters of a user-defined process without a value are not reported",
     "tests/test_validate.py::test_declared_parameters_need_no_value_when_validating"),
    # -- structural rules -------------------------------------------------------------------
    ("Exactly one result node in every graph (three are reported)", f"{BAD}[three-result-nodes]"),
    ("The result node need not be a sink", HERE + "test_the_result_node_need_not_be_a_sink"),
    ("from_node refers to the same graph only: not the parent",
     f"{BAD}[from-node-to-parent-graph]"),
    ("from_node refers to the same graph only: not a child", f"{BAD}[from-node-to-child-graph]"),
    ("from_parameter resolves from the innermost scope outward (validation)",
     "tests/test_validate.py::test_callback_parameters_resolve_outward"),
    ("from_parameter resolves from the innermost scope outward (running: inner shadows outer)",
     HERE + "test_the_innermost_parameter_wins_when_running"),
    ("An unbound from_parameter is an error at run time, not at validation of a UDP",
     "tests/test_validate.py::test_running_needs_values_for_required_parameters"),
    ("A bare graph's unbound parameters: warnings when validating, required when running",
     "tests/test_validate.py::test_bare_graph_parameters_are_warnings_then_required_when_running"),
    ("References can sit at any depth inside arrays and objects (validation)",
     "tests/test_validate.py::test_references_nested_in_arrays_and_objects_are_resolved"),
    ("References at any depth: a dangling one deep inside is found",
     f"{BAD}[dangling-reference-nested-in-objects-and-arrays]"),
    ("A plain object must not use from_node, from_parameter, process_graph",
     HERE + "test_reserved_keys_in_plain_objects_are_refused"),
    ("Reference objects have no other keys", f"{BAD}[reference-extra-key]"),
    ("Node ids have no pattern (unicode, spaces, '1')", HERE + "test_node_ids_have_no_pattern"),
    ("Node ids have no pattern ('/' and '~' escaped in pointers)",
     f"{BAD}[node-id-with-slash-and-tilde]"),
    ("Node ids have no pattern (the empty string)", f"{BAD}[node-id-empty-string]"),
    ("References must be strings (from_node)", f"{BAD}[from-node-not-string]"),
    ("References must be strings (from_parameter)", f"{BAD}[from-parameter-not-string]"),
    ("namespace: null = user-defined first, backend = predefined only, user = user-defined only",
     "tests/test_validate.py::test_namespaces_choose_user_or_predefined_processes"),
    ("namespace user with a predefined process is ProcessUnsupported",
     f"{BAD}[node-user-namespace-predefined-process]"),
    ("Others' failure avoided: cycles are not accepted (not reached from the result)",
     "tests/test_robustness.py::test_cycle_among_nodes_the_result_does_not_reach"),
    ("Others' failure avoided: cycles are not accepted (in a callback)",
     f"{BAD}[cycle-in-callback]"),
    ("Others' failure avoided: cycles among user-defined processes",
     "tests/test_robustness.py::test_user_defined_processes_calling_each_other_in_a_cycle"),
    ("Others' failure avoided: result-less callbacks are not accepted",
     f"{BAD}[no-result-node-in-callback]"),
    ("Others' failure avoided: an empty callback is not accepted", f"{BAD}[empty-callback-graph]"),
    ("Others' failure avoided: a reference nested two levels in an array is resolved when run",
     HERE + "test_a_reference_nested_two_levels_gives_its_value"),
    ("Others' failure avoided: a 300-node chain validates (iterative walk, 3000 nodes)",
     "tests/test_robustness.py::test_chain_of_3000_nodes_is_valid"),
    ("Others' failure avoided: long chains run, no node dropped (3000 nodes, each counted)",
     HERE + "test_a_3000_node_chain_runs_and_keeps_every_node"),
    ("Others' failure avoided: a diamond ladder validates in linear time",
     "tests/test_robustness.py::test_diamond_ladder_of_40_levels_is_valid"),
    ("Others' failure avoided: a diamond ladder's error at the bottom found in linear time",
     "tests/test_robustness.py::test_diamond_ladder_as_text_with_an_error_at_the_top"),
    ("Others' failure avoided: a diamond ladder runs with shared nodes kept shared",
     HERE + "test_a_diamond_ladder_runs_with_shared_nodes_kept_shared"),
    # -- numerics of fused kernels -----------------------------------------------------------
    ("No fastmath: isnan in a fused kernel sees NaN",
     HERE + "test_is_nan_in_a_fused_kernel_sees_nan"),
    ("No fastmath, NaN and infinities exact: random kernels equal the reference",
     "tests/test_kernels.py::test_apply_kernels_equal_the_reference"),
    ("error_model numpy: division by zero in a kernel gives inf/NaN, never an exception",
     HERE + "test_division_by_zero_in_a_kernel_gives_infinities"),
    ("No integer arithmetic on band data: uint16 subtraction does not wrap",
     HERE + "test_uint16_subtraction_in_a_kernel_does_not_wrap"),
    ("No integer arithmetic on band data: integer bands promoted like the reference",
     "tests/test_kernels.py::test_integer_and_float32_bands_are_promoted_like_the_reference"),
    ("Constants are typed in the compute dtype (float32 policy)",
     HERE + "test_constants_are_typed_in_the_compute_dtype"),
    ("Compare exactly where exact, a few ulp for transcendentals (band math)",
     "tests/test_kernels.py::test_band_math_kernels_equal_the_reference"),
    ("Same reduction algorithm on both sides: fused regions equal the reference",
     "tests/test_fuse.py::test_fused_regions_equal_the_reference"),
    ("mod by zero, round half-to-even, int truncates, power of a negative base is real",
     HERE + "test_mod_round_int_and_power_follow_the_definitions"),
    ("mod has the sign of the divisor",
     "tests/test_reference_values.py::test_mod_has_the_sign_of_the_divisor"),
    ("The definitions' examples (round, int, mod ...) give their results",
     "tests/test_definition_examples.py::test_definition_example"),
    # -- openEO semantics --------------------------------------------------------------------
    ("Any no-data operand of arithmetic gives no-data",
     "tests/test_reference_nodata.py::test_scalar_processes_pass_nodata_and_nan_through"),
    ("Any no-data operand gives no-data (cube band math)",
     "tests/test_reference_nodata.py::test_ndvi_nodata_in_either_band_gives_nodata_nan_gives_nan"),
    ("Reducers skip no-data by default (ignore_nodata)",
     "tests/test_reference_nodata.py::test_reducers_over_time_skip_nodata_by_default"),
    ("NaN is a value, not no-data",
     "tests/test_reference_values.py::test_nan_is_a_value_not_no_data"),
    ("NaN is not no-data in cubes", "tests/test_reference.py::test_nodata_is_not_nan"),
    ("and/or are three-valued", "tests/test_reference_values.py::test_values"),
    ("if is lazy: the branch not taken is not computed", HERE + "test_if_is_lazy"),
    ("temporal_extent is left-closed (types)",
     "tests/test_typerules.py::test_filter_temporal_keeps_the_labels_in_the_left_closed_interval"),
    ("temporal_extent is left-closed (running)",
     HERE + "test_temporal_extent_is_left_closed_when_running"),
    ("Raster filters keep a pixel when its centre is inside",
     "tests/test_catalog.py::test_pixel_centre_rule"),
    ("Pixel-centre rule when rasterizing geometries",
     "tests/test_reference.py::test_crop_features_match_numpy"),
    # -- untrusted input ---------------------------------------------------------------------
    ("No eval/exec of anything a user wrote", HERE + "test_no_eval_or_exec_of_user_text"),
    ("Generated kernels use generated identifiers only",
     HERE + "test_kernels_hold_generated_identifiers_only"),
    ("Constants are validated numbers (no NaN literal)", f"{BAD}[text-nan]"),
    ("Constants are validated numbers (no 1e400)", f"{BAD}[text-float-1e400]"),
    ("run_udf is off unless the embedding application enables it",
     "tests/test_udf.py::test_off_by_default_the_udf_does_not_run"),
    ("run_udf is off unless enabled, in the CLI too",
     "tests/test_udf.py::test_cli_runs_python_udfs_only_when_asked"),
    ("run_udf is an opaque step, never fused across", HERE + "test_run_udf_is_never_fused_across"),
    ("The compiler does no network I/O (load_stac, load_url, remote namespaces)",
     HERE + "test_no_network_io_for_urls_or_remote_namespaces"),
    ("URLs go through the embedding application's resolver",
     "tests/test_access.py::test_a_collection_inside_loads"),
    ("A URL no resolver approved is not fetched", HOSTILE + "reads/stac_collection_http.json"),
    ("Limit: nodes", "tests/test_robustness.py::test_100000_nodes_hit_the_default_limit"),
    ("Limit: nodes, counting callbacks", f"{BAD}[limit-max-nodes-counts-callbacks]"),
    ("Limit: nesting depth of callbacks",
     "tests/test_robustness.py::test_nested_callbacks_deeper_than_the_limit"),
    ("Limit: JSON depth", f"{BAD}[limit-max-json-depth]"),
    ("Limit: string sizes", f"{BAD}[limit-max-string-length]"),
    ("Limit: array sizes (values in the document, elements a process makes)",
     HERE + "test_array_sizes_are_limited_with_a_clear_error"),
    ("Limit: distinct kernels per request", HERE + "test_distinct_kernels_per_request_are_limited"),
    ("Cost estimates before execution", "tests/test_compile.py::test_cube_sizes_are_estimated"),
    ("Errors never echo stack traces (CLI)",
     "tests/test_cli.py::test_console_script_runs_without_traceback"),
    ("Errors never echo stack traces (hostile inputs through the CLI)",
     "tests/test_hostile.py::test_hostile_case"),
    ("Errors never echo whole arguments; user strings are truncated",
     HERE + "test_user_strings_are_truncated_in_messages"),
    ("Kernel caches are keyed by a structural hash",
     HERE + "test_kernel_cache_is_keyed_by_structure"),
    ("Kernel caches are bounded", HERE + "test_the_kernel_cache_is_bounded"),
    ("Kernel caches are kept in a private directory",
     HERE + "test_the_kernel_cache_is_a_private_directory"),
    # -- files, network and budgets ----------------------------------------------------------
    ("Every path is resolved (symlinks included) inside an allowed folder",
     "tests/test_access.py::test_check_resolves_symlinks_and_hides_paths"),
    ("A path outside the allowed folders is refused", HOSTILE + "reads/url_outside.json"),
    ("A symlink out of the allowed folder is refused", HOSTILE + "reads/url_symlink.json"),
    ("A STAC asset href is user input: it stays in the collection folder",
     "tests/test_access.py::test_load_stac_hrefs_stay_in_the_collection_folder"),
    ("A STAC item link is user input", HOSTILE + "reads/stac_item_link_outside.json"),
    ("A VRT inside a file is user input", HOSTILE + "reads/stac_vrt_asset.json"),
    ("GDAL is opened with an explicit driver list",
     "tests/test_access.py::test_open_raster_uses_the_gtiff_driver_only"),
    ("User strings never reach GDAL as /vsi* prefixes",
     "tests/test_access.py::test_check_href_refuses_urls_gdal_paths_and_escapes"),
    ("No /vsicurl from a STAC href", HOSTILE + "reads/stac_vsicurl_query_href.json"),
    ("No VRT XML from user input (load_url)", HOSTILE + "reads/url_vrt_named_tif.json"),
    ("No network read from a VRT's source", HOSTILE + "reads/stac_vrt_asset_network.json"),
    ("Network only for approved URLs: not loopback", HOSTILE + "reads/url_http.json"),
    ("Network only for approved URLs: an asset href to loopback",
     HOSTILE + "reads/stac_http_href.json"),
    ("Never link-local / metadata addresses (169.254.169.254)",
     HERE + "test_no_network_io_for_urls_or_remote_namespaces"),
    ("User strings never become path components unsanitised (any string)",
     "tests/test_safepaths.py::test_any_string_is_one_safe_component"),
    ("User strings never become path components (hostile names)",
     "tests/test_safepaths.py::test_hostile_names"),
    ("Node ids never choose where pgc writes", HOSTILE + "writes/save_node_id_traversal.json"),
    ("Node ids never leave the local federation's folder",
     "tests/test_safepaths.py::test_the_local_federation_writes_only_inside_its_folder"),
    ("Member and job ids never leave compile --federation -o DIR",
     "tests/test_safepaths.py::test_compile_federation_writes_only_inside_its_folder"),
    ("Member ids climbing out ('../')", HOSTILE + "writes/federation_member_id_dotdot.json"),
    ("Band names never become file paths", HERE + "test_band_names_never_reach_a_file_path"),
    ("pgc never deletes what it did not create",
     "tests/test_safepaths.py::"
     "test_targets_that_exist_need_overwrite_and_foreign_folders_are_never_deleted"),
    ("pgc never overwrites unless told to",
     "tests/test_safepaths.py::test_files_that_exist_are_replaced_only_with_overwrite"),
    ("Zarr into an existing folder does not delete it",
     HOSTILE + "writes/zarr_into_existing_folder.json"),
    ("--overwrite never deletes a folder pgc did not write",
     HOSTILE + "writes/zarr_overwrite_foreign_folder.json"),
    ("Budget checked from the types before anything runs (array lengths)",
     HOSTILE + "budget/array_create_repeat_1e12.json"),
    ("Budget checked from the types (kernel sizes)", HOSTILE + "budget/apply_kernel_1001.json"),
    ("Budget checked from the types (label counts)",
     HOSTILE + "budget/aggregate_temporal_100k_intervals.json"),
    ("Budget enforced while running", HOSTILE + "budget/array_create_parameter_repeat.json"),
    ("Over budget is ProcessGraphComplexity naming the node and its estimated size",
     HERE + "test_over_budget_names_the_node_and_its_size"),
    ("Budget: wall time", HOSTILE + "budget/time_budget.json"),
    ("Oversize input is rejected before structures proportional to it are built",
     HERE + "test_oversize_input_is_rejected_before_it_is_built"),
    ("Oversize text is rejected by its size", "tests/test_source.py::test_size_limit"),
    ("UDFs run in a separate process", "tests/test_udf.py::test_the_udf_runs_in_another_process"),
    ("UDFs run in a separate process group (nothing survives, even setsid)",
     "tests/test_udf_isolation.py::test_no_process_survives_a_setsid_double_fork"),
    ("UDF processes do not outlive the call", HOSTILE + "udf/setsid_double_fork_survivor.json"),
    ("UDFs have a time limit",
     "tests/test_udf.py::test_a_udf_that_sleeps_is_stopped_by_the_timeout"),
    ("UDFs have a memory limit",
     "tests/test_udf_isolation.py::test_a_udf_past_its_memory_limit_fails_with_udferror"),
    ("UDFs have no network",
     "tests/test_udf_isolation.py::test_a_udf_cannot_reach_a_loopback_server"),
    ("UDFs cannot write the parent's files",
     "tests/test_udf_isolation.py::test_a_udf_cannot_write_outside_its_scratch_folder"),
    ("UDFs cannot read the parent's private files",
     HERE + "test_a_udf_cannot_read_pgcs_private_files"),
    ("UDFs cannot read the parent's environment",
     "tests/test_udf_isolation.py::test_a_udf_cannot_read_the_environment_of_pgc"),
    ("UDFs are not given the parent's environment",
     "tests/test_udf.py::test_the_udf_does_not_see_the_parents_environment"),
    ("What the machine cannot enforce is reported",
     "tests/test_udf_isolation.py::test_isolation_reports_every_protection"),
    ("CLI and API catch at their boundary: Internal, a short message, the traceback logged",
     HERE + "test_an_unexpected_exception_is_internal_at_the_api_and_cli_boundary"),
    ("Small graphs that raised in Python end in openEO codes",
     HOSTILE + "tracebacks/date_shift_huge.json"),
]  # fmt: skip


# ---------------------------------------------------------------------------------------
# The table itself


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _defined_tests(path: Path) -> set[str]:
    tree = _tree(path)
    names = set()
    for item in tree.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(item.name)
        elif isinstance(item, ast.ClassDef):
            names |= {
                f.name for f in item.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            }
    return names


@functools.cache
def _string_constants(path: Path) -> set[str]:
    tree = _tree(path)
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def test_every_promise_has_a_test():
    assert len(PROMISES) == len(set(PROMISES)), "a promise is listed twice"
    missing = []
    for promise, where in PROMISES:
        assert promise.strip() and where.strip()
        if "::" not in where:
            if not (ROOT / where).is_file() or not where.endswith(".json"):
                missing.append(f"{where} (corpus file) for: {promise}")
            continue
        file, _, name = where.partition("::")
        case = None
        if name.endswith("]"):
            name, _, case = name[:-1].partition("[")
        path = ROOT / file
        if not path.is_file():
            missing.append(f"{file} for: {promise}")
            continue
        if name not in _defined_tests(path) or not name.startswith("test"):
            missing.append(f"{file}::{name} for: {promise}")
        elif case is not None and case not in _string_constants(path):
            missing.append(f"{file}::{name}[{case}] (no such case id) for: {promise}")
    assert not missing, "promises without their test:\n" + "\n".join(missing)
    # every test of this file backs a promise
    mine = {w.partition("::")[2] for _, w in PROMISES if w.startswith(HERE)}
    here = {n for n in _defined_tests(Path(__file__)) if n.startswith("test_")}
    assert here - {"test_every_promise_has_a_test"} <= mine, "tests here without a row"


# ---------------------------------------------------------------------------------------
# Helpers

X = {"from_parameter": "x"}


def ref(node_id: str) -> dict:
    return {"from_node": node_id}


def param(name: str) -> dict:
    return {"from_parameter": name}


@contextlib.contextmanager
def within(seconds: float):
    """Fail (rather than hang) when the block takes longer than ``seconds``: what an
    exponential walk or a recursion would do."""

    def expired(*_):
        raise AssertionError(f"took longer than {seconds} s")

    before = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def line_cube(values, dtype: str = "float64") -> Cube:
    """A (t, y, x) cube of one row of ``values``, all valid."""
    data = np.array(values, dtype=dtype).reshape(1, 1, -1)
    coords = {"t": [0], "y": [0.0], "x": [float(i) for i in range(data.shape[-1])]}
    return Cube(xr.DataArray(data, dims=("t", "y", "x"), coords=coords), xr.DataArray(True))


def apply_graph(nodes: dict) -> dict:
    """apply(c, nodes) with the cube as parameter ``c``."""
    process = node("apply", result=True, data=param("c"), process={"process_graph": nodes})
    return {"parameters": [{"name": "c", "schema": {}}], "process_graph": {"r": process}}


def run_kernel(graph: dict, cube: Cube, executor: str = "numba"):
    result = execute(graph, parameters={"c": cube}, pipeline="none", executor=executor)
    if executor == "numba":
        assert result.kernels is not None and result.kernels.kernels, "no kernel ran"
    return result


def errors_of(exc: pgc.PgcError) -> list[tuple[str, str]]:
    return [(d.code, d.pointer) for d in exc.diagnostics]


# ---------------------------------------------------------------------------------------
# Error codes


def test_unknown_process_message_names_process_and_namespace():
    for namespace, words in (("backend", "predefined"), ("user", "user-defined")):
        graph = {"n": {**node("ndvl", result=True), "namespace": namespace}}
        [error] = pgc.validate(graph).errors
        assert error.code == "ProcessUnsupported"
        assert "'ndvl'" in error.message and words in error.message, error.message
    graph = {"n": {**node("absolute", result=True, x=1), "namespace": "https://x.org/p"}}
    [error] = pgc.validate(graph).errors
    assert error.code == "ProcessUnsupported"
    assert "'absolute'" in error.message and "'https://x.org/p'" in error.message


def test_no_nonstandard_error_codes():
    """Neither ``ProcessParameterMissing`` (named in the API text, absent from errors.json)
    nor ``ProcessArgument*`` appear among the strings of pgc's code."""
    found = []
    for path in sorted((ROOT / "pgc").rglob("*.py")):
        for text in _string_constants(path):
            if "ProcessParameterMissing" in text or "ProcessArgument" in text:
                found.append(f"{path.relative_to(ROOT)}: {text[:80]!r}")
    assert not found, found
    # and a missing argument is ProcessParameterRequired
    [error] = pgc.validate({"n": node("add", result=True, x=1)}).errors
    assert error.code == "ProcessParameterRequired"


def test_validation_is_a_list_of_errors_empty_when_valid(tmp_path, capsys):
    from pgc.cli import main

    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"n": node("add", result=True, x=1, y=2)}))
    bad.write_text(json.dumps({"n": node("add", result=True, x="a", y={"from_node": "z"})}))
    assert main(["validate", "--json", str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["errors"] == []
    assert main(["validate", "--json", str(bad)]) == 1
    errors = json.loads(capsys.readouterr().out)["errors"]
    assert isinstance(errors, list) and len(errors) == 2
    assert {e["code"] for e in errors} == {"ProcessParameterInvalid", "ProcessGraphInvalid"}
    result = pgc.validate({"n": node("add", result=True, x=1, y=2)})
    assert result.ok and list(result.errors) == []


# ---------------------------------------------------------------------------------------
# Structural rules


def test_the_result_node_need_not_be_a_sink():
    graph = {"a": node("pi", result=True), "b": node("add", x=ref("a"), y=1)}
    result = pgc.validate(graph)
    assert result.ok, result.errors
    assert pgc.run(graph) == math.pi
    assert pgc.run(graph, pipeline="none") == math.pi


def test_the_innermost_parameter_wins_when_running():
    # a user-defined process's parameter x and the callback's parameter x: the callback's
    inner = {"m": node("multiply", result=True, x=param("x"), y=10)}
    udp = {
        "parameters": [{"name": "x", "schema": {}}],
        "process_graph": {
            "a": node("array_apply", result=True, data=[1, 2, 3], process={"process_graph": inner})
        },
    }
    assert pgc.run(udp, parameters={"x": 100}) == [10, 20, 30]
    # nested callbacks: the inner x is the inner element; the outer x reaches it as context
    innermost = {"s": node("add", result=True, x=param("x"), y=param("context"))}
    outer = {"i": node("array_apply", result=True, data=[10, 20], context=param("x"),
                       process={"process_graph": innermost})}  # fmt: skip
    graph = {"a": node("array_apply", result=True, data=[1, 2], process={"process_graph": outer})}
    for pipeline in ("none", "default"):
        assert pgc.run(graph, pipeline=pipeline) == [[11, 21], [12, 22]]


def test_reserved_keys_in_plain_objects_are_refused():
    base = {"a": node("constant", x=1)}
    for value in (
        {"k": {"process_graph": 1}},  # not a child graph
        {"k": {"from_parameter": "x", "y": 1}},  # a reference with another key
        {"from_node": "a", "z": 1},
        {"process_graph": {"p": node("pi", result=True)}, "extra": 1},
    ):
        graph = {**base, "c": node("array_create", result=True, data=[value])}
        result = pgc.validate(graph)
        assert not result.ok, value
        assert all(e.pointer.startswith("/c/arguments/data/0") for e in result.errors), value
    # the same keys in a reference or child graph of their own kind are fine
    fine = {**base, "c": node("array_create", result=True, data=[{"k": [ref("a")]}])}
    assert pgc.validate(fine).ok


def test_node_ids_have_no_pattern():
    graph = {
        "höhe 1": node("constant", x=2),
        "1": node("multiply", x=ref("höhe 1"), y=3),
        " ": node("add", result=True, x=ref("1"), y=ref("höhe 1")),
    }
    result = pgc.validate(graph)
    assert result.ok and result.diagnostics == []
    assert pgc.run(graph) == 8 and pgc.run(graph, pipeline="none") == 8


def test_a_reference_nested_two_levels_gives_its_value():
    graph = {
        "a": node("constant", x=1),
        "b": node("constant", x=2),
        "c": node("array_create", result=True,
                  data=[[ref("a")], [[ref("b")]], {"k": [ref("a")]}]),
    }  # fmt: skip
    for pipeline in ("none", "default"):
        assert pgc.run(graph, pipeline=pipeline) == [[1], [[2]], {"k": [1]}]


def _chain(n: int) -> dict:
    graph = {"n0": node("constant", x=0)}
    for i in range(1, n):
        graph[f"n{i}"] = node("add", x=ref(f"n{i - 1}"), y=1)
    graph[f"n{n - 1}"]["result"] = True
    return graph


def test_a_3000_node_chain_runs_and_keeps_every_node():
    for pipeline in ("none", "default"):
        with within(30):
            assert pgc.run(_chain(3000), pipeline=pipeline) == 2999  # every node added its 1
    with within(30):
        assert pgc.run(_chain(500), pipeline="none") == 499


def test_a_diamond_ladder_runs_with_shared_nodes_kept_shared():
    graph = {"n0": node("constant", x=1)}
    for i in range(1, 61):
        graph[f"n{i}"] = node("add", x=ref(f"n{i - 1}"), y=ref(f"n{i - 1}"))
    graph["n60"]["result"] = True
    for pipeline in ("none", "default"):
        with within(20):  # 2**60 paths: only a walk that keeps shared nodes shared ends
            assert pgc.run(graph, pipeline=pipeline) == 2**60


# ---------------------------------------------------------------------------------------
# Numerics of fused kernels


def test_is_nan_in_a_fused_kernel_sees_nan():
    graph = apply_graph({"n": node("is_nan", result=True, x=X)})
    result = run_kernel(graph, line_cube([np.nan, 1.0, np.inf, -np.inf]))
    assert result.value.data.values.ravel().tolist() == [True, False, False, False]


def test_division_by_zero_in_a_kernel_gives_infinities():
    graph = apply_graph({"n": node("divide", result=True, x=X, y=0)})
    result = run_kernel(graph, line_cube([1.0, -1.0, 0.0]))
    values = result.value.data.values.ravel()
    assert values[0] == np.inf and values[1] == -np.inf and np.isnan(values[2])
    graph = apply_graph({"n": node("divide", result=True, x=1, y=X)})
    values = run_kernel(graph, line_cube([0.0, -0.0, 2.0])).value.data.values.ravel()
    assert values.tolist() == [np.inf, -np.inf, 0.5]


def test_uint16_subtraction_in_a_kernel_does_not_wrap():
    graph = apply_graph({"n": node("subtract", result=True, x=X, y=700)})
    cube = line_cube([100, 65535], "uint16")
    for executor in ("numba", "reference"):
        value = run_kernel(graph, cube, executor).value.data
        assert value.dtype.kind == "f"
        assert value.values.ravel().tolist() == [-600.0, 64835.0]


def test_constants_are_typed_in_the_compute_dtype():
    from pgc.dtypes import compute_dtype, set_compute_dtype

    values = (np.random.default_rng(16).random(64) * 1000).astype("float32")
    expected = values * np.float32(0.1) + np.float32(0.3)
    in_float64 = (values.astype("float64") * 0.1 + 0.3).astype("float32")
    assert (expected != in_float64).any()  # the test can tell the two apart
    graph = apply_graph({
        "m": node("multiply", x=X, y=0.1),
        "n": node("add", result=True, x=ref("m"), y=0.3),
    })  # fmt: skip
    before = compute_dtype()
    set_compute_dtype("float32")
    try:
        for executor in ("numba", "reference"):
            value = run_kernel(graph, line_cube(values, "float32"), executor).value.data
            assert value.dtype == np.float32
            np.testing.assert_array_equal(value.values.ravel(), expected)
    finally:
        set_compute_dtype(before)


def test_mod_round_int_and_power_follow_the_definitions():
    def call(process_id: str, **arguments):
        return pgc.run({"n": node(process_id, result=True, **arguments)})

    # mod by zero: +inf, -inf, NaN (np.mod gives NaN for all three); sign of the divisor
    assert call("mod", x=5, y=0) == math.inf and call("mod", x=-5, y=0) == -math.inf
    assert math.isnan(call("mod", x=0, y=0)) and call("mod", x=-27, y=5) == 3
    assert [call("round", x=v) for v in (0.5, 1.5, 2.5, -2.5)] == [0, 2, 2, -2]  # half-even
    assert call("int", x=-3.5) == -3  # truncates
    result = call("power", base=-8, p=1 / 3)  # Python's ** would give a complex number
    assert isinstance(result, float) and math.isnan(result)
    graph = apply_graph({"n": node("power", result=True, base=X, p=0.5)})
    for executor in ("numba", "reference"):
        values = run_kernel(graph, line_cube([-8.0, 4.0]), executor).value.data.values.ravel()
        assert np.isnan(values[0]) and values[1] == 2.0 and values.dtype.kind == "f"


# ---------------------------------------------------------------------------------------
# openEO semantics


def test_if_is_lazy():
    graph = {
        "parameters": [{"name": "arr", "schema": {"type": "array"}}, {"name": "v", "schema": {}}],
        "process_graph": {
            "bad": node("array_element", data=param("arr"), index=5),
            "if": node("if", result=True, value=param("v"), accept=7, reject=ref("bad")),
        },
    }
    assert pgc.run(graph, parameters={"arr": [1, 2], "v": True}, pipeline="none") == 7


def test_temporal_extent_is_left_closed_when_running():
    from pgc.data import sample

    graph = {"l": node("load_collection", result=True, id=sample.COLLECTION_ID, bands=["B04"],
                       spatial_extent={"west": 600000, "south": 5690000, "east": 600040,
                                       "north": 5690040, "crs": 32631},
                       temporal_extent=[sample.DATES[1], sample.DATES[3]])}  # fmt: skip
    cube = execute(graph, pipeline="none").value
    dates = [str(np.datetime_as_string(t, unit="s")) + "Z" for t in cube.data.t.values]
    assert dates == list(sample.DATES[1:3])  # the start kept, the end left out


# ---------------------------------------------------------------------------------------
# Untrusted input

# What may execute text: the UDF worker (opt-in, in its sandboxed process) and the kernel
# cache's import of pgc's own generated modules.
EXEC_ALLOWED = {("pgc/executors/udf_worker.py", "exec")}


def test_no_eval_or_exec_of_user_text():
    found = []
    for path in sorted((ROOT / "pgc").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for item in ast.walk(tree):
            if not isinstance(item, ast.Call):
                continue
            name = getattr(item.func, "id", None) or getattr(item.func, "attr", None)
            where = (str(path.relative_to(ROOT)), name)
            if name in ("eval", "exec", "execfile", "__import__") and where not in EXEC_ALLOWED:
                found.append(f"{where[0]}:{item.lineno} {name}")
            if name == "exec_module" and where[0] != "pgc/kernels/codegen.py":
                found.append(f"{where[0]}:{item.lineno} {name}")
    assert not found, found


def test_kernels_hold_generated_identifiers_only(tmp_path, pgc_options):
    pgc_options(cache_dir=tmp_path / "cache")
    marker = tmp_path / "pwned"
    evil = f"__import__('os').system('touch {marker}')"
    constant = 1.0 + time.time_ns() % 997 / 1000  # a new kernel: it is written here
    nodes = {
        evil: node("array_element", data=param("data"), label=f"b0\n{evil}"),
        "x; " + evil: node("multiply", x=ref(evil), y=constant),
        "r\n" + evil: node("add", result=True, x=ref("x; " + evil), y=1),
    }
    values = np.arange(8, dtype="float64").reshape(1, 2, 2, 2)
    coords = {"t": [0], "bands": [f"b0\n{evil}", "b1"], "y": [0.0, 1.0], "x": [0.0, 1.0]}
    cube = Cube(xr.DataArray(values, dims=("t", "bands", "y", "x"), coords=coords),
                xr.DataArray(True))  # fmt: skip
    process = node("reduce_dimension", result=True, data=param("c"), dimension="bands",
                   reducer={"process_graph": nodes})  # fmt: skip
    graph = {"parameters": [{"name": "c", "schema": {}}], "process_graph": {evil: process}}
    result = run_kernel(graph, cube)
    np.testing.assert_array_equal(result.value.data.values, values[:, 0] * constant + 1)
    written = list((tmp_path / "cache" / "kernels").glob("*.py"))
    assert written
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "__import__" not in text and "system" not in text and "b0" not in text
    assert not marker.exists()


def test_run_udf_is_never_fused_across():
    udf = "def apply_datacube(cube, context):\n    return cube\n"

    def graph(with_udf: bool) -> dict:
        nodes = {
            "a": node("apply", data=param("c"),
                      process={"process_graph": {"m": node("multiply", result=True, x=X, y=2)}}),
            "b": node("apply", result=True, data=ref("u" if with_udf else "a"),
                      process={"process_graph": {"m": node("add", result=True, x=X, y=1)}}),
        }  # fmt: skip
        if with_udf:
            nodes["u"] = node("run_udf", data=ref("a"), udf=udf, runtime="Python")
        return {"parameters": [{"name": "c", "schema": {}}], "process_graph": nodes}

    def shape(document: dict) -> list[tuple]:
        plan = pgc.compile(document, pipeline=with_kernels("default"))
        return [(n.namespace, n.process_id) for n in plan.graph.nodes()]

    assert shape(graph(False)) == [("pgc", "kernel")]  # without the UDF: one kernel
    assert shape(graph(True)) == [("pgc", "kernel"), (None, "run_udf"), ("pgc", "kernel")]


def test_no_network_io_for_urls_or_remote_namespaces(monkeypatch):
    attempts: list = []

    def refuse(*args, **_):
        attempts.append(args)
        raise OSError("this test allows no network")

    monkeypatch.setattr(socket.socket, "connect", lambda self, address: refuse(address))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: refuse(address))
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for url in ("http://169.254.169.254/latest/meta-data/c.json", "http://127.0.0.1:9/c.json",
                "https://example.org/collection.json"):  # fmt: skip
        stac = {"s": node("load_stac", url=url, spatial_extent=None, temporal_extent=None),
                "r": node("save_result", result=True, data=ref("s"), format="GTiff")}  # fmt: skip
        tif = {"s": node("load_url", url=url.replace(".json", ".tif"), format="GTiff"),
               "r": node("save_result", result=True, data=ref("s"), format="GTiff")}  # fmt: skip
        for graph in (stac, tif):
            assert pgc.validate(graph).ok
            pgc.compile(graph)
            with pytest.raises(pgc.PgcError) as info:
                execute(graph)
            assert info.value.code == "FeatureUnsupported"
            assert "no network I/O" in info.value.diagnostics[0].message
    remote = {"n": {**node("absolute", result=True, x=1), "namespace": "https://x.org/p"}}
    assert [e.code for e in pgc.validate(remote).errors] == ["ProcessUnsupported"]
    assert attempts == []


def test_array_sizes_are_limited_with_a_clear_error():
    text = json.dumps({"n": node("array_create", result=True, data=list(range(5000)))})
    [error] = pgc.validate(text, limits=pgc.Limits(max_json_values=1000)).errors
    assert error.code == "ProcessGraphInvalid" and "the limit is 1000" in error.message
    graph = {"parameters": [{"name": "n", "schema": {"type": "integer"}}],
             "process_graph": {"a": node("array_create", result=True, data=[1],
                                         repeat=param("n"))}}  # fmt: skip
    with pytest.raises(pgc.PgcError) as info:
        execute(graph, parameters={"n": 10**9}, limits=pgc.Limits(max_array_length=1000))
    pointer = "/process_graph/a/arguments/repeat"
    assert errors_of(info.value) == [("ProcessGraphComplexity", pointer)]
    assert "budget of 1000" in info.value.diagnostics[0].message


def test_distinct_kernels_per_request_are_limited():
    names = [f.name for f in fields(pgc.Limits) if "kernel" in f.name]
    names.remove("max_kernel_cells")
    assert names, "no limit on kernels per request"
    graph = {
        "parameters": [{"name": "c", "schema": {}}],
        "process_graph": {
            "a": node("apply", data=param("c"),
                      process={"process_graph": {"m": node("multiply", result=True, x=X, y=2)}}),
            "k": node("apply_kernel", data=ref("a"), kernel=[[1]]),
            "b": node("apply", result=True, data=ref("k"),
                      process={"process_graph": {"m": node("add", result=True, x=X, y=1)}}),
        },
    }  # fmt: skip
    cube = line_cube([1.0, 2.0])
    assert len(set(execute(graph, parameters={"c": cube}, executor="numba").kernels.kernels)) == 2
    with pytest.raises(pgc.PgcError) as info:
        execute(graph, parameters={"c": cube}, executor="numba",
                limits=pgc.Limits().replace(**{names[0]: 1}))  # fmt: skip
    assert info.value.code in ("ProcessGraphComplexity", "ProcessGraphInvalid")


def test_user_strings_are_truncated_in_messages():
    long = "A" * 10_000
    for graph in (
        {"n": node(long, result=True)},
        {"n": node("add", result=True, x=long, y=1)},
        {long: node("add", result=True, x=1)},
        {"n": node("add", result=True, x=1, y=2, **{long: 3})},
    ):
        result = pgc.validate(graph)
        assert result.errors
        for d in result.diagnostics:
            assert len(d.message) < 400 and long[:100] not in d.message, d.message
            assert len(d.hint or "") < 400
    big = list(range(1000))  # a whole argument is never echoed
    [error] = pgc.validate({"n": node("add", result=True, x=big, y=1)}).errors
    assert len(error.message) < 400 and "999" not in error.message


def test_kernel_cache_is_keyed_by_structure():
    def graph(ids: tuple[str, str], constant: float) -> dict:
        m, n = ids
        return apply_graph({m: node("multiply", x=X, y=constant),
                            n: node("add", result=True, x=ref(m), y=1)})  # fmt: skip

    cube = line_cube([1.0, 2.0, 3.0])
    keys = [
        run_kernel(graph(ids, c), cube).kernels.kernels
        for ids, c in ((("m", "n"), 2.0), (("other", "names"), 2.0), (("m", "n"), 3.0))
    ]
    assert keys[0] == keys[1]  # node ids are not part of the key: the structure is
    assert keys[0] != keys[2]  # a different constant is a different kernel


def test_the_kernel_cache_is_bounded(tmp_path, monkeypatch, pgc_options):
    from pgc.kernels import codegen

    bounds = [
        name for name in dir(codegen)
        if name.isupper() and any(w in name for w in ("MAX", "SIZE", "LIMIT"))
        and isinstance(getattr(codegen, name), int)
    ]  # fmt: skip
    assert bounds, "no bound on the kernel cache"
    pgc_options(cache_dir=tmp_path)
    for name in bounds:
        monkeypatch.setattr(codegen, name, 1)
    for constant in (1.25 + time.time_ns() % 991, 2.5 + time.time_ns() % 983):
        run_kernel(apply_graph({"n": node("multiply", result=True, x=X, y=constant)}),
                   line_cube([1.0]))  # fmt: skip
    assert len(codegen._LOADED) <= 1
    assert len(list((tmp_path / "kernels").glob("*.py"))) <= 1


def test_the_kernel_cache_is_a_private_directory(tmp_path, pgc_options):
    pgc_options(cache_dir=tmp_path / "cache")
    constant = 3.0 + time.time_ns() % 977 / 1000
    run_kernel(apply_graph({"n": node("add", result=True, x=X, y=constant)}), line_cube([1.0]))
    folder = tmp_path / "cache" / "kernels"
    assert list(folder.glob("*.py"))
    assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0, oct(folder.stat().st_mode)


# ---------------------------------------------------------------------------------------
# Files, network and budgets


def test_band_names_never_reach_a_file_path(tmp_path):
    from pgc.data import sample

    for bands in (["../../../../../../etc/passwd"], ["B04/../../B08"], [str(tmp_path / "x")]):
        graph = {"l": node("load_collection", result=True, id=sample.COLLECTION_ID, bands=bands,
                           spatial_extent=None, temporal_extent=None)}  # fmt: skip
        for compile_or_run in (pgc.compile, execute):  # refused from the collection's
            with pytest.raises(pgc.PgcError) as info:  # metadata, before any file is named
                compile_or_run(graph)
            [error] = info.value.diagnostics
            assert (error.code, error.pointer) == ("ProcessParameterInvalid", "/l/arguments/bands")


def test_over_budget_names_the_node_and_its_size():
    graph = {
        "l": node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=None,
                  temporal_extent=None),
        "tiny": node("resample_spatial", result=True, data=ref("l"), resolution=0.0001),
    }  # fmt: skip
    with pytest.raises(pgc.PgcError) as info, within(30):  # from the types: nothing allocated
        execute(graph)
    [d] = info.value.diagnostics
    assert (d.code, d.node_id, d.pointer) == ("ProcessGraphComplexity", "tiny", "/tiny")
    assert "'tiny'" in d.message and "PB" in d.message and "budget" in d.message
    # while running: the size only the run knows
    graph = {"parameters": [{"name": "n", "schema": {"type": "integer"}}],
             "process_graph": {"big": node("array_create", result=True, data=[1],
                                           repeat=param("n"))}}  # fmt: skip
    with pytest.raises(pgc.PgcError) as info:
        execute(graph, parameters={"n": 10**12})
    [d] = info.value.diagnostics
    assert (d.code, d.node_id) == ("ProcessGraphComplexity", "big")
    assert "1000000000000" in d.message


def test_oversize_input_is_rejected_before_it_is_built():
    import tracemalloc

    n = 2_100_000  # over the default of 2,000,000 values
    text = '{"n": {"process_id": "array_create", "result": true, "arguments": {"data": [' + (
        ",".join(["1"] * n) + "]}}}"
    )
    tracemalloc.start()
    try:
        result = pgc.validate(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [error] = result.errors
    assert error.code == "ProcessGraphInvalid" and "the limit is 2000000" in error.message
    # a list of 2.1 million Python ints alone is 17 MB of pointers
    assert peak < 8 * 2**20, f"peak {peak} bytes while rejecting {len(text)} bytes"


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX users")
def test_a_udf_cannot_read_pgcs_private_files(tmp_path):
    from pgc.executors.reference import udf as ref_udf

    report = ref_udf.isolation()
    if os.geteuid() != 0 or not report["protections"].get("privileges"):
        pytest.skip(
            "documented as not enforced (pgc.executors.reference.udf): without namespaces and "
            "root, "
            "the UDF runs as pgc's user and may read its files"
        )
    secret = tmp_path / "secret.txt"
    secret.write_text("pgc-private-7d1c", encoding="utf-8")
    secret.chmod(0o600)
    tmp_path.chmod(0o755)
    udf = (
        "def apply_datacube(cube, context):\n"
        "    try:\n"
        "        text = open(context['path']).read()\n"
        "    except OSError:\n"
        "        text = ''\n"
        "    return cube * 0 + len(text)\n"
    )
    run = node("run_udf", result=True, data=[1, 2, 3], udf=udf, runtime="Python",
               context={"path": str(secret)})  # fmt: skip
    graph = {"process_graph": {"u": run}}
    assert execute(graph, python_udf=True).value == [0.0, 0.0, 0.0]


def test_an_unexpected_exception_is_internal_at_the_api_and_cli_boundary(
    tmp_path, monkeypatch, caplog, capsys, pgc_options
):
    from pgc.cli import main
    from pgc.executors import reference

    reference.load_implementations()

    def broken(call):
        raise KeyError("pgc-internal-detail")

    monkeypatch.setitem(reference.IMPLEMENTATIONS, "absolute", broken)
    pgc_options(plan_cache_size=0)  # the library's calls
    monkeypatch.setenv("PGC_PLAN_CACHE", "0")  # the command line's
    graph = {"parameters": [{"name": "v", "schema": {}}],
             "process_graph": {"n": node("absolute", result=True, x=param("v"))}}  # fmt: skip
    caplog.set_level(logging.ERROR, logger="pgc")
    with pytest.raises(pgc.PgcError) as info:
        execute(graph, parameters={"v": -1}, pipeline="none")
    [d] = info.value.diagnostics
    assert (d.code, d.node_id, d.process_id) == ("Internal", "n", "absolute")
    assert "pgc-internal-detail" not in d.message and "Traceback" not in d.message
    assert len(d.message) < 200
    logged = [r for r in caplog.records if r.name == "pgc" and r.exc_info]
    assert logged and "pgc-internal-detail" in str(logged[-1].exc_info[1])
    # the CLI
    caplog.clear()
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code = main(["run", str(path), "--json", "-p", "none", "--param", "v=-1"])
    out = capsys.readouterr()
    assert code != 0 and "Traceback" not in out.out + out.err
    assert "pgc-internal-detail" not in out.out + out.err
    assert json.loads(out.out)["errors"][0]["code"] == "Internal"
    assert any(r.exc_info for r in caplog.records if r.name == "pgc")
