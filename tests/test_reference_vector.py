"""Reference implementations of the vector-cube processes (load_geojson, filter_vector,
vector_buffer, vector_reproject, vector_to_random_points, vector_to_regular_points) and of
the raster processes taking geometries (apply_polygon, aggregate_spatial, filter_spatial,
mask_polygon), against hand-computed geometry and numpy.

Polygons on the sample collection are drawn in its grid's CRS (UTM 31N, 10 m pixels whose
centres are at ...5 m) with edges on pixel edges, and handed over as WGS84 GeoJSON; which
pixels they hold is then plain arithmetic on the pixel centres. Metric vector cubes come
from EPSG:4087 (equidistant cylindrical: metres are degrees times a constant), so shapes
stay exact rectangles there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from conftest import node
from rasterio.warp import transform_geom

import pgc
from pgc.data import sample
from pgc.executors.values import Cube
from pgc.runner import execute

# The sample cube's top-left 20 x 20 pixels, one date, two bands (as tests/test_reference_cubes).
WEST, NORTH = 600000, 5695000
LOAD = node(
    "load_collection",
    id="SENTINEL2_L2A_SAMPLE",
    spatial_extent={
        "west": WEST,
        "south": NORTH - 200,
        "east": WEST + 200,
        "north": NORTH,
        "crs": 32631,
    },
    temporal_extent=["2023-06-01", "2023-07-01"],
    bands=["B04", "B08"],
)
CENTRES_X = WEST + 5 + 10 * np.arange(20)  # pixel-centre coordinates (columns)
CENTRES_Y = NORTH - 5 - 10 * np.arange(20)  # (rows, north to south)


@pytest.fixture(scope="module")
def raw():
    data = sample.generate()
    return np.stack([data[b][5, :20, :20].astype("float64") for b in ("B04", "B08")])


def ref(node_id: str) -> dict:
    return {"from_node": node_id}


def param(name: str) -> dict:
    return {"from_parameter": name}


def cb(process_id: str, **arguments) -> dict:
    return {"process_graph": {"cb": node(process_id, True, **arguments)}}


def run(nodes: dict, **options):
    """Execute a flat graph whose last node is the result (no optimizing passes)."""
    nodes = dict(nodes)
    last = list(nodes)[-1]
    nodes[last] = {**nodes[last], "result": True}
    return execute(nodes, pipeline="none", **options)


def value(nodes: dict, **options) -> Cube:
    return run(nodes, **options).value


def error_code(nodes: dict, **options) -> str:
    with pytest.raises(pgc.PgcError) as err:
        run(nodes, **options)
    return err.value.code


def _error_of(fn) -> str:
    with pytest.raises(pgc.PgcError) as err:
        fn()
    return err.value.code


def assert_agrees_with_type(result, node_id: str) -> None:
    """The executed cube has the dimensions (order) and labels its type rule promised."""
    cube, typed = result.value, result.plan.graph.node(node_id).type
    assert cube.dims == typed.names
    for dim in typed.dimensions:
        if dim.labels is not None and dim.type != "temporal":  # (datetime64 vs text)
            assert cube.data[dim.name].values.tolist() == list(dim.labels), dim.name
        if dim.type == "geometry" and dim.crs is not None:
            assert cube.data.attrs["crs"] == dim.crs


def utm_box(x0: float, y0: float, x1: float, y1: float) -> dict:
    """A UTM 31N rectangle as a WGS84 GeoJSON polygon."""
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return transform_geom("EPSG:32631", "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})


def utm_polygon(ring: list) -> dict:
    return transform_geom("EPSG:32631", "EPSG:4326", {"type": "Polygon", "coordinates": [ring]})


def inside_box(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """[y, x] pixels whose centres are in the rectangle (hand arithmetic, no rasterizing)."""
    xs, ys = np.meshgrid(CENTRES_X, CENTRES_Y)
    return (xs > x0) & (xs < x1) & (ys > y0) & (ys < y1)


def box(x0: float, y0: float, x1: float, y1: float) -> dict:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def metric(geometry: dict) -> dict:
    """A geometry drawn in metres as WGS84 degrees for EPSG:4087 (see the module doc)."""
    return transform_geom("EPSG:4087", "EPSG:4326", geometry)


def feature(geometry: dict | None, **properties) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def metric_cube(geojson: dict, **extra) -> dict:
    """Nodes loading ``geojson`` (drawn in metres) as a vector cube in EPSG:4087 (``m``)."""
    return {
        "g": node("load_geojson", data=geojson, **extra),
        "m": node("vector_reproject", data=ref("g"), projection=4087),
    }


def geometries(cube: Cube) -> list:
    """The cube's geometries as shapely shapes, in label order."""
    attrs = cube.data.attrs
    dim = attrs["geometry_dimension"]
    return [shapely.geometry.shape(attrs["geometries"][k]) for k in cube.data[dim].values.tolist()]


def labels(cube: Cube, dim: str = "geometry") -> list:
    return cube.data[dim].values.tolist()


MEAN = cb("mean", data=param("data"))
DOUBLE = cb("apply", data=param("data"), process=cb("multiply", x=param("x"), y=2))


# ---------------------------------------------------------------------------------------
# load_geojson

POINT = {"type": "Point", "coordinates": [4.45, 51.37]}
FIELDS = collection(
    {**feature(box(4.44, 51.36, 4.45, 51.37), name="a", v=[1, 2, 3], n=1.5), "id": "first"},
    feature(None, name="b", v=[4]),
    feature(POINT, name="c", v=7),
)


def test_load_geojson_one_label_per_feature_without_values():
    result = run({"g": node("load_geojson", data=FIELDS)})
    cube = result.value
    assert cube.dims == ("geometry",) and labels(cube) == [0, 1, 2]
    assert not cube.valid.values.any()  # no properties asked: every value is no-data
    attrs = cube.data.attrs
    assert attrs["crs"] == "4326"
    assert attrs["geometries"][0] == box(4.44, 51.36, 4.45, 51.37)
    assert attrs["geometries"][2] == POINT
    assert geometries(cube)[1].is_empty  # a null geometry is an empty one, label kept
    assert attrs["properties"][1] == {"name": "b", "v": [4]}  # preserved even if not asked
    assert attrs["ids"] == {0: "first"}
    assert_agrees_with_type(result, "g")


def test_load_geojson_several_properties_are_labels():
    result = run({"g": node("load_geojson", data=FIELDS, properties=["name", "n"])})
    cube = result.value
    assert cube.dims == ("geometry", "properties") and labels(cube, "properties") == ["name", "n"]
    assert cube.to_python() == [["a", 1.5], ["b", None], ["c", None]]  # missing: no-data
    assert_agrees_with_type(result, "g")


def test_load_geojson_one_scalar_property_is_one_label():
    data = collection(feature(POINT, name="a"), feature(POINT, name="b"), feature(POINT))
    result = run({"g": node("load_geojson", data=data, properties=["name"])})
    assert labels(result.value, "properties") == ["name"]
    assert result.value.to_python() == [["a"], ["b"], [None]]
    assert_agrees_with_type(result, "g")


def test_load_geojson_one_array_property_gives_index_labels():
    result = run({"g": node("load_geojson", data=FIELDS, properties=["v"])})
    cube = result.value
    assert labels(cube, "properties") == [0, 1, 2]  # the longest array has 3 items
    # shorter arrays are padded with no-data; a scalar counts as a one-item array
    assert cube.to_python() == [[1, 2, 3], [4, None, None], [7, None, None]]
    assert_agrees_with_type(result, "g")


def test_load_geojson_bare_geometry_and_single_feature():
    bare = run({"g": node("load_geojson", data=POINT, properties=["name"])})
    assert labels(bare.value) == [0] and bare.value.to_python() == [[None]]
    assert bare.value.data.attrs["properties"] == {0: {}}
    assert_agrees_with_type(bare, "g")
    single = value({"g": node("load_geojson", data={**feature(POINT, k=1), "id": 7})})
    assert labels(single) == [0] and single.data.attrs["ids"] == {0: 7}
    assert single.data.attrs["properties"] == {0: {"k": 1}}


def test_load_geojson_empty_feature_collection():
    result = run({"g": node("load_geojson", data=collection())})
    assert result.value.data.sizes["geometry"] == 0
    assert_agrees_with_type(result, "g")


def test_load_geojson_refuses_geometry_collections():
    data = {"type": "GeometryCollection", "geometries": [POINT]}
    assert error_code({"g": node("load_geojson", data=data)}) == "ProcessParameterInvalid"
    # the same when only the executor sees the value (a parameter)
    nodes = {"g": node("load_geojson", data=param("gj"))}
    assert error_code(nodes, parameters={"gj": data}) == "ProcessParameterInvalid"


def test_load_geojson_refuses_malformed_coordinates():
    bad = {"type": "Polygon", "coordinates": [[1, 2]]}
    assert error_code({"g": node("load_geojson", data=bad)}) == "ProcessParameterInvalid"


# ---------------------------------------------------------------------------------------
# filter_vector

# Base: two halves whose union is the square (0 0, 2 2). Candidates and, worked out by hand,
# the relations they have with it (candidate <relation> base).
BASE = collection(feature(box(0, 0, 1, 2)), feature(box(1, 0, 2, 2)))
CANDIDATES = collection(
    feature({"type": "Point", "coordinates": [0.5, 0.5]}, k=0),  # inside
    feature({"type": "Point", "coordinates": [5, 5]}, k=1),  # far away
    feature(box(1, 1, 3, 3), k=2),  # overlapping
    feature(box(0.5, 0.5, 1.5, 1.5), k=3),  # inside
    feature(None, k=4),  # empty: always removed
    feature({"type": "LineString", "coordinates": [[2, 0.5], [3, 0.5]]}, k=5),  # touching
    feature(box(0, 0, 2, 2), k=6),  # the same square
    feature({"type": "LineString", "coordinates": [[1, 1], [3, 1]]}, k=7),  # crossing
    feature(box(-1, -1, 3, 3), k=8),  # around it
)
EXPECTED = {
    "intersects": [0, 2, 3, 5, 6, 7, 8],
    "disjoint": [1],
    "within": [0, 3, 6],
    "contains": [6, 8],
    "equals": [6],
    "touches": [5],
    "overlaps": [2],
    "crosses": [7],
}


def _filter_nodes(relation: str | None = None) -> dict:
    extra = {"relation": relation} if relation else {}
    return {
        "c": node("load_geojson", data=CANDIDATES, properties=["k"]),
        "b": node("load_geojson", data=BASE),
        "f": node("filter_vector", data=ref("c"), geometries=ref("b"), **extra),
    }


@pytest.mark.parametrize("relation", sorted(EXPECTED))
def test_filter_vector_relations(relation):
    cube = value(_filter_nodes(relation))
    assert labels(cube) == EXPECTED[relation]  # labels are kept, not renumbered
    assert [row[0] for row in cube.to_python()] == EXPECTED[relation]  # values follow
    assert sorted(cube.data.attrs["geometries"]) == EXPECTED[relation]


def test_filter_vector_defaults_to_intersects_and_agrees_with_its_type():
    result = run(_filter_nodes())
    assert labels(result.value) == EXPECTED["intersects"]
    assert result.value.dims == ("geometry", "properties")
    assert_agrees_with_type(result, "f")


def test_filter_vector_brings_the_base_into_the_candidates_crs():
    # candidates in UTM, base in WGS84: only the first square lies in the base polygon
    candidates = collection(
        feature(utm_box(WEST, NORTH - 100, WEST + 100, NORTH)),
        feature(utm_box(WEST + 1000, NORTH - 100, WEST + 1100, NORTH)),
    )
    nodes = {
        "c": node("load_geojson", data=candidates),
        "u": node("vector_reproject", data=ref("c"), projection=32631),
        "b": node("load_geojson", data=utm_box(WEST - 50, NORTH - 500, WEST + 500, NORTH + 50)),
        "f": node("filter_vector", data=ref("u"), geometries=ref("b"), relation="within"),
    }
    cube = value(nodes)
    assert labels(cube) == [0] and cube.data.attrs["crs"] == "32631"


def test_filter_vector_with_a_client_built_graph():
    pytest.importorskip("openeo")
    from openeo.rest.vectorcube import VectorCube

    candidates = VectorCube.load_geojson(connection=None, data=CANDIDATES, properties=["k"])
    base = VectorCube.load_geojson(connection=None, data=BASE)
    graph = candidates.filter_vector(base, relation="within").flat_graph()
    assert {n["process_id"] for n in graph.values()} == {"load_geojson", "filter_vector"}
    cube = execute(graph).value
    assert labels(cube) == EXPECTED["within"]


# ---------------------------------------------------------------------------------------
# vector_buffer


def _polygon_area(sides: int, radius: float) -> float:
    """Area of the regular polygon inscribed in a circle (how buffers approximate arcs)."""
    return 0.5 * sides * radius**2 * math.sin(2 * math.pi / sides)


def test_vector_buffer_in_metres():
    data = collection(
        feature(metric({"type": "Point", "coordinates": [100, 200]}), name="p"),
        feature(metric(box(0, 0, 100, 100)), name="s"),
        feature(None, name="e"),
    )
    nodes = {
        **metric_cube(data, properties=["name"]),
        "b": node("vector_buffer", geometries=ref("m"), distance=10),
    }
    result = run(nodes)
    cube = result.value
    point, square, empty = geometries(cube)
    # a point becomes a disc of radius 10 m around it: a regular polygon of many sides
    ring = np.asarray(point.exterior.coords)
    sides = len(ring) - 1
    assert sides >= 32
    np.testing.assert_allclose(np.hypot(ring[:, 0] - 100, ring[:, 1] - 200), 10, atol=1e-6)
    assert point.area == pytest.approx(_polygon_area(sides, 10), rel=1e-6)
    # a square grows by 10 m on each side, with rounded corners (a quarter disc each)
    assert square.area == pytest.approx(100 * 100 + 4 * 100 * 10 + _polygon_area(sides, 10))
    assert square.bounds == pytest.approx((-10, -10, 110, 110), abs=1e-6)
    assert empty.is_empty  # passed through
    assert labels(cube) == [0, 1, 2] and cube.to_python() == [["p"], ["s"], ["e"]]
    assert cube.data.attrs["crs"] == "4087"
    assert_agrees_with_type(result, "b")


def test_vector_buffer_negative_shrinks_and_may_empty():
    data = collection(feature(metric(box(0, 0, 100, 100))), feature(metric(box(0, 0, 10, 10))))
    nodes = {**metric_cube(data), "b": node("vector_buffer", geometries=ref("m"), distance=-20)}
    shrunk, gone = geometries(value(nodes))
    assert shrunk.area == pytest.approx(60 * 60) and shrunk.bounds == pytest.approx(
        (20, 20, 80, 80), abs=1e-6
    )
    assert gone.is_empty and gone.geom_type == "Polygon"  # results are always polygons


def test_vector_buffer_needs_metres():
    degrees = {
        "g": node("load_geojson", data=FIELDS),
        "b": node("vector_buffer", geometries=ref("g"), distance=10),
    }
    assert error_code(degrees) == "UnitMismatch"  # known from the types already
    # US survey feet: only the executor notices
    feet = {
        "g": node("load_geojson", data=FIELDS),
        "f": node("vector_reproject", data=ref("g"), projection=2263),
        "b": node("vector_buffer", geometries=ref("f"), distance=10),
    }
    assert error_code(feet) == "UnitMismatch"


# ---------------------------------------------------------------------------------------
# vector_reproject


def test_vector_reproject_to_utm_and_back():
    # On the zone's central meridian (3 degrees east), UTM x is the false easting exactly.
    data = collection(feature({"type": "Point", "coordinates": [3.0, 51.36]}), feature(None))
    nodes = {
        "g": node("load_geojson", data=data),
        "u": node("vector_reproject", data=ref("g"), projection=32631),
        "w": node("vector_reproject", data=ref("u"), projection=4326),
    }
    utm = value({k: nodes[k] for k in ("g", "u")})
    point, empty = geometries(utm)
    assert point.x == pytest.approx(500000, abs=1e-6) and 5.6e6 < point.y < 5.7e6
    assert empty.is_empty and utm.data.attrs["crs"] == "32631"
    result = run(nodes)
    back = geometries(result.value)[0]
    assert (back.x, back.y) == pytest.approx((3.0, 51.36), abs=1e-9)
    assert_agrees_with_type(result, "w")


def test_vector_reproject_with_wkt_and_a_named_dimension():
    from rasterio.crs import CRS

    wkt = CRS.from_epsg(32631).to_wkt()
    data = {"type": "Point", "coordinates": [3.0, 0.0]}
    cube = value(
        {
            "g": node("load_geojson", data=data),
            "u": node("vector_reproject", data=ref("g"), projection=wkt, dimension="geometry"),
        }
    )
    point = geometries(cube)[0]
    assert (point.x, point.y) == pytest.approx((500000, 0), abs=1e-6)
    assert cube.data.attrs["crs"] == wkt


def test_vector_reproject_errors():
    g = {"g": node("load_geojson", data=FIELDS, properties=["name"])}
    for name in ("nope", "properties"):
        bad = node("vector_reproject", data=ref("g"), projection=32631, dimension=name)
        assert error_code({**g, "u": bad}) == "DimensionNotAvailable"
        # also when the executor alone sees the name
        bad = node("vector_reproject", data=ref("g"), projection=32631, dimension=param("d"))
        assert error_code({**g, "u": bad}, parameters={"d": name}) == "DimensionNotAvailable"
    unknown = node("vector_reproject", data=ref("g"), projection=99999)
    assert error_code({**g, "u": unknown}) == "ProcessParameterInvalid"


# ---------------------------------------------------------------------------------------
# vector_to_random_points

RANDOM = collection(
    {**feature(box(0, 0, 2, 1), k="rect"), "id": "r"},
    feature(
        {
            "type": "Polygon",
            "coordinates": [box(0, 0, 4, 4)["coordinates"][0], box(1, 1, 3, 3)["coordinates"][0]],
        },
        k="holed",
    ),
    feature({"type": "LineString", "coordinates": [[0, 0], [4, 0]]}, k="line"),
    feature({"type": "MultiPoint", "coordinates": [[1, 1], [2, 2], [3, 3]]}, k="points"),
    feature(None, k="empty"),
)


def _random(seed: int | None = 1, **arguments) -> Cube:
    return value(
        {
            "g": node("load_geojson", data=RANDOM, properties=["k"]),
            "r": node("vector_to_random_points", data=ref("g"), seed=seed, **arguments),
        }
    )


def _coords(cube: Cube) -> list[np.ndarray]:
    return [shapely.get_coordinates(g) for g in geometries(cube)]


def test_random_points_lie_in_their_geometries():
    rect, holed, line, points, empty = _coords(_random(geometry_count=400))
    assert len(rect) == len(holed) == len(line) == 400
    assert ((rect >= [0, 0]) & (rect <= [2, 1])).all()
    assert ((holed >= 0) & (holed <= 4)).all()
    in_hole = ((holed > 1) & (holed < 3)).all(axis=1)
    assert not in_hole.any()
    assert (line[:, 1] == 0).all() and ((line[:, 0] >= 0) & (line[:, 0] <= 4)).all()
    # points are chosen at most once: all three, each once
    assert sorted(map(tuple, points)) == [(1, 1), (2, 2), (3, 3)]
    assert len(empty) == 0


def test_random_points_are_uniform_by_area():
    rect, holed = _coords(_random(geometry_count=4000))[:2]
    assert (rect[:, 0] < 1).mean() == pytest.approx(0.5, abs=0.05)
    assert (rect[:, 1] < 0.5).mean() == pytest.approx(0.5, abs=0.05)
    # the 4 x 4 square less its 2 x 2 hole: each 1 m strip along a side is a third of it
    assert (holed[:, 0] < 1).mean() == pytest.approx(1 / 3, abs=0.04)
    assert (holed[:, 1] > 3).mean() == pytest.approx(1 / 3, abs=0.04)
    corner = (holed[:, 0] < 1) & (holed[:, 1] < 1)
    assert corner.mean() == pytest.approx(1 / 12, abs=0.02)


def test_random_points_are_reproducible_with_a_seed():
    first, again, other = (_coords(_random(s, geometry_count=5)) for s in (7, 7, 8))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert len(_coords(_random(None))[0]) == 1  # without a seed: still one point each


def test_random_points_counts():
    def counts(**arguments):
        return [len(c) for c in _coords(_random(**arguments))]

    assert counts() == [1, 1, 1, 1, 0]  # neither count: one per geometry
    assert counts(geometry_count=2) == [2, 2, 2, 2, 0]
    # total_count shared by the four non-empty geometries, the first ones get the rest
    assert counts(total_count=10) == [3, 3, 2, 2, 0]
    assert counts(total_count=10, geometry_count=2) == [2, 2, 2, 2, 0]
    assert counts(geometry_count=5) == [5, 5, 5, 3, 0]  # only three points to choose from


def test_random_points_grouped_keep_labels_values_and_ids():
    result = run(
        {
            "g": node("load_geojson", data=RANDOM, properties=["k"]),
            "r": node("vector_to_random_points", data=ref("g"), seed=3),
        }
    )
    cube = result.value
    assert labels(cube) == [0, 1, 2, 3, 4]
    assert [g.geom_type for g in geometries(cube)] == ["MultiPoint"] * 5
    assert cube.to_python() == [["rect"], ["holed"], ["line"], ["points"], ["empty"]]
    assert cube.data.attrs["ids"] == {0: "r"}
    assert_agrees_with_type(result, "r")


def test_random_points_ungrouped_are_points_with_their_geometry_values():
    result = run(
        {
            "g": node("load_geojson", data=RANDOM, properties=["k"]),
            "r": node(
                "vector_to_random_points", data=ref("g"), seed=3, geometry_count=2, group=False
            ),
        }
    )
    cube = result.value
    # two points for each non-empty geometry; the empty one passes through as an empty point
    assert labels(cube) == list(range(9))
    assert [row[0] for row in cube.to_python()] == [
        "rect",
        "rect",
        "holed",
        "holed",
        "line",
        "line",
        "points",
        "points",
        "empty",
    ]
    shapes = geometries(cube)
    assert {g.geom_type for g in shapes} == {"Point"} and shapes[-1].is_empty
    assert cube.data.attrs["ids"] == {}  # points have no identifier
    assert cube.data.attrs["properties"][8] == {"k": "empty"}
    assert_agrees_with_type(result, "r")


def test_random_points_count_mismatch():
    two = collection(feature(box(0, 0, 1, 1)), feature(box(2, 2, 3, 3)))
    nodes = {
        "g": node("load_geojson", data=two),
        "r": node("vector_to_random_points", data=ref("g"), total_count=1),
    }
    assert error_code(nodes) == "CountMismatch"  # known from the types
    # after filter_vector the number of geometries is known only when running
    nodes = {
        "g": node("load_geojson", data=two),
        "f": node("filter_vector", data=ref("g"), geometries=ref("g")),
        "r": node("vector_to_random_points", data=ref("f"), total_count=1),
    }
    assert error_code(nodes) == "CountMismatch"


# ---------------------------------------------------------------------------------------
# vector_to_regular_points


def _regular(geometry: dict, distance: float, **arguments) -> list[tuple]:
    nodes = {
        **metric_cube(collection(feature(metric(geometry)))),
        "r": node("vector_to_regular_points", data=ref("m"), distance=distance, **arguments),
    }
    points = shapely.get_coordinates(geometries(value(nodes))[0])
    return [tuple(np.round(p, 6)) for p in points]


def test_regular_points_in_a_polygon_are_grid_cell_centres():
    # 36 m x 20 m with 10 m cells from the upper-left corner: 4 columns, 2 rows
    assert _regular(box(0, 0, 36, 20), 10) == [
        (5, 15),
        (15, 15),
        (25, 15),
        (35, 15),
        (5, 5),
        (15, 5),
        (25, 5),
        (35, 5),
    ]


def test_regular_points_skip_centres_outside_the_polygon():
    # an L: the upper-right cell's centre (15, 15) is outside
    ell = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [20, 0], [20, 10], [10, 10], [10, 20], [0, 20], [0, 0]]],
    }
    assert _regular(ell, 10) == [(5, 15), (5, 5), (15, 5)]


def test_regular_points_small_polygon_gives_its_first_coordinate():
    small = {"type": "Polygon", "coordinates": [[[3, 4], [8, 4], [8, 9], [3, 9], [3, 4]]]}
    assert _regular(small, 100) == [(3, 4)]


def test_regular_points_on_a_line_keep_the_distance_to_the_previous_one():
    # along (0 0) -> (15 0) -> (15 40) every 10 m in a straight line from the previous
    # sample: after (10, 0), the point (15, y) with 5^2 + y^2 = 10^2
    line = {"type": "LineString", "coordinates": [[0, 0], [15, 0], [15, 40]]}
    y = math.sqrt(75)
    expected = [(0, 0), (10, 0), (15, y), (15, y + 10), (15, y + 20), (15, y + 30)]
    assert _regular(line, 10) == [tuple(np.round(p, 6)) for p in expected]


def test_regular_points_of_points_are_the_points():
    multi = {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]}
    assert _regular(multi, 10) == [(1, 2), (3, 4)]


def test_regular_points_ungrouped_and_empty_geometries():
    data = collection(feature(metric(box(0, 0, 20, 10)), k=1), feature(None, k=2))
    result = run(
        {
            **metric_cube(data, properties=["k"]),
            "r": node("vector_to_regular_points", data=ref("m"), distance=10, group=False),
        }
    )
    cube = result.value
    assert labels(cube) == [0, 1, 2] and [row[0] for row in cube.to_python()] == [1, 1, 2]
    first, second, empty = geometries(cube)
    assert (first.x, first.y) == pytest.approx((5, 5)) and (second.x, second.y) == pytest.approx(
        (15, 5)
    )
    assert empty.is_empty
    assert_agrees_with_type(result, "r")
    grouped = run(
        {**metric_cube(data), "r": node("vector_to_regular_points", data=ref("m"), distance=10)}
    )
    assert [g.geom_type for g in geometries(grouped.value)] == ["MultiPoint", "MultiPoint"]
    assert geometries(grouped.value)[1].is_empty
    assert_agrees_with_type(grouped, "r")


def test_regular_points_errors():
    degrees = {
        "g": node("load_geojson", data=FIELDS),
        "r": node("vector_to_regular_points", data=ref("g"), distance=10),
    }
    assert error_code(degrees) == "UnitMismatch"
    tiny = {
        **metric_cube(collection(feature(metric(box(0, 0, 1e6, 1e6))))),
        "r": node("vector_to_regular_points", data=ref("m"), distance=0.01),
    }
    assert error_code(tiny) == "ProcessParameterInvalid"  # far too many points


# ---------------------------------------------------------------------------------------
# apply_polygon

NW = utm_box(WEST, NORTH - 60, WEST + 50, NORTH)  # 5 x 6 pixels in the north-west
SE = utm_box(WEST + 120, NORTH - 200, WEST + 200, NORTH - 150)  # 8 x 5 in the south-east


def _apply_polygon(geojson: dict, process: dict = DOUBLE, before: dict | None = None, **extra):
    data = "k" if before else "l"
    nodes = {
        "l": LOAD,
        **(before or {}),
        "g": node("load_geojson", data=geojson),
        "p": node("apply_polygon", data=ref(data), geometries=ref("g"), process=process, **extra),
    }
    return run(nodes)


def test_apply_polygon_processes_the_pixels_inside(raw):
    result = _apply_polygon(collection(feature(NW), feature(SE)))
    out = result.value.filled().values[0]  # [bands, y, x], no-data as NaN
    inside = inside_box(WEST, NORTH - 60, WEST + 50, NORTH) | inside_box(
        WEST + 120, NORTH - 200, WEST + 200, NORTH - 150
    )
    assert inside.sum() == 30 + 40
    np.testing.assert_array_equal(out[:, inside], raw[:, inside] * 2)
    assert np.isnan(out[:, ~inside]).all()  # mask_value null: no-data outside
    assert_agrees_with_type(result, "p")


def test_apply_polygon_mask_value_outside(raw):
    out = _apply_polygon(NW, mask_value=-1).value.filled().values[0]
    inside = inside_box(WEST, NORTH - 60, WEST + 50, NORTH)
    np.testing.assert_array_equal(out[:, inside], raw[:, inside] * 2)
    assert (out[:, ~inside] == -1).all()


def test_apply_polygon_sub_cube_has_mask_value_outside_the_polygon(raw):
    # A triangle; the process sums along x, so pixels left of the triangle in its window
    # (which hold mask_value) count in every inside pixel's result. No pixel centre lies
    # on its hypotenuse x + y = 105 (centres are at 10 + 10 (i + j)).
    ring = [[WEST, NORTH], [WEST + 105, NORTH], [WEST, NORTH - 105], [WEST, NORTH]]
    cumsum = cb(
        "apply_dimension",
        data=param("data"),
        dimension="x",
        process=cb("cumsum", data=param("data")),
    )
    out = _apply_polygon(utm_polygon(ring), cumsum, mask_value=1000).value.filled().values[0]
    xs, ys = np.meshgrid(CENTRES_X - WEST, NORTH - CENTRES_Y)
    inside = xs + ys < 105  # below the hypotenuse
    rows, cols = np.nonzero(inside.any(axis=1))[0], np.nonzero(inside.any(axis=0))[0]
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    sub = np.where(inside[window], raw[(slice(None), *window)], 1000)
    expected = np.full_like(raw, 1000.0)
    expected[(slice(None), *window)] = np.where(inside[window], np.cumsum(sub, axis=-1), 1000)
    np.testing.assert_allclose(out, expected)


def test_apply_polygon_keeps_nodata_inside_apart_from_mask_value(raw):
    hole = utm_box(WEST, NORTH - 20, WEST + 20, NORTH)  # 2 x 2 pixels made no-data first
    before = {"k": node("mask_polygon", data=ref("l"), mask=hole, inside=True)}
    out = _apply_polygon(NW, before=before, mask_value=-1).value.filled().values[0]
    inside = inside_box(WEST, NORTH - 60, WEST + 50, NORTH)
    nodata = inside_box(WEST, NORTH - 20, WEST + 20, NORTH)
    assert np.isnan(out[:, nodata]).all()
    np.testing.assert_array_equal(out[:, inside & ~nodata], raw[:, inside & ~nodata] * 2)
    assert (out[:, ~inside] == -1).all()


def test_apply_polygon_overlap():
    big = utm_box(WEST, NORTH - 100, WEST + 100, NORTH)
    code = _error_of(lambda: _apply_polygon(collection(feature(NW), feature(big))))
    assert code == "GeometriesOverlap"


def test_apply_polygon_refuses_other_geometries_and_ignores_empty_ones(raw):
    point = transform_geom(
        "EPSG:32631", "EPSG:4326", {"type": "Point", "coordinates": [WEST + 5, NORTH - 5]}
    )
    assert _error_of(lambda: _apply_polygon(point)) == "ProcessParameterInvalid"
    only_empty = collection(feature(None))
    assert _error_of(lambda: _apply_polygon(only_empty)) == "ProcessParameterInvalid"
    out = _apply_polygon(collection(feature(None), feature(NW))).value.filled().values[0]
    inside = inside_box(WEST, NORTH - 60, WEST + 50, NORTH)
    np.testing.assert_array_equal(out[:, inside], raw[:, inside] * 2)


def test_apply_polygon_process_must_keep_the_dimensions():
    reduce = cb("reduce_dimension", data=param("data"), dimension="bands", reducer=MEAN)
    assert _error_of(lambda: _apply_polygon(NW, reduce)) == "ProcessParameterInvalid"


def test_apply_polygon_outside_the_data_is_all_mask_value():
    far = utm_box(WEST + 5000, NORTH - 100, WEST + 5100, NORTH)
    out = _apply_polygon(far, mask_value=3).value.filled().values
    assert (out == 3).all()


def client_load():
    """The test's load, built with the official openEO client (offline)."""
    from openeo.rest.datacube import DataCube

    return DataCube.load_collection(
        "SENTINEL2_L2A_SAMPLE",
        connection=None,
        fetch_metadata=False,
        spatial_extent=LOAD["arguments"]["spatial_extent"],
        temporal_extent=["2023-06-01", "2023-07-01"],
        bands=["B04", "B08"],
    )


def test_apply_polygon_with_a_client_built_graph(raw):
    pytest.importorskip("openeo")
    from openeo.rest.vectorcube import VectorCube

    cube = client_load()
    polygons = VectorCube.load_geojson(connection=None, data=NW)
    graph = cube.apply_polygon(
        geometries=polygons, process=lambda data: data.apply(lambda x: x + 1), mask_value=0
    ).flat_graph()
    assert {n["process_id"] for n in graph.values()} >= {"load_geojson", "apply_polygon"}
    assert "apply" in str(graph["applypolygon1"]["arguments"]["process"])
    out = pgc.run(graph).values[0]
    inside = inside_box(WEST, NORTH - 60, WEST + 50, NORTH)
    np.testing.assert_array_equal(out[:, inside], raw[:, inside] + 1)
    assert (out[:, ~inside] == 0).all()


# ---------------------------------------------------------------------------------------
# aggregate_spatial, filter_spatial and mask_polygon with vector cubes


def test_aggregate_spatial_with_a_vector_cube_keeps_its_labels_crs_and_properties(raw):
    data = collection(
        feature(NW, name="nw"),
        feature(utm_box(WEST + 5000, NORTH - 10, WEST + 5010, NORTH)),
        feature(SE, name="se"),
    )
    keep = utm_box(WEST - 10, NORTH - 300, WEST + 300, NORTH + 10)
    nodes = {
        "l": LOAD,
        "g": node("load_geojson", data=data),
        "u": node("vector_reproject", data=ref("g"), projection=32631),
        "k": node("load_geojson", data=keep),
        "f": node("filter_vector", data=ref("u"), geometries=ref("k")),
        "a": node("aggregate_spatial", data=ref("l"), geometries=ref("f"), reducer=MEAN),
    }
    result = run(nodes)
    cube = result.value
    assert cube.dims == ("t", "bands", "geometry") and labels(cube) == [0, 2]
    nw = inside_box(WEST, NORTH - 60, WEST + 50, NORTH)
    se = inside_box(WEST + 120, NORTH - 200, WEST + 200, NORTH - 150)
    expected = np.stack([raw[:, nw].mean(axis=1), raw[:, se].mean(axis=1)], axis=-1)
    np.testing.assert_allclose(cube.data.values[0], expected)
    attrs = cube.data.attrs
    assert attrs["crs"] == "32631" and attrs["properties"] == {0: {"name": "nw"}, 2: {"name": "se"}}
    assert shapely.geometry.shape(attrs["geometries"][2]).area == pytest.approx(80 * 50)
    assert_agrees_with_type(result, "a")


def test_aggregate_spatial_target_dimension_counts_pixels(raw):
    hole = utm_box(WEST, NORTH - 20, WEST + 20, NORTH)  # 4 of NW's 30 pixels no-data
    point = transform_geom(
        "EPSG:32631", "EPSG:4326", {"type": "Point", "coordinates": [WEST + 73, NORTH - 48]}
    )
    data = collection(feature(NW), feature(None), feature(point))
    nodes = {
        "l": LOAD,
        "k": node("mask_polygon", data=ref("l"), mask=hole, inside=True),
        "a": node(
            "aggregate_spatial",
            data=ref("k"),
            geometries=data,
            reducer=MEAN,
            target_dimension="stats",
        ),
    }
    result = run(nodes)
    cube = result.value
    assert cube.dims == ("t", "bands", "geometry", "stats")
    assert labels(cube, "stats") == ["value", "total_count", "valid_count"]
    values = cube.to_python()[0]  # [bands][geometry][stats]
    nw = inside_box(WEST, NORTH - 60, WEST + 50, NORTH)
    valid = nw & ~inside_box(WEST, NORTH - 20, WEST + 20, NORTH)
    for b in range(2):
        assert values[b][0] == pytest.approx([raw[b, valid].mean(), 30, 26])
        assert values[b][1] == [None, 0, 0]  # an empty geometry: no value, no pixels
        # a point: its closest pixel centre (605075, ...45) is column 7, row 4
        assert values[b][2] == pytest.approx([raw[b, 4, 7], 1, 1])
    assert cube.data.attrs["crs"] == "4326"
    assert_agrees_with_type(result, "a")


def test_aggregate_spatial_target_dimension_exists():
    nodes = {
        "l": LOAD,
        "a": node(
            "aggregate_spatial",
            data=ref("l"),
            geometries=NW,
            reducer=MEAN,
            target_dimension="bands",
        ),
    }
    assert error_code(nodes) == "TargetDimensionExists"
    nodes["a"]["arguments"]["target_dimension"] = param("t")
    assert error_code(nodes, parameters={"t": "geometry"}) == "TargetDimensionExists"


def test_aggregate_spatial_refuses_geometry_collections():
    data = {"type": "GeometryCollection", "geometries": [NW]}
    nodes = {
        "l": LOAD,
        "a": node("aggregate_spatial", data=ref("l"), geometries=param("gj"), reducer=MEAN),
    }
    assert error_code(nodes, parameters={"gj": data}) == "ProcessParameterInvalid"


def test_aggregate_spatial_with_a_client_built_graph(raw):
    """The client's aggregate_spatial with a vector cube; the expected pixels are found by
    transforming the pixel centres to WGS84 and testing them against the polygon."""
    pytest.importorskip("openeo")
    from openeo.rest.vectorcube import VectorCube
    from rasterio.warp import transform

    field = {
        "type": "Polygon",
        "coordinates": [
            [[4.4380, 51.3960], [4.4398, 51.3962], [4.4390, 51.3972], [4.4380, 51.3960]]
        ],
    }
    cube = client_load()
    fields = VectorCube.load_geojson(connection=None, data=collection(feature(field)))
    graph = cube.aggregate_spatial(fields, reducer="max").flat_graph()
    out = pgc.run(graph)
    xs, ys = np.meshgrid(CENTRES_X, CENTRES_Y)
    lon, lat = transform("EPSG:32631", "EPSG:4326", xs.ravel(), ys.ravel())
    inside = shapely.contains_xy(shapely.geometry.shape(field), lon, lat).reshape(xs.shape)
    assert 3 <= inside.sum() < 400  # the field covers some of the 20 x 20 pixels
    np.testing.assert_array_equal(out.values[0, :, 0], raw[:, inside].max(axis=1))


def test_filter_spatial_and_mask_polygon_take_vector_cubes_in_any_crs():
    nodes = {
        "l": LOAD,
        "g": node("load_geojson", data=collection(feature(NW), feature(SE))),
        "u": node("vector_reproject", data=ref("g"), projection=3857),
    }
    by_cube = pgc.run(
        {**nodes, "f": node("filter_spatial", True, data=ref("l"), geometries=ref("u"))}
    )
    by_json = pgc.run(
        {
            "l": LOAD,
            "f": node(
                "filter_spatial",
                True,
                data=ref("l"),
                geometries=collection(feature(NW), feature(SE)),
            ),
        }
    )
    assert by_cube.shape == (1, 2, 20, 20)  # the two boxes span the whole window
    np.testing.assert_array_equal(by_cube.values, by_json.values)
    masked = pgc.run(
        {**nodes, "m": node("mask_polygon", True, data=ref("l"), mask=ref("u"))}
    ).values[0]
    inside = inside_box(WEST, NORTH - 60, WEST + 50, NORTH) | inside_box(
        WEST + 120, NORTH - 200, WEST + 200, NORTH - 150
    )
    assert np.isfinite(masked[:, inside]).all() and np.isnan(masked[:, ~inside]).all()


def test_filter_bbox_keeps_geometries_fully_within_the_box():
    """Regression (issue 5): filter_bbox on a vector cube crashed."""
    inside = {"type": "Point", "coordinates": [5.0, 50.0]}
    across = {"type": "LineString", "coordinates": [[5.0, 50.0], [7.0, 50.0]]}
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": g, "properties": {}} for g in (inside, across)
        ],
    }
    graph = {
        "g": node("load_geojson", data=collection),
        "f": node(
            "filter_bbox",
            data={"from_node": "g"},
            extent={"west": 4, "south": 49, "east": 6, "north": 51},
            result=True,
        ),
    }
    out = execute(graph).value
    assert out.data["geometry"].values.tolist() == [0]
    assert list(out.data.attrs["geometries"].values()) == [inside]


def test_run_gives_text_properties_as_objects():
    """Regression (issue 5): pgc.run on a cube of text raised a float conversion error."""
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [5.0, 50.0]},
        "properties": {"name": "Gent"},
    }
    out = pgc.run({"g": node("load_geojson", data=feature, properties=["name"], result=True)})
    assert out.values.ravel().tolist() == ["Gent"]


def test_renaming_the_geometry_dimension_and_its_labels_keeps_the_geometries():
    point = {"type": "Point", "coordinates": [5.0, 50.0]}
    graph = {
        "g": node("load_geojson", data=point),
        "l": node("rename_labels", data={"from_node": "g"}, dimension="geometry", target=["p"]),
        "d": node(
            "rename_dimension", data={"from_node": "l"}, source="geometry", target="geom",
            result=True,
        ),
    }  # fmt: skip
    out = execute(graph).value
    assert out.dims == ("geom",) and out.data.attrs["geometry_dimension"] == "geom"
    assert out.data.attrs["geometries"] == {"p": point}
