"""Reference implementations of the data cube processes that compute over a whole cube:
apply and reduce_dimension (a callback over every pixel, :func:`as_cube_like` making its
result a cube), ndvi, apply_kernel and save_result. Dimension order and labels follow the
types the IR inferred (``t``, ``bands``, ``y``, ``x`` from the catalog). The other data cube
processes are by role in :mod:`.loads`, :mod:`.filters`, :mod:`.labels` and
:mod:`.combine`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ...data.bands import bands_of, without_band_metadata
from ...dtypes import compute_dtype
from ..pixels import PixelArrays
from ..values import (
    Cube,
    CubeArray,
    LabeledArray,
    all_valid,
    dimension_type,
    everywhere,
    in_compute_dtype,
)
from .arguments import cube_argument
from .loop import Call, ProcessError
from .scalar import FLOAT
from .table import implements


@implements("apply")
def _apply(call: Call) -> Any:
    cube = cube_argument(call)
    result = call.callback("process")(x=cube, context=call.get("context"))
    return as_cube_like(result, cube)


def as_cube_like(result: Any, like: Cube) -> Cube:
    """A callback's result over every pixel, as a cube shaped like ``like``."""
    if isinstance(result, Cube):
        data, valid = xr.broadcast(result.data, like.data)[0], None
        valid = xr.broadcast(result.valid, like.data)[0]
        return Cube(data.transpose(*like.dims), valid.transpose(*like.dims))
    if result is None:
        return Cube(xr.zeros_like(like.data, dtype=FLOAT), xr.zeros_like(like.data, dtype=bool))
    if not isinstance(result, int | float):  # bool is an int
        raise ProcessError(
            "ProcessParameterInvalid",
            f"The callback must return one number or boolean per pixel, not {_kind(result)}.",
        )
    dtype = bool if isinstance(result, bool) else FLOAT  # a constant true stays a boolean
    return Cube(xr.full_like(like.data, result, dtype=dtype), xr.ones_like(like.data, dtype=bool))


def _kind(value: Any) -> str:
    if isinstance(value, CubeArray | PixelArrays | list | LabeledArray):
        return "an array"
    return f"a {type(value).__name__}"


@implements("reduce_dimension")
def _reduce_dimension(call: Call) -> Cube:
    """The cube without ``dimension``, each pixel's array along it reduced to one value;
    the other dimensions keep their order, labels and types. The reducer sees the labels,
    not the band metadata (:mod:`pgc.data.bands`), which goes with the dimension."""
    cube = cube_argument(call)
    dim = call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    bands = tuple(bands_of(cube.data, dim)) if dimension_type(cube, dim) == "bands" else ()
    cube = Cube(without_band_metadata(cube.data, dim), without_band_metadata(cube.valid, dim))
    reducer = call.callback("reducer")
    if cube.data.sizes[dim] == 0:  # every pixel's array is the same empty array
        template = xr.zeros_like(cube.data.sum(dim), dtype=FLOAT)
        empty = reducer(data=LabeledArray([], []), context=call.get("context"))
        return as_cube_like(empty, Cube(template, xr.ones_like(template, dtype=bool)))
    result = reducer(data=CubeArray(cube, dim, bands), context=call.get("context"))
    reduced = cube.data.isel({dim: 0}, drop=True)
    out = as_cube_like(result, Cube(reduced, xr.ones_like(reduced, dtype=bool)))
    if dim in out.dims:
        call.fail(
            "ProcessParameterInvalid", "The reducer must return one value per pixel.", "reducer"
        )
    return out


@implements("ndvi")
def _ndvi(call: Call) -> Cube:
    cube = cube_argument(call)
    bands = list(cube.data.bands.values)
    nir, red = call.get("nir", "nir"), call.get("red", "red")
    nir, red = (_band_by_name(call, cube, n, a) for n, a in ((nir, "nir"), (red, "red")))
    target = call.get("target_band")
    if target is not None and target in bands:
        call.fail("BandExists", f"A band '{target}' exists already.", "target_band")
    if target is not None and isinstance(cube.data.data, np.ndarray):
        return _with_ndvi_band(cube, nir, red, target)
    x, y = (cube.sel({"bands": b}, drop=True) for b in (nir, red))
    blocks = isinstance(cube.data.data, np.ndarray) and x.data.dtype.kind in "iubf"
    blocks = blocks and x.data.ndim > 0  # (a 0-d band: one value, no blocks to cut)
    if blocks:
        data = _normalized_difference_in_blocks(x.data, y.data)
    else:  # a lazy cube (the dask executor): whole arrays, computed chunk by chunk
        nir_values, red_values = in_compute_dtype(x.data), in_compute_dtype(y.data)
        with np.errstate(all="ignore"):
            data = (nir_values - red_values) / (nir_values + red_values)
    valid = x.valid & y.valid
    if all_valid(valid):  # nothing to zero, and no mask of the cube's size (issue 23)
        result = Cube(data, valid)
    else:
        valid = xr.broadcast(valid, data)[0].transpose(*data.dims)
        if blocks:  # the new array: zeroed in place
            np.copyto(data.values, 0, where=~valid.values)
            result = Cube(data, valid)
        else:
            result = Cube(data.where(valid, 0), valid)
    if target is None:
        return result
    from ...data.bands import with_blank_metadata

    added = [result.data.expand_dims(bands=[target]),
             result.full_valid().expand_dims(bands=[target])]  # fmt: skip
    added = [with_blank_metadata(a, cube.data, "bands") for a in added]
    # (a lazy cube: numpy's take the path above)
    data = xr.concat([in_compute_dtype(cube.data), added[0]], dim="bands").transpose(*cube.dims)
    if all_valid(cube.valid) and all_valid(result.valid):  # one true, not a mask (issue 23)
        return Cube(data, xr.DataArray(True))
    # the validity may lack the bands, and the band metadata: only its labels are joined
    every = cube.full_valid().reset_coords(drop=True)
    valid = xr.concat([every, added[1].reset_coords(drop=True)], dim="bands")
    return Cube(data, valid.transpose(*cube.dims))


# elements computed at once by :func:`_normalized_difference_in_blocks`: temporaries of
# this size stay in the cache and in memory the process has touched already
BLOCK_ELEMENTS = 2**16


def leading_blocks(shape: tuple[int, ...], size: int | None = None):
    """Index tuples covering an array of ``shape`` in blocks of about ``size`` elements
    (default :data:`BLOCK_ELEMENTS`): the last axes whole, the one before them in runs, the
    leading ones one by one."""
    size = BLOCK_ELEMENTS if size is None else size
    inner, k = 1, len(shape)
    while k > 0 and inner * shape[k - 1] <= size:
        inner *= shape[k - 1]
        k -= 1
    if k == 0:
        yield ()
        return
    step = max(1, size // inner)
    for lead in np.ndindex(*shape[: k - 1]):
        for start in range(0, shape[k - 1], step):
            yield (*lead, slice(start, start + step))


def _normalized_difference_in_blocks(x: xr.DataArray, y: xr.DataArray) -> xr.DataArray:
    """``(x - y) / (x + y)`` of two bands in memory in the compute dtype, as xarray's
    arithmetic of the two converted arrays gives it (coordinates, attributes), computed in
    blocks of pixels: the same operations on the same numbers, into one array of the
    result's size. Whole arrays made five (the two conversions, the difference, the sum,
    the quotient): 5.1 of the reference's 6.4 s of ndvi_monthly at 2048 px (issue 23)."""
    dtype = np.dtype(compute_dtype())
    nir, red = x.values, y.transpose(*x.dims).values
    out = np.empty(nir.shape, dtype)
    with np.errstate(all="ignore"):
        for at in leading_blocks(nir.shape):
            a, b = nir[at].astype(dtype), red[at].astype(dtype)
            np.divide(a - b, a + b, out=out[at])
    corner = {d: slice(0, 1) for d in x.dims}  # xarray's coordinates of the arithmetic:
    like = x.isel(corner) - y.isel(corner)  # those both have alike, the first's attributes
    coords = {d: x[d] for d in x.dims if d in x.coords}
    for name, coord in like.coords.items():
        if name in coords:
            continue
        if not coord.dims:
            coords[name] = coord
        elif name in y.coords and x.coords[name].equals(y.coords[name]):
            coords[name] = x.coords[name]
    return xr.DataArray(out, dims=x.dims, coords=coords, attrs=like.attrs, name=like.name)


def _with_ndvi_band(cube: Cube, nir: str, red: str, target: str) -> Cube:
    """ndvi with ``target_band`` of a cube in memory: the cube's bands in the compute dtype
    and the NDVI band after them, in one array allocated once; nir and red are read from
    their converted copies in it, and the NDVI is written into its band with one
    temporary (the sum). The same operations as the general path, so the same values;
    a 2048 px, 12-date, 2-band cube allocated 2.8 GB that way, 1.6 GB this way. Computed
    in blocks of pixels of every band (:func:`leading_blocks`): the sum stays a small
    temporary, and each block is converted and used while in the cache."""
    from ...data.bands import with_blank_metadata

    data = cube.data
    axis = data.dims.index("bands")
    blank = xr.DataArray(np.zeros(1), dims=["bands"], coords={"bands": [target]})
    blank = with_blank_metadata(blank, data, "bands")
    coords = xr.concat([data.coords.to_dataset(), blank.coords.to_dataset()], dim="bands")
    count = data.sizes["bands"]
    shape = list(data.shape)
    shape[axis] = count + 1
    out = np.empty(shape, np.dtype(compute_dtype()))

    def band(i: int) -> np.ndarray:  # a view of one band of out
        return out[(slice(None),) * axis + (i,)]

    labels = list(data.bands.values)
    ix, iy = labels.index(nir), labels.index(red)
    bands_first, source = np.moveaxis(out, axis, 0), np.moveaxis(data.values, axis, 0)
    with np.errstate(all="ignore"):
        for at in leading_blocks(bands_first.shape[1:]):
            block = bands_first[(slice(None), *at)]
            block[:count] = source[(slice(None), *at)]
            np.subtract(block[ix], block[iy], out=block[count])
            np.divide(block[count], block[ix] + block[iy], out=block[count])
    ndvi = band(count)
    values = xr.DataArray(out, dims=data.dims, coords=coords.coords, attrs=dict(data.attrs),
                          name=data.name)  # fmt: skip
    if all_valid(cube.valid):
        return Cube(values, xr.DataArray(True))
    every = cube.full_valid()
    both = every.isel(bands=labels.index(nir)).values & every.isel(bands=labels.index(red)).values
    ndvi[~both] = 0
    valid = np.concatenate([every.values, np.expand_dims(both, axis)], axis=axis)
    return Cube(values, xr.DataArray(valid, dims=data.dims, coords=values.coords))


def _band_by_name(call: Call, cube: Cube, name: str, argument: str) -> str:
    from ...data.bands import band_named

    band = band_named(cube.data, "bands", name)
    if band is not None:
        return band
    code = "NirBandAmbiguous" if argument == "nir" else "RedBandAmbiguous"
    call.fail(code, f"The data cube has no band named '{name}'.", argument)


@implements("save_result")
def _save_result(call: Call) -> bool:
    call.context.saved.append((cube_argument(call), call.get("format"), call.get("options") or {}))
    call.context.saved_nodes.append(call.node.id)
    return True


# apply_kernel's border modes as numpy's padding modes
PAD_MODES = {
    "replicate": "edge",
    "reflect": "symmetric",
    "reflect_pixel": "reflect",
    "wrap": "wrap",
}


@implements("apply_kernel")
def reference_apply_kernel(call: Call, correlate: Any = None) -> Cube:
    """Each pixel the sum of the kernel's weights times its neighbours along x and y (the
    kernel's rows along y, its columns along x, as the cube runs; correlation, as written),
    times ``factor``. No-data, NaN, infinities and values that are not numbers count as
    ``replace_invalid``, booleans as 0 and 1; beyond the edges, ``border``. Every weight
    multiplies (a zero weight on an infinite border or replacement gives NaN).

    The planes (y, x) are weighed one by one by ``correlate`` (a :class:`Plane` and the
    result's plane to write): :func:`correlated` here, a compiled loop that adds alike in
    the numba executor (:mod:`pgc.executors.numba.stencil`)."""
    weighing = Weighing.of(call)
    out = np.empty(weighing.data.shape, weighing.dtype)
    weighing.weigh(call, correlated if correlate is None else correlate, out)
    return weighing.result(out)


@dataclass(frozen=True)
class Weighing:
    """apply_kernel's arguments, checked, over a cube: its values with y and x last
    (``data``, ``valid``), the dtype the sums are kept in and the kernel's arguments. What
    :func:`reference_apply_kernel` computes plane by plane, and the numba executor also by
    bands of rows (:mod:`pgc.executors.numba.stencil`)."""

    cube: Cube
    data: xr.DataArray
    valid: xr.DataArray
    dtype: np.dtype
    kernel: np.ndarray
    factor: Any
    border: Any
    replace_invalid: Any
    y: str

    @classmethod
    def of(cls, call: Call) -> Weighing:
        """The call's arguments, with the definition's errors."""
        from .vector import planar

        cube = cube_argument(call)
        x, y = planar(cube)
        kernel = _kernel(call)
        border = call.get("border", 0)
        constant = isinstance(border, int | float) and not isinstance(border, bool)
        if not constant and border not in PAD_MODES:
            call.fail("ProcessParameterInvalid", f"Unknown border mode '{border}'.", "border")
        call.within_budget(kernel.size, "max_kernel_cells", "kernel cells", "kernel")
        numeric = cube.data.dtype.kind in "iubf"  # then converted plane by plane
        data = (cube.data if numeric else _kernel_values(cube)).transpose(..., y, x)
        dtype = np.dtype(compute_dtype() if numeric else data.dtype)
        valid = cube.full_valid().transpose(..., y, x)
        return cls(cube, data, valid, dtype, kernel, call.get("factor", 1), border,
                   call.get("replace_invalid", 0), y)  # fmt: skip

    def planes(self, call: Call) -> Any:
        """(index, :class:`Plane`) of every plane, sharing their working arrays; the run's
        time checked before each."""
        scratch: dict = {}  # the planes' working arrays, made once
        values, valid = self.data.values, self.valid.values
        for index in np.ndindex(self.data.shape[:-2]):
            call.context.check_time()
            yield index, Plane(values[index], valid[index], self.dtype, self.kernel,
                               self.border, self.replace_invalid, scratch)  # fmt: skip

    def weigh(self, call: Call, correlate: Any, out: np.ndarray) -> None:
        """Every plane weighed by ``correlate`` (a :class:`Plane` and the plane of ``out``
        to write, in the planes' layout) and scaled by the factor: plane by plane, a few
        planes in memory."""
        for index, plane in self.planes(call):
            correlate(plane, out[index])
            self.scale(out[index])

    def scale(self, sums: np.ndarray) -> None:
        """``sums`` times ``factor``, in place, as the sums: the factor in their dtype."""
        with np.errstate(all="ignore"):
            sums *= self.factor

    def result(self, out: np.ndarray, y: slice | None = None) -> Cube:
        """The cube of the sums ``out`` (the planes' layout; with ``y``, those rows only),
        in the cube's order of dimensions: every pixel has a value."""
        data = self.data if y is None else self.data.isel({self.y: y})
        result = data.copy(data=out).transpose(*self.cube.dims)
        return Cube(result, everywhere(result))


@dataclass(frozen=True)
class Plane:
    """One plane (y, x) of apply_kernel's input and what weighs it: ``values`` as the cube
    holds them, where they have data (``valid``), the dtype the sums are kept in, and the
    process's arguments."""

    values: np.ndarray
    valid: np.ndarray
    dtype: np.dtype
    kernel: np.ndarray
    border: Any
    replace_invalid: Any
    # working arrays of the plane's size that the next plane of the same cube reuses
    # (issue 23: a new padded copy per plane cost 1.7 s of apply_kernel's 3.1 s at 2048 px,
    # memory taken and given back 24 times)
    scratch: dict | None = field(default=None, compare=False, repr=False)

    def buffer(self, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` to overwrite: the one the last plane used
        under ``name``, or a new one."""
        if self.scratch is None:
            return np.empty(shape, dtype)
        array = self.scratch.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self.scratch[name] = np.empty(shape, dtype)
        return array

    @property
    def constant_border(self) -> bool:
        """Whether ``border`` is a number (else a padding mode)."""
        return isinstance(self.border, int | float) and not isinstance(self.border, bool)

    def replaced_and_padded(self) -> np.ndarray:
        """:meth:`padded` of :meth:`replaced`: with a constant border, written into one
        array kept for the next plane (the same numbers: :meth:`replaced`'s, and the
        border cast to ``dtype`` around them)."""
        if not self.constant_border:
            return self.padded(self.replaced())
        (top, bottom), (left, right) = self.halo
        height, width = self.values.shape
        shape = (height + top + bottom, width + left + right)
        out = self.buffer("padded", shape, self.dtype)
        out[:top], out[top + height:] = self.border, self.border
        out[:, :left], out[:, left + width:] = self.border, self.border
        self._replaced_into(out[top:top + height, left:left + width])
        return out

    def replaced(self) -> np.ndarray:
        """The values in ``dtype``, ``replace_invalid`` where they are no-data, NaN or
        infinite (the definition); in the array kept for the next plane (:meth:`buffer`),
        so read it before the next plane is weighed."""
        values = self.buffer("replaced", self.values.shape, self.dtype)
        self._replaced_into(values)
        return values

    def _replaced_into(self, target: np.ndarray) -> None:
        """:meth:`replaced`'s values written into ``target`` (the plane's shape, ``dtype``):
        the values cast, then ``replace_invalid`` cast where they are replaced."""
        np.copyto(target, self.values, casting="unsafe")  # astype
        if all_valid(self.valid) and (target.dtype.kind != "f" or np.isfinite(target).all()):
            return  # nothing to replace
        keep = np.isfinite(target)
        keep &= self.valid
        np.copyto(target, np.asarray(self.replace_invalid).astype(self.dtype), where=~keep)

    @property
    def halo(self) -> list[tuple[int, int]]:
        """The rows and columns the kernel reaches beyond each edge."""
        ky, kx = self.kernel.shape[0] // 2, self.kernel.shape[1] // 2
        return [(ky, ky), (kx, kx)]

    def padded(self, values: np.ndarray) -> np.ndarray:
        """``values`` (replaced) extended by the border."""
        if self.constant_border:
            return np.pad(values, self.halo, mode="constant", constant_values=self.border)
        return np.pad(values, self.halo, mode=PAD_MODES[self.border])


def correlated(plane: Plane, out: np.ndarray) -> None:
    """One plane (y, x) of apply_kernel, before the factor, written to ``out`` (in the
    plane's dtype). The weights' products are added in the kernel's order, each computed as
    ``kernel[i, j] * neighbour`` in float64 and added to the plane's dtype, so the result is
    the same whatever the planes around it (issue 23: all planes at once held five copies
    of the cube, 4.2 GB for 2048 x 2048 x 12 x 2). A weight of 1 adds the neighbour itself
    (1.0 * v is v; a float32 sum plus a float32 value rounds alike in float32 and in float64
    then float32: double rounding is innocuous when the wider format has 2p + 2 bits)."""
    out[...] = 0
    if 0 in plane.values.shape:  # no pixel: nothing to weigh
        return
    kernel = plane.kernel
    padded = plane.replaced_and_padded()
    finite = bool(np.isfinite(padded).all())  # then a zero weight adds nothing
    height, width = plane.values.shape
    rows = max(1, BLOCK_ELEMENTS // 2 // width)  # a band of rows whose sums stay in the cache
    term = plane.buffer("term", (min(rows, height), width),
                        np.result_type(kernel.dtype, padded.dtype))  # fmt: skip
    with np.errstate(all="ignore"):
        for top in range(0, height, rows):  # each pixel's sum alike, whatever the band
            sums = out[top : top + rows]
            n = sums.shape[0]
            for i in range(kernel.shape[0]):  # correlation with the kernel, as written
                for j in range(kernel.shape[1]):
                    near = padded[top + i : top + i + n, j : j + width]
                    if kernel[i, j] == 1:  # 1.0 * value is the value: no product to make
                        sums += near
                    elif kernel[i, j] or not finite:
                        np.multiply(kernel[i, j], near, out=term[:n])
                        sums += term[:n]


def _kernel(call: Call) -> np.ndarray:
    """The kernel as a 2-D array of weights: KernelDimensionsUneven when a level has an
    even number of elements (the definition), ProcessParameterInvalid when it is not a
    rectangle of numbers."""
    kernel = call.get("kernel")
    rows = kernel if isinstance(kernel, list) else None
    if rows is None or not all(isinstance(r, list) for r in rows):
        call.fail("ProcessParameterInvalid", "The kernel must be an array of arrays.", "kernel")
    if len(rows) % 2 == 0 or any(len(r) % 2 == 0 for r in rows):
        call.fail(
            "KernelDimensionsUneven",
            "Each level of the kernel must have an uneven number of elements.",
            "kernel",
        )
    if len({len(r) for r in rows}) != 1:
        call.fail("ProcessParameterInvalid", "The kernel's rows differ in length.", "kernel")
    numbers = all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        for r in rows
        for v in r
    )
    if not numbers:
        call.fail("ProcessParameterInvalid", "The kernel's weights must be numbers.", "kernel")
    return np.asarray(rows, dtype=FLOAT)


def _kernel_values(cube: Cube) -> xr.DataArray:
    """The cube's values as numbers for apply_kernel: booleans as 0/1, anything that is not
    a number (text, in an object cube) as NaN, which counts as invalid."""
    if cube.data.dtype != object:
        return in_compute_dtype(cube.data)

    def number(v: Any) -> float:
        if isinstance(v, bool | np.bool_):
            return float(v)
        return float(v) if isinstance(v, int | float | np.number) else np.nan

    values = np.vectorize(number, otypes=[FLOAT])(cube.data.values)
    return in_compute_dtype(cube.data.copy(data=values))
