"""Dead-node elimination.

Law: a pure node whose value no other node reads and that is not the result does not
change the result; removing it (and then whatever only it read) is exact. Nodes with
effects (``save_result``, ``inspect``, ``run_udf`` ...) are kept even when nothing reads
them: whether they run is the user's business.
"""

from __future__ import annotations

from ..ir.graph import Graph
from .rewrite import is_pure, map_graphs


def dce(graph: Graph, context) -> tuple[Graph, bool]:
    specs = context.env.specs

    def one(g: Graph) -> tuple[Graph, bool]:
        out = g
        removed = []
        for node in reversed(g.nodes()):  # consumers first: a chain goes in one sweep
            if node.id == g.result or out.users(node.id) or not is_pure(node, specs):
                continue
            if out is g:
                out = g.copy()
            out.remove(node.id)
            removed.append(node.id)
        if removed and out.result is not None:
            names = ", ".join(sorted(removed)[:5]) + (" ..." if len(removed) > 5 else "")
            result = out.node(out.result)
            out.replace(result.with_remark(f"dce: removed {len(removed)} unused node(s): {names}"))
        return out, bool(removed)

    return map_graphs(graph, one)
