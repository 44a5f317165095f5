# ruff: noqa: E501  (a table of test names, one per line)
"""Every process has a test of its no-data / NaN rules (issue 5): a definition example or
conformance vector with no-data or NaN input (run by test_definition_examples and
`pgc conformance`), or a unit test named here. Processes that need an outside service
are exempt: pgc only reports that they cannot run. This test fails when a process is
added without such a test or a named test disappears."""

from __future__ import annotations

import ast
import json

import json5
import pytest
from conftest import ROOT, UPSTREAM, UPSTREAM_REASON

from pgc.specs import load_specs

# process id -> the test that checks what it does with no-data and NaN (or, where the
# definition has no such values - geometries, dates - with empty or missing input)
NODATA_TESTS = {
    "aggregate_spatial": "test_reference_vector.py::test_aggregate_spatial_target_dimension_counts_pixels",
    "aggregate_spatial_window": "test_reference_neighborhood.py::test_aggregate_spatial_window_nan_is_a_value",
    "aggregate_temporal_period": "test_reference_nodata.py::test_aggregate_temporal_period_skips_nodata",
    "anomaly": "test_reference_time.py::test_climatological_normal_skips_nodata_and_anomaly_propagates_it",
    "apply": "test_reference_nodata.py::test_apply_keeps_nodata_and_nan",
    "apply_dimension": "test_reference_nodata.py::test_apply_dimension_cumsum_keeps_nodata_and_goes_on",
    "apply_kernel": "test_reference_nodata.py::test_apply_kernel_replaces_nodata_and_nan_with_replace_invalid",
    "apply_neighborhood": "test_reference_neighborhood.py::test_apply_neighborhood_keeps_nan_and_no_data_apart",
    "apply_polygon": "test_reference_vector.py::test_apply_polygon_keeps_nodata_inside_apart_from_mask_value",
    "arcsin": "test_reference_nodata.py::test_scalar_processes_pass_nodata_and_nan_through",
    "array_concat": "test_reference_values.py::test_values",
    "array_create_labeled": "test_reference_values.py::test_labels_of_nodata_elements_are_labels_all_the_same",
    "array_find_label": "test_reference_values.py::test_labels_of_nodata_elements_are_labels_all_the_same",
    "ceil": "test_reference_nodata.py::test_scalar_processes_pass_nodata_and_nan_through",
    "climatological_normal": "test_reference_time.py::test_climatological_normal_skips_nodata_and_anomaly_propagates_it",
    "constant": "test_reference_values.py::test_values",
    "create_data_cube": "test_reference_values.py::test_a_new_cube_holds_no_data",
    "date_between": "test_reference_values.py::test_dates_cannot_be_nodata",
    "date_difference": "test_reference_values.py::test_dates_cannot_be_nodata",
    "date_shift": "test_reference_values.py::test_dates_cannot_be_nodata",
    "e": None,  # no input
    "filter_bands": "test_reference_nodata.py::test_subsetting_keeps_nodata_where_it_was",
    "filter_bbox": "test_reference_nodata.py::test_subsetting_keeps_nodata_where_it_was",
    "filter_labels": "test_reference_nodata.py::test_subsetting_keeps_nodata_where_it_was",
    "filter_spatial": "test_reference_vector.py::test_filter_spatial_and_mask_polygon_take_vector_cubes_in_any_crs",
    "filter_temporal": "test_reference_nodata.py::test_subsetting_keeps_nodata_where_it_was",
    "filter_vector": "test_reference_vector.py::test_filter_vector_with_a_client_built_graph",
    "fit_curve": "test_reference_curve.py::test_nodata_points_are_left_out_and_too_few_points_give_nodata",
    "flatten_dimensions": "test_reference_neighborhood.py::test_flatten_keeps_nan_and_no_data_apart",
    "floor": "test_reference_nodata.py::test_scalar_processes_pass_nodata_and_nan_through",
    "inspect": "test_reference_values.py::test_values",
    "is_nan": "test_reference_values.py::test_nan_is_a_value_not_no_data",
    "load_collection": "test_files.py::test_nodata_of_files_is_nodata",
    "load_geojson": "test_reference_vector.py::test_load_geojson_empty_feature_collection",
    "load_stac": "test_files.py::test_load_stac_through_the_applications_resolver",
    "load_url": "test_reference_files.py::test_geotiff_bands_grid_and_nodata",
    "log": "test_reference_nodata.py::test_scalar_processes_pass_nodata_and_nan_through",
    "mask_polygon": "test_reference_masks.py::test_mask_polygon_replaces_outside_and_leaves_nodata_alone",
    "nan": None,  # no input
    "ndvi": "test_reference_nodata.py::test_ndvi_nodata_in_either_band_gives_nodata_nan_gives_nan",
    "pi": None,  # no input
    "predict_curve": "test_reference_curve.py::test_nodata_points_are_left_out_and_too_few_points_give_nodata",
    "rearrange": "test_reference_values.py::test_values",
    "reduce_spatial": "test_reference_nodata.py::test_reduce_spatial_skips_nodata",
    "rename_dimension": "test_reference_nodata.py::test_subsetting_keeps_nodata_where_it_was",
    "rename_labels": "test_reference_nodata.py::test_subsetting_keeps_nodata_where_it_was",
    "resample_cube_spatial": "test_reference_resample.py::test_nodata_pixels_are_left_out_and_empty_blocks_give_nodata",
    "resample_cube_temporal": "test_reference_nodata.py::test_resample_cube_temporal_carries_nodata",
    "resample_spatial": "test_reference_resample.py::test_nodata_pixels_are_left_out_and_empty_blocks_give_nodata",
    "round": "test_reference_nodata.py::test_scalar_processes_pass_nodata_and_nan_through",
    "run_udf": "test_udf.py::test_apply_datacube_doubles_and_keeps_nodata",
    "save_result": "test_reference_nodata.py::test_save_result_writes_nodata_as_nodata",
    "sinh": "test_reference_nodata.py::test_scalar_processes_pass_nodata_and_nan_through",
    "stac_modify": "test_reference_values.py::test_stac_modify_is_a_json_merge_patch",
    "tan": "test_reference_nodata.py::test_scalar_processes_pass_nodata_and_nan_through",
    "trim_cube": "test_reference_masks.py::test_trim_cube_drops_edges_of_ordered_dimensions_and_any_empty_band",
    "unflatten_dimension": "test_reference_neighborhood.py::test_unflatten_dimension_fills_missing_combinations_with_no_data",
    "vector_buffer": "test_reference_vector.py::test_vector_buffer_negative_shrinks_and_may_empty",
    "vector_reproject": "test_reference_vector.py::test_vector_reproject_to_utm_and_back",
    "vector_to_random_points": "test_reference_vector.py::test_random_points_counts",  # empty: 0
    "vector_to_regular_points": "test_reference_vector.py::test_regular_points_ungrouped_and_empty_geometries",
}  # fmt: skip
EXEMPT = {"external-service", "workspace"}


def _has_nodata(value) -> bool:
    text = json5.dumps(value)
    return any(mark in text for mark in ("null", "NaN", "nodata", "Infinity", "$ref"))


def covered_upstream() -> set[str]:
    """Processes with a definition example or conformance vector on no-data/NaN input."""
    found = set()
    definitions = sorted(UPSTREAM.glob("*.json")) + sorted((UPSTREAM / "proposals").glob("*.json"))
    for path in definitions:
        definition = json.loads(path.read_text(encoding="utf-8"))
        for example in definition.get("examples", []):
            if ("returns" in example or "throws" in example) and _has_nodata(
                example.get("arguments")
            ):
                found.add(definition["id"])
    for path in sorted((UPSTREAM / "tests").glob("*.json5")):
        doc = json5.loads(path.read_text(encoding="utf-8"))
        if any(_has_nodata(case.get("arguments", {})) for case in doc.get("tests", [])):
            found.add(doc.get("id", path.stem))
    return found


def test_functions() -> set[str]:
    names = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        for item in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(item, ast.FunctionDef) and item.name.startswith("test_"):
                names.add(f"{path.name}::{item.name}")
    return names


test_functions.__test__ = False  # a helper, not a test


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason=UPSTREAM_REASON)
def test_every_process_has_a_nodata_test():
    specs = load_specs()
    upstream = covered_upstream()
    missing = [
        pid
        for pid in sorted(specs.processes)
        if specs.get(pid).traits.get("requires") not in EXEMPT
        and pid not in upstream
        and pid not in NODATA_TESTS
    ]
    assert missing == []


def test_the_named_tests_exist():
    specs = load_specs()
    existing = test_functions()
    for pid, test in NODATA_TESTS.items():
        assert pid in specs.processes, pid
        assert test is None or test in existing, test
