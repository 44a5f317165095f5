"""fuse-elementwise: maximal regions of per-pixel work become one kernel node each.

A region grows from its sources (cubes: load results, parameters, or nodes that are not
per-pixel) through nodes that compute each pixel from the same pixel of their inputs:

- ``apply`` whose callback is elementwise (:func:`pgc.kernels.expr.from_callback`);
- ``reduce_dimension`` whose reducer is elementwise over ``array_element`` picks by
  label or index (band math): the picks become inputs of the kernel;
- ``ndvi`` (without ``target_band``): two bands picked by name or common name;
- ``filter_bands`` keeping only the ``target_band`` of an ``ndvi``: the NDVI as above, in
  a bands dimension of that one label (:attr:`Region.band`; the kernel node's ``band``),
  so the other bands are never converted;
- ``mask`` with a cube, when both the data and the mask are regions (or sources); the
  mask of a source cube itself only inside a reduction below, which computes in the
  compute dtype (alone, the reference keeps the source's dtype);
- and last, ``reduce_dimension`` with one of the reducers ``max``, ``min``, ``mean``,
  ``sum``, ``count``, ``median`` (:data:`pgc.kernels.reducers.REDUCERS`): the kernel then
  folds the dimension in the same pass, so a cloud-masked NDVI composite over time reads
  its input once; ``count`` with an elementwise condition callback too: the condition
  joins the expression and the kernel counts where it is true (:func:`counted_condition`).

Law: for elementwise ``f`` and ``g``, ``apply(apply(c, g), f) == apply(c, f . g)``, and a
pick commutes with elementwise work: ``array_element(apply(c, g), b) == g(array_element(c,
b))``; so the composition computed pixel by pixel equals the chain of nodes. A producer is
absorbed only when its consumer is its only reader (otherwise its value is needed anyway,
and it becomes a kernel of its own); a region stops at :data:`MAX_OPERATIONS`.

The kernel node (``pgc::kernel``) keeps the nodes it replaced as its ``body``, a child
graph over the sources. The reference executor runs the body, so a fused graph means what
the unfused graph meant; the numba executor runs the expression as one compiled loop and
falls back to the body wherever the data does not fit the kernel (dimensions that do not
line up, a label that is not there, a dtype it does not compute). Arguments:
``sources`` (name -> cube), ``inputs`` (per kernel input: source name, the dimension
picked from and ``["label", v]``, ``["index", i]`` or ``["band", name or common name]``,
or nulls for the whole cube),
``expression`` (:func:`pgc.kernels.expr.to_json`), ``reduce`` (null or the dimension,
reducer and ignore_nodata), for a filter keeping ndvi's target band, ``band`` (the
bands dimension and that label, which the kernel's values are put in), and ``defer``
(the id of the kernel's one reader, a temporal aggregation whose groups of dates the numba
executor folds from the kernel's inputs instead: :func:`_folding_aggregation`).

Not in the default pipeline: kernel nodes are not openEO processes, so this is a lowering
step of the numba executor (``pgc run --executor numba``, ``pgc explain --kernels``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ..ir.graph import Graph, Parameter
from ..ir.nodes import Callback, Literal, Node, NodeRef, ObjectValue, ParamRef, Value
from ..jsonvalue import is_number
from ..kernels.expr import Expr, from_callback, masked, substitute, to_json
from ..kernels.reducers import COUNT_TRUE, REDUCERS

MAX_OPERATIONS = 200  # a bound on kernel size: compile time, and expression depth


@dataclass(frozen=True)
class Region:
    """Per-pixel work over ``sources``: ``inputs[j]`` = (source index, dimension picked
    from or None, selector or None) is what ``expr`` reads as input ``j``."""

    sources: tuple[Value, ...]
    inputs: tuple[tuple, ...]
    expr: Expr
    members: tuple[str, ...] = ()  # the nodes it replaces, in graph order
    reduce: tuple | None = None  # (dimension, reducer, ignore_nodata)
    # mask of a bare source cube: the reference keeps the source's dtype there, so the
    # region is only computed inside a reduction that folds it (which computes in the
    # compute dtype either way), never as a kernel of its own
    folded_only: bool = False
    # ndvi with target_band: only a filter_bands keeping just that band (``target``) takes
    # it in; that filter's region then puts its values in a bands dimension ``band`` =
    # (name, label) of one label, which elementwise work and folds of other dimensions keep
    target: str | None = None
    band: tuple[str, str] | None = None

    @property
    def whole(self) -> bool:
        """Whether every input is a whole source cube (nothing picked)."""
        return all(dim is None for _, dim, _ in self.inputs)


def fuse_elementwise(graph: Graph, context) -> tuple[Graph, bool]:
    """Replace each maximal region of the top-level graph by a ``pgc::kernel`` node."""
    regions: dict[str, Region] = {}
    for node in graph.nodes():
        region = _region(node, graph, regions)
        if region is not None:
            regions[node.id] = region
    while True:
        absorbed = {m for r in regions.values() for m in r.members[:-1]}
        roots = [n for n in regions if n not in absorbed]
        alone = [n for n in roots if regions[n].folded_only or regions[n].target is not None]
        if not alone:
            break
        for n in alone:  # what it absorbed (the mask's own region) may be a kernel still
            del regions[n]
    if not roots:
        return graph, False
    out = graph.copy()
    for root in roots:
        region = regions[root]
        out.replace(_kernel_node(graph, root, region))
        for member in reversed(region.members[:-1]):
            out.remove(member)
    for root in roots:
        reader = _folding_aggregation(out, root, regions[root])
        if reader is not None:
            kernel = out.node(root)
            args = [(k, v) for k, v in kernel.arguments if k != "body"]
            args += [("defer", Literal(reader)), ("body", kernel.arg("body"))]
            out.replace(kernel.with_arguments(tuple(args)))
    return out, True


# the temporal aggregations whose groups of dates the numba executor folds
AGGREGATIONS = ("aggregate_temporal", "aggregate_temporal_period")


def _folding_aggregation(graph: Graph, root: str, region: Region) -> str | None:
    """The id of the one reader of kernel ``root`` when it is a temporal aggregation whose
    reducer a kernel folds: then the kernel is marked ``defer`` and the numba executor
    folds each group of dates from the kernel's inputs (law: the aggregation reduces
    each group of the kernel's values, which are computed pixel by pixel; a fold of the
    expression over a group computes the same values). Not for a fold, a band, or
    booleans (the reference's dtype rules for those stay with the reference)."""
    if region.reduce is not None or region.band is not None or region.expr.boolean:
        return None
    users = graph.users(root)
    if root == graph.result or len(users) != 1:
        return None
    reader = graph.node(users[0])
    if reader.namespace is not None or reader.process_id not in AGGREGATIONS:
        return None
    if reader.arg("data") != NodeRef(root) or list(reader.node_refs()).count(root) != 1:
        return None
    reducer = reader.arg("reducer")
    return reader.id if _is_cb(reducer) and foldable(reducer.graph) is not None else None


def _region(node: Node, graph: Graph, regions: dict[str, Region]) -> Region | None:
    if node.namespace is not None:
        return None
    for absorb in (True, False):  # a region too large: start again from its operands
        region = _grow(node, graph, regions, absorb)
        if region is None or region.expr.size() <= MAX_OPERATIONS:
            return region
    return None


def _grow(node: Node, graph: Graph, regions: dict, absorb: bool) -> Region | None:
    def operand(name: str, whole: bool = False, folds: bool = False, band: bool = False,
                target: bool = False) -> Region | None:
        value = node.arg(name)
        if not isinstance(value, NodeRef | ParamRef):
            return None
        inner = regions.get(value.id) if isinstance(value, NodeRef) and absorb else None
        usable = inner is not None and inner.reduce is None and (inner.whole or not whole)
        usable = usable and (not inner.folded_only or folds)
        usable = usable and (inner.band is None or band) and (inner.target is None or target)
        if usable and _only_reader(graph, value.id, node):
            return inner
        return Region((value,), ((0, None, None),), Expr("in", value=0))

    grows = GROWS_THROUGH.get(node.process_id)
    if grows is None or not {k for k, _ in node.arguments} <= grows[0]:
        return None
    others = [v for k, v in node.arguments if k not in ("data", "mask")]
    if not all(isinstance(v, Literal | Callback) for v in others):
        return None  # the body holds the region's nodes over its sources, and nothing else
    return grows[1](node, operand)


def _apply(node: Node, operand) -> Region | None:
    """apply with an elementwise callback: the callback's expression over the region."""
    callback = node.arg("process")
    translated = from_callback(callback.graph, "apply") if _is_cb(callback) else None
    base = operand("data", band=True) if translated is not None else None
    if base is None:
        return None
    expr = substitute(translated[0], {0: base.expr})
    return Region(base.sources, base.inputs, expr, (*base.members, node.id), band=base.band)


def _mask(node: Node, operand) -> Region | None:
    """mask with a cube, both the data and the mask regions (or sources)."""
    replacement = node.arg("replacement")
    value = replacement.value if isinstance(replacement, Literal) else 0
    if replacement is not None and not (value is None or is_number(value)):
        return None
    data, mask = operand("data"), operand("mask")
    if data is None or mask is None or data.expr.boolean:
        return None
    # a bare cube keeps its own dtype in mask (the reference's): only a folding reduction
    # may take it in, and only as no-data (a replacement would be cast to that dtype)
    bare = data.expr.op == "in"
    if bare and replacement is not None and value is not None:
        return None
    joined = _join(data, mask)
    expr = masked(data.expr, joined[1], None if replacement is None else value)
    members = tuple(dict.fromkeys((*data.members, *mask.members, node.id)))
    return Region(joined[0].sources, joined[0].inputs, expr, members, folded_only=bare)


def _reduce(node: Node, operand) -> Region | None:
    dim, callback = node.literal("dimension"), node.arg("reducer")
    if not isinstance(dim, str) or not _is_cb(callback):
        return None
    folding = foldable(callback.graph)
    condition = counted_condition(callback.graph) if folding is None else None
    if folding is not None or condition is not None:
        base = operand("data", folds=True, band=True)
        if base is None or any(d == dim for _, d, _ in base.inputs):
            return None  # (a band region picks along its band's dimension: not folded)
        expr, reduce = base.expr, (dim, *(folding or (COUNT_TRUE, True)))
        if condition is not None:  # the element's condition, counted where true
            expr = substitute(condition, {0: base.expr})
        return Region(base.sources, base.inputs, expr, (*base.members, node.id), reduce,
                      band=base.band)  # fmt: skip
    translated = from_callback(callback.graph, "reduce")
    base = operand("data", whole=True) if translated is not None else None
    if base is None:
        return None
    return _picked(base, dim, translated[1], translated[0], node.id)


def _ndvi(node: Node, operand) -> Region | None:
    """ndvi: normalized_difference of two bands, picked by name or common name (the
    reference's rule, resolved when the kernel runs). With target_band, a region only
    :func:`_filter_bands` keeping that band takes in."""
    nir, red = node.literal("nir", "nir"), node.literal("red", "red")
    target = node.literal("target_band")
    if not (isinstance(nir, str) and isinstance(red, str)):
        return None
    if not (target is None or isinstance(target, str)):
        return None
    base = operand("data", whole=True)
    if base is None:
        return None
    picks = [("band", nir), ("band", red)]
    expr = Expr("normalized_difference", (Expr("in", value=0), Expr("in", value=1)))
    region = _picked(base, "bands", picks, expr, node.id)
    return region if target is None else replace(region, target=target)


def _filter_bands(node: Node, operand) -> Region | None:
    """filter_bands keeping only the target_band of an ndvi region: law
    ``filter_bands(ndvi(c, target_band=T), [T])`` is the NDVI of ``c`` in a bands dimension
    whose one label is ``T``, with no metadata (the reference adds ``T`` blank); the
    bands it drops are never computed."""
    bands = node.literal("bands")
    if node.arg("wavelengths") not in (None, Literal(None)):
        return None
    if not (isinstance(bands, list) and len(bands) == 1 and isinstance(bands[0], str)):
        return None
    base = operand("data", target=True)
    if base is None or base.target != bands[0]:
        return None
    return Region(base.sources, base.inputs, base.expr, (*base.members, node.id),
                  band=("bands", bands[0]))  # fmt: skip


# The cube processes a region grows through: the arguments they may have (any other, a
# callback's context say, stops the region) and how the region grows
GROWS_THROUGH: dict[str, tuple[frozenset[str], Callable[..., Region | None]]] = {
    "apply": (frozenset({"data", "process", "context"}), _apply),
    "reduce_dimension": (frozenset({"data", "reducer", "dimension", "context"}), _reduce),
    "ndvi": (frozenset({"data", "nir", "red", "target_band"}), _ndvi),
    "mask": (frozenset({"data", "mask", "replacement"}), _mask),
    "filter_bands": (frozenset({"data", "bands", "wavelengths"}), _filter_bands),
}


def _picked(base: Region, dim: str, picks: list, expr: Expr, node_id: str) -> Region:
    """``expr`` over elements of ``dim`` (``picks``) of the whole-cube region ``base``:
    a pick commutes with the base's per-pixel work, so each pick reads every source of the
    base at that element."""
    inputs: list = []
    for selector in picks:
        for source, _, _ in base.inputs:
            key = (source, dim, selector)
            if key not in inputs:
                inputs.append(key)
    per_pick = {
        i: substitute(
            base.expr,
            {j: Expr("in", value=inputs.index((s, dim, sel))) for j, (s, _, _) in
             enumerate(base.inputs)},
        )
        for i, sel in enumerate(picks)
    }  # fmt: skip
    return Region(base.sources, tuple(inputs), substitute(expr, per_pick), (*base.members, node_id))


def foldable(graph: Graph) -> tuple[str, bool] | None:
    """(reducer, ignore_nodata) when the reducer child graph ``graph`` is one call of a
    reducer a kernel folds (:data:`pgc.kernels.reducers.REDUCERS`) on the whole array,
    else None. The numba executor's temporal aggregations fold with it too."""
    if len(graph) != 1 or graph.result is None:
        return None
    node = graph.result_node
    if node.namespace is not None or node.process_id not in REDUCERS:
        return None
    if node.arg("data") != ParamRef("data"):
        return None
    names = {k for k, _ in node.arguments} - {"data"}
    if node.process_id == "count":
        condition = node.arg("condition")
        if names - {"condition"} or (condition is not None and condition != Literal(None)):
            return None
        return "count", True
    ignore = node.arg("ignore_nodata")
    if names - {"ignore_nodata"} or not (ignore is None or isinstance(ignore, Literal)):
        return None
    flag = True if ignore is None else ignore.value
    return (node.process_id, flag) if isinstance(flag, bool) else None


def counted_condition(graph: Graph) -> Expr | None:
    """The condition of a reducer child graph that is one ``count`` of ``data`` with an
    elementwise condition callback returning booleans, as an expression of the element
    (input 0); else None. The kernel folds it as :data:`COUNT_TRUE`: law, the count of
    the elements the condition accepts is the count of true elements with data of the
    condition applied to each (``apply``), which a kernel computes pixel by pixel."""
    if len(graph) != 1 or graph.result is None:
        return None
    node = graph.result_node
    if node.namespace is not None or node.process_id != "count":
        return None
    if node.arg("data") != ParamRef("data") or dict(node.arguments).keys() != {"data", "condition"}:
        return None
    condition = node.arg("condition")
    translated = from_callback(condition.graph, "apply") if _is_cb(condition) else None
    if translated is None or not translated[0].boolean:
        return None  # (a condition giving numbers never accepts: the reference says 0)
    return translated[0]


def _join(a: Region, b: Region) -> tuple[Region, Expr]:
    """``a`` with ``b``'s sources and inputs added, and ``b``'s expression over them."""
    sources = list(a.sources)
    inputs = list(a.inputs)
    mapping = {}
    for j, (s, dim, selector) in enumerate(b.inputs):
        source = b.sources[s]
        if source not in sources:
            sources.append(source)
        key = (sources.index(source), dim, selector)
        if key not in inputs:
            inputs.append(key)
        mapping[j] = Expr("in", value=inputs.index(key))
    joined = Region(tuple(sources), tuple(inputs), a.expr, a.members)
    return joined, substitute(b.expr, mapping)


def _only_reader(graph: Graph, producer: str, consumer: Node) -> bool:
    if producer == graph.result or graph.users(producer) != [consumer.id]:
        return False
    return list(consumer.node_refs()).count(producer) == 1


def _kernel_node(graph: Graph, root: str, region: Region) -> Node:
    names = [f"s{i}" for i in range(len(region.sources))]
    source_of = dict(zip(region.sources, names, strict=True))
    body = Graph(tuple(Parameter(n) for n in names))
    for member in region.members:
        node = graph.node(member)
        body.add(node.with_arguments(tuple((k, _param(v, source_of)) for k, v in node.arguments)))
    body.set_result(root)
    inputs = [
        [names[s], dim, *(selector if selector is not None else (None, None))]
        for s, dim, selector in region.inputs
    ]
    reduce = None
    if region.reduce is not None:
        dim, reducer, ignore = region.reduce
        reduce = {"dimension": dim, "reducer": reducer, "ignore_nodata": ignore}
    original = graph.node(root)
    processes = ", ".join(dict.fromkeys(graph.node(m).process_id for m in region.members))
    remark = (
        f"fuse-elementwise: {region.expr.size()} operation(s) of {len(region.members)} node(s) "
        f"({processes}) in one pass: {', '.join(region.members)}"
    )
    return Node(
        root,
        "kernel",
        (
            ("sources", ObjectValue(tuple(zip(names, region.sources, strict=True)))),
            ("inputs", Literal(inputs)),
            ("expression", Literal(to_json(region.expr))),
            ("reduce", Literal(reduce)),
            *((("band", Literal(list(region.band))),) if region.band is not None else ()),
            ("body", Callback(body)),
        ),
        type=original.type,
        namespace="pgc",
        origin=original.origin,
        remarks=(*original.remarks, remark),
    )


def _param(value: Value, source_of: dict) -> Value:
    """A member's argument as the body sees it: sources become the body's parameters."""
    if isinstance(value, NodeRef | ParamRef) and value in source_of:
        return ParamRef(source_of[value])
    return value


def _is_cb(value: Value | None) -> bool:
    return isinstance(value, Callback)
