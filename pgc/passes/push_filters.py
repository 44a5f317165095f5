"""push-filters: move filters down to the loads and merge them into the loads' extents.

Two steps.

1. **Sink.** A filter ``F`` whose input is ``P(a=c)`` moves below ``P`` when the law table
   (:mod:`pgc.passes.laws`) says ``F(P(a=c)) == P(a=F(c))`` and nothing else reads ``P``'s
   value (moving ``F`` would change what the other readers see). Processes with two cubes
   (``mask``, ``merge_cubes``) get the filter on each cube that has the filtered
   dimensions. A spatial box moves below ``apply_kernel`` only with a margin: the box
   enlarged by half the kernel goes below, the box itself stays above (inexact).
2. **Absorb.** Above each ``load_collection`` stand chains of filters, one per reader. A
   load whose every reader filters a kind of dimension loads only the union of what they
   select, intersected with its own extent: ``spatial_extent`` (the union of the boxes, in
   the collection's grid CRS; ``filter_spatial`` contributes its geometries' bounding box,
   a superset of the pixels it keeps; filters above a ``filter_spatial`` crop what its mask
   left and are not absorbed),
   ``temporal_extent``, ``bands``. With a single reader the absorbed ``filter_bbox``,
   ``filter_temporal`` and ``filter_bands`` go (loading the intersection selects exactly
   the same pixels, dates and bands: the pixel-centre rule and the left-closed interval are
   the filters' own rules); with several they stay and pick each reader's part of the
   union. ``filter_spatial`` always stays (it masks pixels outside the geometries).

Nothing moves where a law is missing, a value is not a literal, or a result would be empty
(the unoptimized graph's error must stay the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..ir.graph import Graph
from ..ir.infer import infer_graph
from ..ir.nodes import Literal, Node, NodeRef
from ..ir.types import CubeType
from .laws import FILTER_LAWS, filter_kind, touched
from .rewrite import redirect

LOADS = ("load_collection",)


def push_filters(graph: Graph, context) -> tuple[Graph, bool]:
    out = graph.copy()
    moved = _sink_all(out)
    if moved:
        out = infer_graph(out, context.env)
    absorbed = False
    for node in out.nodes():
        if node.process_id in LOADS and node.id in out:
            absorbed |= _absorb(out, node)
    if absorbed:
        out = _with_size_remarks(infer_graph(out, context.env), graph)
    return out, moved or absorbed


# -- 1. sink ------------------------------------------------------------------------------


def _sink_all(g: Graph) -> bool:
    """Move filters down until none can move; True if one did."""
    kept: set[str] = set()  # filters left above an inexact move
    changed = False
    progress = True
    while progress:
        progress = False
        for node in g.nodes():
            if node.id not in kept and _sink_once(g, node, kept):
                progress = changed = True
                break
    return changed


def _sink_once(g: Graph, f: Node, kept: set[str]) -> bool:
    data = f.arg("data")
    if not isinstance(data, NodeRef):
        return False
    p = g.node(data.id)
    kind = filter_kind(f, p.type)
    dims = touched(f, kind, p.type) if kind else None
    rule = FILTER_LAWS.get(p.process_id)
    if kind is None or dims is None or rule is None or g.users(p.id) != [f.id]:
        return False
    move = rule(p, kind, dims)
    if move is None:
        return False
    targets = [a for a in move.arguments if _has_dimensions(g, p.arg(a), dims)]
    if not targets or not _has_dimensions(g, p.arg(move.arguments[0]), dims):
        return False
    if move.margin_pixels is not None:
        return _sink_with_margin(g, f, p, move.margin_pixels, kept)
    redirect(g, f.id, NodeRef(p.id))
    if g.result == f.id:
        g.set_result(p.id)
    g.remove(f.id)
    new_args = dict(p.arguments)
    for i, name in enumerate(targets):
        fid = f.id if i == 0 else g.fresh_id(f"{f.id}_{name}")
        below = _with_data(f, fid, p.arg(name)).with_remark(
            f"push-filters: moved below {p.id} ({p.process_id})"
        )
        g.add(below)
        new_args[name] = NodeRef(fid)
    g.replace(p.with_arguments(tuple(new_args.items())))
    return True


def _sink_with_margin(g: Graph, f: Node, p: Node, margin: tuple[int, int], kept: set[str]) -> bool:
    """filter_bbox over apply_kernel: the box enlarged by the kernel's reach goes below."""
    source = p.arg("data")
    cube = g.node(source.id).type if isinstance(source, NodeRef) else None
    box = _box_in_grid(f.literal("extent"), cube)
    grid = _grid(cube)
    if box is None or grid is None:
        return False
    (dx, dy), crs = grid.step, grid.crs
    west, south, east, north = box
    mx, my = margin[0] * dx, margin[1] * dy
    extent = {"west": west - mx, "south": south - my, "east": east + mx, "north": north + my}
    fid = g.fresh_id(f"{f.id}_margin")
    below = Node(
        fid,
        "filter_bbox",
        (("data", source), ("extent", Literal({**extent, "crs": _crs_value(crs)}))),
    ).with_remark(f"push-filters: {f.id}'s box with the {p.id} kernel's margin")
    g.add(below)
    g.replace(p.with_arguments(tuple((k, NodeRef(fid) if k == "data" else v)
                                     for k, v in p.arguments)))  # fmt: skip
    kept.add(f.id)
    return True


def _with_data(f: Node, new_id: str, data: Any) -> Node:
    args = tuple((k, data if k == "data" else v) for k, v in f.arguments)
    return Node(new_id, f.process_id, args, f.type, f.namespace, f.origin, f.remarks)


def _has_dimensions(g: Graph, value: Any, dims: frozenset[str]) -> bool:
    if not isinstance(value, NodeRef):
        return False
    t = g.node(value.id).type
    return isinstance(t, CubeType) and not t.unknown_dimensions and dims <= set(t.names)


# -- 2. absorb ----------------------------------------------------------------------------


@dataclass
class _Chain:
    """The filters one reader of a load applies, lowest first."""

    nodes: list[Node] = field(default_factory=list)

    def of(self, *process_ids: str) -> list[Node]:
        return [n for n in self.nodes if n.process_id in process_ids]


def _chains(g: Graph, load: Node) -> list[_Chain] | None:
    """One filter chain per reader of ``load``; None if a reader is not a filter."""
    chains = []
    for user in g.users(load.id):
        chain, current, below = _Chain(), user, load
        while True:
            node = g.node(current)
            if node.arg("data") != NodeRef(below.id) or not filter_kind(node, below.type):
                break
            if any(ref != below.id for ref in node.node_refs()):
                break
            chain.nodes.append(node)
            readers = g.users(current)
            if len(readers) != 1 or g.result == current:
                break
            below, current = node, readers[0]
        if not chain.nodes:
            return None
        chains.append(chain)
    return chains or None


def _absorb(g: Graph, load: Node) -> bool:
    if not isinstance(load.type, CubeType) or load.type.unknown_dimensions:
        return False
    if any(not isinstance(v, Literal) for _, v in load.arguments):
        return False
    chains = _chains(g, load)
    if chains is None:
        return False
    args = dict((k, v.value) for k, v in load.arguments)
    absorbed: list[Node] = []
    removable: list[Node] = []
    for absorb in (_absorb_space, _absorb_time, _absorb_bands):
        result = absorb(load, args, chains)
        if result is None:
            continue
        new_args, used, gone = result
        gone = gone if len(chains) == 1 else []
        if new_args == args and not gone:
            continue  # already loads just that
        args = new_args
        absorbed += used
        removable += gone
    if not absorbed:
        return False
    names = ", ".join(f"{n.process_id} ({n.id})" for n in absorbed)
    new = Node(
        load.id,
        load.process_id,
        tuple((k, Literal(v)) for k, v in args.items()),
        load.type,
        load.namespace,
        load.origin,
        (*load.remarks, f"push-filters: absorbed {names}"),
    )
    g.replace(new)
    for node in removable:
        data = g.node(node.id).arg("data")  # earlier removals may have redirected it
        redirect(g, node.id, data)
        if g.result == node.id:
            g.set_result(data.id)
        g.remove(node.id)
    return True


def _absorb_space(load: Node, args: dict, chains: list[_Chain]):
    grid = _grid(load.type)
    extent = args.get("spatial_extent")
    if grid is None or (extent is not None and _box_in_grid(extent, load.type) is None):
        return None  # GeoJSON polygons (they mask what they load) or a box it cannot place
    current = _box_in_grid(extent, load.type) or grid.box
    boxes, used = [], []
    for chain in chains:
        box, masked = None, False
        for node in chain.of("filter_bbox", "filter_spatial"):
            if masked:
                break  # above a filter_spatial: it crops what the mask left, so it stays
            part = (
                _box_in_grid(node.literal("extent"), load.type)
                if node.process_id == "filter_bbox"
                else _geometry_box(node.literal("geometries"), load.type)
            )
            if part is None:
                return None
            masked = masked or node.process_id == "filter_spatial"
            box = part if box is None else _intersect(box, part)
            used.append(node)
        if box is None or not _has_pixels(load.type, _intersect(box, current)):
            return None  # a reader that empties the cube: its errors must stay the same
        boxes.append(box)
    union = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    new = _intersect(current, union)
    keys = ("west", "south", "east", "north")
    extent = {**dict(zip(keys, new, strict=True)), "crs": _crs_value(grid.crs)}
    gone = [n for n in used if n.process_id == "filter_bbox"]
    return {**args, "spatial_extent": extent}, used, gone


def _absorb_time(load: Node, args: dict, chains: list[_Chain]):
    intervals, used = [], []
    temporal = load.type.of_type("temporal")
    if len(temporal) != 1:
        return None
    for chain in chains:
        interval = None
        for node in chain.of("filter_temporal"):
            extent = node.literal("extent")
            dim = node.literal("dimension")
            if dim not in (None, temporal[0].name) or not _is_interval(extent):
                return None
            interval = extent if interval is None else _meet(interval, extent)
            used.append(node)
        if interval is None:
            return None
        current = args.get("temporal_extent")
        mine = _meet(current, interval) if _is_interval(current) else interval
        if not _has_dates(temporal[0].labels, mine):
            return None  # a reader that empties the cube: its errors must stay the same
        intervals.append(interval)
    starts, ends = [i[0] for i in intervals], [i[1] for i in intervals]
    hull = [
        None if None in starts else min(starts, key=_instant),
        None if None in ends else max(ends, key=_instant),
    ]
    current = args.get("temporal_extent")
    new = _meet(current, hull) if _is_interval(current) else hull
    if new[0] is not None and new[1] is not None and _instant(new[0]) >= _instant(new[1]):
        return None
    return {**args, "temporal_extent": new}, used, used


def _absorb_bands(load: Node, args: dict, chains: list[_Chain]):
    dims = load.type.of_type("bands")
    if len(dims) != 1 or dims[0].labels is None:
        return None
    have = list(dims[0].labels)
    wanted, used = [], []
    for chain in chains:
        first = chain.of("filter_bands")
        bands = first[0].literal("bands") if first else None
        if not isinstance(bands, list) or not set(bands) <= set(have):
            return None
        used.append(first[0])
        wanted += [b for b in bands if b not in wanted]
    if wanted == have:
        return None
    gone = [used[0]] if len(chains) == 1 else []
    return {**args, "bands": wanted}, used, gone


# -- geometry and time helpers -------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    step: tuple[float, float]  # (dx, dy)
    crs: str
    box: tuple[float, float, float, float]  # west, south, east, north of the pixel edges


def _grid(cube: Any) -> _Grid | None:
    """A cube's spatial grid, when its type knows it."""
    if not isinstance(cube, CubeType) or cube.unknown_dimensions:
        return None
    xs, ys = cube.of_type("spatial", "x"), cube.of_type("spatial", "y")
    if len(xs) != 1 or len(ys) != 1:
        return None
    x, y = xs[0], ys[0]
    if None in (x.extent, y.extent, x.crs) or x.crs != y.crs:
        return None
    if not isinstance(x.step, int | float) or not isinstance(y.step, int | float):
        return None
    box = (float(x.extent[0]), float(y.extent[0]), float(x.extent[1]), float(y.extent[1]))
    return _Grid((float(x.step), float(y.step)), str(x.crs), box)


def _box_in_grid(extent: Any, cube: Any) -> tuple[float, float, float, float] | None:
    """A bounding-box argument in the grid CRS of ``cube`` (as the executor reads it)."""
    from ..grid import bbox_in_crs

    grid = _grid(cube)
    keys = ("west", "south", "east", "north")
    if grid is None or not isinstance(extent, dict) or not set(keys) <= set(extent):
        return None
    box = tuple(extent[k] for k in keys)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in box):
        return None
    source = str(extent.get("crs", 4326)).replace("EPSG:", "")
    try:
        return tuple(float(v) for v in bbox_in_crs(box, source, grid.crs))
    except Exception:  # noqa: BLE001 - a CRS rasterio does not know: do not move
        return None


def _geometry_box(geojson: Any, cube: Any):
    """The grid-CRS bounding box of GeoJSON geometries (WGS 84), or None. Points and lines
    also keep the pixels whose centre lies up to half a pixel beyond their box (their
    closest pixel centres), which the load must hold: with them, the box is a pixel wider
    (filter_spatial stays above the load and cuts its own window from what it holds)."""
    from ..ir.typerules.cubes import geojson_bbox
    from ..ir.typerules.loading import geojson_geometries

    box = geojson_bbox(geojson)
    inner = _box_in_grid(box, cube) if box is not None else None
    grid = _grid(cube)
    if inner is None or grid is None:
        return None
    kinds = {g.get("type") for g in geojson_geometries(geojson) or []}
    if kinds <= {"Polygon", "MultiPolygon"}:
        return inner
    dx, dy = grid.step
    return (inner[0] - dx, inner[1] - dy, inner[2] + dx, inner[3] + dy)


def _has_dates(labels: tuple | None, interval: list) -> bool:
    """Whether the left-closed ``interval`` holds one of the dates ``labels`` (unknown
    dates: no)."""
    if labels is None:
        return False
    start = _instant(interval[0]) if interval[0] is not None else None
    end = _instant(interval[1]) if interval[1] is not None else None
    for label in labels:
        moment = _instant(str(label))
        if (
            moment is not None
            and (start is None or moment >= start)
            and (end is None or moment < end)
        ):
            return True
    return False


def _has_pixels(cube: CubeType, box: tuple) -> bool:
    """Whether ``box`` (grid CRS) holds a pixel centre of ``cube``'s grid."""
    from ..grid import window_for_bbox

    x, y = cube.of_type("spatial", "x")[0], cube.of_type("spatial", "y")[0]
    if box[0] > box[2] or box[1] > box[3]:
        return False
    window = window_for_bbox(
        (float(x.extent[0]), float(x.extent[1])),
        (float(y.extent[0]), float(y.extent[1])),
        float(x.step),
        box,
    )
    return window.shape[0] > 0 and window.shape[1] > 0


def _crs_value(crs: str) -> int | str:
    """A CRS as openEO writes it in an extent: an EPSG code as a number, else WKT."""
    return int(crs) if crs.isdigit() else crs


def _intersect(a, b):
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _is_interval(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(v is None or (isinstance(v, str) and _instant(v) is not None) for v in value)
    )


def _instant(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _meet(a: list, b: list) -> list:
    """The intersection of two left-closed intervals (None: open)."""
    starts = [v for v in (a[0], b[0]) if v is not None]
    ends = [v for v in (a[1], b[1]) if v is not None]
    return [
        max(starts, key=_instant) if starts else None,
        min(ends, key=_instant) if ends else None,
    ]


def _with_size_remarks(g: Graph, before: Graph) -> Graph:
    """Each changed load says what it reads now against what it read before."""
    for node in g.nodes():
        if node.process_id not in LOADS or node.id not in before:
            continue
        old, new = before.node(node.id).type, node.type
        if not isinstance(old, CubeType) or not isinstance(new, CubeType) or old == new:
            continue
        g.replace(node.with_remark(f"push-filters: reads {_shape(new)} of {_shape(old)}"))
    return g


def _shape(cube: CubeType) -> str:
    parts = []
    x, y = cube.of_type("spatial", "x"), cube.of_type("spatial", "y")
    if x and y and x[0].size is not None and y[0].size is not None:
        parts.append(f"window {x[0].size}x{y[0].size}")
    for kind, word in (("temporal", "date"), ("bands", "band")):
        dims = cube.of_type(kind)
        if dims and dims[0].size is not None:
            n = dims[0].size
            parts.append(f"{n} {word}{'' if n == 1 else 's'}")
    return ", ".join(parts) or str(cube)
