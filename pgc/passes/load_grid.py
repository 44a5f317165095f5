"""load-grid: a ``resample_spatial`` of a STAC-backed load moves into the load.

``resample_spatial(load_collection(...), projection=P, resolution=R, method=M)`` whose load
has no other reader becomes one load that reads the items straight onto the resampled
grid (argument ``pgc:grid``: the CRS, extents, pixel size, method and dtype the resample's
type rule gives, or for a new projection the grid the reference executor computes with
:func:`pgc.grid.reprojected_grid`). The tiles are read once, onto the grid the graph
asks for, instead of onto an intermediate grid and then warped again; a coarser grid reads
less, and with ``average`` reads the COGs' overviews.

Law, per method:

- ``near``, within the load's CRS: equal. The resampled pixel takes the intermediate pixel
  containing its centre, and that pixel took the tile pixel containing *its* centre; the
  intermediate grid is the tiles' own grid (same CRS, pixel edges on the same multiples),
  so both are the tile pixel containing the resampled pixel's centre.
- ``near`` to another projection: one nearest-neighbour step instead of two. Where the
  two-step result took a neighbour of the pixel containing the centre (up to half an
  intermediate pixel away), the one-step result takes the pixel itself: inexact, and the
  better value.
- ``average`` to a grid in metres at least twice as coarse as the collection's: the COG's
  overview with the largest factor not above the ratio of the pixel sizes, as the COG holds
  it (its producer's average, in the data's integer type), read by nearest neighbour:
  inexact, within the rounding of the overview and the alignment of its pixels (a COG
  without such an overview is read at full resolution, nearest neighbour). Only where the
  collection allows overviews (``overviews = true``, the default).

Nothing moves for other methods, ``average`` to degrees or to less than twice the pixel
size, another reader of the load, a GeoJSON extent (its mask
is computed on the load's grid), a value that is not a literal, or a grid with different
pixel sizes along x and y.
"""

from __future__ import annotations

from typing import Any

from ..grid import reprojected_grid
from ..ir.graph import Graph
from ..ir.infer import infer_graph
from ..ir.nodes import Literal, NodeRef
from ..ir.types import CubeType

METHODS = ("near", "average")


def load_grid(graph: Graph, context: Any) -> tuple[Graph, bool]:
    catalog = getattr(context.env, "catalog", None)
    sources = getattr(catalog, "sources", None)
    if not sources:
        return graph, False
    out = graph
    for node in graph.nodes():
        found = _absorbable(graph, node, catalog)
        if found is None:
            continue
        load, grid = found
        if out is graph:
            out = graph.copy()
        # the resample's node becomes the load (its id, users and place as the result stay)
        arguments = tuple((k, v) for k, v in load.arguments if k != "pgc:grid")
        merged = load.with_arguments((*arguments, ("pgc:grid", Literal(grid))))
        out.replace(type(merged)(node.id, merged.process_id, merged.arguments, node.type,
                                 merged.namespace, node.origin, node.remarks)  # fmt: skip
                    .with_remark(f"load-grid: resample_spatial ({grid['method']}) read "
                                 f"onto EPSG:{grid['crs']} at {grid['step']:g}"))  # fmt: skip
        out.remove(load.id)
    if out is graph:
        return graph, False
    return infer_graph(out, context.env), True


def _absorbable(graph: Graph, node: Any, catalog: Any) -> tuple[Any, dict] | None:
    """(the load, the grid) when ``node`` is a resample_spatial the load can take over."""
    if node.process_id != "resample_spatial" or node.namespace is not None:
        return None
    data = node.arg("data")
    if not isinstance(data, NodeRef) or graph.users(data.id) != [node.id]:
        return None
    load = graph.node(data.id)
    if load.process_id != "load_collection" or load.namespace is not None:
        return None
    if any(not isinstance(v, Literal) for k, v in node.arguments if k != "data"):
        return None
    cid = load.literal("id")
    source = sources_of(catalog).get(catalog.canonical(cid) if isinstance(cid, str) else None)
    extent = load.literal("spatial_extent")
    if source is None or not (isinstance(extent, dict) and "west" in extent):
        return None
    if load.arg("pgc:grid") is not None:
        return None
    method = node.literal("method") or "near"
    if method not in METHODS or (method == "average" and not source.overviews):
        return None
    before, after = load.type, node.type
    if not isinstance(before, CubeType) or not isinstance(after, CubeType):
        return None
    grid = _grid(before, after, node)
    if grid is None:
        return None
    if method == "average" and not (_metres(grid["crs"]) and grid["step"] >= 2 * source.resolution):
        return None  # no overview to read: pixel sizes in other units, or not coarse enough
    return load, {**grid, "method": method, "dtype": after.dtype}


def _metres(crs: str) -> bool:
    """Whether ``crs`` is projected in metres (where pixel sizes compare with the tiles')."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        found = CRS.from_user_input(f"EPSG:{crs}" if str(crs).isdigit() else crs)
    except CRSError:
        return False
    return found.is_projected and all(a.unit_name in ("metre", "meter") for a in found.axis_info)


def sources_of(catalog: Any) -> dict:
    return getattr(catalog, "sources", None) or {}


def _xy(cube: CubeType) -> tuple[Any, Any] | None:
    if cube.unknown_dimensions:
        return None
    xs, ys = cube.of_type("spatial", "x"), cube.of_type("spatial", "y")
    return (xs[0], ys[0]) if len(xs) == 1 and len(ys) == 1 else None


def _grid(before: CubeType, after: CubeType, node: Any) -> dict | None:
    """The resampled grid: from the resample's type, or computed as the reference does
    for a new projection (whose type has no extent)."""
    old, new = _xy(before), _xy(after)
    if old is None or new is None:
        return None
    x, y = new
    if x.extent is not None and y.extent is not None and x.crs is not None:
        if x.step != y.step or not isinstance(x.step, int | float) or x.crs != y.crs:
            return None
        return {"crs": str(x.crs), "x": list(map(float, x.extent)),
                "y": list(map(float, y.extent)), "step": float(x.step)}  # fmt: skip
    ox, oy = old
    if None in (ox.extent, oy.extent, ox.crs, x.crs) or not isinstance(ox.step, int | float):
        return None
    resolution = node.literal("resolution") or 0
    rx, ry = resolution if isinstance(resolution, list) else (resolution, resolution)
    try:
        transform, width, height = reprojected_grid(
            str(ox.crs), str(x.crs), round((ox.extent[1] - ox.extent[0]) / ox.step),
            round((oy.extent[1] - oy.extent[0]) / ox.step),
            (ox.extent[0], oy.extent[0], ox.extent[1], oy.extent[1]),
            (abs(rx), abs(ry)) if rx and ry else None,
        )  # fmt: skip
    except Exception:  # noqa: BLE001 - a CRS GDAL does not know: the resample says so at run time
        return None
    if abs(transform.a) != abs(transform.e) or transform.b or transform.d:
        return None
    step = abs(transform.a)
    west, north = transform.c, transform.f
    return {"crs": str(x.crs), "x": [west, west + width * step],
            "y": [north - height * step, north], "step": step}  # fmt: skip


__all__ = ["load_grid"]
