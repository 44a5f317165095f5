"""Every argument of every process, fuzzed (issue 16): no traceback, ever, and no ``Internal``.

For each process of pgc's specs, hypothesis builds a small graph calling it with, for each
parameter, a value of a JSON type its schema allows (huge, tiny, negative, zero, big
integers; empty, unicode, very long strings, odd dates, wrong CRSs, paths; empty, nested,
long and mixed arrays; GeoJSON-ish garbage and swapped bounding boxes; null), a small
``load_collection`` of the sample collection (or a cube derived from it, or a vector cube)
for data cubes, a small child graph for callbacks (a reducer, arithmetic with a fuzzed
operand, any process of the specs on the callback's parameter with its other arguments
fuzzed) or garbage; optional arguments are sometimes left out, an unknown argument
sometimes added. Either every argument is fuzzed, or one is and the others are plausible,
so that the fuzzed one reaches the process. The graph goes through the API
(``pgc.validate`` and ``pgc.runner.execute`` with the default pipeline and none) and, for
every fifth process, the CLI entry point in-process (``pgc run FILE --json``). Each bug
the fuzzer found is a named case of ``test_regressions_api``.

User input must never produce ``Internal`` (shared/RELIABILITY.md): the API returns or
raises :class:`pgc.PgcError` with other codes only, nothing is logged as an internal error
(a type rule's unexpected exception is swallowed to a conservative type but logged: that
is a failure here too), and the CLI prints no traceback and exits 0 or 1.

The test command runs 60 derandomized examples per process (the ``ci`` profile); explore
locally with ``--hypothesis-profile=explore`` or ``PGC_FUZZ_EXAMPLES=200``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import traceback

import pytest
from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pgc
from pgc.errors import PgcError
from pgc.limits import Limits
from pgc.runner import execute
from pgc.specs import load_specs

SPECS = load_specs()
PROCESS_IDS = SPECS.ids()
# examples per process: PGC_FUZZ_EXAMPLES, else 60 scaled by the profile (the default:
# about a minute and a half; --hypothesis-profile=explore: 600)
EXAMPLES = int(os.environ.get("PGC_FUZZ_EXAMPLES") or examples(60))
CLI_EVERY = 5  # the CLI test: every 5th process, a quarter of the examples

# Processes that still end in Internal for some input, with the reason (kept empty: each
# entry is a bug to fix, listed in issue 16).
KNOWN_INTERNAL: dict[str, str] = {}

# Small budget: fuzzed extents and resolutions must fail fast with ProcessGraphComplexity.
LIMITS = Limits(max_cube_bytes=256 * 1024 * 1024, max_array_length=2_000_000, max_seconds=60)

# ---------------------------------------------------------------------------------------
# The sample collection (EPSG:32631, 10 m pixels, top-left corner 600000, 5695000).

WEST, NORTH = 600000, 5695000


def bbox(dx=0, dy=0, size=4, crs=32631) -> dict:
    return {
        "west": WEST + 10 * dx,
        "east": WEST + 10 * (dx + size),
        "north": NORTH - 10 * dy,
        "south": NORTH - 10 * (dy + size),
        "crs": crs,
    }


HELPERS = {
    # 4 x 4 pixels, two dates (May and June), two bands
    "lc": {
        "process_id": "load_collection",
        "arguments": {
            "id": "SENTINEL2_L2A_SAMPLE",
            "spatial_extent": bbox(),
            "temporal_extent": ["2023-05-01", "2023-07-01"],
            "bands": ["B04", "B08"],
        },
    },
    # 3 x 3 pixels elsewhere, one date, one band
    "lc1": {
        "process_id": "load_collection",
        "arguments": {
            "id": "SENTINEL2_L2A_SAMPLE",
            "spatial_extent": bbox(7, 5, 3),
            "temporal_extent": ["2023-06-01", "2023-07-01"],
            "bands": ["SCL"],
        },
    },
    # no temporal dimension
    "lcr": {
        "process_id": "reduce_dimension",
        "arguments": {
            "data": {"from_node": "lc"},
            "dimension": "t",
            "reducer": {
                "process_graph": {
                    "m": {
                        "process_id": "mean",
                        "arguments": {"data": {"from_parameter": "data"}},
                        "result": True,
                    }
                }
            },
        },
    },
    # a vector cube: two polygons over the 4 x 4 window
    "geo": {
        "process_id": "load_geojson",
        "arguments": {
            "data": {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "a"},
                        "geometry": {
                            "type": "Polygon",
                            "coordinates": [
                                [
                                    [4.43747, 51.39740],
                                    [4.43800, 51.39740],
                                    [4.43800, 51.39705],
                                    [4.43747, 51.39705],
                                    [4.43747, 51.39740],
                                ]
                            ],
                        },
                    },
                    {
                        "type": "Feature",
                        "properties": {"name": "b"},
                        "geometry": {"type": "Point", "coordinates": [4.4376, 51.3973]},
                    },
                ],
            }
        },
    },
}


def _on_lc(process_id: str, **arguments) -> dict:
    callback = {
        "process_graph": {
            "r": {
                "process_id": process_id,
                "result": True,
                "arguments": {"x": {"from_parameter": "x"}, **arguments},
            }
        }
    }
    return {"process_id": "apply", "arguments": {"data": {"from_node": "lc"}, "process": callback}}


# a boolean cube, and one with infinities and NaN (not no-data)
HELPERS["lcb"] = _on_lc("gt", y=1500)
HELPERS["lcn"] = _on_lc("divide", y=0)
DEPENDS = {"lcr": ["lc"], "lcb": ["lc"], "lcn": ["lc"]}

# ---------------------------------------------------------------------------------------
# Values by JSON type.

NUMBERS = (
    st.sampled_from(
        [
            0,
            -0.0,
            1,
            -1,
            2,
            3,
            0.5,
            -7.25,
            255,
            65535,
            1e308,
            -1e308,
            1.7976931348623157e308,
            5e-324,
            -5e-324,
            1e-300,
            10**18,
            -(10**18),
            2**53 + 1,
            2**63,
            -(2**63) - 1,
            2**64 + 1,
            10**400,
            -(10**400),
            1e16,
            12,
            4,
            100000,
        ]
    )
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
)
INTEGERS = st.sampled_from(
    [0, 1, -1, 2, 3, 4, 12, 255, 10**6, 10**12, 10**18, -(10**18), 2**63, 2**64 + 1, 10**400]
) | st.integers(-(2**70), 2**70)
DATES = [
    "2023-06-10",
    "2023-06-10T10:30:00Z",
    "2023-13-45",
    "2023-02-30",
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "2023-06-10T25:61:00Z",
    "+10000-01-01",
    "-0001-01-01",
    "2023-06-10T10:30:00+14:00",
    "2023-06-10T10:30:00.123456789Z",
    "2023-W23",
    "2023-161",
    "2023",
    "20230610",
    "10:30:00",
    "24:00:00",
    "1970-01-01T00:00:00Z",
    "2023-06-10 10:30",
]
CRS_STRINGS = [
    "EPSG:999999",
    "EPSG:4326",
    "EPSG:32631",
    "EPSG:",
    "epsg:-1",
    "/etc/passwd",
    "PROJCS[garbage",
    'GEOGCRS["x",DATUM["y"]]',
    "+proj=longlat +a=0",
    "+init=/etc/passwd",
    "urn:ogc:def:crs:EPSG::99999",
    "OGC:CRS84",
    "IAU:49900",
    "ESRI:0",
]
TEXTS = [
    "",
    "B04",
    "B08",
    "SCL",
    "B01",
    "x",
    "y",
    "t",
    "bands",
    "B04 ",
    "b04",
    "mean",
    "near",
    "שלום עולם",
    "مرحبا",
    "\u202egnp.exe",
    "🛰️🌍",
    "e\u0301",
    "\x01\x1f\x7f",
    "\t\n",
    "\ud800",
    "a" * 10_000,
    "🛰" * 3000,
    "../../x",
    "/etc/passwd",
    "C:\\Windows\\win.ini",
    "%s%n",
    "{0}",
    "${jndi:x}",
    "null",
    "NaN",
    "Infinity",
    "-0",
    "1e400",
    "true",
    "GTiff",
    "netCDF",
    "JSON",
    "ZARR",
    "PNG",
    "http://127.0.0.1:1/x.tif",
    "file:///etc/passwd",
    "/vsicurl/http://169.254.169.254/",
    "P1D",
    "P1Y2M",
    "PT-1S",
    *DATES,
    *CRS_STRINGS,
]
STRINGS = st.sampled_from(TEXTS) | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)

BBOXES = [
    bbox(),
    bbox(2, 2, 1),
    bbox(100, 100, 2),
    {**bbox(), "west": WEST + 40, "east": WEST},  # swapped
    {**bbox(), "south": NORTH, "north": NORTH - 40},  # swapped
    {**bbox(), "crs": 999999},
    {**bbox(), "crs": "EPSG:999999"},
    {**bbox(), "crs": "/etc/passwd"},
    {**bbox(), "crs": "PROJCS[garbage"},
    {**bbox(), "crs": 0},
    {**bbox(), "crs": -1},
    {**bbox(), "crs": 4326},
    {"west": 4.4374, "east": 4.438, "south": 51.397, "north": 51.3974, "crs": 4326},
    {"west": 4.4374, "east": 4.438, "south": 51.397, "north": 51.3974},
    {"west": -180, "east": 180, "south": -90, "north": 90, "crs": 4326},
    {"west": -1e308, "east": 1e308, "south": -1e308, "north": 1e308, "crs": 32631},
    {"west": -1e308, "east": 1e308, "south": -1e308, "north": 1e308, "crs": 4326},
    {"west": 5e-324, "east": 5e-324, "south": 5e-324, "north": 5e-324},
    {"west": 10**400, "east": 10**400, "south": 0, "north": 1},
    {"west": WEST, "east": WEST, "south": NORTH, "north": NORTH, "crs": 32631},  # empty
    {**bbox(), "base": 0, "height": -1},
    {"west": WEST, "south": NORTH},
    {**bbox(), "crs": 3857},
    {**bbox(), "crs": 32631.5},
]
RING = [[4.43747, 51.3974], [4.438, 51.3974], [4.438, 51.39705], [4.43747, 51.3974]]
GEOJSONS = [
    {},
    {"type": "Polygon"},
    {"type": "Polygon", "coordinates": []},
    {"type": "Polygon", "coordinates": [[]]},
    {"type": "Polygon", "coordinates": [RING]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
    {
        "type": "Polygon",
        "coordinates": [[[1e308, 1e308], [-1e308, 1], [0, -1e308], [1e308, 1e308]]],
    },
    {"type": "Point", "coordinates": [4.4376, 51.3973]},
    {"type": "Point", "coordinates": []},
    {"type": "Point", "coordinates": [1e308, -1e308, 5]},
    {"type": "Point", "coordinates": "x"},
    {"type": "MultiPolygon", "coordinates": [[RING], [[]]]},
    {"type": "LineString", "coordinates": [[4.4374, 51.397], [4.438, 51.3974]]},
    {"type": "GeometryCollection", "geometries": []},
    {
        "type": "GeometryCollection",
        "geometries": [{"type": "Point", "coordinates": [4.4376, 51.3973]}],
    },
    {"type": "Feature", "geometry": None, "properties": None},
    {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [4.4376, 51.3973]},
        "properties": {"a": []},
    },
    {"type": "FeatureCollection", "features": []},
    {"type": "FeatureCollection", "features": [{}]},
    {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [RING]},
                "properties": {},
            }
        ],
    },
    {"type": "FeatureCollection", "features": "x"},
    {"type": "Feature"},
    {"type": "Unknown", "coordinates": [1, 2]},
    {"type": ["Polygon"]},
    {
        "type": "Polygon",
        "coordinates": [RING],
        "crs": {"type": "name", "properties": {"name": "EPSG:999999"}},
    },
]
INTERVALS = [
    ["2023-05-01", "2023-07-01"],
    ["2023-07-01", "2023-05-01"],
    [None, None],
    [None, "2023-06-01"],
    ["2023-06-10", "2023-06-10"],
    ["0001-01-01", "9999-12-31"],
    ["2023-13-45", "x"],
    [],
    ["2023-01-01"],
    ["2023-01-01", "2023-02-01", "2023-03-01"],
    [1, 2],
    ["", ""],
    ["2023-06-10T10:30:00Z", "2023-06-10T10:30:00.000001Z"],
    ["-0001-01-01", "+10000-01-01"],
]
KERNELS = [
    [[1]],
    [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
    [[0.5, 1]],
    [[1, 1], [1, 1]],
    [[]],
    [],
    [[1], [1, 2]],
    [[1e308, -1e308, 1e308]],
    [[5e-324]],
    [[1] * 101] * 3,
    [["x"]],
    [[None]],
]
STAC = [
    {},
    {"type": "Collection"},
    {"type": "Feature", "assets": {}},
    {"stac_version": "x", "links": "y"},
]

LEAF = st.none() | st.booleans() | NUMBERS | STRINGS
ANY_JSON = st.recursive(
    LEAF,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(STRINGS, inner, max_size=4),
    max_leaves=10,
)
ARRAYS = st.one_of(
    st.just([]),
    st.lists(NUMBERS, max_size=6),
    st.lists(STRINGS, max_size=4),
    st.lists(st.none() | NUMBERS, max_size=5),
    st.just(list(range(1000))),
    st.just([[1, [2, [3]]], [], [[]]]),
    st.just([1, "a", None, True, {}, [], 2.5]),
    st.just(["B04", "B08"]),
    st.just([None] * 3),
    st.lists(ANY_JSON, max_size=4),
    st.sampled_from(INTERVALS),
    st.just([INTERVALS[0], INTERVALS[1]]),
)
OBJECTS = st.one_of(
    st.just({}),
    st.sampled_from(GEOJSONS),
    st.sampled_from(BBOXES),
    st.dictionaries(STRINGS, LEAF, max_size=4),
    st.just({"from_node": "nowhere"}),
    st.just({"from_parameter": "nowhere"}),
    st.just({"process_graph": {}}),
)

# ---------------------------------------------------------------------------------------
# Callbacks: a small valid child graph over the callback's parameters, or garbage.

UNARY = [
    "absolute",
    "sqrt",
    "ln",
    "exp",
    "int",
    "round",
    "floor",
    "ceil",
    "sgn",
    "not",
    "is_nan",
    "is_nodata",
    "is_valid",
    "is_infinite",
    "arccos",
    "tan",
    "cosh",
    "artanh",
]
BINARY = [
    "add",
    "subtract",
    "multiply",
    "divide",
    "power",
    "mod",
    "log",
    "eq",
    "neq",
    "gt",
    "lte",
    "and",
    "or",
    "xor",
    "arctan2",
]
REDUCERS = [
    "mean",
    "max",
    "min",
    "sum",
    "median",
    "first",
    "last",
    "count",
    "sd",
    "variance",
    "product",
    "extrema",
    "sort",
    "cumsum",
    "order",
    "array_labels",
    "any",
    "all",
]


def rarely(draw, n: int) -> bool:
    """True about once in ``n`` draws (a middle value: hypothesis favours the ends)."""
    return draw(st.integers(1, n)) == n // 2 + 1


def param(name):
    return {"from_parameter": name}


def child(**nodes) -> dict:
    *_, last = nodes
    nodes[last] = {**nodes[last], "result": True}
    return {"process_graph": nodes}


@st.composite
def callbacks(draw, spec_schema: dict, depth: int = 0):
    names = [p["name"] for p in spec_schema.get("parameters", [])]
    first = names[0] if names else "x"
    if depth == 0 and rarely(draw, 3):  # any process on the callback's first parameter
        return draw(fuzzed_call(first, [n for n in names if n != first]))
    second = names[1] if len(names) > 1 and names[1] != "context" else None
    choice = draw(st.integers(0, 9))
    number = draw(NUMBERS)
    if choice == 0 and rarely(draw, 3):  # garbage
        return draw(
            st.sampled_from(
                [
                    {"process_graph": {}},
                    {"process_graph": []},
                    {"process_graph": {"r": {"process_id": "add", "arguments": {}}}},
                    child(r={"process_id": "add", "arguments": {"x": param("nope"), "y": 1}}),
                    child(r={"process_id": "nope", "arguments": {}}),
                    5,
                    "mean",
                    None,
                    [],
                ]
            )
        )
    if choice == 1:
        return child(r={"process_id": "constant", "arguments": {"x": param(first)}})
    if choice == 2 and second:
        op = draw(st.sampled_from(BINARY))
        return child(r={"process_id": op, "arguments": {"x": param(first), "y": param(second)}})
    if first in ("data", "parameters"):
        if choice in (2, 3, 4):
            reducer = draw(st.sampled_from(REDUCERS))
            return child(r={"process_id": reducer, "arguments": {"data": param(first)}})
        if choice == 5:
            key = draw(st.sampled_from(["index", "label"]))
            value = draw(INTEGERS) if key == "index" else draw(STRINGS | NUMBERS)
            return child(
                r={"process_id": "array_element", "arguments": {"data": param(first), key: value}}
            )
        if choice == 6:
            return child(
                e={"process_id": "array_element", "arguments": {"data": param(first), "index": 0}},
                r={"process_id": "multiply", "arguments": {"x": {"from_node": "e"}, "y": number}},
            )
        if choice == 7:
            return child(
                r={
                    "process_id": "quantiles",
                    "arguments": {"data": param(first), "probabilities": draw(ARRAYS)},
                }
            )
        if choice == 8:
            return child(
                r={
                    "process_id": "apply",
                    "arguments": {
                        "data": param(first),
                        "process": child(
                            a={"process_id": "absolute", "arguments": {"x": param("x")}}
                        ),
                    },
                }
            )
        return child(
            r={
                "process_id": "array_filter",
                "arguments": {
                    "data": param(first),
                    "condition": child(
                        g={"process_id": "gt", "arguments": {"x": param("x"), "y": number}}
                    ),
                },
            }
        )
    if first == "x" and "parameters" in names:  # fit_curve / predict_curve
        return child(
            e={
                "process_id": "array_element",
                "arguments": {"data": param("parameters"), "index": draw(INTEGERS)},
            },
            r={"process_id": "add", "arguments": {"x": param("x"), "y": {"from_node": "e"}}},
        )
    if choice in (2, 3, 4):
        op = draw(st.sampled_from(UNARY))
        return child(r={"process_id": op, "arguments": {"x": param(first)}})
    if choice == 5:
        op = draw(st.sampled_from(BINARY))
        return child(r={"process_id": op, "arguments": {"x": param(first), "y": number}})
    if choice == 6:
        return child(
            r={
                "process_id": "linear_scale_range",
                "arguments": {
                    "x": param(first),
                    "inputMin": number,
                    "inputMax": draw(NUMBERS),
                    "outputMin": draw(NUMBERS),
                    "outputMax": draw(NUMBERS),
                },
            }
        )
    if choice == 7:
        value = draw(STRINGS)
        op = draw(st.sampled_from(["eq", "text_contains", "gte"]))
        arguments = (
            {"data": param(first), "pattern": value}
            if op == "text_contains"
            else {"x": param(first), "y": value}
        )
        return child(r={"process_id": op, "arguments": arguments})
    if choice == 8:
        return child(
            r={
                "process_id": "date_between",
                "arguments": {
                    "x": param(first),
                    "min": draw(st.sampled_from(DATES)),
                    "max": draw(st.sampled_from(DATES)),
                },
            }
        )
    return child(r={"process_id": "gt", "arguments": {"x": param(first), "y": number}})


def _takes_values(spec) -> bool:
    if not spec.parameters or spec.id.startswith(("load_", "save_")):
        return False
    return "datacube" not in json.dumps(spec.parameters[0].schema)


# Processes a callback can call on its parameter (their first parameter is not a cube).
VALUE_PROCESSES = [pid for pid in PROCESS_IDS if _takes_values(SPECS[pid])]


@st.composite
def fuzzed_call(draw, first: str, others: list[str]) -> dict:
    """A child graph calling any process on the callback's parameter ``first`` (an array
    along a cube dimension, or each pixel's value), its other arguments fuzzed; sometimes
    the callback's other parameters too."""
    spec = SPECS[draw(st.sampled_from(VALUE_PROCESSES))]
    arguments: dict = {spec.parameters[0].name: param(first)}
    for p in spec.parameters[1:]:
        if p.optional and draw(st.booleans()):
            continue
        if others and rarely(draw, 4):
            arguments[p.name] = param(draw(st.sampled_from(others)))
            continue
        alt = draw(st.sampled_from(alternatives(p.schema)))
        value, refs = draw(value_for(alt, p.name, depth=1))
        if refs:  # a cube node is out of scope in a callback: a number instead
            value = draw(NUMBERS)
        arguments[p.name] = value
    return child(r={"process_id": spec.id, "arguments": arguments})


# ---------------------------------------------------------------------------------------
# A value for a parameter schema.


def alternatives(schema) -> list[dict]:
    """The schema's alternatives, each with one JSON type (``any`` for no type)."""
    if isinstance(schema, list):
        return [alt for item in schema for alt in alternatives(item)]
    if not isinstance(schema, dict):
        return [{"type": "any"}]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return alternatives(schema[key])
    kind = schema.get("type")
    if kind is None:
        return [{**schema, "type": "any"}]
    if isinstance(kind, list):
        return [{**schema, "type": k} for k in kind]
    return [schema]


def dims_of(schema: dict) -> set[str]:
    return {d.get("type") for d in schema.get("dimensions", []) if isinstance(d, dict)}


@st.composite
def value_for(draw, schema: dict, name: str, depth: int = 0):
    """(value, helper node ids it refers to) for one alternative of a parameter schema."""
    kind, subtype = schema.get("type"), schema.get("subtype")
    if "enum" in schema and draw(st.integers(0, 2)):
        return draw(st.sampled_from(schema["enum"])), []
    if subtype == "datacube":
        if "geometry" in dims_of(schema) and draw(st.booleans()):
            return {"from_node": "geo"}, ["geo"]
        helper = draw(st.sampled_from(["lc", "lc", "lc", "lc1", "lcr", "lcb", "lcn", "geo"]))
        return {"from_node": helper}, [helper, *DEPENDS.get(helper, [])]
    if subtype == "process-graph":
        return draw(callbacks(schema, depth)), []
    if subtype == "metadata-filter" or (
        kind == "object" and isinstance(schema.get("additionalProperties"), dict)
    ):
        pick = draw(st.integers(0, 2))
        if pick == 0:
            return {}, []
        cb = child(r={"process_id": "lte", "arguments": {"x": param("value"), "y": draw(NUMBERS)}})
        return {draw(STRINGS): cb if pick == 1 else draw(LEAF)}, []
    if subtype == "bounding-box" and draw(st.integers(0, 3)):
        return draw(st.sampled_from(BBOXES)), []
    if subtype == "geojson" and draw(st.integers(0, 3)):
        return draw(st.sampled_from(GEOJSONS)), []
    if subtype == "temporal-interval" and draw(st.integers(0, 3)):
        return draw(st.sampled_from(INTERVALS)), []
    if subtype == "temporal-intervals" and draw(st.integers(0, 3)):
        return draw(st.lists(st.sampled_from(INTERVALS), max_size=3)), []
    if subtype in ("date", "date-time", "time") and draw(st.integers(0, 3)):
        return draw(st.sampled_from(DATES)), []
    if subtype == "band-name" and draw(st.integers(0, 2)):
        return draw(st.sampled_from(["B04", "B08", "SCL", "B4", "", "bands"])), []
    if subtype == "collection-id" and draw(st.integers(0, 2)):
        return draw(st.sampled_from(["SENTINEL2_L2A_SAMPLE", "nope", "../x", ""])), []
    if subtype == "epsg-code" and draw(st.integers(0, 2)):
        return draw(st.sampled_from([32631, 4326, 3857, 999999, 0, -1, 1000, 2**63])), []
    if subtype == "wkt2-definition" and draw(st.integers(0, 2)):
        return draw(st.sampled_from(CRS_STRINGS)), []
    if subtype == "kernel" and draw(st.integers(0, 3)):
        return draw(st.sampled_from(KERNELS)), []
    if subtype == "stac" and draw(st.booleans()):
        return draw(st.sampled_from(STAC)), []
    if (
        kind == "string"
        and ("dimension" in name or name in ("target", "name"))
        and not rarely(draw, 4)
    ):
        return draw(st.sampled_from(["x", "y", "t", "bands", "time", "geometry", "bands", "t"])), []
    if (
        kind == "array"
        and name in ("bands", "labels", "target", "source", "properties")
        and (draw(st.booleans()))
    ):
        return draw(st.sampled_from([["B04"], ["B08", "B04"], ["SCL", "B01"], [], ["x"], [1]])), []
    if kind == "number":
        return draw(NUMBERS), []
    if kind == "integer":
        return draw(INTEGERS), []
    if kind == "boolean":
        return draw(st.booleans()), []
    if kind == "null":
        return None, []
    if kind == "string":
        return draw(STRINGS), []
    if kind == "array":
        return draw(ARRAYS), []
    if kind == "object":
        return draw(OBJECTS), []
    # any type
    pick = draw(st.integers(0, 5))
    if pick == 0:
        return {"from_node": "lc"}, ["lc"]
    return draw(ANY_JSON), []


PLAUSIBLE = {
    "bounding-box": bbox(),
    "geojson": GEOJSONS[4],
    "temporal-interval": ["2023-05-01", "2023-07-01"],
    "temporal-intervals": [["2023-05-01", "2023-06-01"], ["2023-06-01", "2023-07-01"]],
    "date": "2023-06-10",
    "date-time": "2023-06-10T10:30:00Z",
    "time": "10:30:00",
    "band-name": "B04",
    "collection-id": "SENTINEL2_L2A_SAMPLE",
    "epsg-code": 32631,
    "kernel": [[1, 1, 1], [1, 2, 1], [1, 1, 1]],
    "output-format": "GTiff",
}


def _apply_absolute(data: str) -> dict:
    inner = child(a={"process_id": "absolute", "arguments": {"x": param("x")}})
    return child(r={"process_id": "apply", "arguments": {"data": param(data), "process": inner}})


def _curve() -> dict:
    return child(
        e={"process_id": "array_element", "arguments": {"data": param("parameters"), "index": 0}},
        r={"process_id": "multiply", "arguments": {"x": param("x"), "y": {"from_node": "e"}}},
    )


PIXELS_2 = [{"dimension": d, "value": 2, "unit": "px"} for d in ("x", "y")]
# Arguments a process needs to do anything (by process and parameter), while another is fuzzed.
PLAUSIBLE_ARGUMENTS = {
    ("aggregate_spatial_window", "size"): [2, 2],
    ("apply_dimension", "process"): child(
        r={"process_id": "sort", "arguments": {"data": param("data")}}
    ),
    ("apply_dimension", "dimension"): "t",
    ("apply_neighborhood", "process"): _apply_absolute("data"),
    ("apply_neighborhood", "size"): PIXELS_2,
    ("apply_polygon", "process"): _apply_absolute("data"),
    ("climatological_normal", "climatology_period"): ["2022", "2023"],
    ("climatological_normal", "period"): "month",
    ("flatten_dimensions", "dimensions"): ["t", "bands"],
    ("flatten_dimensions", "target_dimension"): "tb",
    ("predict_curve", "labels"): ["2023-06-10T10:30:00Z"],
    ("predict_curve", "parameters"): [1, 2],
    ("predict_curve", "function"): _curve(),
    ("fit_curve", "parameters"): [1, 2],
    ("fit_curve", "function"): _curve(),
    ("fit_curve", "dimension"): "t",
    ("rename_labels", "dimension"): "bands",
    ("rename_labels", "source"): ["B04"],
    ("rename_labels", "target"): ["red"],
    ("rename_dimension", "source"): "t",
    ("rename_dimension", "target"): "time",
    ("ndvi", "red"): "B04",
    ("ndvi", "nir"): "B08",
    ("filter_bands", "bands"): ["B04"],
    ("array_element", "index"): 0,
    ("quantiles", "probabilities"): [0.25, 0.5],
    ("array_create_labeled", "data"): [1, 2],
    ("array_create_labeled", "labels"): ["a", "b"],
    ("drop_dimension", "name"): "bands",
    ("aggregate_temporal", "intervals"): [
        ["2023-05-01", "2023-06-01"],
        ["2023-06-01", "2023-07-01"],
    ],
    ("aggregate_temporal", "labels"): ["may", "june"],
    ("anomaly", "period"): "month",
    ("vector_buffer", "distance"): 0.0001,
}


@st.composite
def plausible_for(draw, schema: dict, name: str, process_id: str = ""):
    """A value the parameter is likely to accept (the other arguments, while one is
    fuzzed: so that the fuzzed one reaches the process)."""
    kind, subtype = schema.get("type"), schema.get("subtype")
    if (process_id, name) in PLAUSIBLE_ARGUMENTS and draw(st.integers(0, 3)):
        return PLAUSIBLE_ARGUMENTS[process_id, name], []
    if "enum" in schema:
        return draw(st.sampled_from(schema["enum"])), []
    if subtype == "datacube":
        helper = "geo" if "geometry" in dims_of(schema) else draw(st.sampled_from(["lc", "lc1"]))
        return {"from_node": helper}, [helper]
    if subtype == "process-graph":
        names = [p["name"] for p in schema.get("parameters", [])]
        if names[:2] == ["x", "y"]:
            return child(
                r={"process_id": "add", "arguments": {"x": param("x"), "y": param("y")}}
            ), []
        if names and names[0] == "data":
            reducer = draw(st.sampled_from(["mean", "max", "sum", "first", "median"]))
            return child(r={"process_id": reducer, "arguments": {"data": param("data")}}), []
        return draw(value_for(schema, name))
    if subtype in PLAUSIBLE:
        return PLAUSIBLE[subtype], []
    if kind == "string" and ("dimension" in name or name in ("target", "name")):
        return draw(st.sampled_from(["t", "bands", "x", "y"])), []
    if kind == "array" and name in ("bands", "labels", "target", "source"):
        return draw(st.sampled_from([["B04"], ["B08", "B04"]])), []
    if kind == "number":
        return draw(st.sampled_from([0, 1, 2, 0.5, -1, 10])), []
    if kind == "integer":
        return draw(st.sampled_from([0, 1, 2, 3])), []
    if kind == "boolean":
        return draw(st.booleans()), []
    if kind == "null":
        return None, []
    if kind == "array":
        return draw(st.sampled_from([[1, 2, 3], [0.5, None, 2], ["B04", "B08"]])), []
    if kind == "object":
        return {}, []
    if kind == "string":
        return draw(st.sampled_from(["B04", "t", "a", "2023-06-10"])), []
    return draw(st.sampled_from([1, "a", None, [1, 2]])), []


@st.composite
def graphs(draw, process_id: str) -> dict:
    """A graph calling ``process_id``: every argument fuzzed, or one (``focus``) fuzzed and
    the others plausible."""
    spec = SPECS[process_id]
    arguments: dict = {}
    helpers: list[str] = []
    focus = draw(st.integers(-1, len(spec.parameters) - 1))
    for i, p in enumerate(spec.parameters):
        wild = focus in (-1, i)
        if p.optional and (rarely(draw, 4) if wild else draw(st.integers(0, 2)) > 0):
            continue  # left out
        if not p.optional and rarely(draw, 40):
            continue  # a required one missing
        alts = alternatives(p.schema)
        alt = draw(st.sampled_from(alts))
        value, refs = draw(
            value_for(alt, p.name) if wild else plausible_for(alt, p.name, process_id)
        )
        arguments[p.name] = value
        helpers += refs
    if rarely(draw, 25):
        arguments["unknown_argument"] = draw(LEAF)
    nodes = {h: HELPERS[h] for h in dict.fromkeys(helpers)}
    nodes["p"] = {"process_id": process_id, "arguments": arguments, "result": True}
    return {"process_graph": nodes}


# ---------------------------------------------------------------------------------------
# Checks.


class _Records(logging.Handler):
    """Internal errors logged (``pgc.errors.from_exception``), not what ``inspect`` logs."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        if record.getMessage().startswith("internal error"):
            self.records.append(record)


@contextlib.contextmanager
def internal_logs():
    """The errors pgc logs meanwhile (an internal error, a type rule's failure)."""
    handler = _Records()
    logger = logging.getLogger("pgc")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def describe(records) -> str:
    out = []
    for r in records:
        text = r.getMessage()
        if r.exc_info:
            text += "\n" + "".join(traceback.format_exception(*r.exc_info))[-3000:]
        out.append(text)
    return "\n".join(out)


def check_api(graph: dict) -> None:
    with internal_logs() as records:
        result = pgc.validate(graph)
        assert all(d.code != "Internal" for d in result.errors), result.errors
        for pipeline in ("default", "none"):
            try:
                execute(graph, pipeline=pipeline, executor="reference", limits=LIMITS)
            except PgcError as exc:
                internal = [d for d in exc.diagnostics if d.code == "Internal"]
                assert not internal, f"{pipeline}: {internal}\n{describe(records)}"
    assert not records, describe(records)


def check_cli(graph: dict, tmp_path, capsys) -> None:
    from pgc.cli import main

    path = tmp_path / "graph.json"
    text = json.dumps(graph, ensure_ascii=True, allow_nan=True)
    path.write_text(text, encoding="utf-8")
    capsys.readouterr()
    with internal_logs() as records:
        try:
            code = main(
                [
                    "run",
                    str(path),
                    "--json",
                    "--max-cube-bytes",
                    str(LIMITS.max_cube_bytes),
                    "--max-seconds",
                    "60",
                ]
            )
        except SystemExit as exc:
            code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    assert code in (0, 1), f"exit {code}: {(out + err)[-2000:]}"
    assert '"Internal"' not in out, out[-2000:]
    assert not records, describe(records)


def _skip_known(process_id: str) -> None:
    if process_id in KNOWN_INTERNAL:
        pytest.skip(KNOWN_INTERNAL[process_id])


# ---------------------------------------------------------------------------------------
# The tests.


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
            HealthCheck.filter_too_much,
        ],
    )


NON_FINITE = {1e308: math.inf, -1e308: -math.inf, 5e-324: math.nan}


def non_finite(value):
    """``value`` with 1e308, -1e308 and 5e-324 as inf, -inf and NaN (what a Python caller
    can pass, though JSON cannot)."""
    if isinstance(value, float):
        return NON_FINITE.get(value, value)
    if isinstance(value, list):
        return [non_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: non_finite(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("process_id", PROCESS_IDS)
@fuzz(EXAMPLES)
@given(data=st.data())
def test_api_never_internal(process_id, data):
    _skip_known(process_id)
    graph = data.draw(graphs(process_id), label="graph")
    if rarely(data.draw, 3):
        graph = non_finite(graph)
    check_api(graph)


@pytest.mark.parametrize("process_id", PROCESS_IDS[::CLI_EVERY])
@fuzz(max(2, EXAMPLES // 4))
@given(data=st.data())
def test_cli_never_internal(process_id, data, tmp_path, capsys):
    _skip_known(process_id)
    graph = data.draw(graphs(process_id), label="graph")
    check_cli(graph, tmp_path, capsys)


# Regressions found by the fuzzer: (graph, what it was before the fix).


def one(process_id: str, *helpers: str, **arguments) -> dict:
    nodes = {h: HELPERS[h] for h in helpers}
    nodes["p"] = {"process_id": process_id, "arguments": arguments, "result": True}
    return {"process_graph": nodes}


def on_pixels(**node) -> dict:
    """``apply`` over the 4 x 4 cube with ``node`` as the callback."""
    return one("apply", "lc", data={"from_node": "lc"}, process=child(r=node))


X = param("x")
REGRESSIONS: list[tuple[dict, str]] = [
    (
        on_pixels(process_id="eq", arguments={"x": X, "y": "a"}),
        "eq-cube-vs-string: numpy UFuncTypeError",
    ),
    (
        on_pixels(process_id="neq", arguments={"x": X, "y": "a", "delta": 1}),
        "neq-delta-cube-vs-string: TypeError",
    ),
    (
        on_pixels(process_id="gte", arguments={"x": X, "y": "2023-06-10"}),
        "gte-cube-vs-string: TypeError",
    ),
    (on_pixels(process_id="round", arguments={"x": X}), "round-on-a-cube: TypeError"),
    (
        on_pixels(process_id="round", arguments={"x": X, "p": -400}),
        "round-on-a-cube-p-400: wrong shape",
    ),
    (
        on_pixels(process_id="text_contains", arguments={"data": X, "pattern": "a"}),
        "text_contains-on-numbers: TypeError",
    ),
    (
        one(
            "array_apply",
            data=[5],
            process=child(
                r={"process_id": "text_begins", "arguments": {"data": X, "pattern": "a"}}
            ),
        ),
        "text_begins-number: AttributeError",
    ),
    (
        one(
            "load_collection",
            id="SENTINEL2_L2A_SAMPLE",
            spatial_extent=GEOJSONS[4],
            temporal_extent=INTERVALS[0],
            bands=["B04"],
        ),
        "load_collection-geojson-extent: KeyError 'west'",
    ),
    (
        one(
            "load_collection",
            id="SENTINEL2_L2A_SAMPLE",
            spatial_extent=GEOJSONS[17],
            temporal_extent=INTERVALS[0],
        ),
        "load_collection-empty-geojson-extent: KeyError 'west'",
    ),
    (
        one(
            "add_dimension",
            "lc",
            "lcr",
            data={"from_node": "lcr"},
            name="t2",
            label="/etc/passwd",
            type="temporal",
        ),
        "add_dimension-temporal-label-not-a-date: ValueError",
    ),
    (
        one(
            "add_dimension",
            "lc",
            "lcr",
            data={"from_node": "lcr"},
            name="t2",
            label="0001-01-01",
            type="temporal",
        ),
        "add_dimension-temporal-label-out-of-range: silently 1754-08-30",
    ),
    (
        one(
            "mask_polygon",
            "lc",
            data={"from_node": "lc"},
            mask={"type": "FeatureCollection", "features": []},
        ),
        "mask_polygon-no-geometries: ValueError",
    ),
    (
        one(
            "merge_cubes",
            "geo",
            cube1={"from_node": "geo"},
            cube2={"from_node": "geo"},
            overlap_resolver=child(r={"process_id": "divide", "arguments": {"x": X, "y": 4}}),
        ),
        "merge_cubes-vector-cubes-arithmetic: TypeError on None",
    ),
    (
        one(
            "reduce_dimension",
            "geo",
            data={"from_node": "geo"},
            dimension="geometry",
            reducer=child(r={"process_id": "product", "arguments": {"data": param("data")}}),
        ),
        "reduce_dimension-vector-cube: numpy isnan TypeError on objects",
    ),
    (
        one(
            "array_apply",
            data=[[1, [2, [3]]], [], [[]]],
            process=child(
                r={
                    "process_id": "linear_scale_range",
                    "arguments": {
                        "x": X,
                        "inputMin": 0,
                        "inputMax": 1,
                        "outputMin": 0,
                        "outputMax": 1,
                    },
                }
            ),
        ),
        "linear_scale_range-of-an-array: ValueError",
    ),
    (
        on_pixels(process_id="if", arguments={"value": X, "accept": 0, "reject": []}),
        "if-on-pixels-with-an-array: xarray ValueError (fill_value)",
    ),
    (
        on_pixels(process_id="if", arguments={"value": X, "accept": "a"}),
        "if-on-pixels-with-a-string: ValueError",
    ),
    (
        one(
            "apply_dimension",
            "lc",
            data={"from_node": "lc"},
            dimension="y",
            process=child(
                r={
                    "process_id": "array_concat",
                    "arguments": {"array1": param("data"), "array2": [1, "a", None, {}, []]},
                }
            ),
        ),
        "apply_dimension-arrays-as-pixel-values: numpy reshape ValueError",
    ),
    (
        one(
            "array_apply",
            data=[["2023-05-01", "2023-07-01"], ["a", 1, None]],
            process=child(r={"process_id": "cumproduct", "arguments": {"data": X}}),
        ),
        "cumproduct-of-strings: TypeError (cumsum concatenated them)",
    ),
    (
        one(
            "array_apply",
            data=[["a", 1]],
            process=child(r={"process_id": "extrema", "arguments": {"data": X}}),
        ),
        "extrema-of-strings-and-numbers: TypeError",
    ),
    (
        on_pixels(
            process_id="linear_scale_range",
            arguments={"x": X, "inputMin": param("context"), "inputMax": 0},
        ),
        "linear_scale_range-inputMin-null-from-a-parameter: TypeError",
    ),
    (
        on_pixels(process_id="clip", arguments={"x": X, "min": param("context"), "max": 1}),
        "clip-min-null-from-a-parameter: TypeError",
    ),
    (
        one(
            "array_apply",
            data=[[1, [2, [3]]], [1, "x"]],
            process=child(r={"process_id": "order", "arguments": {"data": X}}),
        ),
        "order-of-arrays-and-numbers: TypeError in sorted",
    ),
    (
        one(
            "array_apply",
            data=["a", [1]],
            process=child(r={"process_id": "add", "arguments": {"x": X, "y": 1}}),
        ),
        "add-string-and-number: TypeError",
    ),
]


@pytest.mark.parametrize("graph", [g for g, _ in REGRESSIONS], ids=[why for _, why in REGRESSIONS])
def test_regressions_api(graph):
    check_api(graph)


def test_non_finite_numbers_from_python():
    """JSON has no NaN or infinity, but a Python caller can pass them."""
    for value in (math.nan, math.inf, -math.inf):
        for process_id in ("add", "round", "date_shift", "array_create", "linear_scale_range"):
            spec = SPECS[process_id]
            arguments = {p.name: value for p in spec.parameters if not p.optional}
            check_api(
                {
                    "process_graph": {
                        "p": {"process_id": process_id, "arguments": arguments, "result": True}
                    }
                }
            )


def test_python_int_too_long_for_json_text():
    """A Python int of 10**5000 (more digits than Python converts to text): validate raised
    ValueError from json.dumps; now ProcessGraphInvalid at its place, as for JSON text."""
    graph = one("add", x=10**5000, y=1)
    result = pgc.validate(graph)
    assert [(d.code, d.pointer) for d in result.errors] == [
        ("ProcessGraphInvalid", "/process_graph/p/arguments/x")
    ]
    with pytest.raises(PgcError) as raised:
        execute(graph)
    assert raised.value.code == "ProcessGraphInvalid"


def _code(graph: dict) -> str | None:
    try:
        execute(graph)
    except PgcError as exc:
        return exc.code
    return None


def test_fixed_processes_give_the_definitions_answers():
    """What the fixes above compute, not only that they do not fail."""
    june = {"t": 1}  # the May date of the 4 x 4 window is no-data
    out = execute(on_pixels(process_id="round", arguments={"x": X, "p": -2})).value
    assert out.data.isel(june).values[0, 0, 0] == 1600.0
    out = execute(on_pixels(process_id="eq", arguments={"x": X, "y": "a"})).value
    assert not out.data.values.any() and out.valid.isel(june).values.all()
    out = execute(on_pixels(process_id="neq", arguments={"x": X, "y": "a"})).value
    assert out.data.isel(june).values.all()
    extent = one(
        "load_collection",
        id="SENTINEL2_L2A_SAMPLE",
        spatial_extent=GEOJSONS[4],
        temporal_extent=["2023-06-01", "2023-07-01"],
        bands=["B04"],
    )
    assert execute(extent).value.data.shape == (1, 1, 4, 4)  # the polygon's bounding box
    late = one(
        "add_dimension", "lc", "lcr", data={"from_node": "lcr"}, name="t2",
        label="0001-01-01", type="temporal",
    )  # fmt: skip
    assert _code(late) == "ProcessParameterInvalid"
    mixed = one("order", data=[3, None, 1])
    assert execute(mixed).value == [2, 0]
