"""Every example in the process definitions that states a result (``returns`` or
``throws``) runs in the reference executor and gives that result. The examples are the
definitions' own statements of their no-data, NaN and type rules (``any([null])``,
``eq(0, false)``, ``array_interpolate_linear([null, 1, null, 6])``, ...)."""

from __future__ import annotations

import json

import pytest
from conftest import UPSTREAM, UPSTREAM_REASON

from pgc.conformance import run_case
from pgc.specs import load_specs

# Examples that contradict their own definition, with the reason.
WRONG = {
    "count#4": "the condition is not wrapped in 'process_graph' and uses the old parameter "
    "name 'element' (now 'x')",
    "array_modify#3": "relies on 'length' defaulting to 1; the definition's default is 0 "
    "(insert), which example #2 relies on",
}


def examples():
    paths = sorted(UPSTREAM.glob("*.json")) + sorted((UPSTREAM / "proposals").glob("*.json"))
    for path in paths:
        definition = json.loads(path.read_text(encoding="utf-8"))
        for i, example in enumerate(definition.get("examples", [])):
            if "returns" in example or "throws" in example:
                case_id = f"{definition['id']}#{i}"
                wrong = WRONG.get(case_id)
                marks = [pytest.mark.xfail(reason=wrong, strict=True)] if wrong else []
                yield pytest.param(definition["id"], example, id=case_id, marks=marks)


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason=UPSTREAM_REASON)
@pytest.mark.parametrize("process_id,example", list(examples()) if UPSTREAM.is_dir() else [])
def test_definition_example(process_id, example):
    status, reason = run_case(process_id, example, UPSTREAM, load_specs())
    assert status == "passed", reason
