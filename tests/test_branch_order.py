"""Graph.branch_order (issue 23): the order the executors run a plan's nodes in, depth
first so that a branch is finished before the next starts. It must be a topological
order of every node, once each, whatever the graph."""

from __future__ import annotations

from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from pgc.ir.graph import Graph
from pgc.ir.nodes import Node, NodeRef


@st.composite
def dags(draw) -> Graph:
    """A graph of up to 25 nodes, each reading some of the nodes before it."""
    count = draw(st.integers(1, 25))
    graph = Graph()
    for i in range(count):
        reads = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        args = tuple((f"x{k}", NodeRef(f"n{r}")) for k, r in enumerate(reads))
        graph.add(Node(f"n{i}", "p", args))
    graph.set_result(f"n{count - 1}")
    return graph


@settings(max_examples=examples(200), deadline=None)
@given(dags())
def test_every_node_once_after_its_inputs(graph):
    order = [n.id for n in graph.branch_order()]
    assert sorted(order) == sorted(n.id for n in graph.nodes())
    position = {node_id: i for i, node_id in enumerate(order)}
    for node in graph.nodes():
        assert all(position[i] < position[node.id] for i in graph.inputs(node.id))


def test_a_branch_runs_to_its_end_before_the_next_starts():
    graph = Graph()
    for node_id, reads in [("a", ()), ("b", ()), ("a1", ("a",)), ("b1", ("b",)),
                           ("a2", ("a1",)), ("b2", ("b1",)), ("m", ("a2", "b2"))]:  # fmt: skip
        graph.add(Node(node_id, "p", tuple((f"x{k}", NodeRef(r)) for k, r in enumerate(reads))))
    graph.set_result("m")
    assert [n.id for n in graph.nodes()] == ["a", "b", "a1", "b1", "a2", "b2", "m"]
    assert [n.id for n in graph.branch_order()] == ["a", "a1", "a2", "b", "b1", "b2", "m"]


def test_the_order_follows_the_graph_when_it_changes(monkeypatch):
    """branch_order is kept between calls (the loop asks at every run of a child graph)
    and made again after any change, in the graph and not in a copy taken before."""
    graph = Graph()
    graph.add(Node("a", "p", ()))
    graph.add(Node("b", "p", (("x", NodeRef("a")),)))
    graph.set_result("b")
    walks = []
    walk = Graph._depth_first
    monkeypatch.setattr(Graph, "_depth_first", lambda self: walks.append(1) or walk(self))
    assert [n.id for n in graph.branch_order()] == ["a", "b"]
    assert [n.id for n in graph.branch_order()] == ["a", "b"] and len(walks) == 1
    before = graph.copy()
    graph.add(Node("c", "p", ()))
    graph.replace(Node("b", "p", (("x", NodeRef("a")), ("y", NodeRef("c")))))
    assert [n.id for n in graph.branch_order()] == ["a", "c", "b"]
    assert [n.id for n in before.branch_order()] == ["a", "b"]
    graph.replace(Node("b", "p", ()))  # three sinks now: each a branch of its own
    assert [n.id for n in graph.branch_order()] == ["a", "b", "c"]
