"""The IR's text form (issue 3): print -> parse -> print is the identity; syntax errors point.

Round trips run on the examples, on the golden files and on hypothesis-generated graphs
with awkward node ids, parameters, nested arrays/objects of references and nested
callbacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, examples
from hypothesis import given, settings
from hypothesis import strategies as st

import pgc
from pgc.data.catalog import default_catalog
from pgc.frontend.lower import lower
from pgc.ir.graph import Graph, Parameter
from pgc.ir.infer import Environment, infer_graph
from pgc.ir.nodes import ArrayValue, Callback, Literal, Node, NodeRef, ObjectValue, ParamRef
from pgc.ir.parser import IRSyntaxError, parse_ir
from pgc.ir.printer import print_graph
from pgc.specs import load_specs

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def env() -> Environment:
    return Environment(load_specs(), default_catalog())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_round_trip(path: Path):
    graph = infer_graph(lower(pgc.validate(path.read_text())), env())
    text = print_graph(graph)
    again = infer_graph(parse_ir(text), env())
    assert print_graph(again) == text
    assert again == graph


# ---------------------------------------------------------------------------------------
# Generated graphs (untyped: the text form must carry any structure, typed or not).

names = st.one_of(
    st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
    st.text(min_size=1, max_size=6),  # spaces, quotes, unicode, "1": quoted
)
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def graphs(draw, depth: int = 0, params: tuple[str, ...] = ()) -> Graph:
    own = tuple(dict.fromkeys(draw(st.lists(names, max_size=2))))
    scope = params + own
    graph = Graph(tuple(Parameter(p, optional=draw(st.booleans())) for p in own))
    ids: list[str] = []
    for node_id in dict.fromkeys(draw(st.lists(names, min_size=1, max_size=4))):
        args = []
        for arg in dict.fromkeys(draw(st.lists(names, max_size=3))):
            args.append((arg, draw(values(ids, scope, depth))))
        graph.add(
            Node(
                node_id,
                draw(st.sampled_from(["add", "apply", "x_y", "pi"])),
                tuple(args),
                namespace=draw(st.sampled_from([None, None, "user"])),
            )
        )
        ids.append(node_id)
    graph.set_result(draw(st.sampled_from(ids)))
    return graph


def values(ids: list[str], scope: tuple[str, ...], depth: int):
    options = [json_value.map(Literal)]
    if ids:
        options.append(st.sampled_from(ids).map(NodeRef))
    if scope:
        options.append(st.sampled_from(scope).map(ParamRef))
    if depth < 2:
        options.append(graphs(depth + 1, scope).map(Callback))
    leaf = st.one_of(options)
    return st.one_of(
        leaf,
        st.lists(leaf, min_size=1, max_size=3).map(lambda vs: ArrayValue(tuple(vs))),
        st.dictionaries(st.text(max_size=3), leaf, min_size=1, max_size=2).map(
            lambda d: ObjectValue(tuple(d.items()))
        ),
    )


def _canonical(graph: Graph) -> Graph:
    """What lowering would build: containers without references are plain literals."""
    return parse_ir(print_graph(graph, types=False))


@settings(max_examples=examples(150), deadline=None)
@given(graphs())
def test_generated_graphs_round_trip(graph):
    text = print_graph(graph, types=False, sizes=False)
    parsed = parse_ir(text)
    assert print_graph(parsed, types=False, sizes=False) == text
    assert parsed == _canonical(graph)


def test_quoted_names_and_origins():
    text = (
        'process(a?, "b c" = {"k": [1, null]}) @"/process/process_graph" {\n'
        "  # fold: remark kept\n"
        '  %"1" = pi() @"/elsewhere" as "orig"\n'
        '  %"naïve id" = user::"my proc"(x=[%"1", $a, {"k": $"b c"}]) @-\n'
        '  return %"naïve id"\n'
        "}\n"
    )
    with pytest.raises(IRSyntaxError):  # a process id must be an identifier
        parse_ir(text)
    text = text.replace('user::"my proc"', "user::my_proc")
    graph = parse_ir(text)
    assert print_graph(graph, types=False) == text
    assert graph.node("1").origin.node_id == "orig"
    assert graph.node("naïve id").origin is None


@pytest.mark.parametrize(
    "text,line,column",
    [
        ("process() {\n  %a = pi(\n  return %a\n}", 3, 10),
        ("process() {\n  %a = pi() : number\n  return %b\n}", 3, 11),
        ("process() {\n  %a = absolute(x=%missing)\n  return %a\n}", 2, 4),
        ("process() {\n  %a = pi()\n  %a = e()\n  return %a\n}", 3, 4),
        ("process() {", 1, 12),
    ],
)
def test_syntax_errors_have_line_column_and_caret(text, line, column):
    with pytest.raises(IRSyntaxError) as info:
        parse_ir(text)
    assert (info.value.line, info.value.column) == (line, column)
    if line <= text.count("\n") + 1 and "unexpected" in str(info.value):
        assert "^" in str(info.value)


def test_text_is_deterministic():
    graph = infer_graph(lower(pgc.validate(EXAMPLES[0].read_text())), env())
    assert print_graph(graph) == print_graph(graph.copy())
    assert json.dumps(print_graph(graph))  # plain text


def _reference_graphs() -> list[tuple[str, dict]]:
    specs = load_specs()
    return [
        (
            pid,
            {
                "id": pid,
                "parameters": [
                    {
                        "name": p.name,
                        "schema": p.schema,
                        **({"optional": True} if p.optional else {}),
                    }
                    for p in specs[pid].parameters
                ],
                "process_graph": specs[pid].process_graph,
            },
        )
        for pid in specs.ids()
        if specs[pid].process_graph
    ]


REFERENCE = _reference_graphs()


@pytest.mark.parametrize("pid,process", REFERENCE, ids=[p for p, _ in REFERENCE])
def test_reference_graphs_of_the_definitions_round_trip_and_raise(pid, process):
    """The definitions' own process graphs (e.g. absolute, clip): text and JSON round trips."""
    from pgc.compiler import compile as compile_graph

    result = pgc.validate(process)
    if not result.ok:
        pytest.skip(f"the upstream reference graph of {pid} does not validate")
    plan = compile_graph(process, pipeline="none")
    assert compile_graph(plan.text(), pipeline="none").text() == plan.text()
    assert pgc.validate(plan.to_openeo()).ok
