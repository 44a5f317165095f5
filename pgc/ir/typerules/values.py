"""Type rules of scalar and array processes (math, comparison, logic, text, dates, arrays)."""

from __future__ import annotations

from collections.abc import Sequence

from ..band_filter import band_by_common_name
from ..nodes import ArrayValue
from ..types import union
from .base import (
    ANY,
    BOOLEAN,
    INTEGER,
    NULL,
    NUMBER,
    Any,
    ArrayType,
    Label,
    Literal,
    Rule,
    RuleContext,
    ScalarType,
    Type,
    array_length,
    context_type,
    echo,
    hinted_error,
    index_labels,
    is_label_value,
    label_as_text,
    label_hint,
    label_value_kind,
    literal_flag,
    literal_int,
    literal_labels,
    number_or_none,
    parse_instant,
    present_argument,
    replace,
    rule,
)

# ---------------------------------------------------------------------------------------
# Scalars: math


def _scalar_kinds(t: Type | None) -> frozenset[str] | None:
    """The kinds of a scalar type; None when it is not (surely) a scalar."""
    return t.kinds if isinstance(t, ScalarType) and t.kinds else None


def _nullable(t: Type | None) -> bool:
    kinds = _scalar_kinds(t)
    return kinds is None or "null" in kinds


def _numeric(ctx: RuleContext, names: Sequence[str], closed: bool) -> Type:
    """number (integer when ``closed`` and all operands are integers); null when one may be."""
    types = [ctx.type(n) for n in names]
    kinds = [_scalar_kinds(t) for t in types]
    if any(k == frozenset({"null"}) for k in kinds):
        return NULL
    integral = closed and all(k is not None and k - {"null"} <= {"integer"} for k in kinds)
    null = any(_nullable(t) for t in types)
    base = "integer" if integral else "number"
    return ScalarType.of(base, "null") if null else ScalarType.of(base)


def _unary(closed: bool, name: str = "x") -> Rule:
    def unary(ctx: RuleContext) -> Type:
        return _numeric(ctx, [name], closed)

    unary.__doc__ = "number|null like x" + (" (integers stay integers)" if closed else "")
    return unary


rule("absolute", "sgn")(_unary(closed=True))
rule("arccos", "arcosh", "arcsin", "arctan", "arsinh", "artanh", "cos", "cosh", "ln", "sin",
     "sinh", "sqrt", "tan", "tanh")(_unary(closed=False))  # fmt: skip
rule("exp")(_unary(closed=False, name="p"))


@rule("add", "subtract", "multiply")
def _integer_closed(ctx: RuleContext) -> Type:
    """Integers give integers; null when an operand may be null."""
    return _numeric(ctx, ["x", "y"], closed=True)


@rule("mod")
def _mod(ctx: RuleContext) -> Type:
    """Integers give integers when the divisor is a literal other than 0: x mod 0 is an
    infinity or NaN (the definition), no integer."""
    y = number_or_none(ctx.literal("y"))
    return _numeric(ctx, ["x", "y"], closed=y is not None and y != 0)


@rule("divide")
def _divide(ctx: RuleContext) -> Type:
    """number (IEEE 754: x / 0 is an infinity or NaN, never DivisionByZero here)."""
    return _numeric(ctx, ["x", "y"], closed=False)


@rule("power")
def _power(ctx: RuleContext) -> Type:
    """number; null when base or p may be null."""
    return _numeric(ctx, ["base", "p"], closed=False)


@rule("log")
def _log(ctx: RuleContext) -> Type:
    """number; null when x or base may be null."""
    return _numeric(ctx, ["x", "base"], closed=False)


@rule("arctan2")
def _arctan2(ctx: RuleContext) -> Type:
    """number; null when y or x may be null."""
    return _numeric(ctx, ["y", "x"], closed=False)


@rule("ceil", "floor", "int")
def _to_integer(ctx: RuleContext) -> Type:
    """integer; null when x may be null."""
    return ScalarType.of("integer", "null") if _nullable(ctx.type("x")) else INTEGER


@rule("round")
def _round(ctx: RuleContext) -> Type:
    """Like x: integers stay integers."""
    return _numeric(ctx, ["x"], closed=True)


@rule("clip")
def _clip(ctx: RuleContext) -> Type:
    """x clamped into [min, max] (MinMaxSwapped when max < min)."""
    lo, hi = number_or_none(ctx.literal("min")), number_or_none(ctx.literal("max"))
    if lo is not None and hi is not None and hi < lo:
        ctx.error("MinMaxSwapped", f"max ({hi:g}) is less than min ({lo:g}).", "max")
    result = _numeric(ctx, ["x", "min", "max"], closed=True)
    kinds = result.kinds if isinstance(result, ScalarType) else frozenset()
    null = _nullable(ctx.type("x"))
    base = "integer" if "integer" in kinds else "number"
    return ScalarType.of(base, "null") if null else ScalarType.of(base)


@rule("linear_scale_range")
def _linear_scale_range(ctx: RuleContext) -> Type:
    """number; null when x may be null."""
    return NUMBER if _nullable(ctx.type("x")) else ScalarType.of("number")


@rule("nan")
def _nan(ctx: RuleContext) -> Type:
    """NaN is a number."""
    return ScalarType.of("number")


@rule("constant")
def _constant(ctx: RuleContext) -> Type:
    """Its argument."""
    return ctx.type("x") or ANY


# ---------------------------------------------------------------------------------------
# Scalars: comparison, logic, text, dates


def _predicate(*names: str) -> Rule:
    def predicate(ctx: RuleContext) -> Type:
        if any(_nullable(ctx.type(n)) for n in names):
            return BOOLEAN
        return ScalarType.of("boolean")

    predicate.__doc__ = f"boolean; null when {' or '.join(names)} may be null."
    return predicate


rule("eq", "neq", "gt", "gte", "lt", "lte", "and", "or", "xor")(_predicate("x", "y"))
rule("not", "between")(_predicate("x"))
rule("date_between")(_predicate("x", "min", "max"))  # no-data bounds: no-data too
rule("text_begins", "text_contains", "text_ends")(_predicate("data"))


@rule("if")
def _if(ctx: RuleContext) -> Type:
    """accept or reject (null by default); one of them when ``value`` is a literal."""
    accept = ctx.type("accept") or ANY
    reject = ctx.type("reject") if ctx.node.arg("reject") is not None else NULL
    reject = reject or NULL
    if ctx.is_literal("value"):
        return accept if ctx.node.literal("value") is True else reject
    return union(accept, reject)


@rule("date_shift")
def _date_shift(ctx: RuleContext) -> Type:
    """A date stays a date and a date-time a date-time, whatever the unit (the definition:
    "If a time component was given in the parameter date, the time component is returned
    with the date"; its examples shift the date 2018-01-01 by 25 hours to 2018-01-02)."""
    date = ctx.literal("date")
    kinds = _scalar_kinds(ctx.type("date")) or frozenset()
    if (isinstance(date, str) and len(date.strip()) == 10) or kinds == {"date"}:
        return ScalarType.of("date")
    if (isinstance(date, str) and len(date.strip()) > 10) or kinds == {"datetime"}:
        return ScalarType.of("datetime")
    return ScalarType.of("date", "datetime")


# ---------------------------------------------------------------------------------------
# Arrays


def _array(ctx: RuleContext, name: str = "data") -> ArrayType | None:
    """Argument ``name`` as an array type, with its length when a literal shows it."""
    value = ctx.node.arg(name)
    if isinstance(value, Literal) and isinstance(value.value, list):
        t = ctx.type(name)
        item = t.item if isinstance(t, ArrayType) else ANY
        return ArrayType(item, labels=index_labels(len(value.value)))
    if isinstance(value, ArrayValue):
        t = ctx.type(name)
        item = t.item if isinstance(t, ArrayType) else ANY
        return ArrayType(item, labels=index_labels(len(value.items)))
    t = ctx.type(name)
    return t if isinstance(t, ArrayType) else None


def _item(ctx: RuleContext, name: str = "data") -> Type:
    a = _array(ctx, name)
    return a.item if a is not None else ANY


def _element_label_type(a: ArrayType | None) -> Type:
    if a is None or not a.labeled:
        return ScalarType.of("number", "string", "null") if a is None else NULL
    if a.labels:
        return ScalarType(frozenset(label_value_kind(v) for v in a.labels))
    return ScalarType.of("number", "string")


def _with_null(t: Type) -> Type:
    return t.with_null() if isinstance(t, ScalarType) else t


def _numbers(item: Type, closed: bool) -> ScalarType:
    """Results computed from numbers of type ``item``: integer when closed over integers."""
    kinds = _scalar_kinds(item)
    integral = (
        closed and kinds is not None and kinds - {"null"} <= {"integer"} and bool(kinds - {"null"})
    )
    return ScalarType.of("integer" if integral else "number", "null")


@rule("array_element")
def _array_element(ctx: RuleContext) -> Type:
    """The element's type: the array's item type (ArrayElementNotAvailable on known arrays)."""
    a = _array(ctx)
    has_index, has_label = ctx.has("index"), ctx.has("label")
    if has_index and has_label:
        ctx.error(
            "ArrayElementParameterConflict",
            "Give either 'index' or 'label', not both.",
            "label",
        )
    if not has_index and not has_label:
        ctx.error(
            "ArrayElementParameterMissing",
            "array_element needs 'index' or 'label'.",
            present_argument(ctx, "index") or present_argument(ctx, "label"),
        )
    nodata = literal_flag(ctx, "return_nodata", False)
    if has_label and a is not None and not a.labeled:
        ctx.error(
            "ArrayNotLabeled",
            "The array is not labeled; use 'index' instead of 'label'.",
            "label",
        )
    index, label = literal_int(ctx, "index"), ctx.literal("label")
    if a is not None and a.labels is not None and nodata is False:
        if index is not None and not 0 <= index < len(a.labels):
            ctx.error(
                "ArrayElementNotAvailable",
                f"The array has {len(a.labels)} elements; index {index} does not exist.",
                "index",
            )
        if (
            has_label
            and a.labeled
            and label is not None
            and not _has_label(a.labels, label)
            and band_by_common_name(a.bands, a.labels, label) is None
        ):
            shown = ", ".join(label_as_text(v) for v in a.labels[:20])
            raise hinted_error(
                "ArrayElementNotAvailable",
                f"The array has no label {echo(label)}; it has {shown}.",
                "label",
                label_hint(label, a.labels, a.bands),
            )
    item = a.item if a is not None else ANY
    return _with_null(item) if nodata is not False else item


def _has_label(labels: Sequence[Label], label: Any) -> bool:
    if label in labels:
        return True
    moment = parse_instant(label)
    return moment is not None and any(parse_instant(v) == moment for v in labels)


@rule("first", "last")
def _first_last(ctx: RuleContext) -> Type:
    """An element: the item type, or null (all no-data)."""
    return _with_null(_item(ctx))


@rule("min", "max")
def _min_max(ctx: RuleContext) -> Type:
    """One of the numbers (integers stay integers), or null."""
    return _numbers(_item(ctx), closed=True)


@rule("sum", "product")
def _sum_product(ctx: RuleContext) -> Type:
    """Integers sum to integers; null when all values are no-data."""
    return _numbers(_item(ctx), closed=True)


@rule("mean", "median", "sd", "variance")
def _statistic(ctx: RuleContext) -> Type:
    """number|null."""
    return NUMBER


@rule("all", "any")
def _all_any(ctx: RuleContext) -> Type:
    """boolean; null only when no-data values are not ignored."""
    return ScalarType.of("boolean") if literal_flag(ctx, "ignore_nodata", True) else BOOLEAN


@rule("count")
def _count(ctx: RuleContext) -> Type:
    """A non-negative integer; the condition sees each element."""
    ctx.callback("condition", {"x": _item(ctx), "context": context_type(ctx)})
    return INTEGER


@rule("extrema")
def _extrema(ctx: RuleContext) -> Type:
    """[min, max]: two numbers (or two nulls)."""
    return ArrayType(_numbers(_item(ctx), closed=True), labels=(0, 1))


@rule("quantiles")
def _quantiles(ctx: RuleContext) -> Type:
    """One number per probability (or q - 1 of them)."""
    has_p, has_q = ctx.has("probabilities"), ctx.has("q")
    if has_p and has_q:
        ctx.error(
            "QuantilesParameterConflict", "Give either 'probabilities' or 'q', not both.", "q"
        )
    if not has_p and not has_q:
        ctx.error(
            "QuantilesParameterMissing",
            "quantiles needs 'probabilities' or 'q'.",
            present_argument(ctx, "probabilities") or present_argument(ctx, "q"),
        )
    probabilities = ctx.literal("probabilities")
    n = None
    if isinstance(probabilities, list):
        numbers = [number_or_none(p) for p in probabilities]
        if _ascending(numbers) is False:
            ctx.error(
                "AscendingProbabilitiesRequired",
                "The probabilities must be sorted in ascending order.",
                "probabilities",
            )
        n = len(probabilities)
    elif literal_int(ctx, "probabilities") is not None:
        n = literal_int(ctx, "probabilities") - 1  # type: ignore[operator]
    elif literal_int(ctx, "q") is not None:
        n = literal_int(ctx, "q") - 1  # type: ignore[operator]
    return ArrayType(NUMBER, labels=index_labels(n))


def _ascending(numbers: list[float | None]) -> bool | None:
    """Whether the numbers are in ascending order (a repeated one is the schema's
    uniqueItems, ProcessParameterInvalid); None when one is not a number."""
    if any(n is None for n in numbers):
        return None
    return all(a <= b for a, b in zip(numbers, numbers[1:], strict=False))  # type: ignore[operator]


@rule("cummax", "cummin", "cumsum", "cumproduct")
def _cumulative(ctx: RuleContext) -> Type:
    """Same length and labels; integers stay integers."""
    a = _array(ctx) or ArrayType()
    return replace(a, item=_numbers(a.item, closed=True))


@rule("array_interpolate_linear")
def _array_interpolate_linear(ctx: RuleContext) -> Type:
    """Same length and labels; numbers."""
    a = _array(ctx) or ArrayType()
    return replace(a, item=NUMBER)


@rule("array_apply")
def _array_apply(ctx: RuleContext) -> Type:
    """Same length and labels; each element replaced by the callback's result."""
    a = _array(ctx) or ArrayType()
    params = {
        "x": a.item,
        "index": INTEGER,
        "label": _element_label_type(_array(ctx)),
        "context": context_type(ctx),
    }
    result = ctx.callback("process", params)
    return replace(a, item=result)


@rule("array_filter")
def _array_filter(ctx: RuleContext) -> Type:
    """Fewer (or the same) elements, labels kept but not known statically."""
    a = _array(ctx) or ArrayType()
    params = {
        "x": a.item,
        "index": INTEGER,
        "label": _element_label_type(_array(ctx)),
        "context": context_type(ctx),
    }
    ctx.callback("condition", params)
    return ArrayType(a.item, labeled=a.labeled)


@rule("array_append")
def _array_append(ctx: RuleContext) -> Type:
    """One more element; labeled arrays get ``label`` or the next index (LabelExists)."""
    a = _array(ctx)
    value = ctx.type("value") or ANY
    label = ctx.literal("label")
    if label is not None and a is not None and not a.labeled:
        ctx.error("ArrayNotLabeled", "A label can only be given for a labeled array.", "label")
    if a is None:
        return ArrayType(ANY)
    labels = None
    known_label = not ctx.has("label") or is_label_value(label)
    if a.labels is not None and (known_label or not a.labeled):
        new = label if a.labeled and label is not None else len(a.labels)
        if a.labeled and new in a.labels:
            ctx.error(
                "LabelExists",
                f"The array has the label {echo(new)} already.",
                present_argument(ctx, "label") or "data",
            )
        labels = (*a.labels, new) if a.labeled else index_labels(len(a.labels) + 1)
    return ArrayType(union(a.item, value), labeled=a.labeled, labels=labels)


@rule("array_concat")
def _array_concat(ctx: RuleContext) -> Type:
    """array1 then array2; labels kept only if both are labeled (ArrayLabelConflict)."""
    a, b = _array(ctx, "array1"), _array(ctx, "array2")
    if a is None or b is None:
        item = union(a.item if a else ANY, b.item if b else ANY)
        return ArrayType(item)
    labeled = a.labeled and b.labeled
    labels = None
    if a.labels is not None and b.labels is not None:
        if labeled:
            common = [v for v in b.labels if v in a.labels]
            if common:
                ctx.error(
                    "ArrayLabelConflict",
                    f"Both arrays have the label {echo(common[0])}.",
                    "array2",
                )
            labels = a.labels + b.labels
        else:
            count = len(a.labels) + len(b.labels)
            ctx.within_budget(count, "max_array_length", "array elements", "array2")
            labels = index_labels(count)
    return ArrayType(union(a.item, b.item), labeled=labeled, labels=labels)


@rule("array_create")
def _array_create(ctx: RuleContext) -> Type:
    """``data`` repeated ``repeat`` times."""
    a = _array(ctx) if ctx.node.arg("data") is not None else ArrayType(ANY, labels=())
    repeat = literal_int(ctx, "repeat") if ctx.node.arg("repeat") is not None else 1
    if a is None:
        return ArrayType(ANY)
    n = array_length(a)
    count = n * repeat if n is not None and repeat is not None else None
    ctx.within_budget(count, "max_array_length", "array elements", "repeat")
    return ArrayType(a.item, labels=index_labels(count))


@rule("array_create_labeled")
def _array_create_labeled(ctx: RuleContext) -> Type:
    """A labeled array with ``labels`` (ArrayLengthMismatch)."""
    a = _array(ctx)
    labels = literal_labels(ctx, "labels")
    n = array_length(a)
    if labels is not None and n is not None and n != len(labels):
        ctx.error(
            "ArrayLengthMismatch",
            f"There are {n} values but {len(labels)} labels.",
            "labels",
        )
    item = a.item if a is not None else ANY
    return ArrayType(item, labeled=True, labels=tuple(labels) if labels is not None else None)


@rule("array_labels")
def _array_labels(ctx: RuleContext) -> Type:
    """The labels of a labeled array, else the indices: one per element."""
    a = _array(ctx)
    if a is None:
        return ArrayType(ScalarType.of("number", "string"))
    n = index_labels(array_length(a))
    if not a.labeled:
        return ArrayType(INTEGER, labels=n, dimension=a.dimension)
    item = ScalarType(frozenset(label_value_kind(v) for v in a.labels)) if a.labels else None
    return ArrayType(item or ScalarType.of("number", "string"), labels=n, dimension=a.dimension)


@rule("array_modify")
def _array_modify(ctx: RuleContext) -> Type:
    """``length`` elements from ``index`` replaced by ``values`` (ArrayElementNotAvailable)."""
    a, v = _array(ctx), _array(ctx, "values")
    index = literal_int(ctx, "index")
    length = literal_int(ctx, "length") if ctx.node.arg("length") is not None else 0
    n, m = array_length(a), array_length(v)
    if index is not None and n is not None and index > n:
        ctx.error(
            "ArrayElementNotAvailable",
            f"The array has {n} elements; it cannot be modified at index {index}.",
            "index",
        )
    item = union(a.item if a else ANY, v.item if v else ANY)
    if a is None or v is None:
        return ArrayType(item)
    labeled = (a.labeled and v.labeled) or (a.labeled and m == 0) or (v.labeled and n == 0)
    if a.labeled and v.labeled and a.labels is not None and v.labels is not None:
        common = [x for x in v.labels if x in a.labels]
        if common:
            ctx.error(
                "ArrayLabelConflict", f"Both arrays have the label {echo(common[0])}.", "values"
            )
    labels = None
    if None not in (n, m, index, length):
        count = n - min(length, max(0, n - index)) + m  # type: ignore[operator]
        if labeled and a.labels is not None and v.labels is not None:
            labels = a.labels[:index] + v.labels + a.labels[index + length :]
        else:
            labels = index_labels(count)
    return ArrayType(item, labeled=labeled, labels=labels)


@rule("order")
def _order(ctx: RuleContext) -> Type:
    """Indices; as many as elements unless no-data values are dropped (the default)."""
    a = _array(ctx)
    keeps = literal_flag(ctx, "nodata", None) is not None
    if a is None or not keeps:
        return ArrayType(INTEGER)
    return ArrayType(INTEGER, labels=index_labels(array_length(a)), dimension=a.dimension)


@rule("sort")
def _sort(ctx: RuleContext) -> Type:
    """The elements sorted; as many as given unless no-data values are dropped (default)."""
    a = _array(ctx)
    keeps = literal_flag(ctx, "nodata", None) is not None
    if a is None:
        return ArrayType(ANY)
    if not keeps:
        kinds = _scalar_kinds(a.item)
        item = ScalarType(kinds - {"null"}) if kinds and kinds - {"null"} else a.item
        return ArrayType(item)
    return ArrayType(a.item, labels=index_labels(array_length(a)), dimension=a.dimension)


@rule("rearrange")
def _rearrange(ctx: RuleContext) -> Type:
    """``data``'s elements in the given order: one per entry of ``order``."""
    a, o = _array(ctx), _array(ctx, "order")
    item = a.item if a is not None else ANY
    if o is None:
        return ArrayType(item)
    return ArrayType(item, labels=index_labels(array_length(o)), dimension=o.dimension)


@rule("fit_curve")
def _fit_curve(ctx: RuleContext) -> Type:
    """The fitted parameters: one number per initial guess."""
    guess = _array(ctx, "parameters")
    n = array_length(guess)
    params = ArrayType(ScalarType.of("number"), labels=index_labels(n))
    ctx.callback("function", {"x": NUMBER, "parameters": params})
    return ArrayType(ScalarType.of("number"), labels=index_labels(n))
