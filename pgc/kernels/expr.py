"""The scalar expression IR inside a fused kernel, and its translation from callbacks.

A kernel computes one value per pixel from a few input bands: an :class:`Expr` tree whose
leaves are inputs (a band of the cube, by position in the kernel's argument list) and
constants, and whose inner nodes are elementwise openEO processes. Every value carries
its validity, exactly as the reference executor's cubes do:

- arithmetic, math functions, ``normalized_difference``, ``clip``,
  ``linear_scale_range``, comparisons, ``xor`` and ``not``: no-data if any operand is
  no-data, else the IEEE 754 result in float64 (integer bands are promoted first: the dtype
  policy of :mod:`pgc.executors.values`);
- ``and`` / ``or``: three-valued (a false / true operand decides alone);
- ``if``: ``accept`` where ``value`` is true, else ``reject`` (no-data counts as false);
- ``is_nodata``, ``is_nan``, ``is_valid``: always valid;
- transcendental functions in float64, rounded to the compute dtype (:data:`UNARY`), and
  what reads no pixel (constants only) in float64, as the reference's Python numbers;
- comparisons of numbers with numbers, or booleans with booleans for eq and neq, only
  (:func:`compared_alike`): true is not 1 in the definitions.

:func:`from_callback` translates the child graph of ``apply`` (``x``: the pixel's value)
or of ``reduce_dimension`` (``array_element`` of ``data`` by label or index: one element
of the dimension, usually a band) into an expression, or gives None when it holds anything
else. ``mask`` joins two expressions (:func:`masked`); :func:`substitute` puts expressions
in place of inputs, which is how the fuse-elementwise pass grows a kernel across nodes.
Expressions travel in the IR as JSON (:func:`to_json`, :func:`from_json`).

>>> from pgc.ir.parser import parse_ir
>>> g = parse_ir('process(x) { %m = multiply(x=$x, y=2) return %m }')
>>> expr = from_callback(g, "apply")[0]
>>> str(expr), to_json(expr)
('multiply(in0, 2.0)', {'op': 'multiply', 'args': [{'in': 0}, {'const': 2.0}]})
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ..ir.graph import Graph
from ..ir.nodes import Literal, Node, NodeRef, ParamRef
from ..jsonvalue import is_number

# Transcendental functions compute in float64 and round to the compute dtype (WIDE, FLOAT:
# see pgc.kernels.codegen), as the reference does (pgc.executors.reference.scalar.wide): numba's
# float32 functions (the C library's sinf ...) and numpy's (its own SIMD code) differ in
# the last bit for 1 value in 5 or so, and a bit decides arcosh(ln(exp(1))) (ln(exp(1)) is
# 0.99999994 or 1.0000001: NaN or a number); float64 results rounded to float32 agree but
# for a double rounding (about 1 in 2**29).
UNARY = {
    "absolute": "abs({0})",
    "sqrt": "np.sqrt({0})",  # correctly rounded in every dtype: nothing to widen
    "exp": "FLOAT(np.exp(WIDE({0})))",
    "ln": "FLOAT(np.log(WIDE({0})))",
    "sin": "FLOAT(np.sin(WIDE({0})))",
    "cos": "FLOAT(np.cos(WIDE({0})))",
    "tan": "FLOAT(np.tan(WIDE({0})))",
    "arcsin": "FLOAT(np.arcsin(WIDE({0})))",
    "arccos": "FLOAT(np.arccos(WIDE({0})))",
    "arctan": "FLOAT(np.arctan(WIDE({0})))",
    "sinh": "FLOAT(np.sinh(WIDE({0})))",
    "cosh": "FLOAT(np.cosh(WIDE({0})))",
    "tanh": "FLOAT(np.tanh(WIDE({0})))",
    "arsinh": "FLOAT(np.arcsinh(WIDE({0})))",
    "arcosh": "FLOAT(np.arccosh(WIDE({0})))",
    "artanh": "FLOAT(np.arctanh(WIDE({0})))",
    "floor": "np.floor({0})",
    "ceil": "np.ceil({0})",
    "sgn": "np.sign({0})",
    "not": "({0} == 0.0)",
}
BINARY = {
    "add": "({0} + {1})",
    "subtract": "({0} - {1})",
    "multiply": "({0} * {1})",
    "divide": "({0} / {1})",
    "power": "FLOAT(WIDE({0}) ** WIDE({1}))",
    "normalized_difference": "(({0} - {1}) / ({0} + {1}))",
    "log": "FLOAT(np.log(WIDE({0})) / np.log(WIDE({1})))",
    "gt": "({0} > {1})",
    "gte": "({0} >= {1})",
    "lt": "({0} < {1})",
    "lte": "({0} <= {1})",
    "eq": "({0} == {1})",
    "neq": "({0} != {1})",
    "xor": "(({0} != 0.0) != ({1} != 0.0))",
}
ARGUMENTS = {  # the operands of each process, in order
    **{op: ("x",) for op in UNARY},
    **{op: ("x", "y") for op in BINARY},
    "exp": ("p",),  # the exponent (exp has no x)
    "power": ("base", "p"),
    "log": ("x", "base"),
    "and": ("x", "y"),
    "or": ("x", "y"),
    "if": ("value", "accept", "reject"),
    "is_nodata": ("x",),
    "is_nan": ("x",),
    "is_valid": ("x",),
    "clip": ("x",),
    "linear_scale_range": ("x",),
    "mask": ("data", "mask"),  # mask with a cube: replacement (or null) where mask is true
    "array_contains": ("value",),  # a pixel's value in a literal list of numbers (params)
}
BOOLEAN = {"gt", "gte", "lt", "lte", "eq", "neq", "xor", "not", "and", "or"} | {
    "array_contains",
    "is_nodata",
    "is_nan",
    "is_valid",
}


@dataclass(frozen=True)
class Expr:
    """One node of a kernel's expression: ``op`` is ``in`` (input ``value``), ``const``
    (``value``; None is no-data), or a process id with ``args`` and constant ``params``."""

    op: str
    args: tuple[Expr, ...] = ()
    value: Any = None
    params: tuple[float, ...] = ()

    def __str__(self) -> str:
        if self.op == "in":
            return f"in{self.value}"
        if self.op == "const":
            return "null" if self.value is None else repr(self.value)
        inner = [str(a) for a in self.args] + [repr(p) for p in self.params]
        return f"{self.op}({', '.join(inner)})"

    @property
    def boolean(self) -> bool:
        if self.op == "const":
            return isinstance(self.value, bool)
        return self.op in BOOLEAN

    def nodes(self) -> tuple[Expr, ...]:
        """Every node of the expression, itself first (depth first, iteratively: kernels
        are bounded in size, not in depth). Kept once walked: an expression never changes,
        and a kernel's run asks five questions of it."""
        found = self.__dict__.get("_nodes")
        if found is None:
            stack, walked = [self], []
            while stack:
                item = stack.pop()
                walked.append(item)
                stack.extend(item.args)
            found = tuple(walked)
            object.__setattr__(self, "_nodes", found)  # (frozen: not a field, not compared)
        return found

    def inputs(self) -> set[int]:
        """The input positions the expression reads."""
        return {item.value for item in self.nodes() if item.op == "in"}

    @property
    def holds_null(self) -> bool:
        """Whether a literal null (no-data) is among the expression's constants."""
        return any(item.op == "const" and item.value is None for item in self.nodes())

    def key(self) -> str:
        """A structural hash: equal for equal expressions (the kernel cache key)."""
        return hashlib.sha256(str(self).encode()).hexdigest()[:16]

    def size(self) -> int:
        return sum(item.op not in ("in", "const") for item in self.nodes())


def from_callback(graph: Graph, kind: str) -> tuple[Expr, list] | None:
    """The expression of an ``apply`` callback (``kind="apply"``) or of a reducer that picks
    elements of its ``data`` (``kind="reduce"``), and what each of its inputs reads: for
    ``apply`` ``[None]`` (the pixel's value), for a reducer ``("label", v)`` or
    ``("index", i)`` per picked element (resolved against the cube's labels when it runs).
    None if the callback is not elementwise or does not read the pixel at all."""
    inputs: list = []  # the selectors, in the order of the kernel's inputs
    done: dict[str, Expr] = {}
    for node in graph.nodes():
        expr = _node(node, kind, inputs, done)
        if expr is None:
            return None
        done[node.id] = expr
    if graph.result is None:
        return None
    if not inputs:
        return None  # a constant: the reference's scalar result (its type) says it best
    return done[graph.result], inputs


def _node(node: Node, kind: str, inputs: list, done: dict) -> Expr | None:
    pid = node.process_id
    if node.namespace is not None:
        return None
    if pid == "array_element":
        return _pick(node, kind, inputs)
    if pid not in ARGUMENTS or pid == "mask":  # mask is a cube process, not a callback's
        return None
    names = {k for k, _ in node.arguments}
    operands = ARGUMENTS[pid]
    params: tuple[float, ...] = ()
    if pid == "clip":
        lo, hi = node.literal("min"), node.literal("max")
        if not all(is_number(v) for v in (lo, hi)) or names != {"x", "min", "max"}:
            return None
        params = (float(lo), float(hi))
    elif pid == "linear_scale_range":
        values = [node.literal(k, d) for k, d in (("inputMin", None), ("inputMax", None),
                                                   ("outputMin", 0), ("outputMax", 1))]  # fmt: skip
        if not all(is_number(v) for v in values):
            return None
        params = tuple(float(v) for v in values)
    elif pid in ("eq", "neq"):
        if names - {"x", "y"}:  # delta, case_sensitive: not in kernels
            return None
    elif pid == "array_contains":  # the list's numbers (nothing else equals a number)
        listed = node.literal("data")
        if names != {"data", "value"} or not isinstance(listed, list):
            return None
        params = tuple(float(v) for v in listed if is_number(v))
    elif not names <= set(operands):
        return None
    args = []
    for name in operands:
        value = node.arg(name)
        if value is None:
            return None
        expr = _value(value, kind, inputs, done)
        if expr is None:
            return None
        args.append(expr)
    if pid == "array_contains" and args[0].boolean:
        return None  # true is not 1 in a list: the element rules, as the reference has them
    if pid in COMPARE and not _compared_alike(pid, args):
        return None  # booleans with numbers, or booleans ordered: the reference's rules
    if pid in NOT_NULL and any(_null_constant(a) for a in args):
        return None  # the reference's error (a null that does not depend on the pixel)
    return Expr(pid, tuple(args), params=params)


# Processes whose operands are numbers, null not allowed (the definitions): a pixel's
# no-data is null and gives null, but a null for every pixel, such as floor(null), is
# the caller's mistake, which the reference reports
NOT_NULL = frozenset({"normalized_difference"})


def _null_constant(expr: Expr) -> bool:
    """Whether ``expr`` reads no input and holds a null constant (then it may be null)."""
    return not expr.inputs() and expr.holds_null


COMPARE = {"gt", "gte", "lt", "lte", "eq", "neq"}


def _compared_alike(pid: str, args: list[Expr]) -> bool:
    """Whether a kernel compares ``args`` as the reference does: numbers with numbers, or
    (eq, neq) booleans with booleans. The definitions: true is not 1 (eq is false), and
    booleans have no order (gt is false, gte and lte are eq); the kernel would compare
    1.0 with 1.0."""
    kinds = {a.boolean for a in args if not (a.op == "const" and a.value is None)}
    return kinds == {False} or kinds == set() or (kinds == {True} and pid in ("eq", "neq"))


def compares(expr: Expr) -> bool:
    """Whether ``expr`` compares values (a comparison or array_contains): a kernel then
    must not read a cube of booleans, whose true the kernel reads as 1.0 but the
    definitions keep apart from 1."""
    return any(item.op in COMPARE or item.op == "array_contains" for item in expr.nodes())


def compared_alike(expr: Expr) -> bool:
    """Whether every comparison in ``expr`` compares as the reference does (see
    :func:`_compared_alike`; :func:`substitute` can put a boolean where a number was)."""
    for item in expr.nodes():
        if item.op in COMPARE and not _compared_alike(item.op, list(item.args)):
            return False
        if item.op == "array_contains" and item.args[0].boolean:
            return False
    return True


def _pick(node: Node, kind: str, inputs: list) -> Expr | None:
    """array_element of the reducer's ``data`` by a literal label or index: one element."""
    if kind != "reduce" or node.arg("data") != ParamRef("data"):
        return None
    names = {k for k, _ in node.arguments}
    if not names <= {"data", "index", "label"}:
        return None
    label, index = node.literal("label"), node.literal("index")
    if isinstance(label, str) and node.arg("index") is None:
        selector = ("label", label)
    elif isinstance(index, int) and not isinstance(index, bool) and node.arg("label") is None:
        selector = ("index", index)
    else:
        return None
    if selector not in inputs:
        inputs.append(selector)
    return Expr("in", value=inputs.index(selector))


def _value(value: Any, kind: str, inputs: list[int], done: dict) -> Expr | None:
    if isinstance(value, NodeRef):
        return done.get(value.id)
    if isinstance(value, ParamRef):
        if kind == "apply" and value.name == "x":
            if None not in inputs:
                inputs.append(None)
            return Expr("in", value=0)
        return None
    if isinstance(value, Literal):
        v = value.value
        if v is None or isinstance(v, bool):
            return Expr("const", value=v)
        if is_number(v):
            return Expr("const", value=float(v))
    return None


def substitute(expr: Expr, inputs: dict[int, Expr]) -> Expr:
    """``expr`` with every input ``j`` replaced by ``inputs[j]``."""
    if expr.op == "in":
        return inputs[expr.value]
    if not expr.args:
        return expr
    args = tuple(substitute(a, inputs) for a in expr.args)
    return Expr(expr.op, args, expr.value, expr.params)


def renumber(expr: Expr, offset: int) -> Expr:
    """``expr`` reading input ``j + offset`` where it read ``j``."""
    return substitute(expr, {j: Expr("in", value=j + offset) for j in expr.inputs()})


def masked(data: Expr, mask: Expr, replacement: float | None) -> Expr:
    """``mask(data, mask, replacement)`` for one pixel: the replacement (None: no-data)
    where ``mask`` has data and is non-zero, else ``data``."""
    params = () if replacement is None else (float(replacement),)
    return Expr("mask", (data, mask), params=params)


def to_json(expr: Expr) -> dict:
    """The expression as JSON, as the kernel node of the IR holds it."""
    if expr.op == "in":
        return {"in": expr.value}
    if expr.op == "const":
        return {"const": expr.value}
    out: dict = {"op": expr.op, "args": [to_json(a) for a in expr.args]}
    if expr.params:
        out["params"] = list(expr.params)
    return out


def from_json(value: Any) -> Expr:
    """The expression of :func:`to_json`; ValueError for anything else."""
    if not isinstance(value, dict):
        raise ValueError(f"not a kernel expression: {value!r}")
    if "in" in value:
        if not isinstance(value["in"], int) or value["in"] < 0:
            raise ValueError(f"bad kernel input {value['in']!r}")
        return Expr("in", value=value["in"])
    if "const" in value:
        v = value["const"]
        if not (v is None or isinstance(v, bool) or is_number(v)):
            raise ValueError(f"bad kernel constant {v!r}")
        return Expr("const", value=v if v is None or isinstance(v, bool) else float(v))
    op, args = value.get("op"), value.get("args")
    if op not in ARGUMENTS or not isinstance(args, list) or len(args) != len(ARGUMENTS[op]):
        raise ValueError(f"bad kernel operation {op!r}")
    params = value.get("params", [])
    if not isinstance(params, list) or not all(is_number(p) for p in params):
        raise ValueError(f"bad kernel parameters {params!r}")
    return Expr(op, tuple(from_json(a) for a in args), params=tuple(float(p) for p in params))
