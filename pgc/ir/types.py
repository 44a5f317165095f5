"""Types of IR values: what a value will be before any data is read.

Every type is a frozen dataclass with structural equality. Scalars carry the set of JSON
kinds they may be (``number|null``); arrays their item type and, for labeled arrays, the
labels where known; data cubes their ordered dimensions with labels, extents and steps,
the dtype of their values and the metadata of their bands.

>>> x = Dimension("x", "spatial", axis="x", extent=(600000.0, 605000.0), step=10.0, crs="32631")
>>> cube = CubeType((x,), dtype="uint16")
>>> cube.dimension("x").size, cube.pixels
(500, 500)
>>> str(ScalarType.of("number", "null"))
'number|null'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

SCALAR_KINDS = ("boolean", "integer", "number", "string", "date", "datetime", "null")
DIMENSION_TYPES = ("spatial", "temporal", "bands", "geometry", "other")

Label = str | float | int


class Type:
    """Base of all IR types."""

    def describe(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class AnyType(Type):
    """A value about which nothing is known (user parameters without schema, ``context``)."""

    def __str__(self) -> str:
        return "any"


ANY = AnyType()


@dataclass(frozen=True, slots=True)
class ScalarType(Type):
    """A scalar that may be any of ``kinds`` (JSON kinds plus date and datetime)."""

    kinds: frozenset[str]

    @staticmethod
    def of(*kinds: str) -> ScalarType:
        unknown = set(kinds) - set(SCALAR_KINDS)
        if unknown:
            raise ValueError(f"unknown scalar kind(s): {sorted(unknown)}")
        return ScalarType(frozenset(kinds))

    def __str__(self) -> str:
        return "|".join(k for k in SCALAR_KINDS if k in self.kinds) or "never"

    @property
    def nullable(self) -> bool:
        return "null" in self.kinds

    def with_null(self) -> ScalarType:
        return ScalarType(self.kinds | {"null"})


NUMBER = ScalarType.of("number", "null")
BOOLEAN = ScalarType.of("boolean", "null")
STRING = ScalarType.of("string")
INTEGER = ScalarType.of("integer")
NULL = ScalarType.of("null")


@dataclass(frozen=True, slots=True)
class ArrayType(Type):
    """An array; ``labeled`` arrays know their labels when ``labels`` is not None."""

    item: Type = ANY
    labeled: bool = False
    labels: tuple[Label, ...] | None = None
    dimension: str | None = None  # the cube dimension the array runs along, if any
    # the bands' metadata when it runs along a bands dimension: array_element's ``label``
    # may name a band by its common name (issue 18), as filter_bands and ndvi do
    bands: tuple[Band, ...] = ()

    def __str__(self) -> str:
        head = "labeled" if self.labeled else "array"
        text = f"{head}<{self.item}>"
        if self.labels is not None:
            text += "[" + ", ".join(_label_text(v) for v in self.labels) + "]"
        return text


@dataclass(frozen=True, slots=True)
class ObjectType(Type):
    """A JSON object: a subtype such as ``bounding-box``, ``geojson``, ``stac`` or plain."""

    subtype: str | None = None

    def __str__(self) -> str:
        return f"object<{self.subtype}>" if self.subtype else "object"


@dataclass(frozen=True, slots=True)
class Band:
    """Metadata of one band (STAC ``eo:bands`` / ``raster:bands``)."""

    name: str
    common_name: str | None = None
    wavelength: float | None = None  # centre wavelength in micrometres
    nodata: float | None = None
    scale: float | None = None
    offset: float | None = None


@dataclass(frozen=True, slots=True)
class Dimension:
    """One dimension of a data cube (STAC datacube extension ``cube:dimensions``).

    Spatial dimensions have an ``axis`` (x, y or z), an ``extent`` (lower, upper bound of
    the pixel edges) and a ``step`` (pixel size); temporal ones an ``extent`` of ISO 8601
    instants (start inclusive, end exclusive) and, when known, their ``labels``.
    """

    name: str
    type: str
    axis: str | None = None
    labels: tuple[Label, ...] | None = None
    extent: tuple[Any, Any] | None = None
    step: float | str | None = None
    crs: str | None = None

    def __post_init__(self) -> None:
        if self.type not in DIMENSION_TYPES:
            raise ValueError(f"unknown dimension type {self.type!r}")

    @property
    def size(self) -> int | None:
        """Number of labels, when it can be known from the type."""
        if self.labels is not None:
            return len(self.labels)
        if self.type == "spatial" and self.extent and isinstance(self.step, int | float):
            lo, hi = self.extent
            if self.step > 0 and None not in (lo, hi):
                return max(0, round(abs(hi - lo) / self.step))
        return None

    def describe(self) -> str:
        kind = f"spatial.{self.axis}" if self.type == "spatial" and self.axis else self.type
        size = self.size
        return f"{self.name}:{kind}" + (f"({size})" if size is not None else "")


@dataclass(frozen=True, slots=True)
class CubeType(Type):
    """A data cube: ordered dimensions, the dtype of its values, band metadata."""

    dimensions: tuple[Dimension, ...] = ()
    dtype: str = "float64"
    bands: tuple[Band, ...] = ()
    nodata: float | None = None
    unknown_dimensions: bool = False  # dimensions could not be determined statically
    vector: bool = False  # a vector cube (has a geometry dimension)
    # a vector cube's geometries: the bytes of their coordinates (8 per number), when the
    # graph's literals show them (aggregate_spatial's geometries, load_geojson's data)
    geometry_bytes: int | None = None

    def __str__(self) -> str:
        if self.unknown_dimensions:
            return f"cube<?> {self.dtype}"
        dims = ", ".join(d.describe() for d in self.dimensions)
        return f"cube[{dims}] {self.dtype}"

    # -- lookups ------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def dimension(self, name: str) -> Dimension | None:
        for d in self.dimensions:
            if d.name == name:
                return d
        return None

    def of_type(self, dim_type: str, axis: str | None = None) -> list[Dimension]:
        return [
            d for d in self.dimensions if d.type == dim_type and (axis is None or d.axis == axis)
        ]

    def band(self, name: str) -> Band | None:
        for b in self.bands:
            if b.name == name:
                return b
        return None

    # -- derived changes ----------------------------------------------------------------
    def with_dimension(self, dim: Dimension) -> CubeType:
        dims = tuple(dim if d.name == dim.name else d for d in self.dimensions)
        return replace(self, dimensions=dims)

    def without(self, name: str) -> CubeType:
        dims = tuple(d for d in self.dimensions if d.name != name)
        removed = self.dimension(name)
        bands = () if removed is not None and removed.type == "bands" else self.bands
        return replace(self, dimensions=dims, bands=bands)

    def with_dtype(self, dtype: str) -> CubeType:
        return replace(self, dtype=dtype)

    # -- sizes --------------------------------------------------------------------------
    @property
    def pixels(self) -> int | None:
        """Number of values in the cube, when every dimension's size is known."""
        if self.unknown_dimensions:
            return None
        total = 1
        for d in self.dimensions:
            if d.size is None:
                return None
            total *= d.size
        return total

    @property
    def nbytes(self) -> int | None:
        """The values' bytes, and a vector cube's geometries' where known."""
        pixels = self.pixels
        if pixels is None:
            return None
        geometries = (self.geometry_bytes or 0) if self.vector else 0
        return pixels * ITEMSIZE.get(self.dtype, 8) + geometries


# ---------------------------------------------------------------------------------------


def _label_text(value: Label) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return repr(value)


def format_bytes(n: int | None) -> str:
    """Human size: ``1.5 MB`` (decimal units)."""
    if n is None:
        return "? B"
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "uint16": 2, "int16": 2, "uint32": 4,
            "int32": 4, "float32": 4, "uint64": 8, "int64": 8, "float64": 8}  # fmt: skip


def promote(*dtypes: str) -> str:
    """The dtype of arithmetic on values of these dtypes (numpy's promotion rules).

    For the dtypes of :data:`ITEMSIZE` (what bands hold) the rules are computed here, as
    numpy applies them (``tests/test_typerules.py`` compares every sequence of up to four
    with ``numpy.result_type``): typing a graph for ``pgc validate`` then needs no numpy, whose
    import was 0.1 s of its 0.45 s (issue 23). Other dtypes ask numpy.

    >>> promote("uint16", "int8"), promote("uint64", "int64"), promote("int16", "float32")
    ('int32', 'float64', 'float32')
    """
    if dtypes and all(d in ITEMSIZE for d in dtypes):
        floats = [d for d in dtypes if d[0] == "f"]
        if floats:  # numpy promotes each integer with the float, not the integers first
            wide = "float64" in floats or any(ITEMSIZE[d] > 2 for d in dtypes if d[0] in "iu")
            return "float64" if wide else "float32"
        out = dtypes[0]
        for d in dtypes[1:]:
            out = _promote_integers(out, d)
        return out
    import numpy as np  # lazily: explain and compile start fast

    return str(np.result_type(*[np.dtype(d) for d in dtypes]))


def _promote_integers(a: str, b: str) -> str:
    """numpy's promotion of two boolean or integer dtypes: the smallest that holds every
    value of both (a 64-bit integer and an unsigned one: float64)."""
    if a == b or b == "bool":
        return a
    if a == "bool":
        return b
    if a[0] == b[0]:  # both signed or both unsigned
        return a if ITEMSIZE[a] >= ITEMSIZE[b] else b
    signed, unsigned = (a, b) if a[0] == "i" else (b, a)
    if ITEMSIZE[signed] > ITEMSIZE[unsigned]:
        return signed
    wider = 16 * ITEMSIZE[unsigned]
    return f"int{wider}" if wider <= 64 else "float64"


def is_cube(t: Type) -> bool:
    return isinstance(t, CubeType)


def union(*types: Type) -> Type:
    """The least type that covers all of ``types`` (used for ``if`` and overlaps)."""
    if not types:
        return ANY
    first = types[0]
    if all(t == first for t in types):
        return first
    if all(isinstance(t, ScalarType) for t in types):
        kinds: frozenset[str] = frozenset()
        for t in types:
            kinds |= t.kinds  # type: ignore[union-attr]
        return ScalarType(kinds)
    return ANY


def finite(x: float) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


__all__ = [
    "ANY", "AnyType", "ArrayType", "Band", "BOOLEAN", "CubeType", "Dimension", "INTEGER",
    "NULL", "NUMBER", "ObjectType", "STRING", "ScalarType", "Type", "format_bytes",
    "is_cube", "promote", "union",
]  # fmt: skip
