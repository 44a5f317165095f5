"""Bad and huge input never crashes and stays linear (issue 2, "Bad input never crashes").

Time is not asserted (shared machines are noisy); linearity is shown by what would blow up
otherwise: Python's recursion limit for deep chains, exponential walks for diamond ladders.
benchmarks/bench_validate.py measures the time.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import codes, node

import pgc


def chain(n: int) -> dict:
    graph = {"n0": node("constant", x=1)}
    for i in range(1, n):
        graph[f"n{i}"] = node("absolute", x={"from_node": f"n{i - 1}"})
    graph[f"n{n - 1}"]["result"] = True
    return graph


def diamond_ladder(levels: int) -> dict:
    graph = {"n0": node("constant", x=1)}
    for i in range(1, levels + 1):
        prev = {"from_node": f"n{i - 1}"}
        graph[f"n{i}"] = node("add", x=prev, y=dict(prev))
    graph[f"n{levels}"]["result"] = True
    return graph


def test_chain_of_3000_nodes_is_valid():
    # The walk must not depend on a raised recursion limit. Another library imported in the
    # same session may have raised it (openeo-pg-parser-networkx sets 16385 on import), so
    # the test lowers it for itself.
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        result = pgc.validate(chain(3000))
    finally:
        sys.setrecursionlimit(old_limit)
    assert result.ok and result.diagnostics == []


def test_diamond_ladder_of_40_levels_is_valid():
    result = pgc.validate(diamond_ladder(40))
    assert result.ok and result.diagnostics == []


def test_diamond_ladder_as_text_with_an_error_at_the_top():
    graph = diamond_ladder(40)
    graph["n0"] = node("constant")  # missing x, at the bottom of 2**40 paths
    result = pgc.validate(json.dumps(graph))
    assert codes(result) == {("ProcessParameterRequired", "/n0/arguments")}


def test_100000_nodes_hit_the_default_limit():
    result = pgc.validate(json.dumps(chain(100_000)))
    assert [(d.code, d.pointer) for d in result.errors] == [("ProcessGraphInvalid", "")]
    assert "more than 50000 nodes" in result.errors[0].message


def test_100000_nodes_validate_with_a_raised_limit():
    result = pgc.validate(chain(100_000), limits=pgc.Limits(max_nodes=200_000))
    assert result.ok


def test_nested_callbacks_deeper_than_the_limit():
    inner: dict = {"r": node("absolute", result=True, x={"from_parameter": "x"})}
    for _ in range(10):
        inner = {
            "a": node(
                "apply", result=True, data={"from_parameter": "x"}, process={"process_graph": inner}
            )
        }
    result = pgc.validate(inner, limits=pgc.Limits(max_graph_depth=5))
    assert [d.code for d in result.errors] == ["ProcessGraphInvalid"]
    assert "deeper than the limit of 5" in result.errors[0].message
    assert result.errors[0].pointer.count("/process_graph") == 6


def test_ten_thousand_nested_callbacks_as_text():
    text = '{"a": {"process_id": "apply", "result": true, "arguments": {"process": {' * 10_000
    result = pgc.validate(text + "}" * 40_000)
    assert not result.ok and result.errors[0].code == "ProcessGraphInvalid"


@pytest.mark.parametrize("value", [[[[[[[1]]]]]], {"a": {"b": {"c": {"d": {"e": 1}}}}}])
def test_deep_argument_values_hit_the_json_depth_limit(value):
    graph = {"n": node("array_create", result=True, data=[value])}
    result = pgc.validate(graph, limits=pgc.Limits(max_json_depth=6))
    assert not result.ok and result.errors[0].code == "ProcessGraphInvalid"


def test_cycle_among_nodes_the_result_does_not_reach():
    graph = chain(3)
    graph["a"] = node("absolute", x={"from_node": "b"})
    graph["b"] = node("absolute", x={"from_node": "a"})
    result = pgc.validate(graph)
    assert codes(result) == {("ProcessGraphInvalid", "/a")}
    assert "'a' -> 'b' -> 'a'" in result.errors[0].message


def test_user_defined_processes_calling_each_other_in_a_cycle():
    def udp(pid: str, calls: str) -> dict:
        return {
            "id": pid,
            "parameters": [{"name": "v", "schema": {"type": "number"}}],
            "process_graph": {"c": node(calls, result=True, v={"from_parameter": "v"})},
        }

    graph = {"start": node("ping", result=True, v=1)}
    result = pgc.validate(graph, user_processes=[udp("ping", "pong"), udp("pong", "ping")])
    assert [(d.code, d.pointer) for d in result.errors] == [("ProcessGraphInvalid", "/start")]
    assert "cycle" in result.errors[0].message


def test_self_recursive_user_defined_process():
    udp = {"id": "again", "process_graph": {"c": node("again", result=True)}}
    result = pgc.validate({"s": node("again", result=True)}, user_processes=[udp])
    assert any("cycle" in d.message for d in result.errors)


WRONG_TYPES = [None, True, 1, 1.5, "x", [], [1], {}, {"a": 1}]


@pytest.mark.parametrize("bad", WRONG_TYPES, ids=repr)
def test_wrong_types_at_every_level(bad):
    base = {"process_graph": {"n": node("add", result=True, x=1, y=2)}}
    places = [
        lambda d: d.__setitem__("process_graph", bad),
        lambda d: d["process_graph"].__setitem__("n", bad),
        lambda d: d["process_graph"]["n"].__setitem__("process_id", bad),
        lambda d: d["process_graph"]["n"].__setitem__("arguments", bad),
        lambda d: d["process_graph"]["n"]["arguments"].__setitem__("x", bad),
        lambda d: d["process_graph"]["n"].__setitem__("result", bad),
        lambda d: d["process_graph"]["n"].__setitem__("namespace", bad),
        lambda d: d.__setitem__("parameters", bad),
        lambda d: d.__setitem__("returns", bad),
        lambda d: d.__setitem__("id", bad),
    ]
    for mutate in places:
        doc = json.loads(json.dumps(base))
        mutate(doc)
        for form in (doc, json.dumps(doc)):
            result = pgc.validate(form)
            assert all(isinstance(d, pgc.Diagnostic) for d in result.diagnostics)


def test_validation_is_deterministic():
    graph = diamond_ladder(5)
    graph["n3"]["arguments"]["z"] = 1
    graph["n2"]["process_id"] = "ad"
    first = pgc.validate(json.dumps(graph)).diagnostics
    assert first == pgc.validate(json.dumps(graph)).diagnostics
    assert [d.pointer for d in first] == sorted(d.pointer for d in first)
