"""The kernel statements' simplifier: constants and copies propagate, dead temporaries go,
and what is left computes what the unsimplified statements computed."""

from __future__ import annotations

import itertools

from pgc.kernels.simplify import simplify


def run(lines: list[str], env: dict) -> dict:
    scope = dict(env)
    exec("\n".join(lines), {}, scope)  # noqa: S102 - the test's own statements
    return scope


def test_valid_inputs_fold_the_validity_away():
    lines = [
        "k0 = True",
        "k1 = True",
        "tv2 = a > b",
        "v2 = 1.0 if tv2 else 0.0",  # the number of a boolean nobody reads
        "dv3 = (k0 & tv2) | (k1 & c)",
        "k3 = (k0 & k1) | dv3",
        "tv3 = dv3",
    ]
    out, known = simplify(lines, {"tv3", "k3"})
    assert known == {"k3": True, "tv3": "dv3"}
    assert out == ["tv2 = a > b", "dv3 = tv2 | c", "k3 = True", "tv3 = dv3"]
    for a, b, c in itertools.product([0.0, 1.0], [0.0, 1.0], [False, True]):
        before, after = run(lines, {"a": a, "b": b, "c": c}), run(out, {"a": a, "b": b, "c": c})
        assert after["tv3"] == before["tv3"]


def test_a_constant_test_keeps_one_branch():
    lines = ["hv1 = False", "if hv1:", "    v1 = 0.0", "    k1 = False", "else:", "    v1 = x",
             "    k1 = kx"]  # fmt: skip
    out, known = simplify(lines, {"v1", "k1"})
    assert out == ["v1 = x", "k1 = kx"]
    assert known == {"v1": "x", "k1": "kx"}  # once the branch is gone, they are copies


def test_statements_with_effects_and_live_names_stay():
    lines = ["k0 = True", "v5 = a + 1.0", "acc_[i] = v5 if k0 else acc_[i]", "v6 = a * 2.0"]
    out, known = simplify(lines, {"v6"})
    assert out == ["v5 = a + 1.0", "acc_[i] = v5", "v6 = a * 2.0"]
    assert known == {}


def test_copies_of_copies_resolve_to_the_last_name():
    lines = ["k0 = kx", "k1 = k0", "k2 = k1 & True"]
    out, known = simplify(lines, {"k2"})
    assert known == {"k2": "kx"}
    assert out == ["k2 = kx"]
