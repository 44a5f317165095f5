"""Constant folding never changes a result (issue 17): for every process the fold pass folds,
a call whose arguments are all literals gives the same value (or the same error) with the
default pipeline as with none, where the reference executor computes it at run time.

The folded call is tried in both positions the pass treats differently: as the graph's
result (it becomes ``constant``) and as an argument of another node (its value is put in
the user's argument).
"""

from __future__ import annotations

import math

from conftest import examples
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgc.errors import PgcError
from pgc.passes.fold import FOLDABLE
from pgc.runner import execute
from pgc.specs import load_specs

SPECS = load_specs()

numbers = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.integers(-300, 300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(-1e3, 1e3, allow_nan=False),
    st.sampled_from([0, 0.0, -0.0, 1, -1, 0.5, 255, 2**53, 2**63]),
)
logic = st.one_of(st.none(), st.booleans())


def argument_values(process_id: str):
    """Arguments for ``process_id`` by its parameters' schemas: numbers (no-data
    included), booleans for logic, a small integer for round's precision; optional
    parameters are sometimes left out."""
    spec = SPECS.get(process_id)
    fields = {}
    for param in spec.parameters:
        types = set()
        for schema in param.schema if isinstance(param.schema, list) else [param.schema]:
            kind = schema.get("type", [])
            types |= set(kind if isinstance(kind, list) else [kind])
        if process_id == "round" and param.name == "p":
            value = st.integers(-4, 6)
        elif "boolean" in types and "number" not in types:
            value = logic
        elif process_id == "constant":
            value = st.one_of(numbers, logic, st.text(max_size=3))
        else:
            value = numbers
        if param.optional:
            value = st.one_of(st.just(_OMIT), value)
        fields[param.name] = value
    return st.fixed_dictionaries(fields).map(
        lambda args: {k: v for k, v in args.items() if v is not _OMIT}
    )


_OMIT = object()


def outcome(graph: dict, pipeline: str):
    try:
        value = execute(graph, pipeline=pipeline).value
    except PgcError as exc:
        return "error", exc.code
    return "value", value


def same(a, b) -> bool:
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b  # JSON has one kind of number: 0 and 0.0 are the same value
    return a == b and type(a) is type(b)


def check(process_id: str, arguments: dict) -> None:
    call = {"process_id": process_id, "arguments": arguments}
    as_result = {"c": {**call, "result": True}}
    as_argument = {
        "c": call,
        "r": {"process_id": "array_create", "arguments": {"data": [{"from_node": "c"}]},
              "result": True},
    }  # fmt: skip
    for graph in (as_result, as_argument):
        plain, folded = outcome(graph, "none"), outcome(graph, "default")
        assert plain[0] == folded[0] and same(plain[1], folded[1]), (
            process_id, arguments, plain, folded,
        )  # fmt: skip


def cases():
    """A foldable process and literal arguments for it."""
    return st.sampled_from(sorted(FOLDABLE)).flatmap(
        lambda pid: st.tuples(st.just(pid), argument_values(pid))
    )


# About 50 examples per folded process in CI; more where a profile asks for more.
@settings(max_examples=examples(2000), deadline=None)
@given(cases())
@example(("absolute", {"x": 0}))  # 0 and 0.0: one JSON number
@example(("divide", {"x": 1, "y": 2**53 + 1}))  # fold divided Python ints exactly
@example(("int", {"x": 2**53 + 1}))  # fold went through float64, the reference keeps the int
@example(("absolute", {"x": 2**53 + 1}))  # the same for absolute and sgn
@example(("round", {"x": 25, "p": -1}))  # integers round exactly, half to even: 20
@example(("ceil", {"x": 2**53 + 1}))  # the reference's ceil went through float64
@example(("linear_scale_range", {"x": 0, "inputMin": 1, "inputMax": 0, "outputMax": 2**54 - 1}))
@example(("linear_scale_range", {"x": 280, "inputMin": 0, "inputMax": 250, "outputMax": 255}))
def test_fold_gives_the_references_value(case):
    check(*case)


def test_linear_scale_range_fold_clips():
    """'The given number in x is clipped to the bounds specified in inputMin and inputMax':
    the fold pass gave 285.6 for 280 in [0, 250] -> [0, 255] (issue 17)."""
    check("linear_scale_range", {"x": 280, "inputMin": 0, "inputMax": 250, "outputMax": 255})
    arguments = {"x": 280, "inputMin": 0, "inputMax": 250, "outputMax": 255}
    graph = {"c": {"process_id": "linear_scale_range", "arguments": arguments, "result": True}}
    assert execute(graph, pipeline="default").value == 255


def test_every_folded_process_is_a_process():
    """The table names processes that exist, so the parametrized test covers each."""
    assert all(SPECS.get(pid) is not None for pid in FOLDABLE)
