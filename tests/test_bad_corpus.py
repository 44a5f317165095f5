"""A corpus of bad openEO process graphs: each must fail with the exact code and place.

Every case states the openEO error code it must produce (the API's ``errors.json`` codes as
listed in ``shared/RELIABILITY.md``, or the exception name from the process definition) and
the RFC 6901 JSON pointer into the user's document where the mistake is. The expectations
were decided from the openEO rules and the process definitions in ``specs/processes``, not
read off pgc's output. Where pgc disagrees, the case is marked ``xfail(strict=True)`` with
the reason, so that fixing pgc turns the mark into an unexpected pass.

Conventions for pointers used throughout this corpus:

- a problem with a value points at that value (``/n/arguments/x``), with the deepest place
  that shows it (``/n/arguments/extent/0`` for a bad date in an interval);
- a missing key points at the object that lacks it (``/n/arguments`` for a missing required
  argument, ``/n`` for a node without ``process_id``);
- a conflict between arguments of one node (``index`` and ``label``, ``min`` > ``max``)
  points at the node's ``/arguments``;
- a bad reference points at its offending key (``.../from_node``, or the extra key);
- a cycle points at the first node of the cycle in document order;
- a problem with a whole graph (no result node, too many nodes, empty) points at the graph;
- a problem inside a user-defined process (passed with ``user_processes=``, so not part of
  the user's document) points at the node of the document that calls it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import pytest

import pgc

INVALID = "ProcessGraphInvalid"
MISSING = "ProcessGraphMissing"
UNSUPPORTED = "ProcessUnsupported"
PARAM_UNSUPPORTED = "ProcessParameterUnsupported"
PARAM_REQUIRED = "ProcessParameterRequired"
PARAM_INVALID = "ProcessParameterInvalid"


# --------------------------------------------------------------------------------------
# Builders


def n(process_id: str, arguments: dict | None = None, result: bool = False, **extra) -> dict:
    """A process node; ``arguments`` defaults to {}."""
    out: dict = {"process_id": process_id, "arguments": {} if arguments is None else arguments}
    if result:
        out["result"] = True
    out.update(extra)
    return out


def ref(node_id: str) -> dict:
    return {"from_node": node_id}


def param(name: str) -> dict:
    return {"from_parameter": name}


def cb(graph: dict, **extra) -> dict:
    """A child process graph (callback) argument."""
    return {"process_graph": graph, **extra}


BBOX = {"west": 5.0, "south": 50.0, "east": 6.0, "north": 51.0}
TEMPORAL = ["2021-01-01", "2021-02-01"]


def lc_args(**changes) -> dict:
    args = {
        "id": "SENTINEL2_L2A",
        "spatial_extent": dict(BBOX),
        "temporal_extent": list(TEMPORAL),
        "bands": ["B04", "B08"],
    }
    args.update(changes)
    return args


def lc(**changes) -> dict:
    return n("load_collection", lc_args(**changes))


def with_save(graph: dict, source: str) -> dict:
    """``graph`` plus a save_result node (the result) that consumes ``source``."""
    out = dict(graph)
    out["save"] = n("save_result", {"data": ref(source), "format": "GTiff"}, result=True)
    return out


def on_cube(process_id: str, node_id: str = "p", **arguments) -> dict:
    """load_collection -> <process_id>(data=lc, **arguments) -> save_result."""
    return with_save(
        {"lc": lc(), node_id: n(process_id, {"data": ref("lc"), **arguments})}, node_id
    )


def single(process_id: str, arguments: dict, node_id: str = "n") -> dict:
    """A one-node graph whose node is the result."""
    return {node_id: n(process_id, arguments, result=True)}


def reduce_with(reducer_graph: dict) -> dict:
    """load_collection -> reduce_dimension(bands, reducer) -> save_result."""
    return on_cube("reduce_dimension", "r", reducer=cb(reducer_graph), dimension="bands")


def apply_with(graph: dict) -> dict:
    """load_collection -> apply(process) -> save_result."""
    return on_cube("apply", "ap", process=cb(graph))


ADD_X_1 = {"m": n("add", {"x": param("x"), "y": 1}, result=True)}

UDP_PLUS = {
    "plus": {
        "id": "plus",
        "parameters": [
            {"name": "x", "schema": {"type": "number"}},
            {"name": "k", "schema": {"type": "number"}, "optional": True, "default": 1},
        ],
        "returns": {"schema": {"type": "number"}},
        "process_graph": {"a": n("add", {"x": param("x"), "y": param("k")}, result=True)},
    }
}


# --------------------------------------------------------------------------------------
# The corpus


@dataclass
class Case:
    id: str
    document: Any  # JSON text (str) or Python objects
    code: str
    pointer: str
    only: bool = True  # the expected error is the only error
    kwargs: dict = field(default_factory=dict)  # user_processes, limits, parameters
    hint: str | None = None  # a substring the expected diagnostic's hint must contain
    xfail: str | None = None  # "pgc bug: ..." when pgc disagrees with the openEO rules
    # For text that is not JSON at all: the document the text was meant to be, used only to
    # check that the reported pointer names a place of it.
    intended: Any = None


def _nested(levels: int) -> list:
    """[[[...[1]...]]] with ``levels`` arrays."""
    out: list = [1]
    for _ in range(levels - 1):
        out = [out]
    return out


VALID_TEXT_NODE = '"a": {"process_id": "pi", "arguments": {}, "result": true}'


def _text(args_json: str) -> str:
    """A one-node graph as JSON text: add(x, y) with the given argument members."""
    return '{"n": {"process_id": "add", "arguments": {' + args_json + '}, "result": true}}'


CASES: list[Case] = [
    # ---------------------------------------------------------------- document shape
    Case("doc-list", [n("pi", result=True)], INVALID, ""),
    Case("doc-json-string", '"a process graph"', INVALID, ""),
    Case("doc-number", 42, INVALID, ""),
    Case("doc-json-number-text", "3.14", INVALID, ""),
    Case("doc-null", None, INVALID, ""),
    Case("doc-empty-object", {}, MISSING, ""),
    Case("doc-empty-object-text", "{}", MISSING, ""),
    Case("doc-empty-process-graph", {"process_graph": {}}, MISSING, "/process_graph"),
    Case("doc-null-process-graph", {"process_graph": None}, MISSING, "/process_graph"),
    Case(
        "doc-empty-process-graph-in-body",
        {"process": {"process_graph": {}}, "title": "t"},
        MISSING,
        "/process/process_graph",
    ),
    Case(
        "doc-process-graph-is-array",
        {"process_graph": [n("pi", result=True)]},
        INVALID,
        "/process_graph",
    ),
    Case("text-not-json", "this is not JSON", INVALID, ""),
    Case("text-single-quotes", "{'a': {'process_id': 'pi'}}", INVALID, ""),
    Case(
        "text-trailing-comma-in-arguments",
        _text('"x": 1, "y": 2,'),
        INVALID,
        "/n/arguments",
        intended=single("add", {"x": 1, "y": 2}),
    ),
    Case(
        "text-duplicate-node-id",
        "{" + VALID_TEXT_NODE + ", " + VALID_TEXT_NODE + "}",
        INVALID,
        "/a",
    ),
    Case(
        "text-duplicate-argument",
        _text('"x": 1, "y": 2, "x": 3'),
        INVALID,
        "/n/arguments/x",
    ),
    Case("text-nan", _text('"x": NaN, "y": 2'), INVALID, "/n/arguments/x"),
    Case("text-infinity", _text('"x": 1, "y": Infinity'), INVALID, "/n/arguments/y"),
    Case("text-minus-infinity", _text('"x": -Infinity, "y": 2'), INVALID, "/n/arguments/x"),
    Case(
        "text-lone-surrogate",
        '{"n": {"process_id": "text_concat", "arguments": {"data": ["a", "\\ud800"]},'
        ' "result": true}}',
        INVALID,
        "/n/arguments/data/1",
    ),
    Case(
        "python-lone-surrogate",
        single("text_concat", {"data": ["a", "\ud800"]}),
        INVALID,
        "/n/arguments/data/1",
    ),
    Case(
        "text-integer-400-digits",
        _text('"x": ' + "7" * 400 + ', "y": 2'),
        INVALID,
        "/n/arguments/x",
    ),
    Case(
        "python-integer-400-digits",
        single("add", {"x": 1, "y": 10**400}),
        INVALID,
        "/n/arguments/y",
    ),
    Case("text-float-1e400", _text('"x": 1e400, "y": 2'), INVALID, "/n/arguments/x"),
    Case("text-empty", "", INVALID, ""),
    Case("text-whitespace-only", "  \n ", INVALID, ""),
    Case("text-two-documents", "{" + VALID_TEXT_NODE + "} {}", INVALID, ""),
    Case("bytes-not-utf8", b"\xff\xfe{}", INVALID, ""),
    Case(
        "bytes-node-process-id-not-string",
        b'{"a": {"process_id": "pi", "arguments": {}, "result": true},'
        b' "b": {"process_id": 1, "arguments": {}}}',
        INVALID,
        "/b/process_id",
    ),
    Case(
        "python-nesting-too-deep-for-json-dumps",
        single("array_create", {"data": _nested(3000)}),
        INVALID,
        # default max_json_depth 256: the document is level 1, /n 2, arguments 3, data 4,
        # so data followed by 253 times /0 is level 257, the first one over the limit
        "/n/arguments/data" + "/0" * 253,
    ),
    Case(
        "python-float-nan",
        single("add", {"x": 1, "y": math.nan}),
        INVALID,
        "/n/arguments/y",
    ),
    Case(
        "python-non-string-key",
        {"n": {"process_id": "pi", "arguments": {}, "result": True, 7: "x"}},
        INVALID,
        "/n/7",
    ),
    # ------------------------------------------------------------ process object forms
    Case(
        "form-process-graph-wrapper",
        {"process_graph": {"n": n("ndvl", result=True)}},
        UNSUPPORTED,
        "/process_graph/n/process_id",
        hint="ndvi",
    ),
    Case(
        "form-full-process-object",
        {
            "id": "ndvi_mean",
            "summary": "NDVI mean over time",
            "parameters": [
                {
                    "name": "cube",
                    "description": "input",
                    "schema": {"type": "object", "subtype": "datacube"},
                }
            ],
            "returns": {"schema": {"type": "object", "subtype": "datacube"}},
            "process_graph": {
                "nd": n("ndvi", {"data": param("cube")}),
                "red": n(
                    "reduce_dimension",
                    {
                        "data": ref("nd"),
                        "reducer": cb({"m": n("mean", {"data": param("data")}, result=True)}),
                        "dimensions": "t",
                    },
                    result=True,
                ),
            },
        },
        PARAM_UNSUPPORTED,
        "/process_graph/red/arguments/dimensions",
        only=False,  # 'dimension' is then missing too
        hint="dimension",
    ),
    Case(
        "form-post-result-body",
        {
            "process": {"process_graph": with_save({"lc": lc(bands="B04")}, "lc")},
            "budget": 10,
            "plan": "free",
        },
        PARAM_INVALID,
        "/process/process_graph/lc/arguments/bands",
    ),
    Case(
        "form-post-jobs-body-with-id",
        {
            "title": "job",
            "process": {
                "id": "job_graph",
                "process_graph": {
                    "a": n("add", {"x": 1, "y": 2}, result=True),
                    "b": n("pi", result=True),
                },
            },
        },
        INVALID,
        "/process/process_graph/b/result",
    ),
    Case(
        "form-parameters-not-array",
        {"process_graph": {"n": n("pi", result=True)}, "parameters": {"x": {}}},
        INVALID,
        "/parameters",
    ),
    Case(
        "form-parameter-name-invalid",
        {
            "process_graph": {"n": n("pi", result=True)},
            "parameters": [{"name": "a b", "schema": {}}],
        },
        INVALID,
        "/parameters/0/name",
    ),
    Case(
        "form-parameter-declared-twice",
        {
            "process_graph": {"n": n("pi", result=True)},
            "parameters": [{"name": "x", "schema": {}}, {"name": "x", "schema": {}}],
        },
        INVALID,
        "/parameters/1/name",
    ),
    Case(
        "form-parameter-schema-invalid",
        {
            "process_graph": {"n": n("pi", result=True)},
            "parameters": [{"name": "x", "schema": {"type": "numbr"}}],
        },
        INVALID,
        "/parameters/0/schema/type",
    ),
    Case(
        "form-result-does-not-match-returns",
        {
            "process_graph": {"n": n("pi", result=True)},
            "returns": {"schema": {"type": "object", "subtype": "datacube"}},
        },
        PARAM_INVALID,
        "/process_graph/n",
    ),
    # ------------------------------------------------------------------------- nodes
    Case("node-not-object", {"a": n("pi", result=True), "b": [1, 2]}, INVALID, "/b"),
    Case("node-is-string", {"a": n("pi", result=True), "b": "pi"}, INVALID, "/b"),
    Case("node-missing-process-id", {"a": {"arguments": {}, "result": True}}, INVALID, "/a"),
    Case(
        "node-process-id-not-string",
        {"a": {"process_id": 12, "arguments": {}, "result": True}},
        INVALID,
        "/a/process_id",
    ),
    Case("node-missing-arguments", {"a": {"process_id": "pi", "result": True}}, INVALID, "/a"),
    Case(
        "node-arguments-not-object",
        {"a": {"process_id": "add", "arguments": [1, 2], "result": True}},
        INVALID,
        "/a/arguments",
    ),
    Case(
        "node-result-not-boolean",
        {"a": n("pi", result=True), "b": n("pi", result="yes")},
        INVALID,
        "/b/result",
    ),
    Case(
        "node-namespace-not-string",
        {"a": n("pi", result=True, namespace=["backend"])},
        INVALID,
        "/a/namespace",
    ),
    Case(
        "node-unknown-namespace",
        {"a": n("pi", result=True, namespace="some_other_backend")},
        UNSUPPORTED,
        "/a/namespace",
    ),
    Case(
        "node-user-namespace-predefined-process",
        {"a": n("pi", result=True, namespace="user")},
        UNSUPPORTED,
        "/a/process_id",
    ),
    Case(
        "node-id-with-slash-and-tilde",
        {"a/b~c": n("reduce_dimensin", result=True)},
        UNSUPPORTED,
        "/a~1b~0c/process_id",
        hint="reduce_dimension",
    ),
    Case(
        "node-id-empty-string",
        {"": n("ndvl", result=True)},
        UNSUPPORTED,
        "//process_id",
        hint="ndvi",
    ),
    Case(
        "node-id-unicode-with-space",
        {"höhe 1": n("pi", result=True), "b": n("pi", result=True)},
        INVALID,
        "/b/result",
    ),
    # ------------------------------------------------- processes and their arguments
    Case(
        "unknown-process",
        on_cube("reduce_dimensin", "r", dimension="t"),
        UNSUPPORTED,
        "/r/process_id",
        hint="reduce_dimension",
    ),
    Case(
        "unknown-process-in-callback",
        reduce_with({"m": n("meen", {"data": param("data")}, result=True)}),
        UNSUPPORTED,
        "/r/arguments/reducer/process_graph/m/process_id",
        hint="mean",
    ),
    Case(
        "unknown-argument",
        single("add", {"x": 1, "y": 2, "z": 3}),
        PARAM_UNSUPPORTED,
        "/n/arguments/z",
    ),
    Case(
        "unknown-argument-with-slash",
        single("add", {"x": 1, "y": 2, "x/y": 3}),
        PARAM_UNSUPPORTED,
        "/n/arguments/x~1y",
    ),
    Case(
        "unknown-argument-in-callback",
        reduce_with({"m": n("mean", {"data": param("data"), "ignore_no_data": True}, result=True)}),
        PARAM_UNSUPPORTED,
        "/r/arguments/reducer/process_graph/m/arguments/ignore_no_data",
        hint="ignore_nodata",
    ),
    Case("missing-required-argument", single("add", {"x": 1}), PARAM_REQUIRED, "/n/arguments"),
    Case(
        "missing-required-data-cube",
        with_save({"lc": lc(), "f": n("filter_temporal", {"extent": TEMPORAL})}, "f"),
        PARAM_REQUIRED,
        "/f/arguments",
    ),
    Case("number-is-string", single("add", {"x": "one", "y": 2}), PARAM_INVALID, "/n/arguments/x"),
    Case("number-is-boolean", single("add", {"x": 1, "y": True}), PARAM_INVALID, "/n/arguments/y"),
    Case(
        "number-not-nullable",
        single("linear_scale_range", {"x": 1, "inputMin": None, "inputMax": 2}),
        PARAM_INVALID,
        "/n/arguments/inputMin",
    ),
    Case(
        "integer-below-minimum",
        single("array_create", {"data": [1], "repeat": 0}),
        PARAM_INVALID,
        "/n/arguments/repeat",
    ),
    Case(
        "integer-is-float",
        single("array_create", {"data": [1], "repeat": 1.5}),
        PARAM_INVALID,
        "/n/arguments/repeat",
    ),
    Case(
        "collection-id-not-string",
        with_save({"lc": lc(id=5)}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/id",
    ),
    Case(
        "collection-id-pattern",
        with_save({"lc": lc(id="S2 L2A!")}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/id",
    ),
    Case(
        "resample-method-enum",
        on_cube("resample_spatial", "rs", method="nearest"),
        PARAM_INVALID,
        "/rs/arguments/method",
    ),
    Case(
        "resample-resolution-negative",
        on_cube("resample_spatial", "rs", resolution=-10),
        PARAM_INVALID,
        "/rs/arguments/resolution",
    ),
    Case(
        "aggregate-temporal-period-enum",
        on_cube(
            "aggregate_temporal_period",
            "atp",
            period="monthly",
            reducer=cb({"m": n("mean", {"data": param("data")}, result=True)}),
        ),
        PARAM_INVALID,
        "/atp/arguments/period",
    ),
    Case(
        "bbox-missing-north",
        on_cube("filter_bbox", "fb", extent={"west": 5, "south": 50, "east": 6}),
        PARAM_INVALID,
        "/fb/arguments/extent",
    ),
    Case(
        "bbox-west-is-string",
        on_cube("filter_bbox", "fb", extent={**BBOX, "west": "5"}),
        PARAM_INVALID,
        "/fb/arguments/extent/west",
    ),
    Case(
        "bbox-missing-north-load-collection",
        with_save({"lc": lc(spatial_extent={"west": 5, "south": 50, "east": 6})}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/spatial_extent",
    ),
    Case(
        "bbox-crs-not-epsg",
        with_save({"lc": lc(spatial_extent={**BBOX, "crs": 12})}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/spatial_extent/crs",
    ),
    Case(
        "bbox-crs-boolean",
        on_cube("filter_bbox", "fb", extent={**BBOX, "crs": True}),
        PARAM_INVALID,
        "/fb/arguments/extent/crs",
    ),
    Case(
        "temporal-interval-one-element",
        on_cube("filter_temporal", "ft", extent=["2021-01-01"]),
        PARAM_INVALID,
        "/ft/arguments/extent",
    ),
    Case(
        "temporal-interval-three-elements",
        with_save({"lc": lc(temporal_extent=["2021-01-01", "2021-02-01", "2021-03-01"])}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/temporal_extent",
    ),
    Case(
        "temporal-interval-bad-month",
        on_cube("filter_temporal", "ft", extent=["2021-13-01", "2022-01-01"]),
        PARAM_INVALID,
        "/ft/arguments/extent/0",
    ),
    Case(
        "temporal-interval-bad-hour",
        on_cube("filter_temporal", "ft", extent=["2021-01-01", "2021-01-02T25:00:00Z"]),
        PARAM_INVALID,
        "/ft/arguments/extent/1",
    ),
    Case(
        "temporal-interval-not-a-date",
        with_save({"lc": lc(temporal_extent=["last week", None])}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/temporal_extent/0",
    ),
    Case(
        "temporal-interval-no-such-day",
        on_cube("filter_temporal", "ft", extent=["2021-02-30", None]),
        PARAM_INVALID,
        "/ft/arguments/extent/0",
    ),
    Case(
        "temporal-interval-both-null",
        on_cube("filter_temporal", "ft", extent=[None, None]),
        PARAM_INVALID,
        "/ft/arguments/extent",
    ),
    Case(
        "bands-not-array",
        with_save({"lc": lc(bands="B04")}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/bands",
    ),
    Case(
        "bands-empty", with_save({"lc": lc(bands=[])}, "lc"), PARAM_INVALID, "/lc/arguments/bands"
    ),
    Case(
        "bands-item-number",
        with_save({"lc": lc(bands=["B04", 8])}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/bands/1",
    ),
    Case(
        "filter-bands-item-null",
        on_cube("filter_bands", "fb", bands=["B04", None]),
        PARAM_INVALID,
        "/fb/arguments/bands/1",
    ),
    Case(
        "kernel-not-2d",
        on_cube("apply_kernel", "k", kernel=[1, 2, 1]),
        PARAM_INVALID,
        "/k/arguments/kernel/0",
        only=False,  # every row is reported
    ),
    Case(
        "kernel-string-weight",
        on_cube("apply_kernel", "k", kernel=[[1, 1, 1], [1, "x", 1], [1, 1, 1]]),
        PARAM_INVALID,
        "/k/arguments/kernel/1/1",
    ),
    Case(
        "kernel-border-enum",
        on_cube("apply_kernel", "k", kernel=[[1]], border="mirror"),
        PARAM_INVALID,
        "/k/arguments/border",
    ),
    Case(
        "literal-object-as-data-cube",
        with_save({"ap": n("apply", {"data": {"B04": [1, 2]}, "process": cb(ADD_X_1)})}, "ap"),
        PARAM_INVALID,
        "/ap/arguments/data",
    ),
    Case(
        "literal-array-as-data-cube",
        with_save(
            {
                "r": n(
                    "reduce_dimension",
                    {
                        "data": [[1, 2], [3, 4]],
                        "reducer": cb({"m": n("mean", {"data": param("data")}, result=True)}),
                        "dimension": "t",
                    },
                )
            },
            "r",
        ),
        PARAM_INVALID,
        "/r/arguments/data",
    ),
    Case(
        "data-cube-as-number",
        {"lc": lc(), "a": n("add", {"x": ref("lc"), "y": 1}, result=True)},
        PARAM_INVALID,
        "/a/arguments/x",
    ),
    Case(
        "number-as-data-cube",
        {"p": n("pi"), "s": n("save_result", {"data": ref("p"), "format": "GTiff"}, result=True)},
        PARAM_INVALID,
        "/s/arguments/data",
    ),
    Case(
        "data-cube-inside-array-of-strings",
        {"lc": lc(), "t": n("text_concat", {"data": ["a", ref("lc")]}, result=True)},
        PARAM_INVALID,
        "/t/arguments/data/1",
    ),
    Case(
        "probability-above-one",
        single("quantiles", {"data": [1, 2, 3], "probabilities": [0.5, 1.5]}),
        PARAM_INVALID,
        "/n/arguments/probabilities/1",
    ),
    Case(
        "callback-inside-array-value",
        single("array_create", {"data": [1, cb({"p": n("pi", result=True)})]}),
        PARAM_INVALID,
        "/n/arguments/data/1",
    ),
    Case(
        "callback-as-value",
        single("add", {"x": cb({"p": n("pi", result=True)}), "y": 1}),
        PARAM_INVALID,
        "/n/arguments/x",
    ),
    Case(
        "value-as-callback",
        on_cube("reduce_dimension", "r", reducer="mean", dimension="t"),
        PARAM_INVALID,
        "/r/arguments/reducer",
    ),
    Case(
        "number-as-callback",
        on_cube("apply", "ap", process=5),
        PARAM_INVALID,
        "/ap/arguments/process",
    ),
    Case(
        "callback-returns-wrong-type",
        with_save({"lc": lc(properties={"eo:cloud_cover": cb({"c": n("pi", result=True)})})}, "lc"),
        PARAM_INVALID,
        "/lc/arguments/properties/eo:cloud_cover/process_graph/c",
    ),
    # ------------------------------------------------------------------ result flags
    Case("no-result-node", {"a": n("pi"), "b": n("pi")}, INVALID, ""),
    Case(
        "no-result-node-in-process-object",
        {"process_graph": {"a": n("pi")}},
        INVALID,
        "/process_graph",
    ),
    Case(
        "two-result-nodes",
        {"a": n("pi", result=True), "b": n("pi", result=True)},
        INVALID,
        "/b/result",
    ),
    Case(
        "three-result-nodes",
        {"a": n("pi", result=True), "b": n("pi", result=True), "c": n("pi", result=True)},
        INVALID,
        "/c/result",
        only=False,  # both extra result nodes are reported
    ),
    Case(
        "two-result-nodes-in-callback",
        apply_with(
            {
                "m1": n("add", {"x": param("x"), "y": 1}, result=True),
                "m2": n("add", {"x": param("x"), "y": 2}, result=True),
            }
        ),
        INVALID,
        "/ap/arguments/process/process_graph/m2/result",
    ),
    Case(
        "no-result-node-in-callback",
        apply_with({"m": n("add", {"x": param("x"), "y": 1})}),
        INVALID,
        "/ap/arguments/process/process_graph",
    ),
    Case(
        "empty-callback-graph",
        apply_with({}),
        INVALID,
        "/ap/arguments/process/process_graph",
    ),
    # -------------------------------------------------------------------- references
    Case(
        "from-node-missing",
        {"a": n("pi"), "b": n("add", {"x": ref("aa"), "y": 1}, result=True)},
        INVALID,
        "/b/arguments/x/from_node",
    ),
    Case(
        "from-node-to-parent-graph",
        apply_with({"m": n("add", {"x": param("x"), "y": ref("lc")}, result=True)}),
        INVALID,
        "/ap/arguments/process/process_graph/m/arguments/y/from_node",
    ),
    Case(
        "from-node-to-child-graph",
        {
            "lc": lc(),
            "ap": n("apply", {"data": ref("lc"), "process": cb(ADD_X_1)}),
            "s": n("save_result", {"data": ref("m"), "format": "GTiff"}, result=True),
        },
        INVALID,
        "/s/arguments/data/from_node",
    ),
    Case(
        "reference-extra-key",
        {"a": n("pi"), "b": n("add", {"x": {"from_node": "a", "note": "x"}, "y": 1}, result=True)},
        INVALID,
        "/b/arguments/x/note",
    ),
    Case(
        "from-node-not-string",
        {"1": n("pi"), "b": n("add", {"x": {"from_node": 1}, "y": 1}, result=True)},
        INVALID,
        "/b/arguments/x/from_node",
    ),
    Case(
        "from-parameter-not-string",
        single("add", {"x": {"from_parameter": ["x"]}, "y": 1}),
        INVALID,
        "/n/arguments/x/from_parameter",
    ),
    Case(
        "dangling-reference-nested-in-arrays",
        single("array_create", {"data": [1, [2, [ref("ghost")]]]}),
        INVALID,
        "/n/arguments/data/1/1/0/from_node",
    ),
    Case(
        "dangling-reference-nested-in-objects-and-arrays",
        single("array_create", {"data": [{"k": [ref("ghost")]}]}),
        INVALID,
        "/n/arguments/data/0/k/0/from_node",
    ),
    Case(
        "dangling-reference-inside-bbox",
        on_cube("filter_bbox", "fb", extent={**BBOX, "north": ref("ghost")}),
        INVALID,
        "/fb/arguments/extent/north/from_node",
    ),
    Case(
        "undeclared-parameter-in-process-object",
        {
            "id": "plus_one",
            "parameters": [{"name": "x", "description": "a number", "schema": {"type": "number"}}],
            "returns": {"schema": {"type": "number"}},
            "process_graph": {"n": n("add", {"x": param("y"), "y": 1}, result=True)},
        },
        INVALID,
        "/process_graph/n/arguments/x/from_parameter",
        hint="x",
    ),
    Case(
        "undeclared-parameter-in-callback-of-process-object",
        {
            "id": "scale_cube",
            "parameters": [
                {"name": "cube", "schema": {"type": "object", "subtype": "datacube"}},
                {"name": "factor", "schema": {"type": "number"}},
            ],
            "process_graph": {
                "ap": n(
                    "apply",
                    {
                        "data": param("cube"),
                        "process": cb(
                            {
                                "m": n(
                                    "multiply", {"x": param("x"), "y": param("factr")}, result=True
                                )
                            }
                        ),
                    },
                    result=True,
                )
            },
        },
        INVALID,
        "/process_graph/ap/arguments/process/process_graph/m/arguments/y/from_parameter",
        hint="factor",
    ),
    Case(
        "unbound-parameter-at-run-time",
        single("add", {"x": param("offset"), "y": 1}),
        PARAM_REQUIRED,
        "/n/arguments/x/from_parameter",
        kwargs={"parameters": {}},
    ),
    Case(
        "udp-unknown-argument",
        {"c": n("plus", {"x": 1, "z": 2}, result=True)},
        PARAM_UNSUPPORTED,
        "/c/arguments/z",
        kwargs={"user_processes": UDP_PLUS},
    ),
    Case(
        "udp-missing-required-argument",
        {"c": n("plus", {"k": 2}, result=True)},
        PARAM_REQUIRED,
        "/c/arguments",
        kwargs={"user_processes": UDP_PLUS},
    ),
    Case(
        "udp-data-cube-for-number",
        {"lc": lc(), "c": n("plus", {"x": ref("lc")}, result=True)},
        PARAM_INVALID,
        "/c/arguments/x",
        kwargs={"user_processes": UDP_PLUS},
    ),
    Case(
        "udp-namespace-backend",
        {"c": n("plus", {"x": 1}, result=True, namespace="backend")},
        UNSUPPORTED,
        "/c/process_id",
        kwargs={"user_processes": UDP_PLUS},
    ),
    Case(
        "udp-body-unknown-process",
        {"c": n("plus", {"x": 1}, result=True)},
        UNSUPPORTED,
        "/c",  # the user's document only has the call
        hint="ndvi",
        kwargs={
            "user_processes": {
                "plus": {**UDP_PLUS["plus"], "process_graph": {"a": n("ndvl", result=True)}}
            }
        },
    ),
    # ------------------------------------------------------------------------ cycles
    Case(
        "cycle-self-loop",
        {"a": n("add", {"x": ref("a"), "y": 1}, result=True)},
        INVALID,
        "/a",
    ),
    Case(
        "cycle-two-nodes",
        {
            "a": n("add", {"x": ref("b"), "y": 1}),
            "b": n("add", {"x": ref("a"), "y": 1}),
            "c": n("add", {"x": ref("a"), "y": 1}, result=True),
        },
        INVALID,
        "/a",
    ),
    Case(
        "cycle-three-nodes",
        {
            "s": n("pi"),
            "a": n("add", {"x": ref("s"), "y": ref("c")}),
            "b": n("add", {"x": ref("a"), "y": 1}),
            "c": n("add", {"x": ref("b"), "y": 1}, result=True),
        },
        INVALID,
        "/a",
    ),
    Case(
        "cycle-not-reached-from-result",
        {
            "r": n("pi", result=True),
            "a": n("add", {"x": ref("c"), "y": 1}),
            "b": n("add", {"x": ref("a"), "y": 1}),
            "c": n("add", {"x": ref("b"), "y": 1}),
        },
        INVALID,
        "/a",
    ),
    Case(
        "cycle-in-callback",
        apply_with(
            {
                "m1": n("add", {"x": param("x"), "y": ref("m2")}),
                "m2": n("add", {"x": ref("m1"), "y": 1}, result=True),
            }
        ),
        INVALID,
        "/ap/arguments/process/process_graph/m1",
    ),
    Case(
        "cycle-user-defined-processes",
        {"call": n("udp_f", {"x": 1}, result=True)},
        INVALID,
        "/call",
        kwargs={
            "user_processes": {
                "udp_f": {
                    "id": "udp_f",
                    "parameters": [{"name": "x", "schema": {"type": "number"}}],
                    "process_graph": {"g": n("udp_g", {"x": param("x")}, result=True)},
                },
                "udp_g": {
                    "id": "udp_g",
                    "parameters": [{"name": "x", "schema": {"type": "number"}}],
                    "process_graph": {"f": n("udp_f", {"x": param("x")}, result=True)},
                },
            }
        },
    ),
    Case(
        "cycle-user-defined-process-calls-itself",
        {"call": n("udp_self", result=True)},
        INVALID,
        "/call",
        kwargs={
            "user_processes": [
                {
                    "id": "udp_self",
                    "parameters": [],
                    "process_graph": {"again": n("udp_self", result=True)},
                },
            ]
        },
    ),
    # ------------------------------------------- exceptions of the process definitions
    Case(
        "filter-temporal-extent-reversed",
        on_cube("filter_temporal", "ft", extent=["2021-02-01", "2021-01-01"]),
        "TemporalExtentEmpty",
        "/ft/arguments/extent",
    ),
    Case(
        "filter-temporal-extent-equal-bounds",
        on_cube("filter_temporal", "ft", extent=["2021-01-01", "2021-01-01"]),
        "TemporalExtentEmpty",
        "/ft/arguments/extent",
    ),
    Case(
        "filter-temporal-extent-empty-across-time-zones",
        # 23:30 at UTC-1 is 00:30 UTC, later than the end, though the text sorts earlier
        on_cube(
            "filter_temporal", "ft", extent=["2020-12-31T23:30:00-01:00", "2021-01-01T00:00:00Z"]
        ),
        "TemporalExtentEmpty",
        "/ft/arguments/extent",
    ),
    Case(
        "filter-temporal-extent-date-after-date-time",
        on_cube("filter_temporal", "ft", extent=["2021-01-02", "2021-01-01T12:00:00Z"]),
        "TemporalExtentEmpty",
        "/ft/arguments/extent",
    ),
    Case(
        "load-collection-temporal-extent-reversed",
        with_save({"lc": lc(temporal_extent=["2022-01-01", "2021-06-30T12:00:00Z"])}, "lc"),
        "TemporalExtentEmpty",
        "/lc/arguments/temporal_extent",
    ),
    Case(
        "aggregate-temporal-interval-reversed",
        on_cube(
            "aggregate_temporal",
            "at",
            intervals=[["2021-01-01", "2021-02-01"], ["2021-03-01", "2021-02-01"]],
            reducer=cb({"m": n("mean", {"data": param("data")}, result=True)}),
        ),
        "TemporalExtentEmpty",
        "/at/arguments/intervals/1",
    ),
    Case(
        "array-element-index-and-label",
        single("array_element", {"data": [1, 2, 3], "index": 0, "label": "B04"}),
        "ArrayElementParameterConflict",
        "/n/arguments",
    ),
    Case(
        "array-element-neither-index-nor-label",
        single("array_element", {"data": [1, 2, 3]}),
        "ArrayElementParameterMissing",
        "/n/arguments",
    ),
    Case(
        "array-element-conflict-in-reducer",
        reduce_with(
            {
                "e": n(
                    "array_element",
                    {"data": param("data"), "index": 1, "label": "B08"},
                    result=True,
                )
            }
        ),
        "ArrayElementParameterConflict",
        "/r/arguments/reducer/process_graph/e/arguments",
    ),
    Case(
        "filter-bands-without-bands",
        on_cube("filter_bands", "fb"),
        "BandFilterParameterMissing",
        "/fb/arguments",
    ),
    Case(
        "clip-min-greater-than-max",
        single("clip", {"x": 5, "min": 10, "max": 0}),
        "MinMaxSwapped",
        "/n/arguments",
    ),
    Case(
        "kernel-even-rows",
        on_cube("apply_kernel", "k", kernel=[[1, 1, 1], [1, 1, 1]]),
        "KernelDimensionsUneven",
        "/k/arguments/kernel",
    ),
    Case(
        "kernel-even-columns",
        on_cube("apply_kernel", "k", kernel=[[1, 1], [1, 1], [1, 1]]),
        "KernelDimensionsUneven",
        "/k/arguments/kernel",
    ),
    Case(
        "quantiles-probabilities-and-q",
        single("quantiles", {"data": [1, 2, 3], "probabilities": [0.1, 0.9], "q": 4}),
        "QuantilesParameterConflict",
        "/n/arguments",
    ),
    Case(
        "quantiles-neither",
        single("quantiles", {"data": [1, 2, 3]}),
        "QuantilesParameterMissing",
        "/n/arguments",
    ),
    Case(
        "quantiles-probabilities-descending",
        single("quantiles", {"data": [1, 2, 3], "probabilities": [0.9, 0.1]}),
        "AscendingProbabilitiesRequired",
        "/n/arguments/probabilities",
    ),
    # ------------------------------------------------------------------------ limits
    Case(
        "limit-max-nodes",
        {
            "a": n("pi"),
            "b": n("add", {"x": ref("a"), "y": 1}),
            "c": n("add", {"x": ref("b"), "y": 1}),
            "d": n("add", {"x": ref("c"), "y": 1}),
            "e": n("add", {"x": ref("d"), "y": 1}, result=True),
        },
        INVALID,
        "",
        kwargs={"limits": pgc.Limits(max_nodes=3)},
    ),
    Case(
        "limit-max-nodes-counts-callbacks",
        reduce_with(
            {
                "a": n("mean", {"data": param("data")}),
                "b": n("add", {"x": ref("a"), "y": 1}),
                "c": n("add", {"x": ref("b"), "y": 1}, result=True),
            }
        ),
        INVALID,
        "/r/arguments/reducer/process_graph",
        kwargs={"limits": pgc.Limits(max_nodes=5)},  # 3 outer nodes + 3 inner ones
    ),
    Case(
        "limit-max-graph-depth",
        reduce_with(
            {
                "aa": n(
                    "array_apply",
                    {"data": param("data"), "process": cb(ADD_X_1)},
                ),
                "m": n("mean", {"data": ref("aa")}, result=True),
            }
        ),
        INVALID,
        "/r/arguments/reducer/process_graph/aa/arguments/process/process_graph",
        kwargs={"limits": pgc.Limits(max_graph_depth=1)},
    ),
    Case(
        "limit-max-json-depth",
        single("array_create", {"data": [[[[1]]]]}),
        INVALID,
        # levels: document 1, /n 2, /n/arguments 3, data 4, data/0 5, data/0/0 6 > 5
        "/n/arguments/data/0/0",
        kwargs={"limits": pgc.Limits(max_json_depth=5)},
    ),
    Case(
        "limit-max-json-depth-text",
        '{"n": {"process_id": "array_create", "arguments": {"data": [[[[1]]]]}, "result": true}}',
        INVALID,
        "/n/arguments/data/0/0",
        kwargs={"limits": pgc.Limits(max_json_depth=5)},
    ),
    Case(
        "limit-max-string-length",
        single("text_concat", {"data": ["short", "x" * 50]}),
        INVALID,
        "/n/arguments/data/1",
        kwargs={"limits": pgc.Limits(max_string_length=20)},
    ),
]


def _params(cases: list[Case]) -> list:
    out = []
    for case in cases:
        marks = [pytest.mark.xfail(reason=case.xfail, strict=True)] if case.xfail else []
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


def _run(case: Case) -> pgc.ValidationResult:
    return pgc.validate(case.document, **case.kwargs)


def _describe(result: pgc.ValidationResult) -> str:
    return "\n".join(
        f"  {d.severity} {d.code} {d.pointer!r}: {d.message}" for d in result.diagnostics
    )


# --------------------------------------------------------------------------------------
# The tests


def test_corpus_is_large_and_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("case", _params(CASES))
def test_bad_graph_is_rejected_with_code_and_pointer(case: Case):
    result = _run(case)
    assert result.ok is False, "accepted:\n" + _describe(result)
    found = {(d.code, d.pointer) for d in result.errors}
    assert (case.code, case.pointer) in found, "got:\n" + _describe(result)
    if case.only:
        assert len(result.errors) == 1, "expected one error, got:\n" + _describe(result)
    if case.hint is not None:
        hints = [
            d.hint or "" for d in result.errors if (d.code, d.pointer) == (case.code, case.pointer)
        ]
        assert any(case.hint in h for h in hints), f"no hint naming {case.hint!r}: {hints}"


# -- every pointer names a place in the document ------------------------------------------

# Codes whose pointer may name a key that is absent: an error about something *missing*
# may point at where it should be. In this corpus they point at the object that lacks the
# key (which exists), so the exception is a tolerance, not a requirement: the parent of the
# pointer must still exist.
MAY_NAME_MISSING_KEY = {
    PARAM_REQUIRED,
    MISSING,
    "ArrayElementParameterMissing",
    "BandFilterParameterMissing",
    "QuantilesParameterMissing",
}


def _lenient(text: str | bytes) -> Any:
    """Text read the way Python's json module does (NaN, 1e400, duplicates: last wins)."""
    return json.loads(text)


def _resolves(document: Any, pointer: str) -> bool:
    if not pointer:
        return True
    if not pointer.startswith("/"):
        return False
    here = document
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(here, dict):
            # Python documents may (wrongly) use non-string keys; match them by their text.
            keys = {k if isinstance(k, str) else json.dumps(k): k for k in here}
            if token not in keys:
                return False
            here = here[keys[token]]
        elif isinstance(here, list):
            if not (token.isdigit() and (token == "0" or not token.startswith("0"))):
                return False
            if int(token) >= len(here):
                return False
            here = here[int(token)]
        else:
            return False
    return True


def _parent(pointer: str) -> str:
    return pointer.rsplit("/", 1)[0]


def _navigable(case: Case) -> tuple[Any, bool]:
    """The document the case's pointers are into; False when the text cannot be read."""
    if case.intended is not None:
        return case.intended, True
    if isinstance(case.document, str | bytes):
        try:
            return _lenient(case.document), True
        except ValueError:  # includes UnicodeDecodeError
            return None, False
    return case.document, True


def test_every_pointer_names_a_place_in_the_document():
    """For every case, every diagnostic's pointer resolves in the user's document.

    Exceptions, decided here once:
    - for diagnostics whose code says something is missing (MAY_NAME_MISSING_KEY) the last
      token may name the absent key, so only the parent must resolve;
    - text that is not JSON at all (and has no ``intended`` document) cannot be navigated:
      its pointers must be "" (the whole document).
    Pointers of errors inside user-defined processes are placed at the calling node of the
    main document, so they are checked against the main document too.
    """
    bad: list[str] = []
    for case in CASES:
        result = _run(case)
        document, readable = _navigable(case)
        for d in result.diagnostics:
            if not readable:
                ok = d.pointer == ""
            elif _resolves(document, d.pointer):
                ok = True
            else:
                ok = d.code in MAY_NAME_MISSING_KEY and _resolves(document, _parent(d.pointer))
            if not ok:
                bad.append(f"{case.id}: {d.code} {d.pointer!r} ({d.message})")
    assert not bad, "pointers to nowhere:\n" + "\n".join(bad)
