"""Type rules: every process's result type and the errors its argument types reveal.

Graphs are built from the embedded sample collection (t: 12 dates, bands: 13, y/x: 512 px
at 10 m in EPSG:32631, uint16). Errors the validator already reports for literal arguments
are tested on IR built directly (no validation), as rules must hold on any IR.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from conftest import node

import pgc
from pgc.data.catalog import default_catalog
from pgc.frontend.lower import lower
from pgc.ir.graph import Graph
from pgc.ir.infer import Environment, TypeCheckError, infer_graph, type_from_schema
from pgc.ir.nodes import Callback, Literal, Node, NodeRef, Origin, ParamRef
from pgc.ir.typerules import FROM_RETURNS, TYPE_RULES
from pgc.ir.types import ANY, ArrayType, CubeType, ScalarType, Type
from pgc.specs import load_specs

SPECS = load_specs()
CATALOG = default_catalog()
S2 = "SENTINEL2_L2A_SAMPLE"
DATES = CATALOG.cube_type(S2).dimension("t").labels
BANDS = CATALOG.cube_type(S2).dimension("bands").labels


# ---------------------------------------------------------------------------------------
# Helpers


def typed(graph_json: dict) -> tuple[Graph, list]:
    result = pgc.validate(graph_json)
    assert result.ok, [(d.code, d.pointer, d.message) for d in result.errors]
    env = Environment(SPECS, CATALOG)
    return infer_graph(lower(result), env), env.diagnostics


def infer(nodes: dict[str, dict]) -> tuple[Graph, list]:
    """Type a flat graph whose last node is the result."""
    nodes = dict(nodes)
    last = list(nodes)[-1]
    nodes[last] = {**nodes[last], "result": True}
    return typed(nodes)


def type_of(nodes: dict[str, dict], node_id: str | None = None) -> Type:
    graph, diagnostics = infer(nodes)
    assert [(d.code, d.pointer, d.message) for d in diagnostics] == []
    return graph.node(node_id or graph.result).type


def cube_of(nodes: dict[str, dict], node_id: str | None = None) -> CubeType:
    t = type_of(nodes, node_id)
    assert isinstance(t, CubeType), t
    return t


def errors(nodes: dict[str, dict]) -> list[tuple[str, str]]:
    _, diagnostics = infer(nodes)
    return [(d.code, d.pointer) for d in diagnostics]


def raw(nodes: dict[str, dict]) -> tuple[Graph, list]:
    """Type IR built without validation (flat graphs: literals and from_node only)."""
    graph = Graph()
    for nid, spec in nodes.items():
        args = tuple((k, _raw_value(v)) for k, v in spec.get("arguments", {}).items())
        graph.add(Node(nid, spec["process_id"], args, origin=Origin(nid, "/" + nid)))
    graph.set_result(list(nodes)[-1])
    env = Environment(SPECS, CATALOG)
    return infer_graph(graph, env), env.diagnostics


def raw_errors(nodes: dict[str, dict]) -> list[tuple[str, str]]:
    return [(d.code, d.pointer) for d in raw(nodes)[1]]


def load(**arguments: Any) -> dict:
    arguments = {"id": S2, "spatial_extent": None, "temporal_extent": None, **arguments}
    return node("load_collection", **arguments)


def ref(node_id: str) -> dict:
    return {"from_node": node_id}


def param(name: str) -> dict:
    return {"from_parameter": name}


def cb(process_id: str, **arguments: Any) -> dict:
    return {"process_graph": {"cb": node(process_id, True, **arguments)}}


def labels(cube: CubeType, name: str) -> tuple | None:
    dim = cube.dimension(name)
    assert dim is not None, (name, cube)
    return dim.labels


def sizes(cube: CubeType) -> dict[str, int | None]:
    return {d.name: d.size for d in cube.dimensions}


def callback_graph(graph: Graph, node_id: str, argument: str) -> Graph:
    value = graph.node(node_id).arg(argument)
    assert isinstance(value, Callback)
    return value.graph


MEAN = cb("mean", data=param("data"))
UDF = "def apply(x):\n    return x\n"
L = {"l": load()}
CUBE = ref("l")
FULL = {"t": 12, "bands": 13, "y": 512, "x": 512}


def polygon(x0: float, y0: float) -> dict:
    ring = [[x0, y0], [x0 + 0.01, y0], [x0 + 0.01, y0 + 0.01], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"name": f"f{i}", "v": [1, 2, i]},
         "geometry": polygon(4.44 + 0.01 * i, 51.36)}
        for i in range(3)
    ],
}  # fmt: skip
VECTOR = {"g": node("load_geojson", data=GEOJSON)}
METRIC_VECTOR = {**VECTOR, "p": node("vector_reproject", data=ref("g"), projection=32631)}


# ---------------------------------------------------------------------------------------
# Coverage


def test_promote_is_numpys_result_type():
    """Issue 23: promote computes numpy's promotion itself for the band dtypes (typing for
    pgc validate imports no numpy); every sequence of up to four agrees with numpy."""
    import numpy as np

    from pgc.ir.types import ITEMSIZE, promote

    for n in (1, 2, 3, 4):
        for dtypes in itertools.product(ITEMSIZE, repeat=n):
            assert promote(*dtypes) == str(np.result_type(*dtypes)), dtypes
    assert promote("float16", "int8") == "float16"  # others: numpy's answer


def test_every_process_has_a_rule():
    assert set(TYPE_RULES) == set(SPECS.ids())


def test_rules_from_the_return_schema_only_where_it_says_everything():
    for pid in FROM_RETURNS:
        t = type_from_schema(SPECS[pid].returns)
        assert (t == ANY) == pid.startswith("run_"), pid  # UDFs and OGC processes: anything


# ---------------------------------------------------------------------------------------
# Loading


def test_load_collection_is_the_catalog_cube():
    cube = cube_of(L)
    assert cube.names == ("t", "bands", "y", "x")
    assert sizes(cube) == FULL
    assert cube.dtype == "uint16" and cube.nodata == 0
    x = cube.dimension("x")
    assert (x.extent, x.step, x.crs, x.axis) == ((600000, 605120), 10, "32631", "x")
    assert cube.bands[3].common_name == "red"


def test_load_collection_narrows_extents_and_bands():
    bbox = {"west": 600000, "south": 5690000, "east": 601000, "north": 5691000, "crs": 32631}
    cube = cube_of(
        {"l": load(spatial_extent=bbox, temporal_extent=["2023-03-01", "2023-06-01"],
                   bands=["nir", "B04", "red"])}
    )  # fmt: skip
    assert sizes(cube) == {"t": 3, "bands": 2, "y": 100, "x": 100}
    assert labels(cube, "bands") == ("B08", "B04")
    assert [b.name for b in cube.bands] == ["B08", "B04"]
    assert labels(cube, "t")[0] == "2023-03-10T10:30:00Z"


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ({"id": "NOPE"}, ("CollectionNotFound", "/l/arguments/id")),
        ({"bands": ["B10"]}, ("ProcessParameterInvalid", "/l/arguments/bands")),
        (
            {"temporal_extent": ["2030-01-01", "2031-01-01"]},
            ("NoDataAvailable", "/l/arguments/temporal_extent"),
        ),
        (
            {"spatial_extent": {"west": 0, "south": 0, "east": 1, "north": 1, "crs": 32631}},
            ("NoDataAvailable", "/l/arguments/spatial_extent"),
        ),
        (  # issue 9: UTM metres without a crs (WGS 84 then) gave an OverflowError traceback
            {
                "spatial_extent": {
                    "west": 600105,
                    "south": 5698500,
                    "east": 600995,
                    "north": 5699995,
                }
            },
            ("ProcessParameterInvalid", "/l/arguments/spatial_extent"),
        ),  # fmt: skip
    ],
)
def test_load_collection_errors(arguments, expected):
    assert errors({"l": load(**arguments)}) == [expected]


def test_load_collection_empty_temporal_extent():
    extent = ["2023-05-01", "2023-04-01"]
    assert raw_errors({"l": load(temporal_extent=extent)}) == [
        ("TemporalExtentEmpty", "/l/arguments/temporal_extent")
    ]


def test_load_stac_url_and_uploaded_files_are_unknown_until_read():
    assert cube_of({"s": node("load_stac", url="https://x.test/c")}).unknown_dimensions
    vector = cube_of({"u": node("load_url", url="https://x.test/a.json", format="GeoJSON")})
    assert vector.unknown_dimensions and vector.vector
    files = cube_of({"u": node("load_uploaded_files", paths=["a.tif"], format="GTiff")})
    assert files.unknown_dimensions and not files.vector


def test_load_stac_empty_temporal_extent():
    args = {"url": "https://x.test/c", "temporal_extent": ["2023-05-01", "2023-01-01"]}
    assert raw_errors({"s": node("load_stac", **args)}) == [
        ("TemporalExtentEmpty", "/s/arguments/temporal_extent")
    ]


def test_load_geojson_is_a_vector_cube_with_one_label_per_feature():
    cube = cube_of(VECTOR)
    assert cube.vector and cube.names == ("geometry",)
    assert sizes(cube) == {"geometry": 3}
    assert cube.dimension("geometry").crs == "4326"
    one = cube_of({"g": node("load_geojson", data=GEOJSON, properties=["name"])})
    assert labels(one, "properties") == ("name",)
    array = cube_of({"g": node("load_geojson", data=GEOJSON, properties=["v"])})
    assert labels(array, "properties") == (0, 1, 2)
    many = cube_of({"g": node("load_geojson", data=GEOJSON, properties=["name", "v"])})
    assert many.names == ("geometry", "properties") and labels(many, "properties") == ("name", "v")
    single = cube_of({"g": node("load_geojson", data=polygon(4.4, 51.3))})
    assert sizes(single) == {"geometry": 1}


def test_load_geojson_rejects_geometry_collections():
    data = {"type": "GeometryCollection", "geometries": [polygon(4.4, 51.3)]}
    assert errors({"g": node("load_geojson", data=data)}) == [
        ("ProcessParameterInvalid", "/g/arguments/data")
    ]


def test_create_data_cube_has_no_dimensions():
    cube = cube_of({"c": node("create_data_cube")})
    assert cube.dimensions == () and not cube.unknown_dimensions


# ---------------------------------------------------------------------------------------
# Filters and masks


def test_filter_bbox_narrows_x_and_y_and_keeps_the_dtype():
    box = {"west": 600000, "south": 5694000, "east": 602000, "north": 5695000, "crs": "EPSG:32631"}
    cube = cube_of({**L, "f": node("filter_bbox", data=CUBE, extent=box)})
    assert sizes(cube) == {**FULL, "y": 100, "x": 200}
    assert cube.dimension("x").extent == (600000, 602000) and cube.dtype == "uint16"


def test_filter_bbox_on_a_vector_cube_forgets_which_geometries_remain():
    box = {"west": 4.4, "south": 51.3, "east": 4.46, "north": 51.4}
    cube = cube_of({**VECTOR, "f": node("filter_bbox", data=ref("g"), extent=box)})
    assert cube.vector and labels(cube, "geometry") is None


def test_filter_bbox_outside_the_data():
    """filter_bbox names no exception: a box holding no pixel centre leaves x and y without
    labels (issue 17; load_collection's NoDataAvailable is its own)."""
    box = {"west": 0, "south": 0, "east": 10, "north": 10, "crs": 32631}
    nodes = {**L, "f": node("filter_bbox", data=CUBE, extent=box)}
    assert errors(nodes) == []
    assert sizes(cube_of(nodes))["x"] == 0


def test_filter_temporal_keeps_the_labels_in_the_left_closed_interval():
    extent = ["2023-02-10T10:30:00Z", "2023-04-10T10:30:00Z"]
    cube = cube_of({**L, "f": node("filter_temporal", data=CUBE, extent=extent)})
    assert labels(cube, "t") == DATES[1:3] and cube.dtype == "uint16"
    named = cube_of({**L, "f": node("filter_temporal", data=CUBE, extent=extent, dimension="t")})
    assert labels(named, "t") == DATES[1:3]


def test_filter_temporal_errors():
    extent = ["2023-01-01", "2023-06-01"]
    assert errors({**L, "f": node("filter_temporal", data=CUBE, extent=extent, dimension="x")}) == [
        ("DimensionNotAvailable", "/f/arguments/dimension")
    ]
    reduced = {**L, "r": node("reduce_dimension", data=CUBE, dimension="t", reducer=MEAN)}
    assert errors({**reduced, "f": node("filter_temporal", data=ref("r"), extent=extent)}) == [
        ("DimensionNotAvailable", "/f/arguments/data")
    ]
    empty = ["2023-06-01", "2023-01-01"]
    assert raw_errors({**L, "f": node("filter_temporal", data=CUBE, extent=empty)}) == [
        ("TemporalExtentEmpty", "/f/arguments/extent")
    ]


def test_filter_bands_by_name_common_name_and_wavelength():
    cube = cube_of({**L, "f": node("filter_bands", data=CUBE, bands=["nir", "B02"])})
    assert labels(cube, "bands") == ("B08", "B02") and cube.dtype == "uint16"
    assert [b.name for b in cube.bands] == ["B08", "B02"]
    waves = cube_of({**L, "f": node("filter_bands", data=CUBE, wavelengths=[[0.4, 0.5]])})
    assert labels(waves, "bands") == ("B01", "B02")
    both = {"bands": ["red"], "wavelengths": [[0.8, 0.9]]}
    either = cube_of({**L, "f": node("filter_bands", data=CUBE, **both)})
    assert labels(either, "bands") == ("B04", "B08", "B8A")


def test_filter_bands_errors():
    assert errors({**L, "f": node("filter_bands", data=CUBE, bands=["B10"])}) == [
        ("ProcessParameterInvalid", "/f/arguments/bands")
    ]
    reduced = {**L, "r": node("reduce_dimension", data=CUBE, dimension="bands", reducer=MEAN)}
    assert errors({**reduced, "f": node("filter_bands", data=ref("r"), bands=["B04"])}) == [
        ("DimensionMissing", "/f/arguments/data")
    ]
    assert raw_errors({**L, "f": node("filter_bands", data=CUBE)}) == [
        ("BandFilterParameterMissing", "/f")
    ]


def test_filter_labels_forgets_the_labels_and_types_the_condition():
    condition = cb("text_begins", data=param("value"), pattern="B0")
    graph, diagnostics = infer(
        {**L, "f": node("filter_labels", data=CUBE, dimension="bands", condition=condition)}
    )
    assert diagnostics == []
    cube = graph.node("f").type
    assert labels(cube, "bands") is None and sizes(cube)["t"] == 12 and cube.dtype == "uint16"
    inner = callback_graph(graph, "f", "condition")
    assert inner.parameter("value").type == ScalarType.of("string")
    assert inner.node("cb").type == ScalarType.of("boolean")
    east = cb("gt", x=param("value"), y=601000)
    on_x = {**L, "f": node("filter_labels", data=CUBE, dimension="x", condition=east)}
    assert sizes(cube_of(on_x))["x"] is None
    assert errors({**L, "f": node("filter_labels", data=CUBE, dimension="x",
                                  condition=condition)}) == [
        ("ProcessParameterInvalid", "/f/arguments/condition/process_graph/cb/arguments/data")
    ]  # fmt: skip


def test_filter_labels_on_a_missing_dimension():
    condition = cb("eq", x=param("value"), y=1)
    missing = node("filter_labels", data=CUBE, dimension="z", condition=condition)
    assert errors({**L, "f": missing}) == [("DimensionNotAvailable", "/f/arguments/dimension")]


def test_filter_spatial_keeps_the_dimensions():
    cube = cube_of({**L, "f": node("filter_spatial", data=CUBE, geometries=polygon(4.45, 51.37))})
    assert cube.names == ("t", "bands", "y", "x") and cube.dtype == "uint16"
    by_cube = cube_of({**L, **VECTOR, "f": node("filter_spatial", data=CUBE, geometries=ref("g"))})
    assert by_cube.names == ("t", "bands", "y", "x")


def test_filter_spatial_needs_geometries():
    assert errors({**L, "f": node("filter_spatial", data=CUBE, geometries=CUBE)}) == [
        ("ProcessParameterInvalid", "/f/arguments/geometries")
    ]


def test_filter_vector_forgets_which_geometries_remain():
    cube = cube_of({**VECTOR, "f": node("filter_vector", data=ref("g"), geometries=ref("g"))})
    assert cube.vector and cube.names == ("geometry",) and labels(cube, "geometry") is None
    assert errors({**L, **VECTOR, "f": node("filter_vector", data=CUBE, geometries=ref("g"))}) == [
        ("ProcessParameterInvalid", "/f/arguments/data")
    ]


def test_mask_keeps_shape_and_dtype():
    scl = cb("array_element", data=param("data"), label="SCL")
    nodes = {**L, "m": node("reduce_dimension", data=CUBE, dimension="bands", reducer=scl)}
    cube = cube_of({**nodes, "k": node("mask", data=CUBE, mask=ref("m"))})
    assert sizes(cube) == FULL and cube.dtype == "uint16"
    fraction = cube_of({**nodes, "k": node("mask", data=CUBE, mask=ref("m"), replacement=0.5)})
    assert fraction.dtype == "float64"


def test_mask_with_a_dimension_the_data_lacks():
    nodes = {**L, "r": node("reduce_dimension", data=CUBE, dimension="t", reducer=MEAN)}
    assert errors({**nodes, "k": node("mask", data=ref("r"), mask=CUBE)}) == [
        ("IncompatibleDataCubes", "/k/arguments/mask")
    ]
    other = {**L, "f": node("filter_temporal", data=CUBE, extent=["2023-01-01", "2023-03-01"])}
    assert errors({**other, "k": node("mask", data=CUBE, mask=ref("f"))}) == [
        ("IncompatibleDataCubes", "/k/arguments/mask")
    ]


def test_mask_polygon_keeps_shape():
    cube = cube_of({**L, "k": node("mask_polygon", data=CUBE, mask=polygon(4.45, 51.37))})
    assert sizes(cube) == FULL and cube.dtype == "uint16"
    cube = cube_of({**L, **VECTOR, "k": node("mask_polygon", data=CUBE, mask=ref("g"))})
    assert sizes(cube) == FULL
    assert errors({**L, "k": node("mask_polygon", data=CUBE, mask=CUBE)}) == [
        ("ProcessParameterInvalid", "/k/arguments/mask")
    ]


def test_trim_cube_makes_every_size_unknown():
    cube = cube_of({**L, "t": node("trim_cube", data=CUBE)})
    assert cube.names == ("t", "bands", "y", "x") and set(sizes(cube).values()) == {None}
    assert cube.dtype == "uint16"


# ---------------------------------------------------------------------------------------
# Dimensions and labels


def test_add_dimension_puts_one_label_first():
    """First, as the openEO conformance vectors expect (the definition does not say)."""
    cube = cube_of({**L, "a": node("add_dimension", data=CUBE, name="run", label="r1")})
    assert cube.names == ("run", "t", "bands", "y", "x")
    assert cube.dimension("run").type == "other" and labels(cube, "run") == ("r1",)
    z = cube_of({**L, "a": node("add_dimension", data=CUBE, name="h", label=0, type="spatial")})
    assert z.dimension("h").axis == "z"


def test_add_dimension_errors():
    assert errors({**L, "a": node("add_dimension", data=CUBE, name="t", label="x")}) == [
        ("DimensionExists", "/a/arguments/name")
    ]
    z = {**L, "a": node("add_dimension", data=CUBE, name="h", label=0, type="spatial")}
    again = node("add_dimension", data=ref("a"), name="w", label=0, type="spatial")
    assert errors({**z, "b": again}) == [("DimensionExists", "/b/arguments/type")]


def test_drop_dimension_removes_a_single_label_dimension():
    nodes = {**L, "f": node("filter_bands", data=CUBE, bands=["B04"])}
    cube = cube_of({**nodes, "d": node("drop_dimension", data=ref("f"), name="bands")})
    assert cube.names == ("t", "y", "x") and cube.bands == () and cube.dtype == "uint16"


def test_drop_dimension_errors():
    assert errors({**L, "d": node("drop_dimension", data=CUBE, name="t")}) == [
        ("DimensionLabelCountMismatch", "/d/arguments/name")
    ]
    assert errors({**L, "d": node("drop_dimension", data=CUBE, name="z")}) == [
        ("DimensionNotAvailable", "/d/arguments/name")
    ]


def test_rename_dimension():
    cube = cube_of({**L, "r": node("rename_dimension", data=CUBE, source="t", target="time")})
    assert cube.names == ("time", "bands", "y", "x") and labels(cube, "time") == DATES
    assert errors({**L, "r": node("rename_dimension", data=CUBE, source="z", target="q")}) == [
        ("DimensionNotAvailable", "/r/arguments/source")
    ]
    assert errors({**L, "r": node("rename_dimension", data=CUBE, source="t", target="x")}) == [
        ("DimensionExists", "/r/arguments/target")
    ]


def test_rename_labels_renames_bands_and_their_metadata():
    args = {"dimension": "bands", "source": ["B04", "B08"], "target": ["red", "nir"]}
    cube = cube_of({**L, "r": node("rename_labels", data=CUBE, **args)})
    assert labels(cube, "bands")[3] == "red" and labels(cube, "bands")[7] == "nir"
    assert cube.bands[3].name == "red" and cube.bands[3].wavelength == 0.665
    # "If a target dimension label already exists in the data cube, a LabelExists
    # exception is thrown": a swap's targets exist (issue 17)
    swap = {"dimension": "bands", "source": ["B04", "B08"], "target": ["B08", "B04"]}
    assert errors({**L, "r": node("rename_labels", data=CUBE, **swap)}) == [
        ("LabelExists", "/r/arguments/target")
    ]


def test_rename_labels_of_enumerated_labels():
    quartiles = cb("quantiles", data=param("data"), probabilities=[0.25, 0.5, 0.75])
    nodes = {**L, "q": node("apply_dimension", data=CUBE, dimension="t", target_dimension="q",
                            process=quartiles)}  # fmt: skip
    cube = cube_of({**nodes, "r": node("rename_labels", data=ref("q"), dimension="q",
                                       target=["q1", "q2", "q3"])})  # fmt: skip
    assert labels(cube, "q") == ("q1", "q2", "q3")
    short = node("rename_labels", data=ref("q"), dimension="q", target=["q1"])
    assert errors({**nodes, "r": short}) == [("LabelMismatch", "/r/arguments/target")]


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ({"source": ["B10"], "target": ["x"]}, ("LabelNotAvailable", "/r/arguments/source")),
        ({"source": ["B04"], "target": ["B08"]}, ("LabelExists", "/r/arguments/target")),
        ({"target": ["a"]}, ("LabelsNotEnumerated", "/r/arguments/dimension")),
        ({"dimension": "z", "target": ["a"]}, ("DimensionNotAvailable", "/r/arguments/dimension")),
    ],
)
def test_rename_labels_errors(arguments, expected):
    arguments = {"dimension": "bands", **arguments}
    assert errors({**L, "r": node("rename_labels", data=CUBE, **arguments)}) == [expected]


def test_rename_labels_source_target_lengths():
    args = {"dimension": "bands", "source": ["B04", "B08"], "target": ["red"]}
    assert raw_errors({**L, "r": node("rename_labels", data=CUBE, **args)}) == [
        ("LabelMismatch", "/r/arguments/target")
    ]


def test_dimension_labels():
    t = type_of({**L, "d": node("dimension_labels", data=CUBE, dimension="t")})
    assert isinstance(t, ArrayType) and t.item == ScalarType.of("datetime")
    assert len(t.labels) == 12 and t.dimension == "t"
    b = type_of({**L, "d": node("dimension_labels", data=CUBE, dimension="bands")})
    assert b.item == ScalarType.of("string")
    assert errors({**L, "d": node("dimension_labels", data=CUBE, dimension="z")}) == [
        ("DimensionNotAvailable", "/d/arguments/dimension")
    ]


def test_flatten_and_unflatten_dimensions():
    flat = {**L, "f": node("flatten_dimensions", data=CUBE, dimensions=["t", "bands"],
                           target_dimension="tb")}  # fmt: skip
    cube = cube_of(flat)
    assert cube.names == ("tb", "y", "x") and sizes(cube)["tb"] == 156 and cube.bands == ()
    assert labels(cube, "tb")[1] == f"{DATES[0]}~B02"
    back = cube_of({**flat, "u": node("unflatten_dimension", data=ref("f"), dimension="tb",
                                      target_dimensions=["time", "band"])})  # fmt: skip
    assert back.names == ("time", "band", "y", "x")
    assert labels(back, "time") == DATES and labels(back, "band") == BANDS
    assert back.dimension("band").type == "other"


def test_flatten_and_unflatten_errors():
    bad = node("flatten_dimensions", data=CUBE, dimensions=["t", "z"], target_dimension="q")
    assert errors({**L, "f": bad}) == [("DimensionNotAvailable", "/f/arguments/dimensions")]
    bad = node("flatten_dimensions", data=CUBE, dimensions=["t", "bands"], target_dimension="x")
    assert errors({**L, "f": bad}) == [("TargetDimensionExists", "/f/arguments/target_dimension")]
    bad = node("unflatten_dimension", data=CUBE, dimension="z", target_dimensions=["a", "b"])
    assert errors({**L, "u": bad}) == [("DimensionNotAvailable", "/u/arguments/dimension")]
    bad = node("unflatten_dimension", data=CUBE, dimension="t", target_dimensions=["x", "b"])
    assert errors({**L, "u": bad}) == [("TargetDimensionExists", "/u/arguments/target_dimensions")]
    bad = node("unflatten_dimension", data=CUBE, dimension="bands", target_dimensions=["a", "b"])
    assert errors({**L, "u": bad}) == [
        ("ProcessParameterInvalid", "/u/arguments/target_dimensions")
    ]


def test_flatten_dimensions_named_twice():
    twice = node("flatten_dimensions", data=CUBE, dimensions=["t", "t"], target_dimension="q")
    assert raw_errors({**L, "f": twice}) == [("ProcessParameterInvalid", "/f/arguments/dimensions")]


# ---------------------------------------------------------------------------------------
# Reducing and applying


def test_reduce_dimension_drops_it_and_computes_float64():
    graph, diagnostics = infer(
        {**L, "r": node("reduce_dimension", data=CUBE, dimension="t", reducer=MEAN)}
    )
    assert diagnostics == []
    cube = graph.node("r").type
    assert cube.names == ("bands", "y", "x") and cube.dtype == "float64"
    assert [b.scale for b in cube.bands] == [None] * 13 and cube.nodata is None
    data = callback_graph(graph, "r", "reducer").parameter("data").type
    assert data == ArrayType(ScalarType.of("number", "null"), True, DATES, "t")


def test_reduce_dimension_with_a_boolean_reducer_gives_bool():
    reducer = cb("any", data=param("data"))
    bools = {**L, "b": node("apply", data=CUBE, process=cb("gt", x=param("x"), y=5))}
    cube = cube_of({**bools, "r": node("reduce_dimension", data=ref("b"), dimension="t",
                                       reducer=reducer)})  # fmt: skip
    assert cube.dtype == "bool"


def test_reduce_dimension_errors():
    assert errors({**L, "r": node("reduce_dimension", data=CUBE, dimension="z", reducer=MEAN)}) == [
        ("DimensionNotAvailable", "/r/arguments/dimension")
    ]  # fmt: skip
    array = cb("array_apply", data=param("data"), process=cb("absolute", x=param("x")))
    to_array = node("reduce_dimension", data=CUBE, dimension="t", reducer=array)
    assert errors({**L, "r": to_array}) == [("ProcessParameterInvalid", "/r/arguments/reducer")]


def test_reduce_spatial_drops_x_and_y():
    cube = cube_of({**L, "r": node("reduce_spatial", data=CUBE, reducer=MEAN)})
    assert cube.names == ("t", "bands") and cube.dtype == "float64"
    again = {**L, "r": node("reduce_spatial", data=CUBE, reducer=MEAN)}
    assert errors({**again, "s": node("reduce_spatial", data=ref("r"), reducer=MEAN)}) == [
        ("ProcessParameterInvalid", "/s/arguments/data")
    ]


def test_apply_keeps_dimensions_and_types_x():
    graph, _ = infer({**L, "a": node("apply", data=CUBE, process=cb("add", x=param("x"), y=1))})
    cube = graph.node("a").type
    assert sizes(cube) == FULL and cube.dtype == "float64"
    inner = callback_graph(graph, "a", "process")
    assert inner.parameter("x").type == ScalarType.of("number", "null")
    assert inner.node("cb").type == ScalarType.of("number", "null")
    flags = cube_of({**L, "a": node("apply", data=CUBE, process=cb("is_valid", x=param("x")))})
    assert flags.dtype == "bool"


def test_apply_callbacks_must_give_one_value():
    array = cb("array_create", data=[param("x"), param("x")])
    assert errors({**L, "a": node("apply", data=CUBE, process=array)}) == [
        ("ProcessParameterInvalid", "/a/arguments/process")
    ]


def test_values_of_unknown_cubes_are_unknown():
    nodes = {"s": node("load_stac", url="https://x.test/c")}
    graph, diagnostics = infer({**nodes, "a": node("apply", data=ref("s"),
                                                   process=cb("not", x=param("x")))})  # fmt: skip
    assert diagnostics == []
    assert callback_graph(graph, "a", "process").parameter("x").type == ANY
    assert graph.node("a").type.unknown_dimensions


def test_apply_dimension_same_length_keeps_the_labels():
    cube = cube_of({**L, "a": node("apply_dimension", data=CUBE, dimension="t",
                                   process=cb("cumsum", data=param("data")))})  # fmt: skip
    assert labels(cube, "t") == DATES and cube.dtype == "float64"
    sort = cb("sort", data=param("data"), nodata=True)
    on_x = cube_of({**L, "a": node("apply_dimension", data=CUBE, dimension="x", process=sort)})
    assert on_x.dimension("x") == cube_of(L).dimension("x")


def test_apply_dimension_other_length_renumbers_the_labels():
    quartiles = cb("quantiles", data=param("data"), probabilities=[0.25, 0.5, 0.75])
    cube = cube_of({**L, "a": node("apply_dimension", data=CUBE, dimension="t",
                                   process=quartiles)})  # fmt: skip
    t = cube.dimension("t")
    assert (t.type, t.labels, t.extent) == ("temporal", (0, 1, 2), None)
    dropped = cb("sort", data=param("data"))
    unknown = cube_of({**L, "a": node("apply_dimension", data=CUBE, dimension="x",
                                      process=dropped)})  # fmt: skip
    x = unknown.dimension("x")
    assert (x.name, x.type, x.size, x.crs) == ("x", "spatial", None, None)


def test_apply_dimension_to_a_new_target_dimension():
    extrema = cb("extrema", data=param("data"))
    cube = cube_of({**L, "a": node("apply_dimension", data=CUBE, dimension="bands",
                                   target_dimension="stat", process=extrema)})  # fmt: skip
    assert cube.names == ("t", "stat", "y", "x")
    assert cube.dimension("stat").type == "other" and labels(cube, "stat") == (0, 1)
    assert cube.bands == ()


def test_apply_dimension_into_an_existing_single_label_dimension():
    nodes = {**L, "d": node("add_dimension", data=CUBE, name="stat", label="s")}
    extrema = cb("extrema", data=param("data"))
    cube = cube_of({**nodes, "a": node("apply_dimension", data=ref("d"), dimension="t",
                                       target_dimension="stat", process=extrema)})  # fmt: skip
    assert cube.names == ("stat", "bands", "y", "x") and labels(cube, "stat") == (0, 1)


def test_apply_dimension_errors():
    cumsum = cb("cumsum", data=param("data"))
    missing = node("apply_dimension", data=CUBE, dimension="z", process=cumsum)
    assert errors({**L, "a": missing}) == [("DimensionNotAvailable", "/a/arguments/dimension")]
    into = node("apply_dimension", data=CUBE, dimension="t", target_dimension="bands",
                process=cumsum)  # fmt: skip
    assert errors({**L, "a": into}) == [
        ("ProcessParameterInvalid", "/a/arguments/target_dimension")
    ]
    scalar = cb("array_element", data=param("data"), index=0)
    to_scalar = node("apply_dimension", data=CUBE, dimension="t", process=scalar)
    assert errors({**L, "a": to_scalar}) == [("ProcessParameterInvalid", "/a/arguments/process")]


def test_apply_kernel_keeps_dimensions():
    kernel = [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
    cube = cube_of({**L, "k": node("apply_kernel", data=CUBE, kernel=kernel, factor=1 / 9)})
    assert sizes(cube) == FULL and cube.dtype == "float64"
    assert raw_errors({**L, "k": node("apply_kernel", data=CUBE, kernel=[[1, 1], [1, 1]])}) == [
        ("KernelDimensionsUneven", "/k/arguments/kernel")
    ]


def test_apply_neighborhood_keeps_dimensions_and_shows_a_window():
    size = [{"dimension": "x", "value": 64, "unit": "px"},
            {"dimension": "y", "value": 64, "unit": "px"}]  # fmt: skip
    overlap = [{"dimension": "x", "value": 8, "unit": "px"}]
    process = cb("apply", data=param("data"), process=cb("absolute", x=param("x")))
    graph, diagnostics = infer({**L, "n": node("apply_neighborhood", data=CUBE, size=size,
                                               overlap=overlap, process=process)})  # fmt: skip
    assert diagnostics == []
    assert sizes(graph.node("n").type) == FULL
    window = callback_graph(graph, "n", "process").parameter("data").type
    assert sizes(window) == {"t": 12, "bands": 13, "y": 64, "x": 80}


def test_apply_neighborhood_errors():
    size = [{"dimension": "z", "value": 64, "unit": "px"}]
    process = cb("apply", data=param("data"), process=cb("absolute", x=param("x")))
    missing = node("apply_neighborhood", data=CUBE, size=size, process=process)
    assert errors({**L, "n": missing}) == [("DimensionNotAvailable", "/n/arguments/size")]
    size = [{"dimension": "x", "value": 64, "unit": "px"}]
    reduce = cb("reduce_dimension", data=param("data"), dimension="t", reducer=MEAN)
    assert errors({**L, "n": node("apply_neighborhood", data=CUBE, size=size, process=reduce)}) == [
        ("DataCubePropertiesImmutable", "/n/arguments/process")
    ]  # fmt: skip


def test_apply_polygon_keeps_dimensions():
    process = cb("apply", data=param("data"), process=cb("absolute", x=param("x")))
    cube = cube_of({**L, **VECTOR, "p": node("apply_polygon", data=CUBE, geometries=ref("g"),
                                             process=process)})  # fmt: skip
    assert sizes(cube) == FULL and cube.dtype == "float64"
    bad = node("apply_polygon", data=CUBE, geometries=CUBE, process=process)
    assert errors({**L, "p": bad}) == [("ProcessParameterInvalid", "/p/arguments/geometries")]


def test_predict_curve_gives_the_labels():
    function = cb("multiply", x=param("x"), y=2)
    new = ["2024-01-01", "2024-02-01"]
    cube = cube_of({**L, "p": node("predict_curve", parameters=CUBE, function=function,
                                   dimension="t", labels=new)})  # fmt: skip
    assert labels(cube, "t") == tuple(new) and cube.dtype == "float64"
    other = cube_of({**L, "p": node("predict_curve", parameters=CUBE, function=function,
                                    dimension="time", labels=new)})  # fmt: skip
    assert other.unknown_dimensions


# ---------------------------------------------------------------------------------------
# Aggregation


def test_aggregate_temporal_labels_are_interval_starts_or_labels():
    intervals = [["2023-01-01", "2023-07-01"], ["2023-07-01", "2024-01-01"]]
    cube = cube_of({**L, "a": node("aggregate_temporal", data=CUBE, intervals=intervals,
                                   reducer=MEAN)})  # fmt: skip
    assert labels(cube, "t") == ("2023-01-01", "2023-07-01") and cube.dtype == "float64"
    named = cube_of({**L, "a": node("aggregate_temporal", data=CUBE, intervals=intervals,
                                    labels=["h1", "h2"], reducer=MEAN)})  # fmt: skip
    assert labels(named, "t") == ("h1", "h2") and named.dimension("t").type == "temporal"


def test_aggregate_temporal_errors():
    same = [["2023-01-01", "2023-07-01"], ["2023-01-01", "2024-01-01"]]
    base = {"data": CUBE, "reducer": MEAN}
    assert errors({**L, "a": node("aggregate_temporal", intervals=same, **base)}) == [
        ("DistinctDimensionLabelsRequired", "/a/arguments/intervals")
    ]
    twice = node("aggregate_temporal", data=CUBE, intervals=same, labels=["a", "a"])
    assert raw_errors({**L, "a": twice}) == [
        ("DistinctDimensionLabelsRequired", "/a/arguments/labels")
    ]
    assert errors({**L, "a": node("aggregate_temporal", intervals=same, labels=["a"], **base)}) == [
        ("ProcessParameterInvalid", "/a/arguments/labels")
    ]  # fmt: skip
    ok = [["2023-01-01", "2023-07-01"]]
    assert errors({**L, "a": node("aggregate_temporal", intervals=ok, dimension="bands",
                                  **base)}) == [
        ("DimensionNotAvailable", "/a/arguments/dimension")
    ]  # fmt: skip
    two = {**L, "d": node("add_dimension", data=CUBE, name="t2", label="2023-01-01",
                          type="temporal")}  # fmt: skip
    assert errors({**two, "a": node("aggregate_temporal", data=ref("d"), intervals=ok,
                                    reducer=MEAN)}) == [("TooManyDimensions", "/a")]  # fmt: skip
    empty = [["2023-07-01", "2023-01-01"]]
    assert raw_errors({**L, "a": node("aggregate_temporal", data=CUBE, intervals=empty)}) == [
        ("TemporalExtentEmpty", "/a/arguments/intervals")
    ]


def test_aggregate_temporal_period_keeps_the_dimension_and_labels_its_periods():
    cube = cube_of({**L, "a": node("aggregate_temporal_period", data=CUBE, period="month",
                                   reducer=MEAN)})  # fmt: skip
    t = cube.dimension("t")
    months = tuple(f"2023-{m:02d}" for m in range(1, 13))  # the sample's dates: 2023
    assert (t.type, t.labels, cube.names) == ("temporal", months, ("t", "bands", "y", "x"))
    two = {**L, "d": node("add_dimension", data=CUBE, name="t2", label="2023-01-01",
                          type="temporal")}  # fmt: skip
    period = {"period": "month", "reducer": MEAN}
    assert errors({**two, "a": node("aggregate_temporal_period", data=ref("d"), **period)}) == [
        ("TooManyDimensions", "/a")
    ]
    assert errors({**two, "a": node("aggregate_temporal_period", data=ref("d"), dimension=None,
                                    **period)}) == [
        ("TooManyDimensions", "/a/arguments/dimension")
    ]  # fmt: skip
    chosen = cube_of({**two, "a": node("aggregate_temporal_period", data=ref("d"),
                                       dimension="t2", **period)})  # fmt: skip
    assert labels(chosen, "t") == DATES and labels(chosen, "t2") == ("2023-01",)
    assert errors({**L, "a": node("aggregate_temporal_period", data=CUBE, dimension="x",
                                  **period)}) == [
        ("DimensionNotAvailable", "/a/arguments/dimension")
    ]  # fmt: skip


def test_climatological_normal_has_the_period_labels():
    args = {"data": CUBE, "climatology_period": [2020, 2023]}
    months = cube_of({**L, "c": node("climatological_normal", period="month", **args)})
    assert labels(months, "t") == tuple(f"{m:02d}" for m in range(1, 13))
    assert months.dtype == "float64"
    days = cube_of({**L, "c": node("climatological_normal", period="day", **args)})
    assert sizes(days)["t"] == 365
    seasons = cube_of({**L, "c": node("climatological_normal", period="season", **args)})
    assert labels(seasons, "t") == ("djf", "mam", "jja", "son")


def test_climatological_normal_errors():
    assert errors({**L, "c": node("climatological_normal", data=CUBE, period="month")}) == [
        ("NoDataAvailable", "/c/arguments/data")
    ]
    two = {**L, "d": node("add_dimension", data=CUBE, name="t2", label="2023-01-01",
                          type="temporal")}  # fmt: skip
    args = {"period": "month", "climatology_period": [2020, 2023]}
    assert errors({**two, "c": node("climatological_normal", data=ref("d"), **args)}) == [
        ("ProcessParameterInvalid", "/c/arguments/data")
    ]
    # labels that are not dates: aggregate_temporal_period's ('2023-01'), known statically
    texts = {**L, "d": node("aggregate_temporal_period", data=CUBE, period="month",
                            reducer=MEAN)}  # fmt: skip
    assert errors({**texts, "c": node("climatological_normal", data=ref("d"), **args)}) == [
        ("ProcessParameterInvalid", "/c/arguments/data")
    ]


def test_anomaly_keeps_the_data_dimensions():
    nodes = {
        **L,
        "a": node("aggregate_temporal_period", data=CUBE, period="month", reducer=MEAN),
        "n": node("climatological_normal", data=CUBE, period="month",
                  climatology_period=[2020, 2023]),
    }  # fmt: skip
    cube = cube_of({**nodes, "x": node("anomaly", data=ref("a"), normals=ref("n"), period="month")})
    assert cube.names == ("t", "bands", "y", "x") and cube.dtype == "float64"
    seasons = {**nodes, "s": node("climatological_normal", data=CUBE, period="season",
                                  climatology_period=[2020, 2023])}  # fmt: skip
    wrong = node("anomaly", data=ref("a"), normals=ref("s"), period="month")
    assert errors({**seasons, "x": wrong}) == [("ProcessParameterInvalid", "/x/arguments/normals")]
    daily = node("anomaly", data=CUBE, normals=ref("n"), period="month")
    assert errors({**nodes, "x": daily}) == [("ProcessParameterInvalid", "/x/arguments/data")]


def test_aggregate_spatial_gives_a_vector_cube():
    cube = cube_of({**L, "a": node("aggregate_spatial", data=CUBE, geometries=GEOJSON,
                                   reducer=MEAN)})  # fmt: skip
    assert cube.vector and cube.names == ("t", "bands", "geometry")
    assert sizes(cube) == {"t": 12, "bands": 13, "geometry": 3} and cube.dtype == "float64"
    stats = cube_of({**L, **METRIC_VECTOR, "a": node("aggregate_spatial", data=CUBE,
                                                     geometries=ref("p"), reducer=MEAN,
                                                     target_dimension="stats")})  # fmt: skip
    assert stats.names == ("t", "bands", "geometry", "stats")
    assert stats.dimension("geometry").crs == "32631"
    assert labels(stats, "stats") == ("value", "total_count", "valid_count")


def test_aggregate_spatial_errors():
    bad = node("aggregate_spatial", data=CUBE, geometries=GEOJSON, reducer=MEAN,
               target_dimension="bands")  # fmt: skip
    assert errors({**L, "a": bad}) == [("TargetDimensionExists", "/a/arguments/target_dimension")]
    raster = node("aggregate_spatial", data=CUBE, geometries=CUBE, reducer=MEAN)
    assert errors({**L, "a": raster}) == [("ProcessParameterInvalid", "/a/arguments/geometries")]


def test_aggregate_spatial_window_coarsens_the_grid():
    pad = cube_of({**L, "a": node("aggregate_spatial_window", data=CUBE, size=[3, 3],
                                  reducer=MEAN)})  # fmt: skip
    assert sizes(pad) == {**FULL, "y": 171, "x": 171} and pad.dimension("x").step == 30
    assert pad.dimension("x").extent == (600000, 600000 + 171 * 30)
    assert pad.dimension("y").extent == (5695000 - 171 * 30, 5695000)
    trim = cube_of({**L, "a": node("aggregate_spatial_window", data=CUBE, size=[3, 2],
                                   boundary="trim", reducer=MEAN)})  # fmt: skip
    assert sizes(trim) == {**FULL, "y": 256, "x": 170}


# ---------------------------------------------------------------------------------------
# Combining and resampling


def test_merge_cubes_unites_band_labels():
    nodes = {
        **L,
        "a": node("filter_bands", data=CUBE, bands=["B04"]),
        "b": node("filter_bands", data=CUBE, bands=["B08", "B04"]),
    }
    resolver = cb("max", data=[param("x"), param("y")])
    cube = cube_of({**nodes, "m": node("merge_cubes", cube1=ref("a"), cube2=ref("b"),
                                       overlap_resolver=resolver)})  # fmt: skip
    assert labels(cube, "bands") == ("B04", "B08") and cube.dtype == "float64"
    assert [b.name for b in cube.bands] == ["B04", "B08"]
    disjoint = {**nodes, "b": node("filter_bands", data=CUBE, bands=["B08"])}
    plain = cube_of({**disjoint, "m": node("merge_cubes", cube1=ref("a"), cube2=ref("b"))})
    assert labels(plain, "bands") == ("B04", "B08") and plain.dtype == "uint16"


def test_merge_cubes_sorts_temporal_labels():
    nodes = {
        **L,
        "late": node("filter_temporal", data=CUBE, extent=["2023-07-01", "2024-01-01"]),
        "early": node("filter_temporal", data=CUBE, extent=["2023-01-01", "2023-07-01"]),
    }
    cube = cube_of({**nodes, "m": node("merge_cubes", cube1=ref("late"), cube2=ref("early"))})
    assert labels(cube, "t") == DATES


def test_merge_cubes_of_a_lower_dimensional_cube():
    nodes = {
        **L,
        "r": node("reduce_dimension", data=CUBE, dimension="t", reducer=MEAN),
        "s": node("reduce_dimension", data=ref("r"), dimension="bands", reducer=MEAN),
    }
    resolver = cb("add", x=param("x"), y=param("y"))
    cube = cube_of({**nodes, "m": node("merge_cubes", cube1=ref("s"), cube2=CUBE,
                                       overlap_resolver=resolver)})  # fmt: skip
    assert cube.names == ("t", "bands", "y", "x") and sizes(cube) == FULL


def test_merge_cubes_errors():
    assert errors({**L, "m": node("merge_cubes", cube1=CUBE, cube2=CUBE)}) == [
        ("OverlapResolverMissing", "/m")
    ]
    nodes = {
        **L,
        "a": node("reduce_dimension", data=CUBE, dimension="t", reducer=MEAN),
        "b": node("reduce_dimension", data=CUBE, dimension="bands", reducer=MEAN),
    }
    assert errors({**nodes, "m": node("merge_cubes", cube1=ref("a"), cube2=ref("b"))}) == [
        ("ProcessParameterInvalid", "/m/arguments/cube2")
    ]
    vector = {**L, "v": node("aggregate_spatial", data=CUBE, geometries=GEOJSON, reducer=MEAN)}
    assert errors({**vector, "m": node("merge_cubes", cube1=CUBE, cube2=ref("v"))}) == [
        ("ProcessParameterInvalid", "/m/arguments/cube2")
    ]


def test_merge_cubes_with_a_dimension_of_another_type():
    nodes = {
        **L,
        "a": node("rename_dimension", data=CUBE, source="t", target="tmp"),
        "b": node("rename_dimension", data=ref("a"), source="bands", target="t"),
        "c": node("rename_dimension", data=ref("b"), source="tmp", target="bands"),
    }
    assert errors({**nodes, "m": node("merge_cubes", cube1=CUBE, cube2=ref("c"))}) == [
        ("ProcessParameterInvalid", "/m/arguments/cube2")
    ]


def test_resample_spatial_to_a_resolution():
    cube = cube_of({**L, "r": node("resample_spatial", data=CUBE, resolution=20)})
    assert sizes(cube) == {**FULL, "y": 256, "x": 256} and cube.dtype == "uint16"
    assert cube.dimension("x").step == 20 and cube.dimension("x").crs == "32631"
    coarse = cube_of({**L, "r": node("resample_spatial", data=CUBE, resolution=[60, 20],
                                     method="average", align="lower-left")})  # fmt: skip
    # 5120 m at 60 m: 86 columns, the last reaching past the edge (issue 18: the grid
    # covers the extent, ceil on both axes)
    assert sizes(coarse) == {**FULL, "y": 256, "x": 86} and coarse.dtype == "float64"
    assert coarse.dimension("x").extent == (600000, 600000 + 86 * 60)
    assert coarse.dimension("y").extent == (5689880, 5695000)


def test_resample_spatial_to_a_projection():
    cube = cube_of({**L, "r": node("resample_spatial", data=CUBE, projection=4326)})
    x = cube.dimension("x")
    assert (x.crs, x.extent, x.size) == ("4326", None, None)
    same = cube_of({**L, "r": node("resample_spatial", data=CUBE, projection=32631)})
    assert same == cube_of(L)


def test_resample_cube_spatial_takes_the_target_grid():
    nodes = {**L, "c": node("resample_spatial", data=CUBE, resolution=40)}
    cube = cube_of({**nodes, "r": node("resample_cube_spatial", data=CUBE, target=ref("c"))})
    assert sizes(cube) == {**FULL, "y": 128, "x": 128} and cube.dtype == "uint16"
    unknown = {**L, "s": node("load_stac", url="https://x.test/c")}
    cube = cube_of({**unknown, "r": node("resample_cube_spatial", data=CUBE, target=ref("s"),
                                         method="bilinear")})  # fmt: skip
    assert sizes(cube) == {**FULL, "y": None, "x": None} and cube.dtype == "float64"


def test_resample_cube_temporal_takes_the_target_labels():
    nodes = {**L, "f": node("filter_temporal", data=CUBE, extent=["2023-01-01", "2023-04-01"])}
    cube = cube_of({**nodes, "r": node("resample_cube_temporal", data=CUBE, target=ref("f"))})
    assert labels(cube, "t") == DATES[:3] and cube.dtype == "uint16"
    named = cube_of({**nodes, "r": node("resample_cube_temporal", data=CUBE, target=ref("f"),
                                        dimension="t")})  # fmt: skip
    assert labels(named, "t") == DATES[:3]


def test_resample_cube_temporal_errors():
    base = {"data": CUBE, "target": CUBE}
    assert errors({**L, "r": node("resample_cube_temporal", dimension="z", **base)}) == [
        ("DimensionNotAvailable", "/r/arguments/dimension")
    ]
    assert errors({**L, "r": node("resample_cube_temporal", dimension="bands", **base)}) == [
        ("DimensionMismatch", "/r/arguments/dimension")
    ]
    renamed = {**L, "n": node("rename_dimension", data=CUBE, source="t", target="time")}
    assert errors({**renamed, "r": node("resample_cube_temporal", data=CUBE, target=ref("n"))}) == [
        ("DimensionMismatch", "/r/arguments/target")
    ]  # fmt: skip


# ---------------------------------------------------------------------------------------
# Bands: indices and analysis-ready data


def test_ndvi_drops_or_appends_the_bands():
    cube = cube_of({**L, "n": node("ndvi", data=CUBE)})
    assert cube.names == ("t", "y", "x") and cube.dtype == "float64" and cube.bands == ()
    kept = cube_of({**L, "n": node("ndvi", data=CUBE, target_band="NDVI")})
    assert labels(kept, "bands")[-1] == "NDVI" and kept.bands[-1].name == "NDVI"


def test_ndvi_errors():
    assert errors({**L, "n": node("ndvi", data=CUBE, target_band="B04")}) == [
        ("BandExists", "/n/arguments/target_band")
    ]
    assert errors({**L, "n": node("ndvi", data=CUBE, nir="B10")}) == [
        ("NirBandAmbiguous", "/n/arguments/nir")
    ]
    assert errors({**L, "n": node("ndvi", data=CUBE, red="B10")}) == [
        ("RedBandAmbiguous", "/n/arguments/red")
    ]
    reduced = {**L, "r": node("reduce_dimension", data=CUBE, dimension="bands", reducer=MEAN)}
    assert errors({**reduced, "n": node("ndvi", data=ref("r"))}) == [
        ("DimensionAmbiguous", "/n/arguments/data")
    ]


def test_ndvi_with_two_bands_dimensions():
    two = {**L, "d": node("add_dimension", data=CUBE, name="b2", label="x", type="bands")}
    assert errors({**two, "n": node("ndvi", data=ref("d"))}) == [
        ("DimensionAmbiguous", "/n/arguments/data")
    ]


def test_sar_backscatter_adds_the_flagged_bands():
    cube = cube_of({**L, "s": node("sar_backscatter", data=CUBE, mask=True,
                                   local_incidence_angle=True)})  # fmt: skip
    assert labels(cube, "bands")[-2:] == ("mask", "local_incidence_angle")
    assert cube.dtype == "float64" and cube.bands[0].scale is None
    plain = cube_of({**L, "s": node("sar_backscatter", data=CUBE)})
    assert labels(plain, "bands") == BANDS


def test_ard_normalized_radar_backscatter_adds_mask_and_incidence_angle():
    cube = cube_of({**L, "s": node("ard_normalized_radar_backscatter", data=CUBE,
                                   contributing_area=True)})  # fmt: skip
    assert labels(cube, "bands")[13:] == ("mask", "contributing_area", "local_incidence_angle")


def test_ard_surface_reflectance_and_atmospheric_correction():
    ard = node("ard_surface_reflectance", data=CUBE, atmospheric_correction_method="FORCE",
               cloud_detection_method="Fmask")  # fmt: skip
    cube = cube_of({**L, "a": ard})
    assert labels(cube, "bands") is None and sizes(cube)["t"] == 12
    corrected = cube_of({**L, "a": node("atmospheric_correction", data=CUBE, method=None)})
    assert labels(corrected, "bands") == BANDS and corrected.dtype == "float64"


def test_cloud_detection_replaces_the_bands():
    cube = cube_of({**L, "c": node("cloud_detection", data=CUBE, method=None)})
    assert cube.names == ("t", "bands", "y", "x") and labels(cube, "bands") is None
    assert cube.bands == () and cube.dtype == "float64"


@pytest.mark.parametrize(
    "process, arguments",
    [
        ("sar_backscatter", {}),
        ("ard_normalized_radar_backscatter", {}),
        ("atmospheric_correction", {"method": None}),
        (
            "ard_surface_reflectance",
            {"atmospheric_correction_method": "FORCE", "cloud_detection_method": "Fmask"},
        ),
    ],
)
def test_unknown_elevation_models(process, arguments):
    bad = node(process, data=CUBE, elevation_model="NO_DEM", **arguments)
    assert errors({**L, "a": bad}) == [
        ("DigitalElevationModelInvalid", "/a/arguments/elevation_model")
    ]


def test_raster_processes_need_x_and_y():
    reduced = {**L, "r": node("reduce_spatial", data=CUBE, reducer=MEAN)}
    assert errors({**reduced, "s": node("sar_backscatter", data=ref("r"))}) == [
        ("ProcessParameterInvalid", "/s/arguments/data")
    ]


# ---------------------------------------------------------------------------------------
# Vector cubes


def test_vector_buffer_needs_metres():
    cube = cube_of({**METRIC_VECTOR, "b": node("vector_buffer", geometries=ref("p"), distance=5)})
    assert sizes(cube) == {"geometry": 3} and cube.vector
    assert errors({**VECTOR, "b": node("vector_buffer", geometries=ref("g"), distance=5)}) == [
        ("UnitMismatch", "/b/arguments/distance")
    ]


def test_vector_reproject_sets_the_crs():
    cube = cube_of(METRIC_VECTOR)
    assert cube.dimension("geometry").crs == "32631"
    props = {"g": node("load_geojson", data=GEOJSON, properties=["name"])}
    bad = node("vector_reproject", data=ref("g"), projection=32631, dimension="properties")
    assert errors({**props, "p": bad}) == [("DimensionNotAvailable", "/p/arguments/dimension")]
    bad = node("vector_reproject", data=ref("g"), projection=32631, dimension="nope")
    assert errors({**props, "p": bad}) == [("DimensionNotAvailable", "/p/arguments/dimension")]


def test_vector_to_points():
    grouped = cube_of({**METRIC_VECTOR, "r": node("vector_to_random_points", data=ref("p"))})
    assert sizes(grouped) == {"geometry": 3}
    single = node("vector_to_random_points", data=ref("p"), group=False, geometry_count=2)
    assert labels(cube_of({**METRIC_VECTOR, "r": single}), "geometry") is None
    few = node("vector_to_random_points", data=ref("p"), total_count=2)
    assert errors({**METRIC_VECTOR, "r": few}) == [("CountMismatch", "/r/arguments/total_count")]
    regular = cube_of({**METRIC_VECTOR, "r": node("vector_to_regular_points", data=ref("p"),
                                                  distance=10)})  # fmt: skip
    assert sizes(regular) == {"geometry": 3}
    degrees = node("vector_to_regular_points", data=ref("g"), distance=10)
    assert errors({**VECTOR, "r": degrees}) == [("UnitMismatch", "/r/arguments/distance")]


# ---------------------------------------------------------------------------------------
# Results, external processes, development


def test_save_result_and_exports():
    saved = {**L, "s": node("save_result", data=CUBE, format="GTiff")}
    assert type_of(saved) == pgc.ir.types.ObjectType("stac")
    exported = type_of({**saved, "e": node("export_workspace", data=ref("s"), workspace="w")})
    assert exported == pgc.ir.types.ObjectType("stac")
    collection = type_of({**saved, "e": node("export_collection", data=ref("s"), collection="c")})
    assert collection == ScalarType.of("string")
    modified = type_of({**saved, "e": node("stac_modify", data=ref("s"), changes={})})
    assert modified == pgc.ir.types.ObjectType("stac")


def test_save_result_errors():
    vector = {**L, "v": node("aggregate_spatial", data=CUBE, geometries=GEOJSON, reducer=MEAN)}
    assert errors({**vector, "s": node("save_result", data=ref("v"), format="GTiff")}) == [
        ("FormatUnsuitable", "/s/arguments/format")
    ]
    empty = {**L, "f": node("filter_temporal", data=CUBE, extent=["2030-01-01", "2031-01-01"])}
    assert errors({**empty, "s": node("save_result", data=ref("f"), format="GTiff")}) == [
        ("DataCubeEmpty", "/s/arguments/data")
    ]
    assert errors({**empty, "s": node("save_result", data=ref("f"), format="netCDF")}) == []


def test_inspect_passes_its_input_through():
    assert type_of({**L, "i": node("inspect", data=CUBE)}) == cube_of(L)
    assert type_of({"i": node("inspect", data=1)}) == ScalarType.of("integer")


def test_udfs_and_ogc_processes_give_their_return_schema():
    udf = {"data": CUBE, "udf": UDF, "runtime": "Python"}
    assert type_of({**L, "u": node("run_udf", **udf)}) == ANY
    ogc = type_of({**L, "o": node("run_ogcapi", data=CUBE, id="p")})
    assert ogc == ANY


# ---------------------------------------------------------------------------------------
# Scalars


def s(*kinds: str) -> ScalarType:
    return ScalarType.of(*kinds)


@pytest.mark.parametrize(
    "process, arguments, expected",
    [
        ("add", {"x": 1, "y": 2}, s("integer")),
        ("add", {"x": 1, "y": 2.5}, s("number")),
        ("add", {"x": 1, "y": None}, s("null")),
        ("subtract", {"x": 1, "y": 2}, s("integer")),
        ("multiply", {"x": 2, "y": 2}, s("integer")),
        ("mod", {"x": 7, "y": 2}, s("integer")),
        ("divide", {"x": 1, "y": 2}, s("number")),
        ("power", {"base": 2, "p": 2}, s("number")),
        ("log", {"x": 8, "base": 2}, s("number")),
        ("arctan2", {"y": 1, "x": 2}, s("number")),
        ("absolute", {"x": -1}, s("integer")),
        ("sgn", {"x": -1.5}, s("number")),
        ("sqrt", {"x": 4}, s("number")),
        ("exp", {"p": 1}, s("number")),
        ("ceil", {"x": 1.5}, s("integer")),
        ("int", {"x": 1.5}, s("integer")),
        ("round", {"x": 1.25, "p": 1}, s("number")),
        ("clip", {"x": 5, "min": 0, "max": 3}, s("integer")),
        ("linear_scale_range", {"x": 5, "inputMin": 0, "inputMax": 10}, s("number")),
        ("normalized_difference", {"x": 5, "y": 3}, s("number")),
        ("pi", {}, s("number")),
        ("e", {}, s("number")),
        ("nan", {}, s("number")),
        ("constant", {"x": "a"}, s("string")),
        ("eq", {"x": 1, "y": 1}, s("boolean")),
        ("neq", {"x": 1, "y": None}, s("boolean", "null")),
        ("lt", {"x": 1, "y": 2}, s("boolean")),
        ("between", {"x": 1, "min": 0, "max": 2}, s("boolean")),
        ("and", {"x": True, "y": None}, s("boolean", "null")),
        ("not", {"x": True}, s("boolean")),
        ("xor", {"x": True, "y": False}, s("boolean")),
        ("is_nan", {"x": 1}, s("boolean")),
        ("text_begins", {"data": "abc", "pattern": "a"}, s("boolean")),
        ("text_find", {"data": "abc", "pattern": "b"}, s("integer", "null")),
        ("text_concat", {"data": ["a", 1]}, s("string")),
        ("date_shift", {"date": "2023-01-01", "value": 1, "unit": "month"}, s("date")),
        # a date stays a date (the definition's example: 2018-01-01 plus 25 hours is 2018-01-02)
        ("date_shift", {"date": "2023-01-01", "value": 1, "unit": "hour"}, s("date")),
        ("date_shift", {"date": "2023-01-01T00:00:00Z", "value": 1, "unit": "day"}, s("datetime")),
        ("date_between", {"x": "2023-01-02", "min": "2023-01-01", "max": "2023-02-01"},
         s("boolean")),
        ("date_difference", {"date1": "2023-01-01", "date2": "2023-02-01"}, s("number")),
        ("if", {"value": True, "accept": 1, "reject": "a"}, s("integer")),
        ("if", {"value": False, "accept": 1}, s("null")),
        ("count", {"data": [1, None]}, s("integer")),
        ("first", {"data": [1, 2]}, s("integer", "null")),
        ("min", {"data": [1, 2]}, s("integer", "null")),
        ("sum", {"data": [1, 2.5]}, s("number", "null")),
        ("mean", {"data": [1, 2]}, s("number", "null")),
        ("all", {"data": [True, None]}, s("boolean")),
        ("any", {"data": [True, None], "ignore_nodata": False}, s("boolean", "null")),
        ("array_element", {"data": [1, 2], "index": 1}, s("integer")),
        ("array_element", {"data": [1, 2], "index": 5, "return_nodata": True},
         s("integer", "null")),
        ("array_contains", {"data": [1, 2], "value": 1}, s("boolean")),
        ("array_find", {"data": [1, 2], "value": 1}, s("integer", "null")),
    ],
)  # fmt: skip
def test_scalar_results(process, arguments, expected):
    assert type_of({"n": node(process, **arguments)}) == expected


def test_if_without_a_literal_value_is_the_union():
    nodes = {"v": node("gt", x=1, y=2), "i": node("if", value=ref("v"), accept=1, reject="a")}
    assert type_of(nodes) == s("integer", "string")


def test_callback_values_are_nullable_numbers():
    graph, _ = infer({**L, "a": node("apply", data=CUBE, process=cb("lt", x=param("x"), y=1))})
    assert callback_graph(graph, "a", "process").node("cb").type == s("boolean", "null")


def test_computed_arguments_of_the_wrong_type():
    nodes = {
        "e": node("array_element", data=["a", "b"], index=0),
        "a": node("add", x=ref("e"), y=1),
    }
    assert errors(nodes) == [("ProcessParameterInvalid", "/a/arguments/x")]
    cube_in_array = {**L, "m": node("array_element", data=[CUBE], index=0),
                     "a": node("absolute", x=ref("m"))}  # fmt: skip
    assert errors(cube_in_array) == [("ProcessParameterInvalid", "/a/arguments/x")]


def test_clip_errors():
    assert raw_errors({"c": node("clip", x=1, min=2, max=1)}) == [
        ("MinMaxSwapped", "/c/arguments/max")
    ]


# ---------------------------------------------------------------------------------------
# Arrays


def test_array_element_along_bands():
    b04 = cb("array_element", data=param("data"), label="B04")
    graph, diagnostics = infer(
        {**L, "r": node("reduce_dimension", data=CUBE, dimension="bands", reducer=b04)}
    )
    assert diagnostics == []
    assert callback_graph(graph, "r", "reducer").node("cb").type == s("number", "null")
    date = cb("array_element", data=param("data"), label="2023-01-10T10:30:00+00:00")
    by_date = node("reduce_dimension", data=CUBE, dimension="t", reducer=date)
    assert errors({**L, "r": by_date}) == []


IN_REDUCER = "/r/arguments/reducer/process_graph/cb/arguments"


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ({"label": "B10"}, ("ArrayElementNotAvailable", f"{IN_REDUCER}/label")),
        ({"index": 13}, ("ArrayElementNotAvailable", f"{IN_REDUCER}/index")),
    ],
)  # fmt: skip
def test_array_element_errors_along_bands(arguments, expected):
    element = cb("array_element", data=param("data"), **arguments)
    assert errors(
        {**L, "r": node("reduce_dimension", data=CUBE, dimension="bands", reducer=element)}
    ) == [expected]


def test_array_element_errors():
    assert errors({"a": node("array_element", data=[1, 2], label="x")}) == [
        ("ArrayNotLabeled", "/a/arguments/label")
    ]
    assert errors({"a": node("array_element", data=[1, 2], index=2)}) == [
        ("ArrayElementNotAvailable", "/a/arguments/index")
    ]
    assert raw_errors({"a": node("array_element", data=[1], index=0, label="x")}) == [
        ("ArrayElementParameterConflict", "/a/arguments/label")
    ]
    assert raw_errors({"a": node("array_element", data=[1])}) == [
        ("ArrayElementParameterMissing", "/a")
    ]


@pytest.mark.parametrize(
    "process, arguments, expected",
    [
        ("extrema", {"data": [1, 2]}, ArrayType(s("integer", "null"), labels=(0, 1))),
        ("quantiles", {"data": [1, 2], "probabilities": [0.1, 0.9]},
         ArrayType(s("number", "null"), labels=(0, 1))),
        ("quantiles", {"data": [1, 2], "q": 4}, ArrayType(s("number", "null"), labels=(0, 1, 2))),
        ("order", {"data": [3, 1], "nodata": True}, ArrayType(s("integer"), labels=(0, 1))),
        ("order", {"data": [3, 1]}, ArrayType(s("integer"))),
        ("sort", {"data": [3, None], "nodata": False},
         ArrayType(s("integer", "null"), labels=(0, 1))),
        ("sort", {"data": [3, None]}, ArrayType(s("integer"))),
        ("rearrange", {"data": [3, 1], "order": [1, 0]}, ArrayType(s("integer"), labels=(0, 1))),
        ("cumsum", {"data": [1, 2]}, ArrayType(s("integer", "null"), labels=(0, 1))),
        ("array_interpolate_linear", {"data": [1, None, 3]},
         ArrayType(s("number", "null"), labels=(0, 1, 2))),
        ("array_append", {"data": [1], "value": "a"},
         ArrayType(s("integer", "string"), labels=(0, 1))),
        ("array_concat", {"array1": [1], "array2": [2.5]},
         ArrayType(s("integer", "number"), labels=(0, 1))),
        ("array_create", {"data": [1, 2], "repeat": 3},
         ArrayType(s("integer"), labels=tuple(range(6)))),
        ("array_create", {}, ArrayType(ANY, labels=())),
        ("array_create_labeled", {"data": [1, 2], "labels": ["a", "b"]},
         ArrayType(s("integer"), labeled=True, labels=("a", "b"))),
        ("array_labels", {"data": [1, 2]}, ArrayType(s("integer"), labels=(0, 1))),
        ("array_modify", {"data": [1, 2, 3], "values": ["a"], "index": 1, "length": 2},
         ArrayType(s("integer", "string"), labels=(0, 1))),
        ("array_filter", {"data": [1, 2], "condition": cb("gt", x=param("x"), y=1)},
         ArrayType(s("integer"))),
        ("array_apply", {"data": [1, 2], "process": cb("divide", x=param("x"), y=2)},
         ArrayType(s("number"), labels=(0, 1))),
        ("fit_curve", {"data": [1, 2], "parameters": [1, 1],
                       "function": cb("multiply", x=param("x"), y=2)},
         ArrayType(s("number"), labels=(0, 1))),
    ],
)  # fmt: skip
def test_array_results(process, arguments, expected):
    assert type_of({"n": node(process, **arguments)}) == expected


def test_labeled_array_processes():
    labeled = {"l": node("array_create_labeled", data=[1, 2], labels=["a", "b"])}
    appended = type_of({**labeled, "a": node("array_append", data=ref("l"), value=3, label="c")})
    assert appended == ArrayType(s("integer"), labeled=True, labels=("a", "b", "c"))
    labels_of = type_of({**labeled, "a": node("array_labels", data=ref("l"))})
    assert labels_of == ArrayType(s("string"), labels=(0, 1))
    other = {**labeled, "m": node("array_create_labeled", data=[3], labels=["c"])}
    both = type_of({**other, "c": node("array_concat", array1=ref("l"), array2=ref("m"))})
    assert both == ArrayType(s("integer"), labeled=True, labels=("a", "b", "c"))


def test_array_errors():
    labeled = {"l": node("array_create_labeled", data=[1, 2], labels=["a", "b"])}
    assert errors({**labeled, "a": node("array_append", data=ref("l"), value=3, label="a")}) == [
        ("LabelExists", "/a/arguments/label")
    ]
    assert errors({"a": node("array_append", data=[1], value=3, label="a")}) == [
        ("ArrayNotLabeled", "/a/arguments/label")
    ]
    assert errors({**labeled, "c": node("array_concat", array1=ref("l"), array2=ref("l"))}) == [
        ("ArrayLabelConflict", "/c/arguments/array2")
    ]
    assert errors({**labeled, "c": node("array_modify", data=ref("l"), values=ref("l"),
                                        index=0)}) == [
        ("ArrayLabelConflict", "/c/arguments/values")
    ]  # fmt: skip
    assert errors({"c": node("array_modify", data=[1], values=[2], index=3)}) == [
        ("ArrayElementNotAvailable", "/c/arguments/index")
    ]
    assert errors({"c": node("array_create_labeled", data=[1, 2], labels=["a"])}) == [
        ("ArrayLengthMismatch", "/c/arguments/labels")
    ]


@pytest.mark.parametrize(
    "arguments, expected",
    [
        ({"data": [1], "probabilities": [0.5], "q": 2},
         ("QuantilesParameterConflict", "/q/arguments/q")),
        ({"data": [1]}, ("QuantilesParameterMissing", "/q")),
        ({"data": [1], "probabilities": [0.5, 0.1]},
         ("AscendingProbabilitiesRequired", "/q/arguments/probabilities")),
    ],
)  # fmt: skip
def test_quantiles_errors(arguments, expected):
    assert raw_errors({"q": node("quantiles", **arguments)}) == [expected]


def test_repeated_probabilities_are_in_ascending_order():
    """[0.5, 0.5] is sorted (ties are in ascending order, as sort has them); it breaks the
    schema's uniqueItems, which validation reports (ProcessParameterInvalid), not the
    type rule's AscendingProbabilitiesRequired (issue 17)."""
    assert raw_errors({"q": node("quantiles", data=[1], probabilities=[0.5, 0.5])}) == []


def test_array_processes_in_callbacks_keep_the_dimension_length():
    sort = cb("order", data=param("data"), nodata=False)
    graph, _ = infer({**L, "a": node("apply_dimension", data=CUBE, dimension="t", process=sort)})
    assert graph.node("a").type.dimension("t").labels == DATES
    inner = callback_graph(graph, "a", "process").node("cb").type
    assert inner == ArrayType(s("integer"), labels=tuple(range(12)), dimension="t")


# ---------------------------------------------------------------------------------------
# Smoke: every process with plausible arguments


def _callback_for(role: str | None, params: list[str], returns: Any) -> dict:
    first = params[0] if params else "x"
    body = {
        "reducer": ("mean", {"data": param(first)}),
        "map": ("absolute", {"x": param(first)}),
        "dimension": ("cumsum", {"data": param(first)}),
        "condition": ("is_valid", {"x": param(first)}),
        "overlap": ("add", {"x": param("x"), "y": param("y")}),
        "model": ("multiply", {"x": param("x"), "y": 2}),
        "neighborhood": ("apply", {"data": param("data"),
                                   "process": cb("absolute", x=param("x"))}),
    }.get(role or "", ("constant", {"x": param(first)} if params else {"x": 1}))  # fmt: skip
    return cb(body[0], **body[1])


CUBE_ARGUMENTS: dict[str, dict] = {
    "add_dimension": {"name": "run", "label": "r1"},
    "aggregate_spatial": {"geometries": GEOJSON},
    "aggregate_spatial_window": {"size": [2, 2]},
    "aggregate_temporal": {"intervals": [["2023-01-01", "2023-07-01"]]},
    "aggregate_temporal_period": {"period": "season"},
    "anomaly": {"period": "month"},
    "apply_dimension": {"dimension": "t"},
    "reduce_dimension": {"dimension": "t"},
    "apply_kernel": {"kernel": [[0, 1, 0], [1, 1, 1], [0, 1, 0]]},
    "apply_neighborhood": {"size": [{"dimension": "x", "value": 128, "unit": "px"}]},
    "apply_polygon": {"geometries": ref("vec")},
    "ard_surface_reflectance": {
        "atmospheric_correction_method": "iCOR",
        "cloud_detection_method": "Sen2Cor",
    },
    "atmospheric_correction": {"method": None},
    "climatological_normal": {"period": "month", "climatology_period": [2022, 2023]},
    "cloud_detection": {"method": None},
    "dimension_labels": {"dimension": "bands"},
    "drop_dimension": {"data": ref("one"), "name": "bands"},
    "filter_bands": {"bands": ["B02"]},
    "filter_bbox": {"extent": {"west": 4.4, "south": 51.3, "east": 4.5, "north": 51.4}},
    "filter_labels": {"dimension": "t"},
    "filter_spatial": {"geometries": polygon(4.45, 51.37)},
    "filter_temporal": {"extent": ["2023-03-01", None]},
    "filter_vector": {"geometries": ref("vec")},
    "fit_curve": {"parameters": [1, 1]},
    "flatten_dimensions": {"dimensions": ["t", "bands"], "target_dimension": "tb"},
    "load_collection": {"id": S2, "spatial_extent": None, "temporal_extent": None},
    "load_geojson": {"data": GEOJSON},
    "load_stac": {"url": "https://stac.test/c"},
    "load_uploaded_files": {"paths": ["a.tif"], "format": "GTiff"},
    "load_url": {"url": "https://x.test/a.tif", "format": "GTiff"},
    "mask_polygon": {"mask": polygon(4.45, 51.37)},
    "predict_curve": {"dimension": "t", "labels": ["2024-01-01"]},
    "rename_dimension": {"source": "t", "target": "time"},
    "rename_labels": {"dimension": "bands", "source": ["B02"], "target": ["blue"]},
    "resample_cube_temporal": {"dimension": "t"},
    "resample_spatial": {"resolution": 20},
    "run_ogcapi": {"id": "p"},
    "run_ogcapi_externally": {"url": "https://x.test", "id": "p"},
    "run_udf": {"udf": UDF, "runtime": "Python"},
    "run_udf_externally": {"url": "https://x.test"},
    "save_result": {"format": "netCDF"},
    "unflatten_dimension": {
        "data": ref("flat"),
        "dimension": "tb",
        "target_dimensions": ["time", "band"],
    },
    "array_element": {"index": 0},
    "quantiles": {"probabilities": [0.5]},
    "vector_buffer": {"distance": 10},
    "vector_reproject": {"projection": 3035},
    "vector_to_regular_points": {"distance": 10},
}

# Processes whose cube arguments are (metric) vector cubes, and the data each expects.
VECTOR_DATA = {"filter_vector", "vector_buffer", "vector_reproject", "vector_to_random_points",
               "vector_to_regular_points"}  # fmt: skip
STAC_DATA = {"export_collection", "export_workspace", "stac_modify"}


def _plausible(schema: Any, name: str) -> Any:
    """A plain value that satisfies ``schema`` (first alternative that is not a cube)."""
    for s in schema if isinstance(schema, list) else [schema]:
        if not isinstance(s, dict):
            continue
        alternatives = s.get("anyOf", []) + s.get("oneOf", [])
        if alternatives:
            return _plausible(alternatives, name)
        if "enum" in s:
            return s["enum"][0]
        if "const" in s:
            return s["const"]
        kinds = s.get("type") if isinstance(s.get("type"), list) else [s.get("type")]
        if "array" in kinds:
            item = _plausible(s.get("items", {"type": "number"}), name)
            return [item, item] if s.get("uniqueItems") is not True else [item]
        if "number" in kinds or "integer" in kinds:
            return max(1, s.get("minimum", 1))
        if "string" in kinds:
            fmt = s.get("format") or s.get("subtype")
            return {"date-time": "2023-01-01T00:00:00Z", "date": "2023-01-01",
                    "time": "10:00:00Z", "uri": "https://x.test"}.get(fmt, "a")  # fmt: skip
        if "boolean" in kinds:
            return True
        if "object" in kinds and s.get("subtype") not in ("datacube", "process-graph"):
            return {}
        if "null" in kinds:
            return None
    return 1


def plausible_graph(pid: str) -> dict:
    """A graph that calls ``pid`` once with plausible arguments (its node is ``n``)."""
    spec = SPECS[pid]
    producers: dict[str, dict] = {
        "l": load(),
        "g": node("load_geojson", data=GEOJSON),
        "vec": node("vector_reproject", data=ref("g"), projection=32631),
        "one": node("filter_bands", data=ref("l"), bands=["B02"]),
        "flat": node("flatten_dimensions", data=ref("l"), dimensions=["t", "bands"],
                     target_dimension="tb"),
        "s": node("save_result", data=ref("l"), format="GTiff"),
    }  # fmt: skip
    nodes: dict[str, dict] = {}
    callbacks = spec.traits.get("callbacks", {})
    args: dict[str, Any] = {}
    for p in spec.parameters:
        schemas = p.schema if isinstance(p.schema, list) else [p.schema]
        graphs = [s for s in schemas if isinstance(s, dict) and s.get("subtype") == "process-graph"]
        cubes = [s for s in schemas if isinstance(s, dict) and s.get("subtype") == "datacube"]
        if graphs:
            if p.optional and p.name not in callbacks:
                continue
            names = [q["name"] for q in graphs[0].get("parameters", [])]
            args[p.name] = _callback_for(callbacks.get(p.name), names, graphs[0].get("returns"))
        elif cubes and p.name not in CUBE_ARGUMENTS.get(pid, {}):
            args[p.name] = ref("vec") if pid in VECTOR_DATA else ref("l")
        elif pid in STAC_DATA and p.name == "data":
            args[p.name] = ref("s")
        elif not p.optional:
            args[p.name] = _plausible(p.schema, p.name)
    args.update(CUBE_ARGUMENTS.get(pid, {}))
    if pid == "anomaly":
        nodes["a"] = node("aggregate_temporal_period", data=ref("l"), period="month", reducer=MEAN)
        nodes["c"] = node("climatological_normal", data=ref("l"), period="month",
                          climatology_period=[2022, 2023])  # fmt: skip
        args.update(data=ref("a"), normals=ref("c"))
    if pid == "fit_curve":
        args["data"] = [1, 2]
    nodes["n"] = node(pid, True, **args)
    used = {"l", "g"} if '"vec"' in json.dumps(args) else {"l"}
    used |= {nid for nid in producers if json.dumps(ref(nid)) in json.dumps(args)}
    return {nid: n for nid, n in producers.items() if nid in used} | nodes


@pytest.mark.parametrize("pid", sorted(SPECS.ids()))
def test_every_process_types_plausible_arguments_without_errors(pid):
    graph, diagnostics = typed(plausible_graph(pid))
    assert [(d.code, d.pointer, d.message) for d in diagnostics] == []
    t = graph.node("n").type
    assert isinstance(t, Type)
    if "datacube" in json.dumps(SPECS[pid].returns):
        assert isinstance(t, CubeType) or pid.startswith("run_")
    # The traits' dimension flow: "keep" and "filter:*" processes keep the dimension names.
    flow = SPECS[pid].traits.get("dims", "")
    source = graph.node("n").arg("data") or graph.node("n").arg("geometries")
    if (flow == "keep" or flow.startswith("filter:")) and isinstance(source, NodeRef):
        assert t.names == graph.node(source.id).type.names, pid


ARRAY_PARAMETER = {
    pid
    for pid in SPECS.ids()
    if (p := SPECS[pid].parameter("data")) is not None and "array" in json.dumps(p.schema)
    and "datacube" not in json.dumps(p.schema)
}  # fmt: skip


@pytest.mark.parametrize("pid", sorted(ARRAY_PARAMETER))
def test_array_processes_in_a_reducer(pid):
    """Each array process on the labeled array of a reducer: no crash, a type."""
    args: dict[str, Any] = {"data": param("data")}
    for p in SPECS[pid].parameters:
        if p.name != "data" and not p.optional:
            args[p.name] = _plausible(p.schema, p.name)
        if "process-graph" in json.dumps(p.schema) and not p.optional:
            args[p.name] = cb("is_valid", x=param("x"))
    if pid in ("array_element",):
        args["index"] = 0
    if pid == "quantiles":
        args["probabilities"] = [0.5]
    if pid == "fit_curve":
        args["function"] = cb("multiply", x=param("x"), y=2)
    reducer = {"process_graph": {"inner": node(pid, **args),
                                 "cb": node("constant", True, x=ref("inner"))}}  # fmt: skip
    graph, _ = infer({**L, "r": node("reduce_dimension", data=CUBE, dimension="t",
                                     reducer=reducer)})  # fmt: skip
    assert isinstance(callback_graph(graph, "r", "reducer").node("inner").type, Type)


# ---------------------------------------------------------------------------------------
# Robustness: rules only ever raise type errors, whatever the argument types


ODD_VALUES: list[Any] = [
    None, 0, -3, 2.5, "", "x", True, [], [0, "a"], [[1, 2]], {}, {"west": 0},
    ref("l"), ref("u"), ref("v"), ref("num"), ref("arr"),
]  # fmt: skip
PRODUCERS = {
    "l": load(),
    "u": node("load_stac", url="https://x.test"),
    "v": node("load_geojson", data=GEOJSON),
    "num": node("array_element", data=[1.5], index=0),
    "arr": node("array_create", data=["a", 1]),
}


@pytest.mark.parametrize("pid", sorted(SPECS.ids()))
def test_rules_raise_only_type_errors(pid):
    spec = SPECS[pid]
    names = [p.name for p in spec.parameters]
    for value in ODD_VALUES:
        _type_raw(pid, {n: value for n in names})
    for name, value in itertools.product(names, ODD_VALUES):
        base = {n: ref("l") if "datacube" in json.dumps(p.schema) else 1
                for n, p in zip(names, spec.parameters, strict=True)}  # fmt: skip
        _type_raw(pid, {**base, name: value})


def _raw_value(value: Any) -> Any:
    if isinstance(value, dict) and "from_node" in value:
        return NodeRef(value["from_node"])
    if isinstance(value, dict) and "from_parameter" in value:
        return ParamRef(value["from_parameter"])
    return Literal(value)


PARAM_TYPES: list[Type] = [
    ANY,
    ScalarType.of("number", "null"),
    ScalarType.of("string"),
    ScalarType.of("null"),
    ScalarType(frozenset()),
    ArrayType(ScalarType.of("number", "null"), labeled=True, labels=BANDS, dimension="bands"),
    ArrayType(ArrayType(ANY)),
    pgc.ir.types.ObjectType("geojson"),
    CATALOG.cube_type(S2),
    CubeType(unknown_dimensions=True, vector=True),
    CubeType(),
]


@pytest.mark.parametrize("pid", sorted(SPECS.ids()))
def test_rules_on_parameters_of_any_type(pid):
    """Arguments from a callback's parameters, typed as anything a rule may give."""
    names = [p.name for p in SPECS[pid].parameters]
    for t in PARAM_TYPES:
        _type_raw(pid, {n: {"from_parameter": "p"} for n in names}, t)
        for name in names:
            _type_raw(pid, {n: 1 for n in names} | {name: {"from_parameter": "p"}}, t)


def _type_raw(pid: str, arguments: dict, param_type: Type = ANY) -> None:
    graph = Graph()
    for nid, spec in PRODUCERS.items():
        graph.add(Node(nid, spec["process_id"],
                       tuple((k, Literal(v)) for k, v in spec["arguments"].items())))  # fmt: skip
    args = tuple((k, _raw_value(v)) for k, v in arguments.items())
    graph.add(Node("n", pid, args, origin=Origin("n", "/n")))
    graph.set_result("n")
    env = Environment(SPECS, CATALOG)
    try:
        typed_graph = infer_graph(graph, env, param_types={"p": param_type})
    except TypeCheckError:  # pragma: no cover - the engine turns these into diagnostics
        raise AssertionError("TypeCheckError escaped the engine") from None
    assert isinstance(typed_graph.node("n").type, Type)
