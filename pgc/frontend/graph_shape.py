"""A graph's shape once its nodes are read: no cycles, every node reaches the result, and
the result is what the graph must return.

Cycles are found with Kahn's algorithm in linear time; only when there is one is networkx
imported, to name each strongly connected component (``pgc validate`` of a valid graph
never loads it). A node that does not contribute to the result is a warning: openEO leaves
undefined whether a back-end runs it, which matters for one with an effect
(``save_result``, ``export_*``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import echo
from .walk import INVALID, Node, Task

if TYPE_CHECKING:
    from .checker import Checker


def check_cycles(checker: Checker, nodes: dict[str, Node]) -> bool:
    """Kahn's algorithm; on a cycle, report each strongly connected component."""
    indegree = {nid: 0 for nid in nodes}
    users: dict[str, list[str]] = {nid: [] for nid in nodes}
    for node in nodes.values():
        for target in node.uses:
            indegree[node.id] += 1
            users[target].append(node.id)
    ready = [nid for nid, d in indegree.items() if d == 0]
    done = 0
    while ready:
        nid = ready.pop()
        done += 1
        for user in users[nid]:
            indegree[user] -= 1
            if indegree[user] == 0:
                ready.append(user)
    if done == len(nodes):
        return True
    import networkx as nx  # only when there is a cycle to explain

    g = nx.DiGraph()
    for node in nodes.values():
        if indegree[node.id] > 0:
            g.add_edges_from((t, node.id) for t in node.uses if indegree[t] > 0)
    order = list(nodes)
    for component in nx.strongly_connected_components(g):
        members = sorted(component, key=order.index)
        if len(members) == 1 and not g.has_edge(members[0], members[0]):
            continue
        first = nodes[members[0]]
        path = " -> ".join(f"{echo(m)}" for m in [*members, members[0]][:12])
        checker.report(
            INVALID,
            f"Nodes {path} form a cycle: a node cannot depend on its own result.",
            first.pointer,
            first,
        )
    return False


def check_unused(checker: Checker, nodes: dict[str, Node], result: Node) -> None:
    """Warn about each node the result does not depend on."""
    seen = {result.id}
    stack = [result.id]
    while stack:
        for target in nodes[stack.pop()].uses:
            if target not in seen:
                seen.add(target)
                stack.append(target)
    for node in nodes.values():
        if node.id in seen:
            continue
        pid = node.raw.get("process_id")
        effect = node.spec is not None and node.spec.traits.get("pure") is False
        why = (
            "is not connected to the result node; whether a back-end runs it is undefined"
            if effect
            else "does not contribute to the result"
        )
        checker.report(
            INVALID,
            f"Node {echo(node.id)} ({pid}) {why}.",
            node.pointer,
            node,
            severity="warning",
        )


def check_returns(checker: Checker, task: Task, result: Node) -> None:
    """The result of a callback must be what its process expects it to return."""
    if task.returns is None or task.returns.can_accept(result.returns):
        return
    checker.report(
        "ProcessParameterInvalid",
        f"The result of {task.scope.what} must "
        f"be {task.returns.describe()}, but node {echo(result.id)} gives "
        f"{result.returns.describe()}.",
        result.pointer,
        result,
    )
