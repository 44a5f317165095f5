"""prune-bands: each load_collection loads only the bands its readers use.

Law: if no reader of a cube looks at band ``b`` (:mod:`pgc.analysis.bands`), a cube
without ``b`` gives every reader the same values. Readers that pick bands by index
(``array_element(data, index=i)`` in a reducer over the bands) would see other bands once
the order changes: they are rewritten to pick by label, which is the same band. A
cube no reader reads a band of keeps its bands (its shape still needs one).
``rename_labels`` of the bands on the way renames only the bands still loaded.
"""

from __future__ import annotations

from ..analysis.bands import analyze
from ..ir.graph import Graph
from ..ir.infer import infer_graph
from ..ir.nodes import Callback, Literal, Node, ParamRef
from ..ir.types import CubeType


def prune_bands(graph: Graph, context) -> tuple[Graph, bool]:
    out = graph
    pruned: dict[str, tuple[int, list[str]]] = {}
    table = None
    for node in graph.nodes():
        if node.process_id != "load_collection" or not isinstance(node.type, CubeType):
            continue
        if any(not isinstance(v, Literal) for _, v in node.arguments):
            continue
        dims = node.type.of_type("bands")
        if len(dims) != 1 or dims[0].labels is None:
            continue
        labels = list(dims[0].labels)
        table = table if table is not None else analyze(graph)
        usage = table[node.id]
        if not usage.bands or set(labels) <= usage.bands:
            continue  # every band, or none (then the cube's shape needs one: leave it)
        keep = [b for b in labels if b in usage.bands]
        if out is graph:
            out = graph.copy()
        args = dict(node.arguments)
        args["bands"] = Literal(keep)
        out.replace(node.with_arguments(tuple(args.items())))
        for reader, picker, index in usage.by_index:
            _pick_by_label(out, reader, picker, labels[index])
        for rename, still_used in usage.renames:
            _rename_only(out, rename, still_used)
        pruned[node.id] = (len(labels), keep)
    if not pruned:
        return graph, False
    out = infer_graph(out, context.env)
    for node_id, (total, keep) in pruned.items():
        note = f"prune-bands: {len(keep)} of {total} bands ({', '.join(map(str, keep))})"
        out.replace(out.node(node_id).with_remark(note))
    return out, True


def _pick_by_label(g: Graph, reader_id: str, picker_id: str, label: str) -> None:
    """``array_element(data, index=i)`` in the reducer of ``reader_id`` becomes the same
    pick by ``label``."""
    reader = g.node(reader_id)
    callback = reader.arg("reducer")
    assert isinstance(callback, Callback)
    body = callback.graph.copy()
    old = body.node(picker_id)
    args = tuple((k, v) for k, v in old.arguments if k not in ("index", "label", "data")) + (
        ("data", ParamRef("data")),
        ("label", Literal(label)),
    )
    body.replace(
        Node(
            old.id, old.process_id, args, old.type, old.namespace, old.origin, old.remarks
        ).with_remark(f"prune-bands: index {old.literal('index')} is band {label}")
    )
    g.replace(
        reader.with_arguments(
            tuple((k, Callback(body) if k == "reducer" else v) for k, v in reader.arguments)
        )
    )


def _rename_only(g: Graph, rename_id: str, still_used: set) -> None:
    """rename_labels of the bands, renaming only the bands still loaded: its ``source``
    must not name a band that is gone (LabelNotAvailable)."""
    node = g.node(rename_id)
    target = node.literal("target")
    source = node.literal("source")
    if not source:  # all labels, in order: the input's labels before pruning
        data = g.node(node.arg("data").id).type
        source = list(data.of_type("bands")[0].labels)
    pairs = [(s, t) for s, t in zip(source, target, strict=True) if s in still_used]
    args = dict(node.arguments)
    args["source"] = Literal([s for s, _ in pairs])
    args["target"] = Literal([t for _, t in pairs])
    g.replace(
        node.with_arguments(tuple(args.items())).with_remark(
            f"prune-bands: renames {len(pairs)} of {len(source)} bands"
        )
    )
