"""Which bands of a cube its readers use: a backward analysis over the IR.

``used(graph, node_id)`` answers for the value of one node: the set of band labels that
some reader may look at, or ``None`` when a reader may look at every band (it saves the
cube, merges it, reduces the bands with something else than picking bands, ...). A reader
uses:

- ``filter_bands``: the bands it keeps (by name, common name or wavelength, as its type says);
- ``reduce_dimension`` over the bands with a reducer that only picks bands
  (``array_element`` of its ``data`` by label, or by index, which is a label of the
  cube's band order): those bands;
- ``ndvi``: its ``nir`` and ``red`` bands (by name or common name), unless it writes a
  ``target_band`` (then the cube keeps every band);
- ``rename_labels`` of the bands: what its readers use, under the old names;
- processes that keep the bands and treat each band alone (``apply``, the spatial and
  temporal filters, ``apply_kernel``, reductions and aggregations over time, ...): what
  their readers use.

Anything else uses every band. The analysis also lists the ``array_element`` nodes that
pick bands by index, so that a pass changing the band order can rewrite them to labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.band_filter import band_by_common_name
from ..ir.graph import Graph
from ..ir.nodes import ArrayValue, Callback, Literal, Node, NodeRef, ObjectValue, ParamRef
from ..ir.types import CubeType
from ..specs import bundled_traits

# Dimension flows (trait ``dims``) that keep the bands dimension and compute each band from
# the same band of ``data`` alone: they select or resample pixels or dates, or reduce dates.
PER_BAND_FLOWS = frozenset(
    {"filter:spatial", "filter:temporal", "trim", "aggregate_temporal", "resample:spatial"}
)
# ``keep`` says the dimensions stay, not that bands stay apart: mask and anomaly read a
# second cube whose bands must match data's, apply_neighborhood and apply_polygon hand
# cubes (all bands) to their callbacks. These ``keep`` processes compute each band alone:
# apply (its callback sees one value), apply_kernel (a window over x and y of one band),
# mask_polygon (its mask is geometries).
PER_BAND_KEEP = frozenset({"apply", "apply_kernel", "mask_polygon"})
# Dimension flows along the one dimension an argument ``dimension`` names: per band when
# that dimension is not the bands.
ALONG_FLOWS = frozenset(
    {"reduce:dimension", "apply_dimension", "filter:dimension", "rename_labels"}
)

# Processes that keep the bands dimension and compute each band from itself alone,
# through their ``data`` argument: a reader of their value uses the same bands of ``data``.
PER_BAND = (
    frozenset(pid for pid, traits in bundled_traits().items() if traits.dims in PER_BAND_FLOWS)
    | PER_BAND_KEEP
)
# ... and these when the dimension they work along is not the bands
ALONG_DIMENSION = frozenset(
    pid for pid, traits in bundled_traits().items() if traits.dims in ALONG_FLOWS
)


@dataclass
class Usage:
    bands: set | None  # None: every band
    by_index: list[tuple[str, str, int]] = field(default_factory=list)  # (reader, node, index)
    # rename_labels nodes of the bands on the way, with the labels of their input still used:
    # a pass removing bands restricts their source/target to those
    renames: list[tuple[str, set]] = field(default_factory=list)


def used(graph: Graph, node_id: str) -> Usage:
    """The bands of ``node_id``'s value that its readers use."""
    return analyze(graph)[node_id]


def analyze(graph: Graph) -> dict[str, Usage]:
    """The band usage of every node's value. Readers come after what they read in the
    topological order, so walking it backwards finds each reader's usage computed already:
    one pass, no recursion (chains of thousands of nodes are fine)."""
    table: dict[str, Usage] = {}
    for node_id in reversed(graph.order()):
        node = graph.node(node_id)
        labels = _band_labels(node)
        if labels is None or graph.result == node_id:
            table[node_id] = Usage(None)
            continue
        total = Usage(set())
        for reader_id in graph.users(node_id):
            part = _used_by(graph, graph.node(reader_id), node_id, labels, table)
            if part.bands is None:
                total = Usage(None)
                break
            total.bands |= part.bands
            total.by_index += part.by_index
            total.renames += part.renames
        table[node_id] = total
    return table


def _used_by(
    graph: Graph, reader: Node, source: str, labels: tuple, table: dict[str, Usage]
) -> Usage:
    if [k for k, v in reader.arguments if _refers(v, source)] != ["data"]:
        return Usage(None)  # the value reaches it some other way too
    pid = reader.process_id
    if pid == "filter_bands":
        return _filtered(reader)
    if pid == "ndvi" and reader.arg("target_band") is None:
        return _ndvi(graph.node(source), reader)
    dim = _bands_dimension(graph.node(source))
    if pid == "reduce_dimension" and reader.literal("dimension") == dim:
        return _picked(reader, labels, graph.node(source).type)
    if pid == "rename_labels" and reader.literal("dimension") == dim:
        return _renamed(reader, labels, table[reader.id])
    if pid in PER_BAND or (pid in ALONG_DIMENSION and reader.literal("dimension") != dim):
        if pid == "apply_dimension" and reader.arg("target_dimension") is not None:
            return Usage(None)
        return table[reader.id]
    return Usage(None)


def _filtered(reader: Node) -> Usage:
    """filter_bands: the bands its type says it keeps (the type rule resolves common names
    and wavelength ranges to band names; the names it was given may be neither)."""
    t = reader.type
    dims = t.of_type("bands") if isinstance(t, CubeType) and not t.unknown_dimensions else []
    if len(dims) != 1 or dims[0].labels is None:
        return Usage(None)
    return Usage(set(dims[0].labels))


def _refers(value, node_id: str) -> bool:
    return any(isinstance(v, NodeRef) and v.id == node_id for v in _leaves(value))


def _leaves(value) -> list:
    """The references inside an argument value (arrays and objects opened)."""
    out, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, ArrayValue):
            stack.extend(item.items)
        elif isinstance(item, ObjectValue):
            stack.extend(v for _, v in item.items)
        else:
            out.append(item)
    return out


def _picked(reducer_node: Node, labels: tuple, cube) -> Usage:
    """A reducer that only picks bands of ``data`` with array_element (by name, common
    name or index)."""
    callback = reducer_node.arg("reducer")
    if not isinstance(callback, Callback):
        return Usage(None)
    body = callback.graph
    picked, by_index = set(), []
    for graph, node in body.walk():
        for name, value in node.arguments:
            if not _mentions_data(value):
                continue
            if graph is not body or node.process_id != "array_element" or name != "data":
                return Usage(None)
            if value != ParamRef("data"):
                return Usage(None)
            label, index = node.literal("label"), node.literal("index")
            band = _by_name(cube, label) if isinstance(label, str) else None
            if band is not None and node.arg("index") is None:
                picked.add(band)
            elif isinstance(index, int) and 0 <= index < len(labels) and node.arg("label") is None:
                picked.add(labels[index])
                by_index.append((reducer_node.id, node.id, index))
            else:
                return Usage(None)
    return Usage(picked, by_index)


def _mentions_data(value) -> bool:
    return any(isinstance(v, ParamRef) and v.name == "data" for v in _leaves(value))


def _ndvi(source: Node, reader: Node) -> Usage:
    cube = source.type
    wanted = []
    for argument, default in (("nir", "nir"), ("red", "red")):
        name = reader.literal(argument, default)
        if reader.arg(argument) is not None and not isinstance(reader.arg(argument), Literal):
            return Usage(None)
        band = _by_name(cube, name)
        if band is None:
            return Usage(None)
        wanted.append(band)
    return Usage(set(wanted))


def _by_name(cube, name: str) -> str | None:
    labels = _labels_of(cube)
    if labels is None:
        return None
    if name in labels:
        return name
    return band_by_common_name(cube.bands, labels, name)


def _renamed(reader: Node, labels: tuple, after: Usage) -> Usage:
    target, source = reader.literal("target"), reader.literal("source")
    if not isinstance(target, list):
        return Usage(None)
    if source is None or source == []:
        source = list(labels)
    if not isinstance(source, list) or len(source) != len(target):
        return Usage(None)
    if after.bands is None:
        return Usage(None)
    back = dict(zip(target, source, strict=True))
    if after.by_index:
        return Usage(None)  # indices of the renamed cube: keep it simple, keep every band
    before = {back.get(b, b) for b in after.bands}
    return Usage(before, renames=[*after.renames, (reader.id, before)])


def _bands_dimension(node: Node) -> str | None:
    cube = node.type
    if not isinstance(cube, CubeType) or cube.unknown_dimensions:
        return None
    dims = cube.of_type("bands")
    return dims[0].name if len(dims) == 1 else None


def _labels_of(cube) -> tuple | None:
    if not isinstance(cube, CubeType) or cube.unknown_dimensions:
        return None
    dims = cube.of_type("bands")
    return dims[0].labels if len(dims) == 1 else None


def _band_labels(node: Node) -> tuple | None:
    return _labels_of(node.type)
