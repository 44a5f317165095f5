"""Fused kernels (issue 7, in progress) against the reference executor: random elementwise
expressions in apply callbacks and band-math reducers, on random data with no-data, NaN,
infinities, zeros and integer extremes, under both settings of the dtype policy.
Arithmetic, comparisons, logic, no-data and NaN are bit for bit; transcendental functions
(numba's C-library calls against numpy's vectorized versions) agree to a relative 1e-6
(float64) or 1e-3 (float32), and exactly in where they give NaN and infinities.

Under float32 both compute transcendental functions in float64 and round (issue 17), so
they agree also when one feeds another. Under float64 the two libraries differ in the last
bit, which a transcendental function of a transcendental function's result can amplify
without bound: cos(cosh(cosh(7))) is the cosine of 1.3e238, where one bit is a turn of
the circle, and arcosh(arcosh(cosh(1))) is arcosh of 1 or of 0.9999999999999999, a number
or NaN. Such nested expressions are compared in their validity only under float64."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from conftest import UPSTREAM_REASON, VECTORS
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgc.executors.values import Cube
from pgc.kernels.expr import UNARY, from_callback
from pgc.runner import execute

EXACT_UNARY = ["absolute", "sqrt", "floor", "ceil", "sgn", "not"]  # correctly rounded
APPROX_UNARY = sorted(set(UNARY) - set(EXACT_UNARY))
EXACT_BINARY = ["add", "subtract", "multiply", "divide", "normalized_difference", "gt", "gte",
                "lt", "lte", "eq", "neq", "xor", "and", "or"]  # fmt: skip
APPROX_BINARY = ["power", "log"]
SPECIAL = [0.0, -0.0, 1.0, -1.0, np.nan, np.inf, -np.inf, 1e308, 5e-324]
DTYPES = ["uint16", "int16", "uint8", "float32", "float64"]


NUMBER_UNARY = ["absolute", "sqrt", "floor", "ceil", "sgn"] + APPROX_UNARY
NUMBER_BINARY = ["add", "subtract", "multiply", "divide", "normalized_difference", "power", "log"]
COMPARE = ["gt", "gte", "lt", "lte", "eq", "neq"]
LOGIC = ["and", "or", "xor"]


@st.composite
def expressions(
    draw, leaves: list, want: str = "number", depth: int = 0, approx=None, exact=False
) -> dict:
    """A random, well-typed openEO child-graph value ``{"nodes": {...}, "ref": value}`` of
    type ``want`` (number or boolean), built bottom-up from ``leaves`` (numbers); with
    ``exact`` only of correctly rounded operations (no sin, exp, power ...). ``"chain"``
    is the largest number of transcendental operations on one path (2: one feeds another)."""
    nodes: dict = {}
    chains = [0]

    def operand(kind: str):
        sub = draw(expressions(leaves, kind, depth + 1, approx, exact))
        nodes.update(sub["nodes"])
        chains.append(sub["chain"])
        return sub["ref"]

    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        if want == "boolean":
            return {"nodes": {}, "ref": draw(st.sampled_from([True, False, None])), "chain": 0}
        leaf = draw(st.sampled_from([*leaves, "const", "null"]))
        if leaf == "const":
            const = draw(st.sampled_from([0, 1, 2, -3, 0.5, 1e4]))
            return {"nodes": {}, "ref": const, "chain": 0}
        return {"nodes": {}, "ref": None if leaf == "null" else leaf, "chain": 0}
    node_id = f"e{depth}_{draw(st.integers(0, 10**6))}"
    if want == "boolean":
        op = draw(st.sampled_from(COMPARE + LOGIC + ["not", "is_nan", "is_valid", "is_nodata"]))
        if op in COMPARE:
            args = {"x": operand("number"), "y": operand("number")}
        elif op in LOGIC:
            args = {"x": operand("boolean"), "y": operand("boolean")}
        elif op == "not":
            args = {"x": operand("boolean")}
        else:
            args = {"x": operand("number")}
    else:
        pool = NUMBER_UNARY + NUMBER_BINARY
        if exact:
            pool = [op for op in pool if op not in APPROX_UNARY + APPROX_BINARY]
        op = draw(st.sampled_from(pool + ["if", "clip", "lsr"]))
        if op in APPROX_UNARY + APPROX_BINARY and approx is not None:
            approx.append(op)
        if op in NUMBER_UNARY:
            args = {"p" if op == "exp" else "x": operand("number")}
        elif op in NUMBER_BINARY:
            names = {"power": ("base", "p"), "log": ("x", "base")}.get(op, ("x", "y"))
            args = {names[0]: operand("number"), names[1]: operand("number")}
        elif op == "if":
            args = {"value": operand("boolean"), "accept": operand("number"),
                    "reject": operand("number")}  # fmt: skip
        elif op == "clip":
            args = {"x": operand("number"), "min": -1, "max": 100}
        else:
            op = "linear_scale_range"
            args = {"x": operand("number"), "inputMin": 0, "inputMax": 10000, "outputMax": 255}
    nodes[node_id] = {"process_id": op, "arguments": args}
    chain = max(chains) + (op in APPROX_UNARY + APPROX_BINARY)
    return {"nodes": nodes, "ref": {"from_node": node_id}, "chain": chain}


@st.composite
def cubes(draw, bands: int, times: int = 2) -> Cube:
    dtype = draw(st.sampled_from(DTYPES))
    shape = (times, bands, 3, 4)
    info = np.iinfo(dtype) if dtype not in ("float32", "float64", "bool") else None
    pool = (
        [0, 1, 2, int(info.min), int(info.max), min(1000, int(info.max)), 7]
        if info is not None
        else ([True, False] if dtype == "bool" else SPECIAL + [3.5, 1234.0])
    )
    size = int(np.prod(shape))
    picked = draw(st.lists(st.sampled_from(pool), min_size=size, max_size=size))
    with np.errstate(over="ignore"):  # 1e308 as float32 is inf: one more special value
        values = np.array(picked, dtype=dtype).reshape(shape)
    valid = np.array(
        draw(st.lists(st.booleans(), min_size=values.size, max_size=values.size))
    ).reshape(shape)
    coords = {"t": list(range(times)), "bands": [f"b{i}" for i in range(bands)], "y": [0.0, 1, 2],
              "x": [0.0, 1, 2, 3]}  # fmt: skip
    data = xr.DataArray(values, dims=("t", "bands", "y", "x"), coords=coords)
    if draw(st.booleans()):  # no mask at all: the kernels' all-valid path
        return Cube(data, xr.DataArray(True))
    return Cube(data.where(valid, 0).astype(dtype), xr.DataArray(valid, dims=data.dims))


def rooted(expr: dict, want: str, pixel: dict) -> dict:
    """The expression's nodes with a result node that also reads the pixel (a callback
    that ignores its pixel is a constant, which the reference computes as a scalar)."""
    nodes = dict(expr["nodes"])
    if want == "number":
        root = {"process_id": "add", "arguments": {"x": expr["ref"], "y": pixel}}
    else:
        nodes["big"] = {"process_id": "gt", "arguments": {"x": pixel, "y": 5}}
        root = {"process_id": "or", "arguments": {"x": expr["ref"], "y": {"from_node": "big"}}}
    nodes["root"] = {**root, "result": True}
    return nodes


def run_both(process: dict):
    process = {**process, "result": True}
    return {"parameters": [{"name": "c", "schema": {}}], "process_graph": {"r": process}}


def compare(graph: dict, cube: Cube, approx: bool, values: bool = True) -> None:
    """The two executors give the same errors, dimensions, dtype and validity and, if
    ``values``, the same values (``approx``: within the tolerance of transcendentals)."""

    def outcome(executor):
        try:
            result = execute(graph, parameters={"c": cube}, pipeline="none", executor=executor)
        except Exception as exc:  # noqa: BLE001 - both executors must fail the same way
            return ("error", getattr(exc, "code", type(exc).__name__)), None
        return ("value", result.value), result.kernels

    (kind_a, a), _ = outcome("reference")
    (kind_b, b), stats = outcome("numba")
    assert kind_a == kind_b, (a, b)
    if kind_a == "error":
        assert a == b
        return
    assert stats is not None and stats.kernels, "the numba executor ran no kernel"
    assert a.dims == b.dims and a.data.dtype == b.data.dtype
    ok_a = np.broadcast_to(a.valid.values, a.data.shape)
    ok_b = np.broadcast_to(b.valid.values, b.data.shape)
    np.testing.assert_array_equal(ok_a, ok_b)
    if not values:
        return
    va, vb = np.where(ok_a, a.data.values, 0), np.where(ok_b, b.data.values, 0)
    if approx and va.dtype.kind == "f":
        # numba calls the C library's sin, exp, ... while numpy uses its own vectorized
        # versions: they agree to the last few bits, which ill-conditioned arguments (tan
        # near a pole, arcosh near 1, float32 range reduction) can amplify.
        finite = np.isfinite(va) & np.isfinite(vb)
        np.testing.assert_array_equal(np.isnan(va), np.isnan(vb))
        np.testing.assert_array_equal(va[~finite & ~np.isnan(va)], vb[~finite & ~np.isnan(vb)])
        rtol = 1e-6 if va.dtype == np.float64 else 1e-3
        np.testing.assert_allclose(va[finite], vb[finite], rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(va, vb)


def comparable(policy: str, expr: dict) -> bool:
    """Whether the values of ``expr`` can be compared: not under float64 when one
    transcendental function feeds another (the module's docstring says why)."""
    return policy == "float32" or expr["chain"] < 2


@settings(deadline=None, max_examples=25)
@given(data=st.data())
def test_apply_kernels_equal_the_reference(policy, data):
    approx: list = []
    want = data.draw(st.sampled_from(["number", "boolean"]))
    expr = data.draw(expressions([{"from_parameter": "x"}], want, approx=approx))
    nodes = rooted(expr, want, {"from_parameter": "x"})
    arguments = {"data": {"from_parameter": "c"}, "process": {"process_graph": nodes}}
    process = {"process_id": "apply", "arguments": arguments}
    compare(run_both(process), data.draw(cubes(2)), bool(approx), comparable(policy, expr))


PICKS = {
    **{f"p{i}": {"process_id": "array_element",
                 "arguments": {"data": {"from_parameter": "data"}, "label": f"b{i}"}}
       for i in range(3)},
    "p3": {"process_id": "array_element",
           "arguments": {"data": {"from_parameter": "data"}, "index": 1}},
}  # fmt: skip


def band_math(expr: dict, want: str) -> dict:
    """reduce_dimension over the bands of cube ``c`` with ``expr`` of the picked bands."""
    nodes = {**PICKS, **rooted(expr, want, {"from_node": "p0"})}
    return run_both({"process_id": "reduce_dimension", "arguments": {
        "data": {"from_parameter": "c"}, "dimension": "bands",
        "reducer": {"process_graph": nodes}}})  # fmt: skip


@st.composite
def band_math_cases(draw) -> tuple:
    """(graph, cube, whether transcendentals are in it, the expression) for band math."""
    approx: list = []
    want = draw(st.sampled_from(["number", "boolean"]))
    expr = draw(expressions([{"from_node": k} for k in PICKS], want, approx=approx))
    return band_math(expr, want), draw(cubes(3)), bool(approx), expr


def _float32_ones() -> Cube:
    values = np.ones((1, 3, 1, 2), dtype="float32")
    coords = {"t": [0], "bands": ["b0", "b1", "b2"], "y": [0.0], "x": [0.0, 1]}
    return Cube(xr.DataArray(values, dims=("t", "bands", "y", "x"), coords=coords),
                xr.DataArray(True))  # fmt: skip


# arcosh(ln(exp(1))) under float32 (issue 17): ln(exp(1)) was 1.0000001 in numpy's float32
# functions and 0.99999994 in the C library's (numba's), so arcosh gave 0.00048828 in the
# reference and NaN in the kernel; both now compute in float64 and round: 1.0, arcosh 0.
_ARCOSH = {"nodes": {
    "e2": {"process_id": "exp", "arguments": {"p": {"from_node": "p0"}}},
    "e1": {"process_id": "ln", "arguments": {"x": {"from_node": "e2"}}},
    "e0": {"process_id": "arcosh", "arguments": {"x": {"from_node": "e1"}}},
}, "ref": {"from_node": "e0"}, "chain": 3}  # fmt: skip
# three linear_scale_range of the constant 0.5 under float32: the kernel computed them in
# float32 (8.290687e-06), the reference in Python's float64 (8.290686e-06); a part of a
# kernel that reads no pixel now computes in float64 too
_SCALED = {"nodes": {
    f"e{i}": {"process_id": "linear_scale_range", "arguments": {
        "x": {"from_node": f"e{i + 1}"} if i < 2 else 0.5, "inputMin": 0, "inputMax": 10000,
        "outputMax": 255}} for i in range(3)
}, "ref": {"from_node": "e0"}, "chain": 0}  # fmt: skip


@settings(deadline=None, max_examples=25)
@given(case=band_math_cases())
@example(case=(band_math(_ARCOSH, "number"), _float32_ones(), True, _ARCOSH))
@example(case=(band_math(_SCALED, "number"), _float32_ones(), False, _SCALED))
def test_band_math_kernels_equal_the_reference(policy, case):
    graph, cube, approx, expr = case
    compare(graph, cube, approx, comparable(policy, expr))


def test_evi_runs_as_one_kernel_with_a_warm_cache():
    import json
    from pathlib import Path

    graph = json.loads((Path(__file__).resolve().parent.parent / "examples" / "evi.json")
                       .read_text())  # fmt: skip
    execute(graph, executor="numba")
    warm = execute(graph, executor="numba")
    assert warm.kernels.compile_seconds == 0 and len(warm.kernels.kernels) == 1
    plain = execute(graph)
    np.testing.assert_array_equal(
        plain.outputs[0][0].filled().values, warm.outputs[0][0].filled().values
    )


def test_callbacks_a_kernel_cannot_express_fall_back():
    from pgc.ir.parser import parse_ir

    mean = parse_ir("process(data) { %m = mean(data=$data) return %m }")
    assert from_callback(mean, "reduce") is None
    context = parse_ir("process(x, context) { %m = multiply(x=$x, y=$context) return %m }")
    assert from_callback(context, "apply") is None


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
def test_integer_and_float32_bands_are_promoted_like_the_reference(dtype):
    values = np.array([[[[0, 1], [2, 3]]], [[[4, 5], [6, 7]]]], dtype=dtype).repeat(2, axis=1)
    coords = {"t": [0, 1], "bands": ["b0", "b1"], "y": [0.0, 1], "x": [0.0, 1]}
    data = xr.DataArray(values, dims=("t", "bands", "y", "x"), coords=coords)
    cube = Cube(data, xr.ones_like(data, dtype=bool))
    nodes = {
        "a": {"process_id": "array_element", "arguments": {"data": {"from_parameter": "data"},
                                                            "index": 0}},
        "d": {"process_id": "divide", "arguments": {"x": {"from_node": "a"}, "y": 3},
              "result": True},
    }  # fmt: skip
    process = {"process_id": "reduce_dimension", "arguments": {
        "data": {"from_parameter": "c"}, "dimension": "bands",
        "reducer": {"process_graph": nodes}}}  # fmt: skip
    compare(run_both(process), cube, approx=False)


@pytest.mark.skipif(not VECTORS.is_dir(), reason=UPSTREAM_REASON)
@pytest.mark.parametrize("name", ["reduce_dimension", "linear_scale_range", "clip"])
def test_conformance_vectors_pass_the_same_with_the_numba_executor(name):
    import json5

    from pgc.conformance import run_case
    from pgc.specs import load_specs

    folder = VECTORS
    specs = load_specs()
    for case in json5.loads((folder / f"{name}.json5").read_text())["tests"]:
        expected = run_case(name, case, folder, specs)[0]
        assert run_case(name, case, folder, specs, executor="numba")[0] == expected


def test_cli_numba_executor_writes_what_the_reference_writes(tmp_path, capsys):
    import rasterio

    from pgc.cli import main

    evi = str(Path(__file__).resolve().parent.parent / "examples" / "evi.json")
    assert main(["run", evi, "-o", str(tmp_path / "ref.tif")]) == 0
    assert main(["run", evi, "--executor", "numba", "--stats", "-o", str(tmp_path / "nb.tif")]) == 0
    assert "kernels: 1 run" in capsys.readouterr().out
    with rasterio.open(tmp_path / "ref.tif") as a, rasterio.open(tmp_path / "nb.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())


def test_a_cloud_mask_with_array_contains_fuses_into_the_composite():
    """array_contains([3, 8, 9, 10], SCL) in a reducer: one kernel with the NDVI, the mask
    and the max over time; equal to the reference with NaN, no-data, and list elements
    that are not numbers (they never equal a pixel)."""
    from test_optimizer_differential import assert_same

    rng = np.random.default_rng(1)
    bands = {"bands": ["B04", "B08", "SCL"]}
    values = rng.integers(0, 12, (2, 3, 4, 5)).astype(np.float32)
    values[0, 2, 0, 0] = np.nan
    data = xr.DataArray(values, dims=("t", "bands", "y", "x"), coords=bands)
    valid = xr.DataArray(rng.random(values.shape) > 0.2, dims=data.dims, coords=bands)
    scl = {"process_id": "array_element", "arguments": {"data": {"from_parameter": "data"},
                                                        "label": "SCL"}}  # fmt: skip
    contains = {"process_id": "array_contains", "result": True, "arguments": {
        "data": [3, 8, 9.0, 10, "x", None, True], "value": {"from_node": "s"}}}  # fmt: skip
    data_of = {"data": {"from_parameter": "data"}}
    best = {"process_graph": {"x": {"process_id": "max", "result": True, "arguments": data_of}}}
    graph = {"parameters": [{"name": "c", "schema": {}}], "process_graph": {
        "clouds": {"process_id": "reduce_dimension", "arguments": {
            "data": {"from_parameter": "c"}, "dimension": "bands",
            "reducer": {"process_graph": {"s": scl, "c": contains}}}},
        "nd": {"process_id": "ndvi", "arguments": {"data": {"from_parameter": "c"},
                                                   "red": "B04", "nir": "B08"}},
        "m": {"process_id": "mask", "arguments": {"data": {"from_node": "nd"},
                                                  "mask": {"from_node": "clouds"}}},
        "r": {"process_id": "reduce_dimension", "result": True, "arguments": {
            "data": {"from_node": "m"}, "dimension": "t", "reducer": best}},
    }}  # fmt: skip
    cube = Cube(data, valid)
    expected = execute(graph, parameters={"c": cube}).value
    fused = execute(graph, parameters={"c": cube}, executor="numba")
    assert len(fused.kernels.kernels) == 1
    assert_same(("value", expected), ("value", fused.value), "numba")


def test_infinite_constants_in_kernels_match_the_reference():
    """linear_scale_range over the whole float range has an infinite scale; the generated
    kernel wrote it as ``FLOAT(inf)``, a NameError (issue 16)."""
    import numpy as np

    from pgc.runner import execute

    scale = {"inputMin": -1e308, "inputMax": 1e308, "outputMin": -1e308, "outputMax": 1e308}
    graph = {
        "l": {
            "process_id": "load_collection",
            "arguments": {
                "id": "SENTINEL2_L2A_SAMPLE",
                "spatial_extent": {
                    "west": 600000, "east": 600100, "south": 5694900, "north": 5695000,
                    "crs": 32631,
                },
                "temporal_extent": ["2023-01-01", "2023-02-01"],
                "bands": ["B04"],
            },
        },
        "a": {
            "process_id": "apply",
            "arguments": {
                "data": {"from_node": "l"},
                "process": {"process_graph": {"s": {
                    "process_id": "linear_scale_range",
                    "arguments": {"x": {"from_parameter": "x"}, **scale},
                    "result": True,
                }}},
            },
            "result": True,
        },
    }  # fmt: skip
    fused = execute(graph, executor="numba").value
    reference = execute(graph).value
    np.testing.assert_array_equal(fused.filled().values, reference.filled().values)
