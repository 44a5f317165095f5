"""Reference implementations of the processes that combine two data cubes: mask (a cube's
pixels replaced where a second cube, brought onto its grid, says) and merge_cubes (the
union of two cubes' labels, raster or vector, overlaps resolved by a callback); and
:func:`replace_where`, which mask_polygon shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ...data.bands import band_coords, bands_of, without_band_metadata
from ...data.reading import as_slice
from ...dtypes import compute_dtype, replaced_dtype
from ...errors import echo
from ..values import Cube, all_valid, dimension_type, in_compute_dtype, with_dimension_types, zeroed
from .arguments import cube_argument
from .cube import as_cube_like
from .loop import Call, Closure, ProcessError
from .table import implements


@implements("mask")
def _mask(call: Call) -> Cube:
    """The pixels of ``data`` whose pixel in ``mask`` is non-zero (NaN included) or true
    replaced by ``replacement`` (null: no-data); no-data in the mask replaces nothing. The
    mask's x and y are brought onto data's grid (resample_cube_spatial, ``near``) where they
    differ; its other dimensions must be data's, with the same type and labels (in any
    order), else IncompatibleDataCubes; data's dimensions the mask lacks take the mask as
    it is for each of their labels."""
    cube, mask = cube_argument(call), cube_argument(call, "mask")
    hit = _mask_hits(call, cube, _aligned_mask(call, cube, mask))
    return replace_where(cube, hit, call.get("replacement"), keep_nodata=False)


def _aligned_mask(call: Call, cube: Cube, mask: Cube) -> Cube:
    """``mask`` on ``cube``'s x/y grid and dimension names, its other labels in cube's
    order; IncompatibleDataCubes for a dimension that does not match."""
    from ..spatial import horizontal

    (x, y), (mx, my) = horizontal(cube), horizontal(mask)
    if None not in (x, y, mx, my) and not _same_grid(cube, mask, (x, y), (mx, my)):
        from .resample import Grid, warp

        mask = warp(mask, Grid.of(mask), Grid.of(cube), "near")
    names = {a: b for a, b in ((mx, x), (my, y)) if a is not None and b is not None and a != b}
    if names:
        mask = Cube(mask.data.rename(names), mask.full_valid().rename(names))
    for dim in mask.dims:
        planar = dim in (x, y) and dim in cube.dims
        problem = None if planar else _mismatch(cube, mask, dim)
        if problem:
            message = f"The data cube and the mask are incompatible: {problem}."
            call.fail("IncompatibleDataCubes", message, "mask")
        mask = _on_labels_of(mask, cube, dim, reorder=not planar)
    return mask


def _same_grid(cube: Cube, mask: Cube, dims: tuple, mask_dims: tuple) -> bool:
    """Whether the mask's x and y are data's (labels equal up to float noise, and the same
    CRS where both say one)."""
    crs = (cube.data.attrs.get("crs"), mask.data.attrs.get("crs"))
    if None not in crs and str(crs[0]) != str(crs[1]):
        return False
    for ours, theirs in zip(dims, mask_dims, strict=True):
        a = np.asarray(cube.data[ours].values, dtype="float64")
        b = np.asarray(mask.data[theirs].values, dtype="float64")
        if a.shape != b.shape:
            return False
        step = abs(float(a[1] - a[0])) if len(a) > 1 else 1.0
        if not np.allclose(a, b, rtol=0, atol=1e-9 * step):
            return False
    return True


def _mismatch(cube: Cube, mask: Cube, dim: str) -> str | None:
    """Why the mask's non-planar dimension ``dim`` does not match data's, or None."""
    from ..values import dimension_type

    if dim not in cube.dims:
        return f"the mask has a dimension '{dim}' that the data lacks"
    kinds = dimension_type(cube, dim), dimension_type(mask, dim)
    if kinds[0] != kinds[1]:
        return f"dimension '{dim}' is {kinds[0]} in data but {kinds[1]} in the mask"
    ours, theirs = cube.data[dim].values, mask.data[dim].values
    if len(ours) != len(theirs) or set(ours.tolist()) != set(theirs.tolist()):
        return f"the labels of dimension '{dim}' differ"
    return None


def _on_labels_of(mask: Cube, cube: Cube, dim: str, reorder: bool) -> Cube:
    """The mask with ``dim``'s labels exactly data's, so that xarray aligns nothing more:
    ``reorder``, the same labels in data's order; else (x, y on the same grid) data's
    coordinates for the mask's."""
    labels = cube.data[dim].values
    data, valid = mask.data, mask.full_valid()
    if reorder:
        order = {v: i for i, v in enumerate(mask.data[dim].values.tolist())}
        positions = [order[v] for v in labels.tolist()]
        data, valid = data.isel({dim: positions}), valid.isel({dim: positions})
    return Cube(data.assign_coords({dim: labels}), valid.assign_coords({dim: labels}))


def _mask_hits(call: Call, cube: Cube, mask: Cube) -> xr.DataArray:
    """Where the (aligned) mask replaces: valid and non-zero or true."""
    values = mask.data
    if values.dtype == object:
        try:
            values = values.astype("float64")
        except (TypeError, ValueError):
            call.fail("ProcessParameterInvalid", "The mask must hold numbers or booleans.",
                      "mask")  # fmt: skip
    hit = values if values.dtype == bool else values != 0
    return hit & mask.full_valid()


def replace_where(cube: Cube, hit: xr.DataArray, replacement: Any, keep_nodata: bool) -> Cube:
    """``cube`` with the pixels where ``hit`` (over some of its dimensions) is true replaced
    by ``replacement`` (None: no-data), in :func:`pgc.dtypes.replaced_dtype`'s dtype, as the
    type rules say. ``keep_nodata``: no-data pixels stay no-data (mask_polygon's definition:
    "No data values in data will be left untouched")."""
    hit = xr.broadcast(hit, cube.data)[0].transpose(*cube.dims)
    valid = cube.full_valid()
    if replacement is None:
        return Cube(zeroed(cube.data, ~hit), valid & ~hit)
    dtype = np.dtype(replaced_dtype(str(cube.data.dtype), replacement))
    where = hit & valid if keep_nodata else hit
    other = xr.DataArray(np.array(replacement, dtype=dtype))  # a 0-d array: text stays text
    data = cube.data.astype(dtype).where(~where, other).astype(dtype)
    return Cube(data, valid if keep_nodata else valid | hit)


@implements("merge_cubes")
def _merge_cubes(call: Call) -> Cube:
    """The union of two cubes' labels. Where both cubes have a value for the same labels
    (the same pixel, date and band) the overlap resolver combines them; it is required
    when there is any such overlap. A cube whose dimensions are a subset of the other's
    (a DEM and a time series) is merged into every step of the missing dimensions.

    Labels: spatial and temporal dimensions stay sorted (in cube1's direction); others
    keep cube1's order with cube2's new labels appended."""
    a, b = cube_argument(call, "cube1"), cube_argument(call, "cube2")
    dims = list(a.dims if set(a.dims) >= set(b.dims) else b.dims)  # as the type rule says
    if not set(dims) >= set(a.dims) | set(b.dims):
        call.fail(
            "ProcessParameterInvalid",
            "The data cubes are not compatible: neither has all the other's dimensions.",
            "cube2",
        )
    kinds = _merged_types(call, a, b, dims)
    b, vector_attrs = _vector_pair(call, a, b)
    bands = {d: _merged_bands(a, b, d) for d in dims if kinds[d] == "bands"}
    a, b = (Cube(without_band_metadata(c.data), without_band_metadata(c.valid)) for c in (a, b))
    labels = {d: _merged_labels(a, b, d, kinds[d]) for d in dims}
    placed = _side_by_side(a, b, dims, labels)
    merged = _concatenated(a, b, dims, labels, *placed) if placed else None
    if merged is None:
        merged = _aligned_merge(call, a, b, dims, labels)
    data, valid = merged.data, merged.valid
    for dim, metadata in bands.items():
        data = data.assign_coords(band_coords(dim, metadata))
    if vector_attrs is not None:
        data.attrs = vector_attrs
    return with_dimension_types(Cube(data, valid), kinds)


def _aligned_merge(call: Call, a: Cube, b: Cube, dims: list[str], labels: dict) -> Cube:
    """The merge of any two cubes (merge_cubes' general case): both on the merged labels
    (in the compute dtype, no-data where a cube has no label), cube1's value where it has
    a label, cube2's elsewhere, the overlap resolver's where both have one."""
    (da, va, has_a), (db, vb, has_b) = (_on_labels(c, dims, labels) for c in (a, b))
    both = has_a & has_b
    resolver = call.args.get("overlap_resolver")
    data = xr.where(has_a, da, db)
    valid = xr.where(has_a, va, vb)
    if bool(both.any()):
        if not isinstance(resolver, Closure):
            call.fail(
                "OverlapResolverMissing",
                "Overlapping data cubes, but no overlap resolver has been specified.",
                "overlap_resolver",
            )
        resolved = as_cube_like(
            resolver(x=Cube(da, va), y=Cube(db, vb), context=call.get("context")), Cube(da, va)
        )
        data = xr.where(both, in_compute_dtype(resolved.data), data)
        valid = xr.where(both, resolved.valid, valid)
    return Cube(data.where(valid, 0).transpose(*dims), valid.transpose(*dims))


def _side_by_side(a: Cube, b: Cube, dims: list[str], labels: dict) -> tuple | None:
    """Where merge_cubes is a concatenation (issue 23: the common case, an NDVI band merged
    with the bands it was computed beside): both cubes have the same dimensions, with the
    same unique labels but along one, ``along``, whose labels they share none of. Then
    nothing overlaps, no resolver runs, and the merge is each cube copied once into its
    positions along ``along``. Returns ``(along, positions in a, positions in b)`` (a
    slice where the positions follow each other), else None: the general path."""
    if set(a.dims) != set(b.dims) or a.data.dtype.kind not in "biuf":
        return None
    if b.data.dtype.kind not in "biuf" or not all(_in_memory(c) for c in (a, b)):
        return None
    along = None
    for dim in dims:
        ours, theirs = a.data.indexes.get(dim), b.data.indexes.get(dim)
        if ours is None or theirs is None or not (ours.is_unique and theirs.is_unique):
            return None
        if ours.equals(theirs) and len(ours) == len(labels[dim]):
            continue
        if along is not None:  # a second dimension whose labels differ
            return None
        along = dim
    if along is None:  # the same labels everywhere: every pixel overlaps
        return None
    merged = pd.Index(labels[along])
    first = merged.get_indexer(a.data.indexes[along])
    second = merged.get_indexer(b.data.indexes[along])
    if len(first) + len(second) != len(merged) or -1 in first or -1 in second:
        return None  # shared labels (an overlap)
    return along, as_slice(first), as_slice(second)


def _in_memory(cube: Cube) -> bool:
    """Whether the values and validity are numpy arrays (not dask's, which the general
    path keeps lazy)."""
    valid = cube.valid.data if isinstance(cube.valid, xr.DataArray) else cube.valid
    return isinstance(cube.data.data, np.ndarray) and isinstance(valid, np.ndarray | bool)


def _concatenated(a: Cube, b: Cube, dims: list[str], labels: dict, along: str,
                  first: Any, second: Any) -> Cube:  # fmt: skip
    """The merge of two cubes that :func:`_side_by_side` placed: one array in the compute
    dtype, allocated once, each cube's values cast straight into their positions (the
    general path made four float64 copies of the merged size and a `where` over them: 23 s
    and 9.7 GB at 2048 x 2048 px, 12 dates, 4 bands); validity a single true where both
    cubes have data everywhere (:func:`pgc.executors.values.all_valid`), else one mask.
    Values where there is no data are 0, as the general path leaves them."""
    axis = dims.index(along)
    shape = tuple(len(labels[d]) for d in dims)
    dtype = np.dtype(compute_dtype())
    data = np.empty(shape, dtype)
    keep = not all(all_valid(c.valid) for c in (a, b))
    valid = np.empty(shape, bool) if keep else None
    for cube, where in ((a, first), (b, second)):
        index = (slice(None),) * axis + (where,)
        values = cube.data.transpose(*dims).data
        data[index] = values
        if valid is None:
            continue
        mask = cube.full_valid().transpose(*dims).data
        valid[index] = mask
        if not all_valid(mask):
            part = data[index] if isinstance(where, slice) else None
            if part is None:  # positions: zero through the whole array's view
                data[index] = np.where(mask, values, 0)
            else:
                np.copyto(part, 0, where=~mask)
    coords = {d: labels[d] for d in dims}
    kept = {k: v for k, v in a.data.coords.items() if k not in dims and along not in v.dims}
    template = xr.DataArray(data, dims=dims, coords={**kept, **coords}, attrs=dict(a.data.attrs))
    mask = xr.DataArray(True) if valid is None else template.copy(data=valid)
    return Cube(template, mask)


def _vector_pair(call: Call, a: Cube, b: Cube) -> tuple[Cube, dict | None]:
    """Vector cubes: cube2 with its geometry labels made cube1's where the geometries are
    equal (the definition: "The equality for geometries follows the definition in the
    Simple Features standard"), new labels after cube1's elsewhere, and the merged cube's
    attributes (geometries in cube1's CRS). "It is not possible to merge a vector and a
    raster data cube"; different base geometry types are IncompatibleGeometryTypes.
    Rasters: cube2 as it is, and None."""
    from .vector import (
        Features,
        cube_features,
        is_vector_cube,
        shapely_geometry,
        transform_geometries,
        vector_cube_attrs,
    )

    if not is_vector_cube(a) and not is_vector_cube(b):
        return b, None
    if not (is_vector_cube(a) and is_vector_cube(b)):
        call.fail("ProcessParameterInvalid", "A vector and a raster data cube cannot be merged.",
                  "cube2")  # fmt: skip
    fa, fb = cube_features(a, "cube1"), cube_features(b, "cube2")
    if fa.dimension != fb.dimension:
        call.fail("ProcessParameterInvalid", f"The geometry dimensions are named differently "
                  f"('{fa.dimension}', '{fb.dimension}').", "cube2")  # fmt: skip
    moved = transform_geometries(fb.geometries, fb.crs, fa.crs, "cube2")
    shapes_a = [shapely_geometry(g, "cube1") for g in fa.geometries]
    shapes_b = [shapely_geometry(g, "cube2") for g in moved]
    kinds_a, kinds_b = _base_types(shapes_a), _base_types(shapes_b)
    if kinds_a and kinds_b and kinds_a != kinds_b:
        call.fail("IncompatibleGeometryTypes",
                  f"The geometry types are not compatible and can't be merged: "
                  f"{', '.join(sorted(kinds_a))} and {', '.join(sorted(kinds_b))}.",
                  "cube2")  # fmt: skip
    merged = Features(list(fa.geometries), fa.crs, list(fa.labels), list(fa.properties),
                      list(fa.ids), fa.dimension)  # fmt: skip
    new_labels = []
    for i, shape in enumerate(shapes_b):
        same = [la for la, sa in zip(fa.labels, shapes_a, strict=True)
                if not shape.is_empty and sa.equals(shape)]  # fmt: skip
        if same:
            new_labels.append(same[0])
            continue
        label = len(merged.labels)
        while label in merged.labels:
            label += 1
        new_labels.append(label)
        merged.labels.append(label)
        merged.geometries.append(moved[i])
        merged.properties.append(fb.properties[i])
        merged.ids.append(fb.ids[i])
    dim = fa.dimension
    coord = xr.DataArray(np.array(new_labels), dims=[dim], attrs=dict(b.data[dim].attrs))
    valid = b.valid.assign_coords({dim: coord}) if dim in b.valid.dims else b.valid
    relabelled = Cube(b.data.assign_coords({dim: coord}), valid)
    return relabelled, {**a.data.attrs, **vector_cube_attrs(merged)}


def _base_types(shapes: list) -> set[str]:
    """The base geometry types (Point, LineString, Polygon) of shapely geometries: a multi
    geometry is its base type; empty geometries have none."""
    from ..spatial import simple_parts

    kinds = {part.geom_type for s in shapes for part in simple_parts(s)}
    return {"LineString" if k == "LinearRing" else k for k in kinds}


def _merged_types(call: Call, a: Cube, b: Cube, dims: list[str]) -> dict[str, str]:
    """The type of each dimension of the merge; a dimension both cubes have must have the
    same type in both (the definition: "All dimensions share the same properties, such as
    name, type ..."), else ProcessParameterInvalid (as the type rule)."""
    kinds = {}
    for dim in dims:
        kind = dimension_type(a if dim in a.dims else b, dim)
        if dim in a.dims and dim in b.dims and dimension_type(b, dim) != kind:
            call.fail("ProcessParameterInvalid",
                      f"Dimension '{dim}' is {kind} in cube1 but {dimension_type(b, dim)} in "
                      "cube2.", "cube2")  # fmt: skip
        kinds[dim] = kind
    return kinds


def _merged_bands(a: Cube, b: Cube, dim: str) -> list:
    """The band metadata (:mod:`pgc.data.bands`) along ``dim`` of the merge: cube1's bands,
    then cube2's new ones (the labels' order, :func:`_merged_labels`)."""
    first = bands_of(a.data, dim) if dim in a.dims else []
    second = bands_of(b.data, dim) if dim in b.dims else []
    names = {band.name for band in first}
    return first + [band for band in second if band.name not in names]


def _merged_labels(a: Cube, b: Cube, dim: str, kind: str = "other") -> np.ndarray:
    if dim not in b.dims:
        return a.data[dim].values
    if dim not in a.dims:
        return b.data[dim].values
    first, second = a.data[dim].values, b.data[dim].values
    kinds = {np.issubdtype(v.dtype, np.datetime64) for v in (first, second) if len(v)}
    if len(kinds) > 1:  # dates and text ('2023-01', as aggregate_temporal_period labels)
        other = second if np.issubdtype(first.dtype, np.datetime64) else first
        raise ProcessError(
            "ProcessParameterInvalid",
            f"The data cubes are not compatible: the labels of '{dim}' are dates in one cube "
            f"and not in the other ({echo(str(other[0]))}); merge cubes aggregated alike.",
            "cube2",
        )
    if not len(first):  # no labels: no kind of its own (an empty text array, say)
        first = first.astype(second.dtype)
    if not len(second):
        second = second.astype(first.dtype)
    new = second[~np.isin(second, first)]
    merged = np.concatenate([first, new])
    # spatial and temporal labels have an order of their own (the definition)
    ordered = kind in ("spatial", "temporal") or np.issubdtype(merged.dtype, np.datetime64)
    if ordered and len(new):  # in cube1's direction (y runs north to south), else cube2's
        own = first if len(first) > 1 else second
        descending = len(own) > 1 and own[0] > own[-1]
        merged = np.sort(merged)[::-1] if descending else np.sort(merged)
    return merged


def _on_labels(cube: Cube, dims: list[str], labels: dict) -> tuple:
    """``cube``'s values and validity on the merged labels, and where it has labels."""
    data = in_compute_dtype(cube.data)
    valid = cube.full_valid()
    has = xr.ones_like(data, dtype=bool)
    own = {d: labels[d] for d in cube.dims}
    data = data.reindex(own, fill_value=0.0)
    valid = valid.reindex(own, fill_value=False)
    has = has.reindex(own, fill_value=False)
    extra = {d: labels[d] for d in dims if d not in cube.dims}
    if extra:
        data, valid, has = (v.expand_dims(extra) for v in (data, valid, has))
    return data.transpose(*dims), valid.transpose(*dims), has.transpose(*dims)
