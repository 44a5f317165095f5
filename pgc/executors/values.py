"""Run-time values of the reference executor, and no-data.

openEO distinguishes no-data from NaN: NaN is a value (``is_nan``), no-data is its absence
(``is_nodata``, ``null``). The reference executor keeps them apart everywhere:

- scalars are Python values, ``None`` being no-data; arrays are lists (``None`` inside);
- a data cube is a :class:`Cube`: an ``xarray.DataArray`` of values and a boolean
  ``xarray.DataArray`` saying where there is data. Values where there is no data are
  meaningless (kept at 0) and never looked at;
- inside a callback over a cube dimension (a reducer, ``apply_dimension``), the array the
  callback sees is a :class:`CubeArray`: the cube plus the dimension the array runs along,
  so array processes work on every pixel at once.

Loaded integer bands keep their dtype; arithmetic promotes to float64 (the dtype policy the
type rules document), so uint16 values never wrap around.

>>> import numpy as np, xarray as xr
>>> values = xr.DataArray(np.array([1.0, 0.0]), dims=["x"])
>>> c = Cube(values, xr.DataArray([True, False], dims=["x"]))
>>> c.to_python()
[1.0, None]
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ..data.reading import as_slice
from ..data.storage import all_valid  # (here too: the executors' name for it)
from ..dtypes import compute_dtype


def zeroed(data: xr.DataArray, keep: Any) -> xr.DataArray:
    """``data`` with zero (false for booleans) where ``keep`` is false, in ``data``'s dtype:
    ``data.where(keep, 0)`` turns booleans into int64 (xarray 2026.9), and a boolean cube
    of comparisons then reads as numbers to the processes after it."""
    return data.where(keep, np.zeros((), data.dtype)[()])


def with_metadata(data: Any, *operands: Any) -> Any:
    """``data`` (the values computed from ``operands`` pixel by pixel) with the attributes
    of the cubes among them, the first cube's winning: a cube's attributes hold its CRS
    and no-data (``attrs["crs"]``), and xarray drops attributes in some operations
    (``np.clip`` of a DataArray, ``xr.where`` whose second argument is a number, in xarray
    2026.9), so a GeoTIFF written after ``linear_scale_range`` or ``clip`` had no CRS
    (issue 18). A pixel-by-pixel process never changes the grid, so its result describes
    the same one."""
    if not isinstance(data, xr.DataArray):
        return data
    attrs: dict = {}
    for operand in reversed(operands):
        if isinstance(operand, Cube):
            attrs.update(operand.data.attrs)
    if not attrs or data.attrs == {**data.attrs, **attrs}:
        return data
    data = data.copy(deep=False)
    data.attrs = {**data.attrs, **attrs}
    return data


def like(template: xr.DataArray, values: np.ndarray, attrs: dict | None = None) -> xr.DataArray:
    """``values`` (an array of ``template``'s shape, not copied) with ``template``'s
    dimensions, coordinates, name and attributes (``attrs``: these instead): what
    ``template.copy(data=values)`` gives, in a third of its time or less.

    A kernel's result and its validity are wrapped so once per run, after the kernel has
    streamed the cube through the caches: for EVI at 1000x1000 the public copies (every
    coordinate variable and index through xarray's generic paths) took 0.19 ms beside the
    kernel's 0.7 (:func:`_assembled` says how it is made). Where the fast constructor is
    not there (another xarray), the copy."""
    if values.shape != template.shape:  # (the fast constructor checks nothing)
        raise ValueError(f"values of shape {values.shape} for a {template.shape} template")
    attrs = dict(template.attrs if attrs is None else attrs)
    try:
        return _assembled(template, template.dims, values, attrs, lambda dims: True)
    except (AttributeError, TypeError):  # pragma: no cover - an xarray without them
        out = template.copy(data=values, deep=False)
        out.attrs = attrs
        return out


def _assembled(source: xr.DataArray, dims: tuple, values: Any, attrs: dict, keep) -> Any:
    """A DataArray of ``values`` over ``dims`` with ``source``'s name and the coordinates
    (and their indexes) whose dimensions ``keep`` accepts, by xarray's fast constructor:
    coordinate variables copied shallowly (their attributes are copies), indexes shared
    (xarray never changes one in place), and a numpy array taken as it is, without the
    checks and conversions xarray makes of any data it is given (18 of the 19 us a
    variable took)."""
    variable = xr.Variable(dims, values, attrs, fastpath=isinstance(values, np.ndarray))
    coords = {k: v.copy(deep=False) for k, v in source._coords.items() if keep(v.dims)}
    indexes = {k: index for k, index in source._indexes.items() if k in coords}
    return xr.DataArray(variable, coords=coords, name=source.name, indexes=indexes,
                        fastpath=True)  # fmt: skip


def picked(source: xr.DataArray, dim: str, position: int) -> xr.DataArray:
    """``source`` at ``position`` of ``dim``, without that dimension (a view of its
    values): ``source.isel({dim: position}, drop=True)``, made as :func:`like` makes its
    arrays (a kernel's input picked from a cube's bands, once per run)."""
    values = source.variable.data
    if not isinstance(values, np.ndarray):
        return source.isel({dim: position}, drop=True)
    axis = source.dims.index(dim)
    try:
        dims = source.dims[:axis] + source.dims[axis + 1 :]
        view = values[(slice(None),) * axis + (position, ...)]  # (...: 0-d is a view too)
        return _assembled(source, dims, view, dict(source.attrs), lambda d: dim not in d)
    except (AttributeError, TypeError):  # pragma: no cover - an xarray without them
        return source.isel({dim: position}, drop=True)


@functools.cache
def all_valid_mask() -> xr.DataArray:
    """Every pixel has data: the validity of kernel results that hold no null, one shared
    read-only array (cubes are never changed after they are made). Made on first use, not
    at import: xarray's first DataArray asks whether dask is there (``pgc processes``
    imported dask so), and pgc answers that question itself (:mod:`pgc.duckarrays`)."""
    mask = xr.DataArray(np.ones((), bool))
    mask.values.flags.writeable = False
    return mask


def in_compute_dtype(data: Any, pooled: bool = False, pool: Any = None) -> Any:
    """Cube values in the compute dtype (the dtype policy, :mod:`pgc.dtypes`), as every
    process that computes with a cube's values reads them (integers, booleans and float64
    become the compute dtype; anything that is not a DataArray of numbers stays as it is).
    ``pooled``: values in memory are converted into a buffer of ``pool`` (None: the shared
    one; :func:`pgc.kernels.buffers.take`), else into new memory."""
    if isinstance(data, xr.DataArray) and data.dtype.kind in "iubf":
        dtype = compute_dtype()
        if data.dtype == dtype:
            return data
        if not pooled or not isinstance(data.variable.data, np.ndarray):
            return data.astype(dtype)
        from ..kernels.buffers import take

        out = take(data.shape, dtype, pool)
        np.copyto(out, data.variable.data, casting="unsafe")
        return data.copy(data=out)
    return data


def in_chunks_of(mask: xr.DataArray, data: xr.DataArray) -> xr.DataArray:
    """``mask`` (over some of ``data``'s dimensions) in ``data``'s chunks where ``data`` is a
    dask array (the dask executor), so that what combines them stays chunk by chunk instead
    of shipping the whole mask with every chunk; else ``mask`` as it is."""
    if data.chunks is None:
        return mask
    return mask.chunk({d: data.chunks[data.dims.index(d)] for d in mask.dims})


@dataclass
class Cube:
    data: xr.DataArray
    valid: xr.DataArray  # same dims as data (or broadcastable to them)
    # the values in the compute dtype, by that dtype, kept once made
    # (:meth:`in_compute_dtype`): a band read twice in band math is converted once, as a
    # numpy program would
    _computed: tuple[str, xr.DataArray] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def in_compute_dtype(self, pooled: bool = False, pool: Any = None) -> xr.DataArray:
        """:func:`in_compute_dtype` of the values, made once per cube (cubes are never
        changed after they are made: every process makes a new one); ``pooled``: values
        in memory are converted into a buffer of ``pool`` (:func:`in_compute_dtype`)."""
        dtype = compute_dtype()  # (a cube may outlive a change of the dtype policy)
        if self._computed is None or self._computed[0] != dtype:
            self._computed = (dtype, in_compute_dtype(self.data, pooled, pool))
        return self._computed[1]

    @staticmethod
    def from_nodata(data: xr.DataArray, nodata: Any) -> Cube:
        """A cube whose values equal to ``nodata`` (NaN: NaN values) are no-data. Values in
        memory without any (:func:`_holds_nodata`) get one true as their validity, not a
        mask of their size: 1 GB of masks for two loads at 4096 px, 12 dates, 5 bands,
        made and then read again to learn that all was valid (issue 23)."""
        in_memory = isinstance(data.variable.data, np.ndarray)
        if in_memory and (nodata is None or not _holds_nodata(data.values, nodata)):
            return Cube(data, all_valid_mask())
        if nodata is None:
            valid = xr.ones_like(data, dtype=bool)
        elif isinstance(nodata, float) and np.isnan(nodata):
            valid = ~np.isnan(data)
        else:
            valid = data != nodata
        return Cube(data, valid)

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.data.dims)

    def full_valid(self) -> xr.DataArray:
        """The validity with every dimension of the values, in the values' order."""
        return xr.broadcast(self.valid, self.data)[0].transpose(*self.data.dims)

    def in_order(self) -> Cube:
        """The cube with its validity's dimensions in the values' order (xarray combines
        validities by name, and may leave them in another order; code that broadcasts
        validity by position, as numpy does, needs this order)."""
        order = [d for d in self.data.dims if d in self.valid.dims]
        if list(self.valid.dims) == order or len(order) != len(self.valid.dims):
            return self
        return Cube(self.data, self.valid.transpose(*order))

    def isel(self, indexers: dict, drop: bool = False) -> Cube:
        """Positions along dimensions, of the values and of the validity (which may lack
        a dimension, or be one scalar: then it is the same for every position)."""
        chosen = {d: _consecutive(i, self.data.sizes.get(d, 0)) for d, i in indexers.items()}
        indexers = {d: i for d, (i, _) in chosen.items()}
        own = {d: i for d, i in indexers.items() if d in self.valid.dims}
        data, valid = self.data.isel(indexers, drop=drop), self.valid.isel(own, drop=drop)
        if any(part for _, part in chosen.values()):  # a small part: copied, not a view
            data, valid = _copied(data), _copied(valid)
        return Cube(data, valid)

    def sel(self, indexers: dict, drop: bool = False) -> Cube:
        """Labels along dimensions, as :meth:`isel` does positions."""
        own = {d: i for d, i in indexers.items() if d in self.valid.dims}
        return Cube(self.data.sel(indexers, drop=drop), self.valid.sel(own, drop=drop))

    def filled(self, fill: float = np.nan) -> xr.DataArray:
        """Values with ``fill`` where there is no data (results, writers): floats keep
        their dtype (float32 under the float32 compute dtype, :mod:`pgc.dtypes`, which was
        chosen to halve memory), integers and booleans become float64 (which holds NaN and
        every integer up to 2**53); text and other non-numeric values (vector cube
        properties) stay objects, with None where there is no data.

        Float values where every pixel has data (:func:`all_valid`) are returned as they
        are, not copied: a cast and a fill of every pixel took about 6x the time of the
        EVI kernel that computed them on a 6000x6000 cube (issue 19)."""
        if self.data.dtype == object:
            valid = np.broadcast_to(np.asarray(getattr(self.valid, "values", self.valid)),
                                    self.data.shape)  # fmt: skip
            return self.data.copy(data=np.where(valid, self.data.values, None))
        data = self.data if self.data.dtype.kind == "f" else self.data.astype("float64")
        if all_valid(self.valid):
            return data
        return data.where(self.valid, np.array(fill, data.dtype)[()])

    def to_python(self) -> Any:
        """Nested lists with None for no-data (small cubes: tests, JSON results)."""
        values = self.data.values.tolist()
        valid = np.broadcast_to(self.valid.values, self.data.shape).tolist()
        return _merge(values, valid)


def everywhere(data: xr.DataArray) -> xr.DataArray:
    """A validity true at every pixel of ``data``: one value spread over its shape (stride
    0, no copy), which :func:`all_valid` reads without a pass over the pixels; a mask of
    the cube's size was 1/8 of a float64 result to make and to read again."""
    return xr.DataArray(np.broadcast_to(np.True_, data.shape), coords=data.coords, dims=data.dims)


def validity_array(cube: Cube) -> np.ndarray:
    """The validity mask of ``cube`` as a numpy array in the shape (and dimension order) of
    its values, for code that walks the values with numpy indices (neighbourhoods,
    ``flatten_dimensions``)."""
    return cube.full_valid().transpose(*cube.dims).values


def _consecutive(positions: Any, length: int) -> tuple[Any, bool]:
    """Positions as :meth:`Cube.isel` selects them, and whether the selection is to be
    copied. Positions that follow each other are a slice: xarray then selects a view,
    where a list copies. Three of four bands picked by filter_bands out of a 2048 px,
    12-date cube took 0.19 s to copy. Cubes are never changed after they are made, so a
    view is safe (and the kernels' buffer pool sees the view's owner,
    :mod:`pgc.kernels.buffers`). A part smaller than half of the ``length`` labels is
    copied (a view would keep the whole array alive as long as the part): its view,
    which numpy copies plane by plane, where a list of positions goes through fancy
    indexing (one band of three out of a 4096 px, 12-date float64 cube: 2.1 s that way)."""
    if isinstance(positions, list | tuple | np.ndarray) and length > 0:
        array = np.asarray(positions)
        if array.ndim == 1 and array.dtype.kind in "iu":
            part = as_slice(array)
            return part, isinstance(part, slice) and 2 * len(array) < length
    return positions, False


def _copied(values: xr.DataArray) -> xr.DataArray:
    """A selection's values in memory of their own (a view copied); lazy ones as they are."""
    if isinstance(values.variable.data, np.ndarray) and values.ndim > 0:
        return values.copy(data=values.variable.data.copy())
    return values


def _holds_nodata(values: np.ndarray, nodata: Any) -> bool:
    """Whether any of ``values`` is ``nodata`` (NaN: any is NaN), checked plane by plane:
    no mask of the whole array's size."""
    nan = isinstance(nodata, float) and np.isnan(nodata)
    if nan and values.dtype.kind not in "fc":
        return False
    planes = values.reshape(-1, *values.shape[-2:]) if values.ndim > 2 else values[None]
    return any((np.isnan(plane) if nan else plane == nodata).any() for plane in planes)


def _merge(values: Any, valid: Any) -> Any:
    if isinstance(values, list):
        return [_merge(v, ok) for v, ok in zip(values, valid, strict=True)]
    return values if valid else None


@dataclass
class CubeArray:
    """The array a callback sees for every pixel of ``cube`` along ``dimension`` at once."""

    cube: Cube
    dimension: str
    # the bands' metadata (pgc.ir.types.Band) along a bands dimension, kept beside the values
    # (which do not carry it into the callback's results): array_element(label="nir")
    bands: tuple = ()

    @property
    def labels(self) -> list:
        return list(self.cube.data[self.dimension].values)

    def __len__(self) -> int:
        return self.cube.data.sizes[self.dimension]


@dataclass
class LabeledArray:
    """A plain labeled array (a dimension's labels and values, outside cubes)."""

    values: list
    labels: list

    def __len__(self) -> int:
        return len(self.values)


def without(data: xr.DataArray, dim: str) -> xr.DataArray:
    """An array of ``data``'s other dimensions (their shape and coordinates, for templates):
    its first element along ``dim``, or zeros where ``dim`` has no labels."""
    if data.sizes[dim]:
        return data.isel({dim: 0}, drop=True)
    return xr.zeros_like(data.sum(dim), dtype=data.dtype)


def concat(
    parts: list[Cube],
    dim: str,
    labels: list,
    order: list[str] | tuple,
    template: xr.DataArray | None = None,
) -> Cube:
    """``parts`` (cubes of the same shape) one after another along a new dimension ``dim``
    with ``labels``, the result's dimensions in ``order``; no parts (and no labels) give
    ``template`` (float, no data) with an empty ``dim``."""
    if not parts and template is not None:
        empty = template.astype("float64").expand_dims({dim: np.asarray(labels)})
        return Cube(empty.transpose(*order), xr.zeros_like(empty, dtype=bool).transpose(*order))
    data = xr.concat([p.data for p in parts], dim=dim).assign_coords({dim: labels})
    data = data.transpose(*order)
    if all(all_valid(p.valid) for p in parts):  # one validity for all (issue 23: the
        return Cube(data, everywhere(data))  # monthly means' masks took as long as they)
    valid = xr.concat([p.full_valid() for p in parts], dim=dim)
    valid = valid.assign_coords({dim: labels})
    return Cube(data, valid.transpose(*order))


def concat_streamed(
    parts: Iterable[Cube],
    dim: str,
    labels: list,
    order: list[str] | tuple,
    template: xr.DataArray | None = None,
) -> Cube:
    """:func:`concat` of one part per label, each copied into the result as it comes: a
    part computed after it can take its memory (a kernel's pooled output block, free once
    the part is dropped). The monthly means of 12 dates at 2048 px held every month twice,
    as parts and as their concatenation. Where the parts differ in dtype, dimensions or
    coordinates, the rest are collected and :func:`concat` decides, as before."""
    parts = iter(parts)
    first = next(parts, None)
    if first is None or len(labels) < 1:
        return concat([] if first is None else [first, *parts], dim, labels, order, template)
    # the first part's frame, holding none of its values (its block is to be reused)
    shape, dtype = first.data.shape, first.data.dtype
    like = first.data.copy(deep=False, data=np.broadcast_to(np.zeros((), dtype), shape))
    out = Assembled((len(labels), *shape), dtype)
    done = 0
    part, first = first, None
    while part is not None:
        if done == len(labels) or not _same_frame(part.data, like):
            rest = [_part(out.values[i], None if out.valid is None else out.valid[i], like)
                    for i in range(done)]  # fmt: skip
            return concat([*rest, part, *parts], dim, labels, order, template)
        out.put(done, part)
        done += 1
        part = None  # (its block is free before the next part is computed)
        part = next(parts, None)
    if done < len(labels):
        raise ValueError(f"{done} parts for {len(labels)} labels")
    data = xr.DataArray(out.values, dims=(dim, *like.dims), coords=like.coords,
                        attrs=like.attrs, name=like.name)  # fmt: skip
    data = data.assign_coords({dim: labels}).transpose(*order)
    if out.valid is None:
        return Cube(data, everywhere(data))
    mask = xr.DataArray(out.valid, dims=(dim, *like.dims), coords=data.coords)
    return Cube(data, mask.transpose(*order))


class Assembled:
    """An array written part by part (each part's values copied where it goes), and its
    validity, made only once a part lacks data somewhere: until then every part written
    had data everywhere, and the caller's cube takes :func:`everywhere`. What
    :func:`concat_streamed` and the numba executor's band-by-band kernels fill."""

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self.values = np.empty(shape, dtype)
        self.valid: np.ndarray | None = None

    def put(self, where: Any, part: Cube) -> None:
        """``part``'s values and validity at ``where`` (an index of :attr:`values`)."""
        self.values[where] = part.data.values
        if self.valid is None and not all_valid(part.valid):
            self.valid = np.ones(self.values.shape, bool)  # (the parts before had data)
        if self.valid is not None:
            self.valid[where] = part.full_valid().values


def _same_frame(data: xr.DataArray, like: xr.DataArray) -> bool:
    """Whether ``data`` is in memory (a chunked part stays chunked: :func:`concat` joins
    it) with ``like``'s dtype, dimensions (in order), shape and coordinates, so that its
    values can sit beside ``like``'s in one array."""
    if not isinstance(data.data, np.ndarray):
        return False
    if data.dtype != like.dtype or data.dims != like.dims or data.shape != like.shape:
        return False
    if data.coords.keys() != like.coords.keys():
        return False
    return all(
        data.coords[k].dims == like.coords[k].dims
        and np.array_equal(data.coords[k].values, like.coords[k].values)
        for k in like.coords
    )


def _part(values: np.ndarray, valid: np.ndarray | None, like: xr.DataArray) -> Cube:
    """A part again, as :func:`concat_streamed` copied it."""
    data = like.copy(deep=False, data=values)
    return Cube(data, everywhere(data) if valid is None else like.copy(deep=False, data=valid))


ARRAY_DIM = "__array__"


def stack(items: list) -> CubeArray:
    """An array written in a callback whose items are pixel values (cubes), e.g.
    ``sum([x, y])`` in an overlap resolver: every pixel's array at once, along a new
    dimension. Plain numbers are the same at every pixel; ``None`` is no-data everywhere.

    >>> a = Cube(xr.DataArray([1.0, 2.0], dims=["x"]), xr.DataArray([True, False], dims=["x"]))
    >>> s = stack([a, 5, None])
    >>> s.cube.to_python()
    [[1.0, 5.0, None], [None, 5.0, None]]
    """
    cubes = [v for v in items if isinstance(v, Cube)]
    like = xr.broadcast(*[c.data for c in cubes])[0]
    datas, valids = [], []
    for item in items:
        if isinstance(item, Cube):
            datas.append(item.data)
            valids.append(item.valid)
        else:
            fill = 0 if item is None or isinstance(item, str | dict | list) else item
            datas.append(xr.full_like(like, fill, dtype=np.result_type(like.dtype, type(fill))))
            valids.append(xr.full_like(like, item is not None, dtype=bool))
    datas = xr.broadcast(*datas)
    valids = xr.broadcast(*valids, *datas)[: len(valids)]
    data = xr.concat(datas, dim=ARRAY_DIM, coords="minimal", compat="override")
    valid = xr.concat(valids, dim=ARRAY_DIM, coords="minimal", compat="override")
    dims = [*datas[0].dims, ARRAY_DIM]
    return CubeArray(Cube(data.transpose(*dims), valid.transpose(*dims)), ARRAY_DIM)


DIMENSION_TYPE = "openeo:type"  # attribute of a dimension's coordinate: its openEO type
# names that say a dimension is spatial when its type was not said
SPATIAL_NAMES = frozenset(
    {"x", "y", "z", "lon", "lat", "longitude", "latitude", "easting", "northing"}
)


def dimension_type(cube: Cube, dim: str) -> str:
    """The openEO type of ``dim`` (spatial, temporal, bands, geometry, other).

    A cube's values carry it as the ``openeo:type`` attribute of the dimension's coordinate
    where it was said (a data cube from a test vector, a loader that knows it); xarray keeps
    coordinate attributes through selection, arithmetic, renaming and concatenation. Without
    it, the type follows from the labels and the name: dates are temporal, ``bands`` is
    bands, ``x``, ``y``, ``z``, ``lat``, ``lon`` ... are spatial, ``geometry`` is geometry,
    anything else is other.

    >>> c = Cube(xr.DataArray([1.0], dims=["when"], coords={"when": ["2020-01"]}), True)
    >>> dimension_type(c, "when")
    'other'
    >>> dimension_type(with_dimension_types(c, {"when": "temporal"}), "when")
    'temporal'
    """
    data = cube.data
    if dim in data.coords:
        said = data.coords[dim].attrs.get(DIMENSION_TYPE)
        if said:
            return str(said)
        if np.issubdtype(data.coords[dim].dtype, np.datetime64):
            return "temporal"
    if dim == "bands":
        return "bands"
    if dim in SPATIAL_NAMES:
        return "spatial"
    if dim == "geometry":
        return "geometry"
    return "other"


def dimensions_of_type(cube: Cube, kind: str) -> list[str]:
    """The names of ``cube``'s dimensions of openEO type ``kind``, in the cube's order."""
    return [d for d in cube.dims if dimension_type(cube, d) == kind]


def with_dimension_types(cube: Cube, types: dict[str, str]) -> Cube:
    """``cube`` with the openEO types of some dimensions said (see :func:`dimension_type`);
    a dimension without labels gets positions as labels so it has a coordinate to carry
    its type."""
    data, valid = cube.data, cube.valid
    for dim, kind in types.items():
        if dim not in data.dims:
            continue
        if dim not in data.coords:
            data = data.assign_coords({dim: np.arange(data.sizes[dim])})
        data = data.assign_coords({dim: data.coords[dim].copy()})
        data.coords[dim].attrs[DIMENSION_TYPE] = kind
        if isinstance(valid, xr.DataArray) and dim in valid.dims:
            valid = valid.assign_coords({dim: data.coords[dim]})
    return Cube(data, valid)


def is_cube(value: Any) -> bool:
    return isinstance(value, Cube)
