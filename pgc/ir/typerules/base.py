"""Shared machinery of the type rules: the registry, argument checks, cube and time helpers.

The helpers are public because every module of rules uses them (``literal_str``,
``cube_argument``, ``with_computed_values`` ...); what only one module needs stays private
there (issue 19: no module imports another's private names).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ...dtypes import compute_dtype
from ...errors import did_you_mean, echo
from ..infer import RuleContext, TypeCheckError, type_from_schema
from ..nodes import Callback, Literal
from ..types import (
    ANY,
    ITEMSIZE,
    ArrayType,
    Band,
    CubeType,
    Dimension,
    Label,
    ObjectType,
    ScalarType,
    Type,
    promote,
)

Rule = Callable[[RuleContext], Type]
# process id -> its type rule (the table type inference consults: pgc.ir.infer)
TYPE_RULES: dict[str, Rule] = {}

BOOLEAN = ScalarType.of("boolean", "null")
NUMBER = ScalarType.of("number", "null")
INTEGER = ScalarType.of("integer")
STRING = ScalarType.of("string")
NULL = ScalarType.of("null")


def rule(*process_ids: str):
    """Register a rule for ``process_ids``; it runs after the generic argument check."""

    def register(fn: Rule) -> Rule:
        @functools.wraps(fn)
        def checked(ctx: RuleContext) -> Type:
            _check_arguments(ctx)
            return fn(ctx)

        for pid in process_ids:
            TYPE_RULES[pid] = checked
        return fn

    return register


def from_returns(ctx: RuleContext) -> Type:
    """The type the definition's return schema describes (when it says everything)."""
    spec = ctx.env.specs.get(ctx.node.process_id)
    return type_from_schema(spec.returns) if spec is not None else ANY


# Processes whose return schema already says everything there is to know statically.
FROM_RETURNS = (
    "array_contains", "array_find", "array_find_label", "date_difference", "e",
    "export_collection", "export_workspace", "is_infinite", "is_nan", "is_nodata",
    "is_valid", "normalized_difference", "pi", "run_ogcapi", "run_ogcapi_externally",
    "run_udf", "run_udf_externally", "stac_modify", "text_concat", "text_find",
)  # fmt: skip
rule(*FROM_RETURNS)(from_returns)


# ---------------------------------------------------------------------------------------
# Arguments: generic checks and literal access


def _check_arguments(ctx: RuleContext) -> None:
    """ProcessParameterInvalid for a computed argument whose type its schema rules out.

    Literals were checked by the validator; here only values computed by other nodes or
    passed as parameters are checked, and only for certain mismatches (a cube where a
    number is expected, a string where a number is expected ...). Booleans pass where
    numbers are expected, as numpy treats them.
    """
    spec = ctx.env.specs.get(ctx.node.process_id)
    if spec is None:
        return
    for name, value in ctx.node.arguments:
        if isinstance(value, Literal | Callback):
            continue
        param = spec.parameter(name)
        if param is None:
            continue
        t = ctx.type(name)
        if t is None or _accepts(param.schema, t):
            continue
        ctx.error(
            "ProcessParameterInvalid",
            f"Argument {echo(name)} must be {_schema_text(param.schema)}, but it is {t}.",
            name,
        )


_CUBE_SUBTYPES = ("datacube", "raster-cube", "vector-cube")
_KIND_FAMILY = {
    "integer": {"integer", "number", "boolean"},
    "number": {"integer", "number", "boolean"},
    "boolean": {"boolean", "integer", "number"},
    "string": {"string", "date", "datetime"},
    "date": {"string", "date", "datetime"},
    "datetime": {"string", "date", "datetime"},
    "null": {"null"},
}


def _accepts(schema: Any, t: Type) -> bool:
    """Whether a value of type ``t`` may satisfy ``schema`` (False only when it surely cannot)."""
    if t == ANY or (isinstance(t, ScalarType) and not t.kinds):
        return True
    for s in schema if isinstance(schema, list) else [schema]:
        if not isinstance(s, dict):
            return True
        alternatives = list(s.get("anyOf", [])) + list(s.get("oneOf", []))
        if alternatives and _accepts(alternatives, t):
            return True
        if "type" not in s:
            if not alternatives:
                return True  # {} or a description only: anything
            continue
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if isinstance(t, CubeType):
            if "object" in types and s.get("subtype") in _CUBE_SUBTYPES:
                return True
        elif isinstance(t, ArrayType):
            if "array" in types:
                return True
        elif isinstance(t, ObjectType):
            if "object" in types and s.get("subtype") not in ("process-graph",):
                return True
        elif isinstance(t, ScalarType):
            allowed: set[str] = set()
            for k in types:
                allowed |= _KIND_FAMILY.get(k, set())
            if t.kinds & allowed:
                return True
        else:
            return True
    return False


def _schema_text(schema: Any) -> str:
    t = type_from_schema(schema)
    if isinstance(t, CubeType):
        return "a data cube"
    return str(t) if t != ANY else "of another type"


def hinted_error(
    code: str, message: str, argument: str | None, hint: str | None
) -> TypeCheckError:
    """The error :meth:`RuleContext.error` raises, with a ``hint`` for the diagnostic
    ("did you mean 'B04'?"): ``raise hinted_error(...)``, for the engine to copy into the
    diagnostic as the validator gives hints for misspelt process names (issue 18)."""
    error = TypeCheckError(code, message, argument)
    error.hint = hint  # type: ignore[attr-defined]
    return error


def label_hint(name: Any, labels: Iterable[Any], bands: Iterable[Band] = ()) -> str | None:
    """"did you mean ...?" for a band or label ``name`` a cube lacks: the closest (up to
    three) of its ``labels`` and of the common names of its ``bands`` (``red``, ``nir``:
    names a user may give as well, so they are offered as well).

    >>> label_hint("B4", ["B02", "B04", "B08"], [Band("B04", "red")])
    "did you mean 'B04'?"
    >>> label_hint("nri", ["B04", "B08"], [Band("B04", "red"), Band("B08", "nir")])
    "did you mean 'nir'?"
    """
    common = [b.common_name for b in bands if b.common_name]
    return did_you_mean(name, [*(str(v) for v in labels), *common], n=3)


def present_argument(ctx: RuleContext, name: str) -> str | None:
    """``name`` when the argument is in the document (even as null), for error pointers."""
    return name if ctx.node.arg(name) is not None else None


def literal_str(ctx: RuleContext, name: str) -> str | None:
    """Argument ``name`` when it is a literal string; None when it is computed, absent
    or of another type (the rule then cannot tell and assumes nothing)."""
    value = ctx.literal(name)
    return value if isinstance(value, str) else None


def literal_int(ctx: RuleContext, name: str) -> int | None:
    """Argument ``name`` when it is a literal integral number (``2.0`` counts), as an
    int; None otherwise (booleans are not numbers here)."""
    value = ctx.literal(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def number_or_none(value: Any) -> float | None:
    """A number (int or float, not a boolean) as a float; None for anything else, so a
    rule can test literal values it finds inside arguments (extents, coordinates)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def literal_list(ctx: RuleContext, name: str) -> list | None:
    """Argument ``name`` when it is a literal list; None when computed or not a list."""
    value = ctx.literal(name)
    return value if isinstance(value, list) else None


def literal_labels(ctx: RuleContext, name: str) -> list[Label] | None:
    """A literal list of labels (strings and numbers); None when it is not one."""
    values = literal_list(ctx, name)
    if values is None or not all(is_label_value(v) for v in values):
        return None
    return values


def is_label_value(value: Any) -> bool:
    """Whether ``value`` can be a dimension label (a string or a number, not a boolean)."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def literal_flag(ctx: RuleContext, name: str, default: bool | None) -> bool | None:
    """A boolean literal argument; ``default`` when absent; None when computed or null."""
    value = ctx.node.arg(name)
    if value is None:
        return default
    if isinstance(value, Literal) and isinstance(value.value, bool):
        return value.value
    return None


def check_single_value(ctx: RuleContext, result: Type, argument: str) -> None:
    """ProcessParameterInvalid when a callback that must give one value per call (a
    reducer, ``apply``'s process, an overlap resolver) gives an array or a cube."""
    if isinstance(result, ArrayType | CubeType):
        ctx.error(
            "ProcessParameterInvalid",
            f"The {argument} must compute a single value, but it gives {result}.",
            argument,
        )


def context_type(ctx: RuleContext) -> Type:
    """The type of the ``context`` argument, which callbacks see as their ``context``
    parameter (``any`` when there is none)."""
    return ctx.type("context") or ANY


# ---------------------------------------------------------------------------------------
# Cubes: shapes, values, dtypes


def cube_argument(
    ctx: RuleContext, name: str = "data", missing: dict[str, str] | None = None
) -> CubeType:
    """Argument ``name`` as a cube that has the dimensions its parameter schema requires.

    ``missing`` maps a dimension type to the definition's exception for its absence
    (``{"bands": "DimensionMissing"}``); others give ProcessParameterInvalid.
    """
    cube = ctx.cube(name)
    if cube.unknown_dimensions:
        return cube
    spec = ctx.env.specs.get(ctx.node.process_id)
    param = spec.parameter(name) if spec is not None else None
    shapes = _shapes(param.schema) if param is not None else []
    if not shapes:
        return cube
    lacking = [_lacking(cube, shape) for shape in shapes]
    if any(not lack for lack in lacking):
        return cube
    first = lacking[0][0]
    code = (missing or {}).get(first.get("type", ""), "ProcessParameterInvalid")
    wanted = " or ".join(
        "a data cube with " + " and ".join(_shape_text(d) for d in shape) for shape in shapes
    )
    has = ", ".join(d.describe() for d in cube.dimensions) or "no dimensions"
    ctx.error(code, f"Argument {echo(name)} must be {wanted}; it has {has}.", name)


def _shapes(schema: Any) -> list[list[dict]]:
    """The dimension requirements of the data cube alternatives of a parameter schema."""
    out = []
    for s in schema if isinstance(schema, list) else [schema]:
        if not isinstance(s, dict) or s.get("subtype") not in _CUBE_SUBTYPES:
            continue
        dims = s.get("dimensions")
        if not isinstance(dims, list):
            return []  # an alternative without requirements accepts every cube
        out.append([d for d in dims if isinstance(d, dict)])
    return out


def _lacking(cube: CubeType, shape: list[dict]) -> list[dict]:
    missing = []
    for need in shape:
        kind = need.get("type")
        axes = need.get("axis")
        if isinstance(axes, list) and axes:
            if any(not cube.of_type(kind, axis) for axis in axes):
                missing.append(need)
        elif not cube.of_type(kind):
            missing.append(need)
    return missing


def _shape_text(need: dict) -> str:
    axes = need.get("axis")
    if isinstance(axes, list) and axes:
        return "spatial dimensions " + " and ".join(str(a) for a in axes)
    return f"a {need.get('type')} dimension"


def cube_value_type(cube: CubeType) -> Type:
    """The type of one value of ``cube``, as its callbacks see it."""
    if cube.unknown_dimensions or cube.dtype not in ITEMSIZE:
        return ANY
    return BOOLEAN if cube.dtype == "bool" else NUMBER


def math_dtype(dtype: str) -> str:
    """The dtype of band math on ``dtype`` values: the compute dtype of the dtype policy
    (:mod:`pgc.dtypes`), whatever the input's, as the executors compute."""
    return compute_dtype()


_BOOLEAN_KINDS = (frozenset({"boolean"}), frozenset({"boolean", "null"}))


def callback_dtype(dtype: str, result: Type) -> str:
    """The dtype of values a callback computes from ``dtype`` values."""
    if isinstance(result, ArrayType):
        result = result.item
    if isinstance(result, ScalarType) and result.kinds in _BOOLEAN_KINDS:
        return "bool"
    if isinstance(result, CubeType) and not result.unknown_dimensions:
        return result.dtype
    return math_dtype(dtype)


def promoted_dtype(*dtypes: str) -> str:
    """The dtype numpy promotes ``dtypes`` to (:func:`pgc.ir.types.promote`); float64
    when they do not promote (unknown or mixed kinds), as the executors compute then."""
    try:
        return promote(*dtypes)
    except (TypeError, ValueError):
        return "float64"


def with_computed_values(cube: CubeType, dtype: str) -> CubeType:
    """``cube`` with computed values of ``dtype``: raw-value band metadata no longer applies."""
    bands = tuple(replace(b, nodata=None, scale=None, offset=None) for b in cube.bands)
    return replace(cube, dtype=dtype, bands=bands, nodata=None)


def with_dimensions(cube: CubeType, dims: Iterable[Dimension]) -> CubeType:
    """``cube`` with these dimensions; band metadata and the vector flag follow them."""
    dims = tuple(dims)
    has_bands = any(d.type == "bands" for d in dims)
    return replace(
        cube,
        dimensions=dims,
        bands=cube.bands if has_bands else (),
        vector=any(d.type == "geometry" for d in dims),
    )


def unknown_cube(cube: CubeType, dtype: str | None = None, vector: bool | None = None) -> CubeType:
    """A cube whose dimensions are not known statically, with ``cube``'s dtype (or
    ``dtype``) and vector flag (or ``vector``): the result of a rule that cannot tell the
    shape but still knows the values' dtype."""
    return CubeType(
        unknown_dimensions=True,
        dtype=dtype or cube.dtype,
        vector=cube.vector if vector is None else vector,
    )


def dimension_argument(ctx: RuleContext, name: str = "dimension") -> str | None:
    """The literal dimension name in argument ``name`` (``dimension`` by default);
    None when it is computed or not a string."""
    return literal_str(ctx, name)


def dimension_label_type(dim: Dimension | None) -> Type:
    """The type of one label of ``dim`` (``filter_labels`` conditions, ``array_labels``)."""
    if dim is None:
        return ScalarType.of("number", "string")
    if dim.labels:
        kinds: set[str] = set()
        for label in dim.labels:
            kinds.add(label_value_kind(label, dim.type == "temporal"))
        return ScalarType(frozenset(kinds))
    if dim.type == "spatial":
        return ScalarType.of("number")
    if dim.type in ("bands", "temporal"):
        return STRING
    return ScalarType.of("number", "string")


def label_value_kind(label: Any, temporal: bool = False) -> str:
    """The JSON-schema kind of one label (``integer``, ``number``, ``string``,
    ``boolean``; ``date``/``datetime`` for dates of a ``temporal`` dimension), for the
    type of labels (:func:`dimension_label_type`, ``array_labels``)."""
    if isinstance(label, bool):
        return "boolean"
    if isinstance(label, int):
        return "integer"
    if isinstance(label, float):
        return "number"
    if temporal and isinstance(label, str) and parse_instant(label) is not None:
        return "datetime" if len(label) > 10 else "date"
    return "string"


def sizeless_dimension(dim: Dimension) -> Dimension:
    """``dim`` with fewer (or the same) labels, which are not known statically."""
    extent = None if dim.type == "spatial" else dim.extent
    return replace(dim, labels=None, extent=extent)


def array_length(t: Type | None) -> int | None:
    """The number of elements of an array type, when known (see the package docstring on
    array lengths)."""
    if isinstance(t, ArrayType) and t.labels is not None:
        return len(t.labels)
    return None


def index_labels(n: int | None) -> tuple[int, ...] | None:
    """The labels ``0..n-1`` of an array or dimension of ``n`` elements; None when ``n``
    is unknown (None) or not a length."""
    return None if n is None or n < 0 else tuple(range(n))


def label_as_text(value: Any, temporal: bool = False) -> str:
    """A label as text (``flatten_dimensions``): integral numbers without a fraction,
    dates and date-times of a temporal dimension in RFC 3339 UTC (as the executor, which
    holds them as instants, writes them)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if temporal and isinstance(value, str):
        from datetime import UTC, datetime

        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        moment = moment.astimezone(UTC) if moment.tzinfo else moment
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def sorted_labels(labels: Iterable[Label]) -> tuple[Label, ...]:
    """Distinct ``labels`` in ascending order, as the executors order merged labels;
    mixed kinds sort by kind name first, then by text."""
    items = list(dict.fromkeys(labels))
    try:
        return tuple(sorted(items))  # type: ignore[type-var]
    except TypeError:
        return tuple(sorted(items, key=lambda v: (type(v).__name__, str(v))))


# ---------------------------------------------------------------------------------------
# Time


def parse_instant(value: Any) -> datetime | None:
    """An ISO 8601 date or date-time as an aware datetime (dates: midnight UTC)."""
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            moment = datetime.fromisoformat(text + "T00:00:00")
        else:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def in_temporal_interval(label: Any, start: Any, end: Any) -> bool:
    """Left-closed interval [start, end) on ISO 8601 instants (dates: midnight UTC)."""
    moment = parse_instant(label)
    if moment is None:
        return True  # not a date: cannot tell, keep
    lo, hi = parse_instant(start), parse_instant(end)
    if lo is not None and moment < lo:
        return False
    return not (hi is not None and moment >= hi)


def check_temporal_interval(ctx: RuleContext, interval: Any, argument: str) -> None:
    """TemporalExtentEmpty when the interval's end is not later than its start."""
    if not isinstance(interval, list) or len(interval) != 2:
        return
    lo, hi = parse_instant(interval[0]), parse_instant(interval[1])
    if lo is not None and hi is not None and hi <= lo:
        ctx.error(
            "TemporalExtentEmpty",
            f"The temporal interval [{interval[0]}, {interval[1]}) is empty: its end must be "
            "later than its start.",
            argument,
        )
