"""The IR graph's edges (issue 23): since pgc keeps them in its own dicts instead of a
networkx DiGraph (whose import was a quarter of ``pgc validate``'s start), random sequences
of changes are applied to a :class:`~pgc.ir.graph.Graph` and to a networkx DiGraph model
(the previous implementation's store), and every reading -- users, inputs, order, size,
membership, verify -- must agree after each change, for copies too.
"""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgc.ir.graph import Graph, IRError
from pgc.ir.nodes import ArrayValue, Literal, Node, NodeRef

IDS = [f"n{i}" for i in range(8)]


def _node(node_id: str, refs: list[str]) -> Node:
    """A node reading ``refs`` (a reference may repeat, also inside an array)."""
    args = tuple((f"a{i}", NodeRef(r)) for i, r in enumerate(refs))
    return Node(node_id, "sum", (*args, ("more", ArrayValue((Literal(1), *map(NodeRef, refs))))))


def _topological(model: nx.DiGraph, index: dict[str, int]) -> list[str]:
    """The order the graph promises: topological, ties by insertion order."""
    return list(nx.lexicographical_topological_sort(model, key=index.__getitem__))


def _check(graph: Graph, model: nx.DiGraph, index: dict[str, int]) -> None:
    assert len(graph) == model.number_of_nodes()
    for n in IDS:
        assert (n in graph) == (n in model)
    for n in model:
        assert graph.users(n) == sorted(model.successors(n), key=index.__getitem__)
        assert graph.inputs(n) == sorted(model.predecessors(n), key=index.__getitem__)
        assert graph.node(n) is model.nodes[n]["node"]
    assert graph.order() == _topological(model, index)


operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "replace", "remove", "copy"]),
        st.sampled_from(IDS),
        st.lists(st.sampled_from(IDS), max_size=4),
    ),
    max_size=40,
)


@given(operations)
def test_the_graph_agrees_with_a_networkx_digraph(ops):
    graph, model, index = Graph(), nx.DiGraph(), {}
    for op, node_id, refs in ops:
        # references only to nodes that exist and come earlier: no cycles, as the IR
        known = [r for r in refs if r in model and index[r] < index.get(node_id, len(IDS) + 99)]
        if op == "add" and node_id not in model:
            index[node_id] = len(index) + 100
            known = [r for r in refs if r in model]
            graph.add(_node(node_id, known))
            model.add_node(node_id, node=graph.node(node_id))
            model.add_edges_from((r, node_id) for r in known)
        elif op == "replace" and node_id in model:
            graph.replace(_node(node_id, known))
            model.remove_edges_from(list(model.in_edges(node_id)))
            model.nodes[node_id]["node"] = graph.node(node_id)
            model.add_edges_from((r, node_id) for r in known)
        elif op == "remove" and node_id in model:
            if list(model.successors(node_id)):
                with pytest.raises(IRError):
                    graph.remove(node_id)
            else:
                graph.remove(node_id)
                model.remove_node(node_id)
        elif op == "copy":
            copied = graph.copy()
            if node_id not in model:  # the copy changes, the original must not
                copied.add(_node(node_id, []))
                assert node_id not in graph
            else:
                graph = copied
        _check(graph, model, index)
        if len(graph):
            graph.set_result(graph.order()[-1])
            graph.verify()


def test_a_cycle_and_a_missing_reference_are_ir_errors():
    graph = Graph()
    graph.add(_node("a", []))
    with pytest.raises(IRError, match="missing node"):
        graph.add(_node("b", ["zzz"]))
    graph = Graph()
    graph.add(_node("a", []))
    graph.add(_node("b", ["a"]))
    graph.replace(_node("a", ["b"]))  # a cycle only a bug in a pass could make
    with pytest.raises(IRError, match="cycle"):
        graph.order()
