"""Strict JSON reading (issue 2): what is rejected, where it is reported."""

from __future__ import annotations

import pytest

import pgc
from pgc.frontend.source import load_python, load_text

STRICT_CASES = [
    ("duplicate key", '{"a": 1, "a": 2}', "/a", (1, 10)),
    ("NaN literal", '{"a": NaN}', "/a", (1, 7)),
    ("Infinity literal", '{"a": -Infinity}', "/a", (1, 7)),
    ("lone high surrogate", '{"a": "x\\ud800"}', "/a", (1, 7)),
    ("lone low surrogate", '{"a": ["\\udc00"]}', "/a/0", (1, 8)),
    ("integer too long", '{"a": ' + "9" * 400 + "}", "/a", (1, 7)),
    ("float overflow", '{"a": 1e400}', "/a", (1, 7)),
    ("control character", '{"a": "x\ty"}', "/a", (1, 7)),
    ("trailing comma", '{"a": [1, 2,]}', "/a", (1, 13)),
    ("unclosed", '{"a": [1, 2', "/a", (1, 12)),
    ("two documents", "{} {}", "", (1, 4)),
    ("empty text", "", "", (1, 1)),
]


@pytest.mark.parametrize(
    "text,pointer,position", [c[1:] for c in STRICT_CASES], ids=[c[0] for c in STRICT_CASES]
)
def test_strict_json_is_reported_with_place(text, pointer, position):
    value, _, problems = load_text(text, "<t>")
    assert value is None
    assert [(p.code, p.pointer) for p in problems][:1] == [("ProcessGraphInvalid", pointer)]
    assert (problems[0].line, problems[0].column) == position


def test_all_strictness_problems_are_collected():
    _, _, problems = load_text('{"a": NaN, "b": Infinity, "a": 1}')
    assert [p.pointer for p in problems] == ["/a", "/b", "/a"]


def test_paired_surrogates_are_fine():
    value, _, problems = load_text('{"a": "\\ud83d\\ude00"}')
    assert problems == [] and value == {"a": "\U0001f600"}


def test_not_utf8_and_byte_order_mark():
    assert load_text(b"\xff\xfe{}")[2][0].message.startswith("The document is not valid UTF-8")
    assert load_text(b"\xef\xbb\xbf{}")[0] == {}


def test_size_limit():
    problems = load_text("[" + "1," * 100 + "1]", limits=pgc.Limits(max_bytes=50))[2]
    assert "limit is 50" in problems[0].message


def test_string_limit_in_the_strict_scanner():
    text = '{"a": "' + "x" * 100 + '", "b": NaN}'
    problems = load_text(text, limits=pgc.Limits(max_string_length=10))[2]
    assert [p.pointer for p in problems] == ["/a", "/b"]


def test_string_limit_where_validation_uses_strings():
    graph = {
        "n": {
            "process_id": "text_concat",
            "result": True,
            "arguments": {"data": ["ok", "x" * 100], "separator": "y" * 100},
        }
    }
    result = pgc.validate(graph, limits=pgc.Limits(max_string_length=10))
    assert {d.pointer for d in result.errors} == {"/n/arguments/data/1", "/n/arguments/separator"}


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_nesting_ten_thousand_levels(opener):
    closer = "]" if opener == "[" else "}"
    text = opener * 10_000 + "1" + closer * 10_000
    value, _, problems = load_text(text)
    assert value is None
    assert len(problems) == 1 and "deeper than the limit of 256" in problems[0].message


def test_source_map_positions():
    text = '{\n  "process_graph": {\n    "n1": {"process_id": "x"}\n  }\n}'
    _, source, _ = load_text(text)
    assert source.locate("/process_graph/n1") == (3, 5)
    assert source.locate("/process_graph/n1/process_id") == (3, 12)
    # A place below a scalar or a missing key falls back to the nearest existing parent.
    assert source.locate("/process_graph/n1/arguments") == (3, 5)
    assert source.line_text(3) == '    "n1": {"process_id": "x"}'


def test_python_documents_must_be_json():
    cyclic: dict = {}
    cyclic["self"] = cyclic
    for bad in (cyclic, {"a": float("nan")}, {"a": {1, 2}}, {"a": object()}):
        value, _, problems = load_python(bad)
        assert value is None and problems[0].code == "ProcessGraphInvalid"


def test_python_nesting_beyond_recursion_limit():
    doc: list = []
    for _ in range(10_000):
        doc = [doc]
    value, _, problems = load_python(doc)
    assert value is None and problems[0].code == "ProcessGraphInvalid"
