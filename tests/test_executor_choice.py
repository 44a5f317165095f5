"""The executor chosen per plan from its types when the caller does not say (issue 23):
numba where a fused kernel is large enough to pay for numba, dask where a value is too
large for memory, the reference otherwise; ``--stats`` and ``explain`` say which and why."""

from __future__ import annotations

import numpy as np
import xarray as xr

import pgc
from pgc.cli import main
from pgc.compiler import compile as compile_graph
from pgc.executors.choice import HOT_ELEMENTS, NUMBA_ELEMENTS, choose
from pgc.runner import execute, with_kernels


def evi_of(cube: str = "cube") -> dict:
    """EVI of a cube given as a parameter (bands B02, B04, B08)."""
    def band(label):
        return {"process_id": "array_element",
                "arguments": {"data": {"from_parameter": "data"}, "label": label}}

    def op(process_id, x, y, **more):
        return {"process_id": process_id,
                "arguments": {"x": {"from_node": x}, "y": {"from_node": y}}, **more}

    reducer = {"process_graph": {
        "b": band("B02"), "r": band("B04"), "n": band("B08"),
        "d": op("subtract", "n", "r"), "s": op("add", "n", "r"),
        "q": op("divide", "d", "s", result=True)}}
    declared = [{"name": cube, "schema": {"type": "object", "subtype": "datacube"}}]
    return {"parameters": declared, "process_graph": {"e": {
        "process_id": "reduce_dimension", "result": True, "arguments": {
            "data": {"from_parameter": cube}, "dimension": "bands", "reducer": reducer}}}}


def cube(n: int) -> xr.DataArray:
    rng = np.random.default_rng(1)
    values = rng.integers(1, 10000, size=(3, n, n), dtype=np.uint16)
    return xr.DataArray(values, dims=("bands", "y", "x"),
                        coords={"bands": ["B02", "B04", "B08"], "y": -10.0 * np.arange(n),
                                "x": 10.0 * np.arange(n)}, attrs={"crs": "32631"})  # fmt: skip


def test_a_small_plan_runs_on_the_reference_and_says_why():
    result = execute(evi_of(), parameters={"cube": cube(64)})
    assert result.executor == "reference"
    assert "too few for numba to pay" in result.executor_reason


def test_a_large_kernel_runs_on_numba_with_the_reference_result():
    n = int(np.ceil(np.sqrt(NUMBA_ELEMENTS / 3)))  # the kernel reads 3 bands of n x n
    given = cube(n)
    auto = execute(evi_of(), parameters={"cube": given})
    assert auto.executor == "numba" and "fused kernel" in auto.executor_reason
    reference = execute(evi_of(), parameters={"cube": given}, executor="reference")
    np.testing.assert_allclose(auto.value.data.values, reference.value.data.values,
                               rtol=1e-15, atol=0)  # fmt: skip


def test_a_plan_run_again_in_the_process_takes_numba_from_fewer_elements():
    n = int(np.ceil(np.sqrt(HOT_ELEMENTS / 3)))  # under NUMBA_ELEMENTS, over HOT_ELEMENTS
    given, session = cube(n), pgc.Session()
    first = execute(evi_of(), parameters={"cube": given}, plan_cache=session.plans)
    again = execute(evi_of(), parameters={"cube": given}, plan_cache=session.plans)
    assert first.executor == "reference" and "run before" in first.executor_reason
    assert again.executor == "numba" and "in a plan run before" in again.executor_reason
    np.testing.assert_allclose(again.value.data.values, first.value.data.values,
                               rtol=1e-15, atol=0)  # fmt: skip
    # a small plan stays on the reference however often it runs
    for _ in range(2):
        small = execute(evi_of(), parameters={"cube": cube(64)}, plan_cache=session.plans)
    assert small.executor == "reference"


def test_a_value_too_large_for_memory_goes_to_dask():
    with open("examples/evi.json") as f:
        lowered = compile_graph(f.read(), pipeline=with_kernels("default"))
    assert choose(lowered.graph, memory=2**40).executor != "dask"
    chosen = choose(lowered.graph, memory=2**20)  # a machine of 1 MB
    assert chosen.executor == "dask" and "of the memory" in chosen.reason


def test_overriding_a_process_the_kernels_would_fuse_keeps_the_reference():
    from pgc.executors.reference import default_processes

    base = default_processes()
    table = base.override(divide=base["divide"])  # the same, but an override
    n = int(np.ceil(np.sqrt(NUMBA_ELEMENTS / 3)))
    result = execute(evi_of(), parameters={"cube": cube(n)}, processes=table)
    assert result.executor == "reference" and "overrides divide" in result.executor_reason


def test_an_executor_asked_for_is_used(tmp_path):
    result = execute(evi_of(), parameters={"cube": cube(16)}, executor="numba")
    assert (result.executor, result.executor_reason) == ("numba", "asked for")
    assert pgc.Session().executor == "auto"


def test_run_stats_and_explain_say_which_executor_and_why(tmp_path, capsys):
    assert main(["run", "examples/evi.json", "-o", str(tmp_path / "evi.tif"), "--stats"]) == 0
    assert "executor: reference (1 fused kernel(s) over at most" in capsys.readouterr().out
    assert main(["explain", "examples/evi.json"]) == 0
    assert "# pgc run would use the reference executor: " in capsys.readouterr().out
