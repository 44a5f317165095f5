"""Constant folding of scalar math.

Law: a pure scalar process whose arguments are all literal has one value, known now;
computing it at compile time and putting the literal in its users' arguments gives the
same result. Values follow the process definitions (no-data in, no-data out for
arithmetic; three-valued logic) and are computed with numpy's float64 functions, as the
reference executor computes them. Folding stops where the definition leaves a choice to
run time or the value is not plain JSON: division by zero, NaN or infinite results,
integer overflow beyond float64, domains outside a function's (``sqrt(-1)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..ir.graph import Graph
from ..ir.nodes import Literal, Node
from ..ir.printer import json_text
from ..numerics import bounded_int, rounded
from .rewrite import map_graphs, redirect

Number = int | float


class _NoFold(Exception):
    """This call must be left to run time."""


def _num(x: Any) -> Number | None:
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise _NoFold
    return x


def _arith(fn: Callable[[Number, Number], Number]) -> Callable[..., Any]:
    def op(x=None, y=None):
        x, y = _num(x), _num(y)
        if x is None or y is None:
            return None  # any no-data operand gives no-data
        return bounded_int(fn(x, y))  # as the reference computes it

    return op


def _unary(fn: Callable[[float], float], domain: Callable[[float], bool] = lambda _: True):
    def op(x=None):
        x = _num(x)
        if x is None:
            return None
        if not domain(x):
            raise _NoFold
        return fn(float(x))

    return op


def _exact(fn: Callable[[Number], Number]):
    """absolute, sgn: integers stay exact integers (as the reference keeps them), floats
    stay floats."""

    def op(x=None):
        x = _num(x)
        if x is None:
            return None
        return fn(x) if isinstance(x, int) else float(fn(float(x)))

    return op


def _integral(fn: Callable[[float], int]):
    """floor, ceil, int: an integer is its own value, exactly (past 2**53 too, as the
    reference keeps it), a float rounds by ``fn``."""

    def op(x=None):
        x = _num(x)
        if x is None or isinstance(x, int):
            return x
        return fn(x)

    return op


def _np(name: str) -> Callable[[float], float]:
    def call(x: float) -> float:
        import numpy as np

        return float(getattr(np, name)(np.float64(x)))

    return call


def _divide(x: Number, y: Number) -> Number:
    if y == 0:
        raise _NoFold  # the definition's DivisionByZero / infinity is run-time behaviour
    return float(x) / float(y)  # in float64, as the reference divides (not Python's exact int /)


def _logic(fn: Callable[[bool | None, bool | None], bool | None]):
    def op(x=None, y=None):
        for v in (x, y):
            if v is not None and not isinstance(v, bool):
                raise _NoFold
        return fn(x, y)

    return op


def _and(x, y):
    if x is False or y is False:
        return False
    return None if x is None or y is None else True


def _or(x, y):
    if x is True or y is True:
        return True
    return None if x is None or y is None else False


def _xor(x, y):
    return None if x is None or y is None else x != y


def _not(x=None):
    if x is not None and not isinstance(x, bool):
        raise _NoFold
    return None if x is None else not x


def _compare(fn: Callable[[Number, Number], bool]):
    def op(x=None, y=None):
        if x is None or y is None:
            return None
        return fn(_num(x), _num(y))

    return op


def _clip(x=None, min=None, max=None):  # noqa: A002 - openEO argument names
    x = _num(x)
    if x is None:
        return None
    return builtin_min(builtin_max(x, _num(min)), _num(max))


builtin_min, builtin_max = min, max


def _linear_scale_range(x=None, inputMin=None, inputMax=None, outputMin=0, outputMax=1):  # noqa: N803
    x = _num(x)
    if x is None:
        return None
    lo, hi, a, b = (_num(v) for v in (inputMin, inputMax, outputMin, outputMax))
    if hi == lo:
        raise _NoFold
    x, lo, hi, a, b = (float(v) for v in (x, lo, hi, a, b))  # in float64, as the reference
    x = builtin_min(builtin_max(x, builtin_min(lo, hi)), builtin_max(lo, hi))  # clipped first
    y = ((x - lo) / (hi - lo)) * (b - a) + a
    return builtin_min(builtin_max(y, builtin_min(a, b)), builtin_max(a, b))  # never outside


def _round(x=None, p=0):
    x = _num(x)
    if x is None:
        return None
    if not isinstance(p, int) or isinstance(p, bool):
        raise _NoFold
    if isinstance(x, int):  # exact, half to even (as the reference rounds integers)
        return 0 if -p > len(str(abs(x))) else round(x, p)
    return rounded(x, p)  # half to even, as the definition says


FOLDABLE: dict[str, Callable[..., Any]] = {
    "add": _arith(lambda x, y: x + y),
    "subtract": _arith(lambda x, y: x - y),
    "multiply": _arith(lambda x, y: x * y),
    "divide": _arith(_divide),
    "absolute": _exact(abs),
    "sgn": _exact(lambda x: (x > 0) - (x < 0)),
    "sqrt": _unary(_np("sqrt"), lambda x: x >= 0),
    "exp": _unary(_np("exp")),
    "ln": _unary(_np("log"), lambda x: x > 0),
    "sin": _unary(_np("sin")),
    "cos": _unary(_np("cos")),
    "tan": _unary(_np("tan")),
    "arctan": _unary(_np("arctan")),
    "sinh": _unary(_np("sinh")),
    "cosh": _unary(_np("cosh")),
    "tanh": _unary(_np("tanh")),
    "floor": _integral(math.floor),
    "ceil": _integral(math.ceil),
    "int": _integral(math.trunc),
    "round": _round,
    "clip": _clip,
    "linear_scale_range": _linear_scale_range,
    "and": _logic(_and),
    "or": _logic(_or),
    "xor": _logic(_xor),
    "not": _not,
    "lt": _compare(lambda x, y: x < y),
    "lte": _compare(lambda x, y: x <= y),
    "gt": _compare(lambda x, y: x > y),
    "gte": _compare(lambda x, y: x >= y),
    "constant": lambda x=None: x,
    "pi": lambda: math.pi,
    "e": lambda: math.e,
}


def evaluate(node: Node) -> tuple[bool, Any]:
    """(True, value) when ``node`` folds to a JSON value; (False, None) otherwise."""
    fn = FOLDABLE.get(node.process_id)
    if fn is None or node.namespace not in (None, "backend"):
        return False, None
    if not all(isinstance(v, Literal) for _, v in node.arguments):
        return False, None
    try:
        value = fn(**{k: v.value for k, v in node.arguments})
    except (_NoFold, TypeError, ValueError, OverflowError, ZeroDivisionError):
        return False, None
    if isinstance(value, float) and not math.isfinite(value):
        return False, None
    if (
        isinstance(value, float)
        and value.is_integer()
        and abs(value) < 2**53
        and node.process_id in ("floor", "ceil", "int")
    ):
        value = int(value)
    return True, value


def fold(graph: Graph, context) -> tuple[Graph, bool]:
    overridden = getattr(context, "overridden", frozenset())  # run as the back-end's own

    def one(g: Graph) -> tuple[Graph, bool]:
        out = g
        folded = 0
        for node_id in g.order():
            node = out.node(node_id)
            if node.process_id in overridden:
                continue
            ok, value = evaluate(node)
            if not ok:
                continue
            if out is g:
                out = g.copy()
            if node_id == out.result:
                # The result must stay a node: it becomes constant(x=value).
                if node.process_id != "constant":
                    out.replace(
                        Node(
                            node.id,
                            "constant",
                            (("x", Literal(value)),),
                            origin=node.origin,
                            remarks=node.remarks
                            + (f"fold: {node.process_id} = {json_text(value)}",),
                        )
                    )
                    folded += 1
                continue
            for user in out.users(node_id):
                out.replace(
                    out.node(user).with_remark(
                        f"fold: {node_id} ({node.process_id}) = {json_text(value)}"
                    )
                )
            redirect(out, node_id, Literal(value))
            out.remove(node_id)
            folded += 1
        return out, bool(folded)

    return map_graphs(graph, one)
