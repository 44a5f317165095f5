"""Issue 18, item 3: user-defined processes (UDPs) run, in every executor.

A call of a UDP means its process graph with the parameters bound to the call's arguments
(or defaults), references resolved innermost scope first (openEO API, "process graph
parameters"). Each run is compared with the same graph written without the UDP, on the
same executor; recursion is refused at validation with the cycle named; ``to_openeo`` keeps
the process object's metadata.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import pgc
from pgc.errors import PgcError
from pgc.limits import Limits
from tests.conftest import node

EXECUTORS = ["reference", "numba", "dask"]
EXTENT = {"west": 600000, "south": 5694000, "east": 601000, "north": 5695000, "crs": 32631}
DATES = ["2023-01-01", "2023-04-01"]  # three monthly dates


def ref(node_id: str) -> dict:
    return {"from_node": node_id}


def param(name: str) -> dict:
    return {"from_parameter": name}


def load(bands=("B04", "B08")) -> dict:
    return node(
        "load_collection",
        id="SENTINEL2_L2A_SAMPLE",
        spatial_extent=EXTENT,
        temporal_extent=DATES,
        bands=list(bands),
    )


def udp(pid: str, parameters: list | None, graph: dict, **more) -> dict:
    out = {"id": pid, "process_graph": graph, **more}
    if parameters is not None:
        out["parameters"] = parameters
    return out


def p(name: str, **more) -> dict:
    return {"name": name, "description": name, "schema": {}, **more}


def same(a, b) -> bool:
    a, b = np.asarray(getattr(a, "values", a)), np.asarray(getattr(b, "values", b))
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def error_of(graph: dict, **kwargs) -> PgcError:
    with pytest.raises(PgcError) as info:
        pgc.compile(graph, **kwargs)
    return info.value


# -- scaled_ndvi, built with the openEO client as users write it ---------------------------
def client_scaled_ndvi():
    pytest.importorskip("openeo")
    from openeo.api.process import Parameter
    from openeo.rest.datacube import DataCube
    from openeo.rest.graph_building import PGNode
    from openeo.rest.udp import build_process_dict

    data = Parameter.raster_cube()
    factor = Parameter.number("factor", default=10000, description="The scale factor.")
    body = DataCube(PGNode("ndvi", data={"from_parameter": "data"}), connection=None) * factor
    process = build_process_dict(
        body,
        process_id="scaled_ndvi",
        summary="NDVI, scaled",
        description="The NDVI times a factor (10000: integer-friendly).",
        parameters=[data, factor],
        returns={"description": "The scaled NDVI.", "schema": {"type": "object",
                                                              "subtype": "datacube"}},
    )  # fmt: skip
    cube = DataCube.load_collection(
        "SENTINEL2_L2A_SAMPLE",
        connection=None,
        spatial_extent=EXTENT,
        temporal_extent=DATES,
        bands=["B04", "B08"],
    )
    return process, cube


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue18_client_udp_runs_like_the_graph_without_it(executor):
    """scaled_ndvi(data, factor=10000) from the client: with the default, with an argument,
    and with ``namespace: "user"`` the same values as ndvi * factor written out."""
    process, cube = client_scaled_ndvi()
    by_default = cube.process("scaled_ndvi", data=cube).flat_graph()
    given = cube.process("scaled_ndvi", data=cube, factor=100, namespace="user").flat_graph()
    assert "factor" not in json.dumps(by_default)
    got = pgc.run(by_default, user_processes=[process], executor=executor)
    assert same(got, pgc.run((cube.ndvi() * 10000).flat_graph(), executor=executor))
    got = pgc.run(given, user_processes={"scaled_ndvi": process}, executor=executor)
    assert same(got, pgc.run((cube.ndvi() * 100).flat_graph(), executor=executor))
    assert got.shape == (3, 100, 100) and np.isfinite(got.values).any()


def test_issue18_optimizations_cross_the_udp_boundary():
    """Inlined, the UDP's body is ordinary IR: prune-bands reads only what the UDP's ndvi
    needs from a load of every band."""
    process, cube = client_scaled_ndvi()
    from openeo.rest.datacube import DataCube

    everything = DataCube.load_collection(
        "SENTINEL2_L2A_SAMPLE", connection=None, spatial_extent=EXTENT, temporal_extent=DATES
    )
    plan = pgc.compile(
        everything.process("scaled_ndvi", data=everything).flat_graph(),
        user_processes=[process],
    )
    loads = [n for _, n in plan.graph.walk() if n.process_id == "load_collection"]
    assert [n.literal("bands") for n in loads] == [["B04", "B08"]]
    assert "inline: user-defined process 'scaled_ndvi'" in plan.text()


# -- nesting -------------------------------------------------------------------------------
TIMES = udp(
    "times",
    [p("data"), p("factor")],
    {
        "a": node(
            "apply",
            result=True,
            data=param("data"),
            process={"process_graph": {"m": node("multiply", True, x=param("x"),
                                                 y=param("factor"))}},
        )
    },
)  # fmt: skip
NDVI_TIMES = udp(
    "ndvi_times",
    [p("data"), p("factor", default=10000, optional=True)],
    {
        "n": node("ndvi", data=param("data")),
        "t": node("times", result=True, data=ref("n"), factor=param("factor")),
    },
)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue18_nested_udp(executor):
    """A UDP calling a UDP: the outer default reaches the inner callback through two
    parameters (ndvi_times.factor -> times.factor -> multiply.y)."""
    graph = {"load": load(), "c": node("ndvi_times", True, data=ref("load"))}
    plain = {
        "load": load(),
        "n": node("ndvi", data=ref("load")),
        "a": node(
            "apply",
            True,
            data=ref("n"),
            process={"process_graph": {"m": node("multiply", True, x=param("x"), y=10000)}},
        ),
    }
    got = pgc.run(graph, user_processes=[NDVI_TIMES, TIMES], executor=executor)
    assert same(got, pgc.run(plain, executor=executor))
    plan = pgc.compile(graph, user_processes=[NDVI_TIMES, TIMES], pipeline="none")
    ids = [n.id for n in plan.graph.nodes()]
    assert ids == ["load", "c/n", "c"]  # the result takes the call's id, others derive


MY_MEAN = udp(
    "my_mean",
    [p("values", schema={"type": "array"})],
    {
        "s": node("sum", data=param("values")),
        "n": node("count", data=param("values")),
        "d": node("divide", True, x=ref("s"), y=ref("n")),
    },
)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue18_udp_inside_a_reducer_callback(executor):
    """my_mean(values) called in reduce_dimension's reducer, with the reducer's ``data``."""
    reducer = {"process_graph": {"m": node("my_mean", True, values=param("data"))}}
    graph = {"load": load(), "r": node("reduce_dimension", True, data=ref("load"),
                                       dimension="t", reducer=reducer)}  # fmt: skip
    mean = {"process_graph": {"m": node("mean", True, data=param("data"))}}
    plain = {"load": load(), "r": node("reduce_dimension", True, data=ref("load"),
                                       dimension="t", reducer=mean)}  # fmt: skip
    got = pgc.run(graph, user_processes=[MY_MEAN], executor=executor)
    want = pgc.run(plain, executor=executor)
    assert got.shape == want.shape == (2, 100, 100)
    np.testing.assert_allclose(got.values, want.values, rtol=1e-12)


# -- scoping ---------------------------------------------------------------------------------
MAX_OVER_TIME = udp(
    "max_over_time",
    [p("data")],
    {
        "r": node(
            "reduce_dimension",
            True,
            data=param("data"),
            dimension="t",
            reducer={"process_graph": {"m": node("max", True, data=param("data"))}},
        )
    },
)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue18_callback_parameter_shadows_the_udp_parameter(executor):
    """Inside the UDP the reducer's own ``data`` (the values along t) shadows the UDP's
    parameter ``data`` (the cube): innermost scope first."""
    graph = {"load": load(), "c": node("max_over_time", True, data=ref("load"))}
    plain = {
        "load": load(),
        "r": node(
            "reduce_dimension",
            True,
            data=ref("load"),
            dimension="t",
            reducer={"process_graph": {"m": node("max", True, data=param("data"))}},
        ),
    }
    got = pgc.run(graph, user_processes=[MAX_OVER_TIME], executor=executor)
    assert same(got, pgc.run(plain, executor=executor))


@pytest.mark.parametrize("executor", EXECUTORS)
def test_issue18_udp_taking_a_child_process_graph(executor):
    """A UDP parameter that is a process graph (its callback parameters declared by the
    UDP): it becomes the reducer inside, and its ``data`` is the reducer's."""
    my_reduce = udp(
        "over_time",
        [
            p("data"),
            p("reducer", schema={"type": "object", "subtype": "process-graph",
                                 "parameters": [{"name": "data", "schema": {}}]}),
        ],
        {"r": node("reduce_dimension", True, data=param("data"), dimension="t",
                   reducer=param("reducer"))},
    )  # fmt: skip
    reducer = {"process_graph": {"m": node("max", True, data=param("data"))}}
    graph = {"load": load(), "c": node("over_time", True, data=ref("load"), reducer=reducer)}
    plain = {"load": load(), "r": node("reduce_dimension", True, data=ref("load"),
                                       dimension="t", reducer=reducer)}  # fmt: skip
    got = pgc.run(graph, user_processes=[my_reduce], executor=executor)
    assert same(got, pgc.run(plain, executor=executor))


def test_issue18_namespaces_choose_between_user_and_predefined():
    """namespace null: the user's process first; "user": only it; "backend": predefined."""
    absolute = udp("absolute", [p("x")], {"m": node("multiply", True, x=param("x"), y=100)})
    results = [
        pgc.run({"a": {**node("absolute", True, x=-2), **extra}}, user_processes=[absolute])
        for extra in ({}, {"namespace": "user"}, {"namespace": "backend"})
    ]
    assert results == [-200, -200, 2]


# -- parameters without a value -----------------------------------------------------------
def test_issue18_missing_parameters_are_process_parameter_required():
    """A parameter the body uses with no argument and no default: declared required (at
    validation), declared optional without default, or not declared at all (at compile)."""
    required = udp("req", [p("v")], {"m": node("absolute", True, x=param("v"))})
    result = pgc.validate({"c": node("req", True)}, user_processes=[required])
    assert [(d.code, d.pointer) for d in result.errors] == [
        ("ProcessParameterRequired", "/c/arguments")
    ]
    optional = udp("opt", [p("v", optional=True)], {"m": node("absolute", True, x=param("v"))})
    undeclared = udp("free", None, {"m": node("absolute", True, x=param("v"))})
    for process in (optional, undeclared):
        graph = {"c": node(process["id"], True)}
        assert pgc.validate(graph, user_processes=[process]).ok
        error = error_of(graph, user_processes=[process])
        first = error.diagnostics[0]
        assert (first.code, first.pointer, first.argument) == (
            "ProcessParameterRequired", "/c/arguments", "v"
        )  # fmt: skip
        assert f"'{process['id']}' uses its parameter 'v'" in first.message


def test_issue18_undeclared_udp_takes_arguments_by_name():
    undeclared = udp("free", None, {"m": node("subtract", True, x=param("a"), y=param("b"))})
    assert pgc.run({"c": node("free", True, b=1, a=10)}, user_processes=[undeclared]) == 9


# -- what inlining cannot do: refused, never run differently ------------------------------
def test_issue18_node_result_used_inside_a_udp_callback_is_refused():
    graph = {"load": load(), "k": node("add", x=1, y=2),
             "c": node("times", True, data=ref("load"), factor=ref("k"))}  # fmt: skip
    first = error_of(graph, user_processes=[TIMES]).diagnostics[0]
    assert (first.code, first.pointer) == ("FeatureUnsupported", "/c/arguments/factor")
    assert "node 'k'" in first.message and "context" in first.hint
    # what the hint says: through apply's context, the node's value reaches the callback
    through_context = udp("times", [p("data"), p("factor")], {"a": node(
        "apply", True, data=param("data"), context=param("factor"),
        process={"process_graph": {"m": node("multiply", True, x=param("x"),
                                             y=param("context"))}})})  # fmt: skip
    got = pgc.run(graph, user_processes=[through_context])
    assert same(got, pgc.run({"load": load(), "c": node("apply", True, data=ref("load"),
        process={"process_graph": {"m": node("multiply", True, x=param("x"), y=3)}})}))  # fmt: skip


def test_issue18_parameter_captured_by_a_udp_callback_is_refused():
    """Called inside apply with v = apply's x, a UDP whose array_apply callback has its own
    x: putting $x there would read the wrong x."""
    scaled_sum = udp(
        "scaled_sum",
        [p("v")],
        {
            "arr": node("array_create", data=[1, 2]),
            "a": node("array_apply", data=ref("arr"), process={"process_graph": {
                "m": node("multiply", True, x=param("x"), y=param("v"))}}),
            "s": node("sum", True, data=ref("a")),
        },
    )  # fmt: skip
    inner = {"process_graph": {"c": node("scaled_sum", True, v=param("x"))}}
    graph = {"load": load(), "a": node("apply", True, data=ref("load"), process=inner)}
    first = error_of(graph, user_processes=[scaled_sum]).diagnostics[0]
    assert first.code == "FeatureUnsupported" and "parameter 'x'" in first.message
    # the same call with a constant runs: 1*3 + 2*3
    constant = {"c": node("scaled_sum", True, v=3)}
    assert pgc.run(constant, user_processes=[scaled_sum]) == 9


# -- recursion -------------------------------------------------------------------------------
PING = udp("ping", [p("v")], {"c": node("pong", True, v=param("v"))})
PONG = udp("pong", [p("v")], {"c": node("ping", True, v=param("v"))})
SELF = udp("again", [p("v")], {"c": node("again", True, v=param("v"))})


@pytest.mark.parametrize(
    "processes,named",
    [([PING, PONG], "'ping' calls itself in a cycle: 'ping' -> 'pong' -> 'ping'"),
     ([SELF], "'again' calls itself in a cycle: 'again' -> 'again'")],
)  # fmt: skip
def test_issue18_recursion_is_refused_at_validation_with_the_cycle_named(processes, named):
    graph = {"start": node(processes[0]["id"], True, v=1)}
    result = pgc.validate(graph, user_processes=processes)
    assert [(d.code, d.pointer) for d in result.errors] == [("ProcessGraphInvalid", "/start")]
    assert named in result.errors[0].message
    assert error_of(graph, user_processes=processes).code == "ProcessGraphInvalid"


def test_issue18_recursion_in_trusted_ir_text_is_refused_too():
    """IR text pgc trusts skips validation; inlining refuses the cycle itself."""
    text = "process() {\n  %start = ping(v=1)\n  return %start\n}\n"
    error = error_of(text, user_processes=[PING, PONG], trusted_ir=True)
    assert error.code == "ProcessGraphInvalid"
    assert "'ping' -> 'pong' -> 'ping'" in error.diagnostics[0].message


# -- bounds ----------------------------------------------------------------------------------
def doubling_chain(length: int) -> list[dict]:
    """u0 calls u1 twice, u1 calls u2 twice ...: 2**length nodes once inlined."""
    out = []
    for i in range(length):
        if i == length - 1:
            body = {"r": node("add", True, x=param("v"), y=1)}
        else:
            body = {
                "a": node(f"u{i + 1}", v=param("v")),
                "b": node(f"u{i + 1}", v=ref("a")),
                "r": node("add", True, x=ref("a"), y=ref("b")),
            }
        out.append(udp(f"u{i}", [p("v")], body))
    return out


def test_issue18_exponential_expansion_is_process_graph_complexity():
    """Forty doublings (a trillion nodes) end at the node limit with a clear error."""
    graph = {"c": node("u0", True, v=1)}
    assert pgc.validate(graph, user_processes=doubling_chain(40)).ok
    error = error_of(graph, user_processes=doubling_chain(40))
    first = error.diagnostics[0]
    assert (first.code, first.pointer) == ("ProcessGraphComplexity", "/c")
    assert "50000 nodes" in first.message
    small = Limits(max_nodes=100)
    assert error_of(graph, user_processes=doubling_chain(7), limits=small).code == (
        "ProcessGraphComplexity"
    )
    # within the limit it runs: f(v) = g(v) + g(g(v)) at each level
    f = lambda v: v + 1  # noqa: E731
    for _ in range(4):
        f = (lambda g: lambda v: g(v) + g(g(v)))(f)
    assert pgc.run(graph, user_processes=doubling_chain(5)) == f(1)


def test_issue18_expansion_depth_is_bounded():
    """Each UDP calls the next inside a callback: the nesting grows with every call."""
    chain = [
        udp(f"d{i}", [p("v")], {
            "a": node("array_apply", data=[param("v")], process={"process_graph": {
                "c": node(f"d{i + 1}", True, v=param("x"))}}),
            "s": node("sum", True, data=ref("a")),
        })
        for i in range(8)
    ] + [udp("d8", [p("v")], {"r": node("add", True, x=param("v"), y=1)})]  # fmt: skip
    graph = {"c": node("d0", True, v=1)}
    assert pgc.run(graph, user_processes=chain) == 2
    error = error_of(graph, user_processes=chain, limits=Limits(max_graph_depth=5))
    assert error.code == "ProcessGraphComplexity" and "deeper" in error.diagnostics[0].message


# -- diagnostics and raising ----------------------------------------------------------------
def test_issue18_errors_in_the_body_point_at_the_call():
    pick = udp("pick", [p("data")], {"f": node("filter_bands", True, data=param("data"),
                                                bands=["B99"])})  # fmt: skip
    error = error_of({"load": load(), "call": node("pick", True, data=ref("load"))},
                     user_processes=[pick])  # fmt: skip
    first = error.diagnostics[0]
    # the call itself: the body's arguments are not in the user's document
    assert first.pointer == "/call" and first.node_id == "call"
    assert first.process_id == "filter_bands"


def test_issue18_to_openeo_keeps_the_process_metadata():
    """Compiling a stored process gives back the same process: id, summary, description,
    parameters (schemas, descriptions, defaults) and returns, around the compiled graph."""
    process, _ = client_scaled_ndvi()
    plan = pgc.compile(process)
    raised = plan.to_openeo()
    for key in ("id", "summary", "description", "parameters", "returns"):
        assert raised[key] == process[key], key
    assert list(raised)[-1] == "process_graph"
    assert pgc.validate(raised).ok
    # raised again from its own compilation: the same process object
    assert pgc.compile(raised).to_openeo() == raised
    bare = pgc.compile({"a": node("pi", True)}).to_openeo()
    assert set(bare) == {"process_graph"}


def test_issue18_inlined_plan_text_round_trips():
    """print -> parse -> print of a plan with inlined nodes (ids like "c/n", origins at
    the call, remarks) is the identity."""
    graph = {"load": load(), "c": node("ndvi_times", True, data=ref("load"))}
    for pipeline in ("none", "default"):
        plan = pgc.compile(graph, user_processes=[NDVI_TIMES, TIMES], pipeline=pipeline)
        text = plan.text()
        again = pgc.compile(text, pipeline="none", trusted_ir=True)
        assert again.text() == text
        assert pgc.validate(plan.to_openeo()).ok  # no UDP call left to resolve


def test_issue18_cli_runs_a_udp_from_a_folder(tmp_path, capsys):
    from pgc.cli import main

    folder = tmp_path / "udps"
    folder.mkdir()
    double = udp("double", [p("v"), p("k", default=2, optional=True)],
                 {"m": node("multiply", True, x=param("v"), y=param("k"))})  # fmt: skip
    (folder / "double.json").write_text(json.dumps(double))
    graph = tmp_path / "g.json"
    graph.write_text(json.dumps({"d": {**node("double", True, v=21), "namespace": "user"}}))
    for executor in EXECUTORS:
        code = main(["run", str(graph), "--udp", str(folder), "--executor", executor])
        assert code == 0 and capsys.readouterr().out.strip() == "42"
