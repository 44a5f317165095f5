"""The executor chosen per plan from its types when the caller does not say (issue 23):
numba where a fused kernel is large enough to pay for numba, dask where the run's estimated
peak memory is too large a share of the machine's, the reference otherwise; ``--stats`` and
``explain`` say which and why."""

from __future__ import annotations

import numpy as np
import xarray as xr

import pgc
from pgc.cli import main
from pgc.compiler import compile as compile_graph
from pgc.executors.choice import HOT_ELEMENTS, NUMBA_ELEMENTS, PEAK_SHARE, choose
from pgc.executors.peak import Peak, held_bytes, peak
from pgc.ir.graph import Graph
from pgc.ir.nodes import Node, NodeRef
from pgc.ir.types import ANY, CubeType, Dimension
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


# -- the estimated peak memory (pgc.executors.peak) ---------------------------------------


def sized(elements: int, dtype: str = "float64") -> CubeType:
    """A cube of ``elements`` values along one spatial dimension."""
    x = Dimension("x", "spatial", axis="x", extent=(0, elements), step=1)
    return CubeType((x,), dtype=dtype)


def typed(*nodes: tuple[str, str, CubeType | None, tuple[str, ...]]) -> Graph:
    """A graph of (id, process id, type, ids read) in this order; the last is the result."""
    graph = Graph()
    for node_id, process_id, cube, reads in nodes:
        args = tuple((f"x{i}", NodeRef(r)) for i, r in enumerate(reads))
        graph.add(Node(node_id, process_id, args, cube if cube is not None else ANY))
    graph.set_result(nodes[-1][0])
    return graph


# 1000 uint16 values read by a process computing in float64: 2 + 1 (validity) + 8 (copy)
# bytes an element; 1000 float64 values: 8 + 1
LOADED, COMPUTED = 11_000, 9_000


def test_a_value_is_held_with_its_validity_and_the_float_copy_of_its_integers():
    assert held_bytes(sized(1000, "uint16"), computed=True) == LOADED
    assert held_bytes(sized(1000, "uint16")) == 3_000  # read as it is (filter_bands, mask)
    assert held_bytes(sized(1000, "uint16"), compute_itemsize=4, computed=True) == 7_000
    assert held_bytes(sized(1000)) == held_bytes(sized(1000), computed=True) == COMPUTED
    assert held_bytes(ANY) == 0
    assert held_bytes(CubeType(unknown_dimensions=True), unknown=1000) == COMPUTED


def test_a_chain_drops_each_value_after_its_last_reader():
    chain = typed(("a", "load_collection", sized(1000, "uint16"), ()),
                  ("b", "kernel", sized(1000), ("a",)), ("c", "apply", sized(1000), ("b",)),
                  ("d", "apply", sized(1000), ("c",)))  # fmt: skip
    # after b: a and b (20,000); a goes; after c: b and c; after d: c and d
    assert peak(chain) == Peak(LOADED + COMPUTED, "b")


def test_a_value_read_again_later_stays_until_then():
    branch = typed(("a", "load_collection", sized(1000, "uint16"), ()),
                   ("b", "kernel", sized(1000), ("a",)), ("c", "apply", sized(1000), ("b",)),
                   ("d", "merge_cubes", sized(1000), ("a", "c")))  # fmt: skip
    # after c: a (read by d), b (dropped now) and c; after d: a, c and d
    assert peak(branch) == Peak(LOADED + 2 * COMPUTED, "c")


def test_integers_only_filtered_are_held_without_a_float_copy():
    filtered = typed(("a", "load_collection", sized(1000, "uint16"), ()),
                     ("b", "filter_bands", sized(500, "uint16"), ("a",)),
                     ("c", "kernel", sized(500), ("b",)))  # fmt: skip
    # after b: a (3,000) and b (500 x 11); after c: b and c (500 x 9)
    assert peak(filtered) == Peak(5_500 + 4_500, "c")


def test_integers_resampled_slice_by_slice_are_held_without_a_float_copy():
    """resample_spatial converts each slice on its own: a float result, no float copy of
    the whole cube (resample_20m at 4096 px: 10.7 GB estimated before, 4.2 GB now, as
    measured)."""
    resampled = typed(("a", "load_collection", sized(1000, "uint16"), ()),
                      ("b", "resample_spatial", sized(250), ("a",)),
                      ("c", "kernel", sized(250), ("b",)))  # fmt: skip
    assert peak(resampled) == Peak(3_000 + 250 * 9, "b")


def test_each_branch_is_finished_before_the_next_loads():
    """Two loads, each reduced, then merged: the loop runs a branch to its end before it
    loads the other (Graph.branch_order), so one load is held at a time, and the estimate
    walks the same order (merge at 4096 px: 9.6 GB before, 7.0 GB)."""
    two = typed(("a", "load_collection", sized(1000, "uint16"), ()),
                ("b", "load_collection", sized(1000, "uint16"), ()),
                ("ra", "kernel", sized(10), ("a",)), ("rb", "kernel", sized(10), ("b",)),
                ("m", "merge_cubes", sized(20), ("ra", "rb")))  # fmt: skip
    assert [n.id for n in two.nodes()] == ["a", "b", "ra", "rb", "m"]
    assert [n.id for n in two.branch_order()] == ["a", "ra", "b", "rb", "m"]
    # after rb: ra (90) and b with rb; before, a graph-order walk held both loads
    assert peak(two) == Peak(90 + LOADED + 90, "rb")


def test_a_graph_with_a_lazy_if_holds_every_value():
    lazy = typed(("a", "load_collection", sized(1000, "uint16"), ()),
                 ("b", "kernel", sized(1000), ("a",)), ("c", "apply", sized(1000), ("b",)),
                 ("d", "if", None, ("c",)))  # fmt: skip
    assert peak(lazy) == Peak(LOADED + 2 * COMPUTED, "c")  # the if's value is no cube
    assert peak(None) == Peak(0, None)


def test_many_small_values_alive_at_once_go_to_dask():
    # ten values of 8 MB read by one node: none is over an eighth of 100 MB, together
    # 90 MB is over a quarter
    fan = typed(*[(f"v{i}", "load_collection", sized(10**6), ()) for i in range(10)],
                ("r", "merge_cubes", sized(1), tuple(f"v{i}" for i in range(10))))  # fmt: skip
    assert max(n.type.nbytes for n in fan.nodes()) < 10**8 / 8
    chosen = choose(fan, memory=10**8)
    assert chosen.executor == "dask"
    assert chosen.reason == ("the estimated peak memory (90.0 MB, after node r) is over 0.25 of "
                             "the memory (100.0 MB)")  # fmt: skip
    assert peak(fan).bytes == 10 * 9 * 10**6 + 9  # and r, one value
    fits = choose(fan, memory=int(10**8 / PEAK_SHARE))
    assert fits.executor == "reference"
    assert fits.reason.endswith("; estimated peak memory 90.0 MB (dask from 100.0 MB)")


def test_a_chain_whose_peak_fits_stays_off_dask_however_large_its_values():
    step = 10**8  # 800 MB a value: over an eighth of 4 GB, but dropped as the chain goes
    chain = typed(*[(f"v{i}", "apply" if i else "load_collection", sized(step),
                     (f"v{i - 1}",) if i else ()) for i in range(20)])  # fmt: skip
    assert peak(chain).bytes == 2 * 9 * step
    assert choose(chain, memory=8 * 10**9).executor == "reference"
    assert choose(chain, memory=7 * 10**9).executor == "dask"


def test_a_cube_of_unknown_size_counts_the_largest_parameter():
    unknown = typed(("a", "load_collection", CubeType(unknown_dimensions=True), ()),
                    ("b", "apply", CubeType(unknown_dimensions=True), ("a",)))  # fmt: skip
    assert peak(unknown, unknown=1000) == Peak(2 * COMPUTED, "b")
    assert choose(unknown, parameter_elements=10**6, memory=10**7).executor == "dask"
    assert choose(unknown, parameter_elements=1000, memory=10**7).executor == "reference"


def test_values_given_in_memory_stay_off_dask_however_large_the_peak():
    """dask reads load_collection chunk by chunk; cubes given in memory are held whole
    whichever executor runs, and dask held as much and took up to 5x numba's time on them
    (the benchmark's ``mem`` at 4096 px, issue 23)."""
    fan = typed(*[(f"v{i}", "apply", sized(10**6), ()) for i in range(10)],
                ("r", "merge_cubes", sized(1), tuple(f"v{i}" for i in range(10))))  # fmt: skip
    chosen = choose(fan, memory=10**8)
    assert chosen.executor == "reference"
    assert chosen.reason.endswith("; estimated peak memory 90.0 MB (dask from 25.0 MB), but dask "
                                  "reads no data here chunk by chunk (no load_collection)")
