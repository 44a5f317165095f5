"""Issue 19: each pass described once (pgc.passes.manager.PASSES), and the IR verified after
every pass: its structure, and the types of what the graph gives (the result, and what
save_result writes) unchanged or refined (pgc.ir.verify). The bad passes below break one
thing each; verification must name the pass."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

import pgc.passes.dce
from pgc.data.catalog import default_catalog
from pgc.ir.infer import Environment, infer_graph
from pgc.ir.nodes import Literal
from pgc.ir.parser import parse_ir
from pgc.ir.types import NUMBER, CubeType, Dimension, ScalarType
from pgc.ir.verify import type_change
from pgc.passes.manager import (
    DEFAULT_PIPELINE,
    PASSES,
    PassContext,
    PassVerificationError,
    parse_pipeline,
    run_pipeline,
    verification_on,
    verifying,
    with_lowering,
)
from pgc.runner import execute, with_kernels
from pgc.specs import load_specs

LOAD = (
    'load_collection(id="SENTINEL2_L2A_SAMPLE", spatial_extent={"west": 600000, '
    '"south": 5694000, "east": 601000, "north": 5695000, "crs": 32631}, '
    'temporal_extent=["2023-01-01", "2023-04-01"], bands=["B04", "B08"])'
)
SAVED_MEAN = f"""process() {{
  %load = {LOAD}
  %mean = reduce_dimension(data=%load, dimension="t", reducer=graph(data, context?) {{
    %m = mean(data=$data)
    return %m
  }})
  %save = save_result(data=%mean, format="GTiff")
  return %save
}}"""


def env() -> Environment:
    return Environment(load_specs(), default_catalog())


def typed(text: str):
    return infer_graph(parse_ir(text), env())


def run_dce(graph, verify=False):
    return run_pipeline(graph, ["dce"], PassContext(env()), verify=verify)


# -- the registry -----------------------------------------------------------------------


def test_every_pass_is_described_once_issue_19():
    assert list(PASSES) == [p.name for p in PASSES.values()]
    for info in PASSES.values():
        assert callable(info.function), info.name
        assert info.stage in ("optimize", "lower")
        assert info.law and "law" in info.doc.lower(), info.name  # the module proves it
    # the default pipeline optimizes: no pgc-only nodes in what it gives
    assert {PASSES[n].stage for n in DEFAULT_PIPELINE} == {"optimize"}
    assert [p.name for p in PASSES.values() if p.keeps_types] == ["fuse-elementwise"]


def test_pipelines_are_named_from_the_registry_issue_19():
    assert parse_pipeline("default") == DEFAULT_PIPELINE
    assert parse_pipeline("none") == []
    with pytest.raises(ValueError, match="available: cse, dce, fold, fuse-elementwise"):
        parse_pipeline("fold,fuse")
    # the numba and dask executors add the lowering passes, once
    assert with_kernels("fold") == with_lowering("fold") == ["fold", "fuse-elementwise"]
    assert with_lowering(["fuse-elementwise", "dce"]) == ["fuse-elementwise", "dce"]


def test_types_are_inferred_again_only_after_passes_that_do_not_keep_them_issue_19():
    graph = typed(SAVED_MEAN)
    _, log = run_pipeline(graph, ["fuse-elementwise"], PassContext(env()))
    assert log.records[0].changed and not log.types_stale
    _, log = run_pipeline(graph, ["fold", "dce"], PassContext(env()))
    assert not any(r.changed for r in log.records) and not log.types_stale
    filtered = SAVED_MEAN.replace(
        "%mean = reduce_dimension(data=%load",
        '%f = filter_bands(data=%load, bands=["B04"])\n  %mean = reduce_dimension(data=%f',
    )
    _, log = run_pipeline(typed(filtered), ["push-filters"], PassContext(env()))
    assert log.records[0].changed and log.types_stale


# -- verification ---------------------------------------------------------------------------


def test_the_test_suite_verifies_in_its_own_thread_only_issue_19():
    """The autouse fixture (tests/conftest.py) turns verification on; a context variable,
    so another thread (another request of a server) is not verified by this one's switch."""
    assert verification_on()
    seen = []
    worker = threading.Thread(target=lambda: seen.append(verification_on()))
    worker.start()
    worker.join()
    assert seen == [False]
    with verifying(False):
        assert not verification_on()
    assert verification_on()


def _drop_a_dimension(graph, context):
    """A wrong pass: reduces the bands instead of the dates."""
    out = graph.copy()
    node = out.node("mean")
    args = tuple((k, Literal("bands") if k == "dimension" else v) for k, v in node.arguments)
    out.replace(node.with_arguments(args))
    return out, True


def _shift_the_extent(graph, context):
    """A wrong pass: loads a box one pixel further east."""
    out = graph.copy()
    node = out.node("load")
    box = dict(node.literal("spatial_extent"))
    box["west"] += 10
    box["east"] += 10
    args = tuple((k, Literal(box) if k == "spatial_extent" else v) for k, v in node.arguments)
    out.replace(node.with_arguments(args))
    return out, True


def _change_silently(graph, context):
    """A wrong pass: changes the graph but says it did not."""
    out, _ = _drop_a_dimension(graph, context)
    return out, False


def _unknown_dimension(graph, context):
    """A wrong pass: reduces a dimension the cube does not have."""
    out = graph.copy()
    node = out.node("mean")
    args = tuple((k, Literal("time") if k == "dimension" else v) for k, v in node.arguments)
    out.replace(node.with_arguments(args))
    return out, True


def _lose_the_result(graph, context):
    out = graph.copy()
    out.remove(out.result)
    return out, True


@pytest.mark.parametrize(
    ("bad_pass", "message"),
    [
        (_drop_a_dimension, r"dce changed what the graph gives: save.data: dimensions"),
        (_shift_the_extent, r"dce changed what the graph gives: save.data: dimension 'x': extent"),
        (_change_silently, r"dce said 'unchanged' but changed the graph"),
        (_unknown_dimension, r"after dce the graph does not type-check"),
        (_lose_the_result, r"after dce: graph without a valid result node"),
    ],
)
def test_verification_names_the_pass_that_broke_the_graph_issue_19(monkeypatch, bad_pass, message):
    """Before issue 19, verify=True checked the structure only: a pass that reduced the
    wrong dimension or moved the box went through (the first three cases)."""
    monkeypatch.setattr(pgc.passes.dce, "dce", bad_pass)
    graph = typed(SAVED_MEAN)
    with pytest.raises(PassVerificationError, match=message):
        run_dce(graph)
    with verifying(False):  # off: the wrong graph goes through, unnoticed
        assert run_dce(graph)[0] != graph or bad_pass is _change_silently


def test_compile_reports_a_broken_pass_as_pgcs_own_error_issue_19(monkeypatch):
    from pgc.compiler import compile as compile_graph
    from pgc.errors import PgcError

    monkeypatch.setattr(pgc.passes.dce, "dce", _drop_a_dimension)
    with pytest.raises(PgcError) as caught:
        compile_graph(SAVED_MEAN, pipeline="dce", trusted_ir=True)
    assert [d.code for d in caught.value.diagnostics] == ["Internal"]


def test_refinements_are_not_changes_issue_19():
    x = Dimension("x", "spatial", axis="x", extent=(0.0, 10.0), step=10.0)
    known = CubeType((Dimension("t", "temporal", labels=("2023-01-01",)), x))
    unknown = CubeType((Dimension("t", "temporal"), x))
    assert type_change(NUMBER, ScalarType.of("number")) is None  # fold: no null any more
    assert type_change(NUMBER, ScalarType.of("integer")) is None  # an integer is a number
    assert type_change(unknown, known) is None  # labels learnt
    assert type_change(CubeType(unknown_dimensions=True), known) is None
    assert type_change(known, unknown) == "dimension 't': labels ('2023-01-01',) became None"
    assert type_change(known, replace(known, dtype="float32")) == "dtype float64 became float32"
    assert type_change(ScalarType.of("integer"), NUMBER) == "integer became number|null"
    assert type_change(known, CubeType((x,))) == "dimensions ('t', 'x') became ('x',)"


# -- PER_BAND derived from the traits (pgc.analysis.bands) ------------------------------------


def _bands_of(plan) -> list:
    return plan.graph.node("load").literal("bands")


@pytest.mark.parametrize(
    "middle",
    [
        '%mid = climatological_normal(data=%load, period="season", '
        "climatology_period=[2022, 2023])",
        '%mid = resample_cube_spatial(data=%load, target=%other, method="near")',
    ],
    ids=["climatological_normal", "resample_cube_spatial"],
)
def test_prune_bands_reads_per_band_processes_from_the_traits_issue_19(middle):
    """Their dimension flows (aggregate_temporal, resample:spatial) compute each band alone,
    as for aggregate_temporal_period and resample_spatial; the hand-written list had left
    them out, so the load read every band. The result is the unpruned graph's."""
    other = LOAD.replace('bands=["B04", "B08"]', 'bands=["B02"]')
    text = f"""process() {{
  %load = {LOAD}
  %other = {other}
  {middle}
  %red = filter_bands(data=%mid, bands=["B04"])
  return %red
}}"""
    pruned = execute(text, pipeline="prune-bands")
    whole = execute(text, pipeline="none")
    assert _bands_of(pruned.plan) == ["B04"] and _bands_of(whole.plan) == ["B04", "B08"]
    a, b = pruned.value, whole.value
    assert a.data.dims == b.data.dims and a.data.shape == b.data.shape
    assert np.array_equal(a.data.values, b.data.values, equal_nan=True)
    assert np.array_equal(a.valid.values, b.valid.values)
