"""The spatial processes against their definitions (openeo-processes 2.0.0-rc.2, issue 17):
filter_bbox, filter_spatial, mask_polygon, mask, aggregate_spatial, apply_polygon,
resample_spatial, resample_cube_spatial, apply_kernel, apply_neighborhood and the spatial
extent of load_collection.

The oracles are the definitions' sentences, quoted with each test; the pixel-centre rule
("the point at the pixel center intersects with the polygon (as defined in the Simple
Features standard by the OGC)") is shapely's ``intersects_xy`` on the centres, which counts a
centre on the boundary as inside. Random cubes (tests/strategies.py ``raster_cubes``) have
pixel centres on the half-step lattice that the random polygons' vertices lie on, so
centres fall on edges, corners and hole boundaries; their spatial dimensions are called x/y,
lon/lat or names that say nothing (their type says spatial). Cubes in EPSG:4326 take GeoJSON
(WGS 84) as it is, so pixel sets are exact.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
import xarray as xr
from conftest import node, run_process
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from strategies import lattice, lattice_polygons, raster_cubes

import pgc
from pgc.executors.spatial import horizontal
from pgc.executors.values import Cube, with_dimension_types
from pgc.runner import execute

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(process_id: str, cube: Cube, **arguments):
    return run_process(process_id, {"c": cube}, data={"from_parameter": "c"}, **arguments)


def code_of(process_id: str, cube: Cube, **arguments) -> str:
    with pytest.raises(pgc.PgcError) as err:
        run(process_id, cube, **arguments)
    return err.value.code


def planar(cube: Cube) -> tuple[str, str]:
    x, y = horizontal(cube)
    assert x is not None and y is not None
    return x, y


def centres(cube: Cube) -> tuple[np.ndarray, np.ndarray]:
    """The pixel centres of ``cube`` as [y, x] arrays (X, Y)."""
    x, y = planar(cube)
    return np.meshgrid(cube.data[x].values, cube.data[y].values)


def inside(geojson: dict, cube: Cube) -> np.ndarray:
    """The definitions' rule: the [y, x] pixels whose centre intersects the geometry."""
    xs, ys = centres(cube)
    return shapely.intersects_xy(shapely.geometry.shape(geojson), xs, ys)


def values_of(cube: Cube) -> np.ndarray:
    """Values with NaN where there is no data (NaN values kept as NaN: compare with the
    validity separately)."""
    return np.where(cube.full_valid().values, cube.data.values.astype("float64"), np.nan)


def planar_last(cube: Cube) -> Cube:
    x, y = planar(cube)
    order = [*(d for d in cube.dims if d not in (x, y)), y, x]
    return Cube(cube.data.transpose(*order), cube.full_valid().transpose(*order))


def box(x0: float, y0: float, x1: float, y1: float) -> dict:
    return json.loads(shapely.to_geojson(shapely.box(x0, y0, x1, y1)))


def with_polygon(cube: Cube):
    """``cube`` and a lattice polygon around its grid (:func:`strategies.lattice_polygons`)."""
    x, y = planar(cube)
    return st.tuples(st.just(cube), lattice_polygons(cube, x, y))


def small(crs: str | None = "32631", names=("y", "x")) -> Cube:
    """bands a, b over 4 x 3 pixels of 10 m at centres 600005.. and 5000025.. (UTM 31N)."""
    y, x = names
    coords = {"bands": ["a", "b"], y: 5_000_025.0 - 10 * np.arange(3),
              x: 600_005.0 + 10 * np.arange(4)}  # fmt: skip
    data = xr.DataArray(np.arange(24.0).reshape(2, 3, 4), dims=["bands", y, x], coords=coords,
                        attrs={"crs": crs} if crs else {})  # fmt: skip
    cube = Cube(data, xr.ones_like(data, dtype=bool))
    return with_dimension_types(cube, {"bands": "bands", y: "spatial", x: "spatial"})


# ---------------------------------------------------------------------------------------
# filter_bbox


@FAST
@given(raster_cubes(), st.data())
def test_filter_bbox_keeps_exactly_the_pixel_centres_in_the_box(cube, data):
    """filter_bbox: "the filter retains a pixel in the data cube if the point at the pixel
    center intersects with the bounding box" (edges included); "The dimensions and
    dimension properties ... remain unchanged, except that the spatial dimensions have less
    (or the same) dimension labels" -- and no exception is named, so a box that holds no
    centre gives a cube without labels there."""
    x, y = planar(cube)
    xs, ys = lattice(cube, x, y)
    west, east = sorted((data.draw(xs), data.draw(xs)))
    south, north = sorted((data.draw(ys), data.draw(ys)))
    extent = {"west": west, "south": south, "east": east, "north": north, "crs": 4326}
    out = run("filter_bbox", cube, extent=extent)
    assert out.dims == cube.dims
    kept_x = [v for v in cube.data[x].values if west <= v <= east]
    kept_y = [v for v in cube.data[y].values if south <= v <= north]
    assert out.data[x].values.tolist() == kept_x and out.data[y].values.tolist() == kept_y
    expected = cube.sel({x: kept_x, y: kept_y})
    np.testing.assert_array_equal(values_of(out), values_of(expected))
    np.testing.assert_array_equal(out.full_valid().values, expected.full_valid().values)


def test_filter_bbox_in_another_crs_is_reprojected_to_the_cube():
    """filter_bbox: "If the bounding box is not provided in the coordinate reference system
    (CRS) of the data cube, the bounding box is reprojected to the CRS of the spatial data
    cube dimensions" -- a box given as EPSG:4326 around a UTM box holds its pixels, and the
    same box as WKT2 text of the cube's CRS is the EPSG code's box."""
    from rasterio.crs import CRS
    from rasterio.warp import transform_bounds

    cube = small()
    utm = {"west": 600_010, "south": 5_000_010, "east": 600_030, "north": 5_000_030}
    by_code = run("filter_bbox", cube, extent={**utm, "crs": 32631})
    assert by_code.data.x.values.tolist() == [600_015.0, 600_025.0]
    assert by_code.data.y.values.tolist() == [5_000_025.0, 5_000_015.0]
    wkt = CRS.from_epsg(32631).to_wkt("WKT2_2019")
    by_wkt = run("filter_bbox", cube, extent={**utm, "crs": wkt})
    assert by_wkt.data.x.values.tolist() == by_code.data.x.values.tolist()
    assert by_wkt.data.y.values.tolist() == by_code.data.y.values.tolist()
    west, south, east, north = transform_bounds("EPSG:32631", "EPSG:4326", *utm.values())
    degrees = {"west": west, "south": south, "east": east, "north": north}
    by_degrees = run("filter_bbox", cube, extent=degrees)
    assert set(by_code.data.x.values) <= set(by_degrees.data.x.values)
    assert set(by_code.data.y.values) <= set(by_degrees.data.y.values)


def test_filter_bbox_base_and_height_select_the_vertical_axis():
    """filter_bbox: "A bounding box, which may include a vertical axis (see `base` and
    `height`)" -- the z labels in [base, height] stay."""
    cube = small(crs=None)
    data = cube.data.expand_dims(z=[0.0, 10.0, 20.0, 30.0])
    cube = with_dimension_types(Cube(data, xr.ones_like(data, dtype=bool)),
                                {"z": "spatial", "y": "spatial", "x": "spatial"})  # fmt: skip
    extent = {"west": 0, "south": 0, "east": 1e7, "north": 1e7, "base": 5, "height": 20}
    out = run("filter_bbox", cube, extent=extent)
    assert out.data.z.values.tolist() == [10.0, 20.0] and out.data.sizes["x"] == 4


def test_filter_bbox_vector_keeps_geometries_fully_within():
    """filter_bbox: "For vector data cubes, the filter retains the geometry in the data
    cube if the geometry is fully within the bounding box ... All geometries that were
    empty or not contained fully within the bounding box will be removed"."""
    features = [box(0, 0, 1, 1), box(0, 0, 5, 5), {"type": "Polygon", "coordinates": []},
                {"type": "Point", "coordinates": [2, 2]}]  # fmt: skip
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g, "properties": {}} for g in features]}  # fmt: skip
    graph = {
        "g": node("load_geojson", data=collection),
        "f": node("filter_bbox", True, data={"from_node": "g"},
                  extent={"west": -1, "south": -1, "east": 3, "north": 3}),
    }  # fmt: skip
    out = execute(graph).value
    assert out.data["geometry"].values.tolist() == [0, 3]


def test_filter_bbox_type_agrees_with_the_run_and_names_no_error():
    """The type rule says the sizes the executor gives, and for a box beside the data no
    error (filter_bbox names none): x and y without labels."""
    load = node("load_collection", id="SENTINEL2_L2A_SAMPLE",
                spatial_extent={"west": 600000, "south": 5694800, "east": 600200,
                                "north": 5695000, "crs": 32631},
                temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04"])  # fmt: skip
    for extent in ({"west": 600040, "south": 5694900, "east": 600105, "north": 5694955},
                   {"west": 0, "south": 0, "east": 10, "north": 10}):  # fmt: skip
        graph = {"l": load, "f": node("filter_bbox", True, data={"from_node": "l"},
                                      extent={**extent, "crs": 32631})}  # fmt: skip
        result = execute(graph, pipeline="none")
        typed = result.plan.graph.node("f").type
        assert result.value.data.sizes["x"] == typed.dimension("x").size
        assert result.value.data.sizes["y"] == typed.dimension("y").size


# ---------------------------------------------------------------------------------------
# filter_spatial


@FAST
@given(raster_cubes().flatmap(with_polygon))
@example((small(crs="4326"), box(600_005, 5_000_005, 600_025, 5_000_025)))  # centres on edges
def test_filter_spatial_keeps_the_polygons_pixels_in_their_bounding_box(pair):
    """filter_spatial: "the filter retains a pixel in the data cube if the point at the
    pixel center intersects with at least one of the polygons"; "pixels outside of the
    bounding box of the given geometries will not be available after filtering. All pixels
    inside the bounding box that are not retained will be set to no-data values" (a box
    without pixel centres: no labels left; no error is named)."""
    cube, polygon = pair
    x, y = planar(cube)
    out = planar_last(run("filter_spatial", cube, geometries=polygon))
    west, south, east, north = shapely.geometry.shape(polygon).bounds
    kept_x = [v for v in cube.data[x].values if west <= v <= east]
    kept_y = [v for v in cube.data[y].values if south <= v <= north]
    assert out.data[x].values.tolist() == kept_x and out.data[y].values.tolist() == kept_y
    part = planar_last(cube.sel({x: kept_x, y: kept_y}))
    keep = inside(polygon, part)
    np.testing.assert_array_equal(out.full_valid().values, part.full_valid().values & keep)
    np.testing.assert_array_equal(values_of(out), np.where(keep, values_of(part), np.nan))


@st.composite
def cube_and_line(draw):
    """A cube of at least 2 x 2 pixels (so the pixel size is known) and a point or line
    string whose vertices lie inside pixels, never on an edge (there two centres are
    equally close)."""
    cube = draw(raster_cubes(max_pixels=5).filter(lambda c: min(c.data.shape[-2:]) > 1))
    x, y = planar(cube)
    step = abs(float(cube.data[x].values[1] - cube.data[x].values[0]))
    xs, ys = (st.sampled_from(list(cube.data[d].values)) for d in (x, y))
    offset = st.tuples(st.floats(0.05, 0.45), st.sampled_from([-1, 1])).map(
        lambda p: p[0] * p[1] * step
    )
    points = [(draw(xs) + draw(offset), draw(ys) + draw(offset))
              for _ in range(draw(st.integers(1, 3)))]  # fmt: skip
    geometry = shapely.LineString(points) if len(points) > 1 else shapely.Point(points[0])
    return cube, json.loads(shapely.to_geojson(geometry))


def grid_of(x0: float, y0: float, n: int = 2, step: float = 0.5) -> Cube:
    coords = {"y": y0 - (np.arange(n) + 0.5) * step, "x": x0 + (np.arange(n) + 0.5) * step}
    data = xr.DataArray(np.zeros((n, n)), dims=["y", "x"], coords=coords, attrs={"crs": "4326"})
    return with_dimension_types(Cube(data, xr.ones_like(data, dtype=bool)),
                                {"y": "spatial", "x": "spatial"})  # fmt: skip


@FAST
@given(cube_and_line())
@example((grid_of(0, 0), {"type": "LineString",
                          "coordinates": [[0.125, -0.375], [0.125, -0.375]]}))  # length 0
def test_filter_spatial_points_and_lines_select_their_closest_pixel_centres(pair):
    """filter_spatial: "For points, the process considers the closest pixel center. For
    lines (line strings), the process considers all the pixels whose centers are closest to
    at least one point on the line" -- the pixels whose square (the points closest to their
    centre) the geometry touches; they are available after filtering, with their data."""
    cube, geojson = pair
    x, y = planar(cube)
    out = planar_last(run("filter_spatial", cube, geometries=geojson))
    step = abs(float(cube.data[x].values[1] - cube.data[x].values[0]))
    cx, cy = centres(cube)
    cells = shapely.box(cx - step / 2, cy - step / 2, cx + step / 2, cy + step / 2)
    selected = shapely.intersects(cells, shapely.geometry.shape(geojson))
    rows, cols = np.flatnonzero(selected.any(axis=1)), np.flatnonzero(selected.any(axis=0))
    before = planar_last(cube).isel({y: slice(rows[0], rows[-1] + 1),
                                     x: slice(cols[0], cols[-1] + 1)})  # fmt: skip
    assert set(before.data[x].values) <= set(out.data[x].values)
    assert set(before.data[y].values) <= set(out.data[y].values)
    picked = out.sel({x: before.data[x].values, y: before.data[y].values})
    keep = selected[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    np.testing.assert_array_equal(picked.full_valid().values, before.full_valid().values & keep)


def test_filter_spatial_with_no_pixel_left_is_empty_not_an_error():
    """filter_spatial names no exception: geometries beside the data leave x and y without
    labels; empty geometries are ignored (no bounding box, no pixel)."""
    cube = small(crs="4326")
    beside = run("filter_spatial", cube, geometries=box(0, 0, 1, 1))
    assert beside.data.sizes["x"] == 0 and beside.data.sizes["y"] == 0
    empty = run("filter_spatial", cube, geometries={"type": "FeatureCollection", "features": []})
    assert 0 in empty.data.shape


# ---------------------------------------------------------------------------------------
# mask_polygon


@FAST
@given(raster_cubes().flatmap(with_polygon), st.booleans(), st.sampled_from([None, -1, 0.5]))
@example((small(crs="4326"), box(600_005, 5_000_005, 600_025, 5_000_025)), False, -1)
def test_mask_polygon_replaces_by_the_pixel_centre_rule(pair, inside_, replacement):
    """mask_polygon: "All pixels for which the point at the pixel center does not intersect
    with any polygon ... are replaced. This behavior can be inverted by setting the
    parameter inside to true. The pixel values are replaced with the value specified for
    replacement, which defaults to the no-data value ... No data values in data will be
    left untouched"; "The dimension properties (name, type, labels ...) remain unchanged"."""
    cube, polygon = pair
    arguments = {"mask": polygon, "inside": inside_}
    if replacement is not None:
        arguments["replacement"] = replacement
    out = run("mask_polygon", cube, **arguments)
    assert out.dims == cube.dims
    for d in cube.dims:
        assert out.data[d].values.tolist() == cube.data[d].values.tolist()
    hit = inside(polygon, planar_last(cube))
    hit = hit if inside_ else ~hit
    before, after = planar_last(cube), planar_last(out)
    valid = before.full_valid().values
    if replacement is None:
        np.testing.assert_array_equal(after.full_valid().values, valid & ~hit)
    else:
        np.testing.assert_array_equal(after.full_valid().values, valid)
    expected = np.where(hit, np.nan if replacement is None else replacement, values_of(before))
    np.testing.assert_array_equal(values_of(after), np.where(valid, expected, np.nan))


def test_mask_polygon_holes_multipolygons_and_another_crs():
    """mask_polygon takes "A Polygon or MultiPolygon geometry" (a centre in a hole is not in
    the polygon); GeoJSON is WGS 84 and the polygons meet the cube's pixels in its CRS."""
    from rasterio.warp import transform_geom

    cube = small()  # UTM 31N, centres at ...5 m
    outer = shapely.box(600_002.5, 5_000_002.5, 600_037.5, 5_000_027.5)
    hole = shapely.box(600_012.5, 5_000_012.5, 600_027.5, 5_000_017.5)
    far = shapely.box(600_032.5, 5_000_022.5, 600_037.5, 5_000_027.5)
    utm = shapely.MultiPolygon([outer.difference(hole).difference(far), far])
    wgs84 = transform_geom("EPSG:32631", "EPSG:4326", json.loads(shapely.to_geojson(utm)))
    out = run("mask_polygon", cube, mask=wgs84, replacement=-1)
    xs, ys = centres(cube)
    expected_hit = ~shapely.intersects_xy(utm, xs, ys)
    assert expected_hit[1, 1] and expected_hit[1, 2]  # the hole
    np.testing.assert_array_equal(out.data.values[0] == -1, expected_hit)


def test_mask_polygon_needs_polygons():
    """mask_polygon: "A GeoJSON object or a vector data cube containing at least one
    polygon" of the listed kinds; "Empty geometries are ignored"."""
    cube = small(crs="4326")
    point = {"type": "Point", "coordinates": [600_010, 5_000_010]}
    assert code_of("mask_polygon", cube, mask=point) == "ProcessParameterInvalid"
    none = {"type": "FeatureCollection", "features": []}
    assert code_of("mask_polygon", cube, mask=none) == "ProcessParameterInvalid"
    empty_and_one = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": None, "properties": {}},
        {"type": "Feature", "geometry": box(0, 0, 1, 1), "properties": {}}]}  # fmt: skip
    assert not run("mask_polygon", cube, mask=empty_and_one).full_valid().values.any()


def test_mask_polygon_replacement_of_another_kind():
    """mask_polygon: replacement may be a number, a boolean or a string; the values it
    replaces take it as it is."""
    cube = small(crs="4326")
    polygon = box(600_000, 5_000_000, 600_020, 5_000_030)
    text = run("mask_polygon", cube, mask=polygon, replacement="gone")
    assert text.data.values[0, 0].tolist() == [0.0, 1.0, "gone", "gone"]
    wide = run("mask_polygon", cube, mask=polygon, replacement=2.5)
    assert wide.data.values[0, 0].tolist() == [0.0, 1.0, 2.5, 2.5]


# ---------------------------------------------------------------------------------------
# mask


@st.composite
def cube_and_mask(draw):
    """A data cube [bands, y, x] and a mask over its grid: [y, x] or [bands, y, x] with the
    bands in another order, numbers (zeros, NaN, ...) or booleans, some no-data."""
    cube = draw(raster_cubes(bands=True, crs="4326"))
    x, y = planar(cube)
    with_bands = draw(st.booleans())
    dims = ["bands", y, x] if with_bands else [y, x]
    coords = {d: cube.data[d].values for d in dims}
    if with_bands:
        coords["bands"] = coords["bands"][::-1]
    shape = tuple(len(coords[d]) for d in dims)
    count = int(np.prod(shape))
    boolean = draw(st.booleans())
    items = st.booleans() if boolean else st.sampled_from([0.0, 1.0, -2.0, np.nan, np.inf])
    values = np.array(draw(st.lists(items, min_size=count, max_size=count))).reshape(shape)
    ok = np.array(draw(st.lists(st.booleans(), min_size=count, max_size=count))).reshape(shape)
    data = xr.DataArray(values, dims=dims, coords=coords, attrs={"crs": "4326"})
    mask = Cube(data, xr.DataArray(ok | draw(st.booleans()), dims=dims, coords=coords))
    types = {"bands": "bands", y: "spatial", x: "spatial"}
    return cube, with_dimension_types(mask, {d: types[d] for d in dims})


@FAST
@given(cube_and_mask(), st.sampled_from([None, -1, 7.5]))
def test_mask_replaces_where_the_mask_is_non_zero_or_true(pair, replacement):
    """mask: "those pixels in data are replaced whose pixels in mask are non-zero (for
    numbers) or true (for boolean values). The pixel values are replaced with the value
    specified for replacement, which defaults to the no-data value"; "Dimensions can be
    missing in the mask with the result that the mask is applied to each label of the
    dimension in data" (no-data in the mask is neither non-zero nor true)."""
    cube, mask = pair
    arguments = {} if replacement is None else {"replacement": replacement}
    out = run_process("mask", {"c": cube, "m": mask}, data={"from_parameter": "c"},
                      mask={"from_parameter": "m"}, **arguments)  # fmt: skip
    aligned = mask.data.transpose(*[d for d in cube.dims if d in mask.dims])
    valid = mask.full_valid().transpose(*aligned.dims)
    if "bands" in aligned.dims:
        order = {"bands": cube.data.bands.values}
        aligned, valid = aligned.sel(order), valid.sel(order)
    hit = (aligned.values != 0) & valid.values
    hit = np.broadcast_to(hit, cube.data.shape)
    before = cube.full_valid().values
    if replacement is None:
        np.testing.assert_array_equal(out.full_valid().values, before & ~hit)
    else:
        np.testing.assert_array_equal(out.full_valid().values, before | hit)
        np.testing.assert_array_equal(out.data.values[hit], np.full(hit.sum(), replacement))
    keep = ~hit & before
    np.testing.assert_array_equal(out.data.values[keep], cube.data.values[keep])


def test_mask_incompatible_cubes():
    """mask: "All other dimensions in the mask must also be available in the raster data
    cube with the same name, type, reference system, resolution and labels" -- else the
    exception the definition lists, IncompatibleDataCubes."""
    cube = small()
    other_bands = small()
    other_bands.data.coords["bands"] = ["a", "c"]
    other_bands = Cube(other_bands.data, other_bands.valid.assign_coords(bands=["a", "c"]))
    time = small().data.expand_dims(t=[np.datetime64("2020-01-01", "ns")])
    extra = Cube(time, xr.ones_like(time, dtype=bool))
    for bad in (other_bands, extra):
        with pytest.raises(pgc.PgcError) as err:
            run_process("mask", {"c": cube, "m": bad}, data={"from_parameter": "c"},
                        mask={"from_parameter": "m"})  # fmt: skip
        assert err.value.code == "IncompatibleDataCubes"


def test_mask_on_another_grid_is_resampled_to_the_data():
    """mask: "the horizontal spatial dimensions (axes x and y) will be aligned implicitly by
    resample_cube_spatial(). data is the target data cube for resampling and the default
    parameters of resample_cube_spatial() apply" (nearest neighbour)."""
    cube = small()
    fine = {"y": 5_000_027.5 - 5 * np.arange(6), "x": 600_002.5 + 5 * np.arange(8)}
    pattern = np.kron(np.array([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]]), np.ones((2, 2)))
    data = xr.DataArray(pattern, dims=["y", "x"], coords=fine, attrs={"crs": "32631"})
    mask = Cube(data, xr.ones_like(data, dtype=bool))
    out = run_process("mask", {"c": cube, "m": mask}, data={"from_parameter": "c"},
                      mask={"from_parameter": "m"}, replacement=-1)  # fmt: skip
    np.testing.assert_array_equal(out.data.values[0] == -1, pattern[::2, ::2] == 1)


# ---------------------------------------------------------------------------------------
# aggregate_spatial and apply_polygon


@FEW
@given(raster_cubes(bands=True, values=st.integers(-5, 5)).flatmap(with_polygon))
def test_aggregate_spatial_reduces_the_pixels_whose_centre_intersects(pair):
    """aggregate_spatial: "For polygons, the process considers all pixels for which the
    point at the pixel center intersects with the corresponding polygon"; target_dimension
    adds "the total count of pixels (valid + invalid pixels) and the number of valid
    pixels"; the spatial dimensions are replaced by a dimension of type geometry."""
    cube, polygon = pair
    reducer = {"process_graph": {"s": node("sum", True, data={"from_parameter": "data"})}}
    out = run("aggregate_spatial", cube, geometries=polygon, reducer=reducer,
              target_dimension="result")  # fmt: skip
    assert out.dims == ("bands", "geometry", "result")
    keep = inside(polygon, planar_last(cube))
    flat = planar_last(cube)
    for b in range(cube.data.sizes["bands"]):
        ok = flat.full_valid().values[b] & keep
        value, total, valid = out.data.values[b, 0]
        assert total == keep.sum() and valid == ok.sum()
        if ok.any():
            assert value == flat.data.values[b][ok].sum()
        else:
            assert not out.full_valid().values[b, 0, 0]


def test_aggregate_spatial_target_dimension_exists_and_empty_geometries():
    """aggregate_spatial: "Fails with a TargetDimensionExists exception if a dimension with
    the specified name exists"; "Empty geometries still exist but without any aggregated
    values (i.e. no-data)"; "No operation is applied to geometries that are outside of the
    bounds of the data"."""
    cube = small(crs="4326", names=("lat", "lon"))
    reducer = {"process_graph": {"s": node("mean", True, data={"from_parameter": "data"})}}
    assert code_of("aggregate_spatial", cube, geometries=box(0, 0, 1, 1), reducer=reducer,
                   target_dimension="bands") == "TargetDimensionExists"  # fmt: skip
    features = [None, box(0, 0, 1, 1), box(600_000, 5_000_000, 600_010, 5_000_030)]
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g, "properties": {}} for g in features]}  # fmt: skip
    out = run("aggregate_spatial", cube, geometries=collection, reducer=reducer)
    assert out.full_valid().values.tolist() == [[False, False, True]] * 2
    assert out.data.values[0, 2] == np.mean(cube.data.values[0, :, 0])


def test_apply_polygon_overlap_and_pixel_centres_on_the_boundary():
    """apply_polygon: "all pixels for which the point at the pixel center intersects with the
    polygon ... are collected into sub data cubes. If a pixel is part of multiple of the
    provided polygons (e.g., when the polygons overlap), the GeometriesOverlap exception is
    thrown" -- two boxes sharing the edge through a column of centres share those pixels."""
    cube = small(crs="4326", names=("lat", "lon"))
    left, right = box(600_000, 5_000_000, 600_015, 5_000_030), box(600_015, 5_000_000,
                                                                   600_040, 5_000_030)  # fmt: skip
    both = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g, "properties": {}} for g in (left, right)]}  # fmt: skip
    process = {"process_graph": {"p": node("absolute", True, x={"from_parameter": "x"})}}
    apply = {"process_graph": {"a": node("apply", True, data={"from_parameter": "data"},
                                         process=process)}}  # fmt: skip

    def apply_polygon(geojson: dict) -> Cube:
        graph = {
            "parameters": [{"name": "c", "schema": {}}],
            "process_graph": {
                "g": node("load_geojson", data=geojson),
                "a": node("apply_polygon", True, data={"from_parameter": "c"},
                          geometries={"from_node": "g"}, process=apply),
            },
        }  # fmt: skip
        return execute(graph, parameters={"c": cube}, pipeline="none").value

    with pytest.raises(pgc.PgcError) as err:
        apply_polygon(both)
    assert err.value.code == "GeometriesOverlap"
    out = apply_polygon(left)
    assert out.full_valid().values[0].tolist() == [[True, True, False, False]] * 3


# ---------------------------------------------------------------------------------------
# load_collection's spatial extent


def test_load_collection_polygon_extent_sets_pixels_outside_to_nodata():
    """load_collection spatial_extent (GeoJSON): "Limits the data cube to the bounding box
    of the given geometries. For raster data, all pixels inside the bounding box that do
    not intersect with any of the polygons will be set to the no-data value"; the type
    rule gives the sizes the run gives; the dask executor gives the same cube."""
    from rasterio.warp import transform_geom

    west, north = 600_000, 5_695_000
    triangle = shapely.Polygon([(west + 2.5, north - 2.5), (west + 97.5, north - 2.5),
                                (west + 2.5, north - 67.5)])  # fmt: skip
    geojson = transform_geom("EPSG:32631", "EPSG:4326", json.loads(shapely.to_geojson(triangle)))
    graph = {"l": node("load_collection", True, id="SENTINEL2_L2A_SAMPLE",
                       spatial_extent=geojson, temporal_extent=["2023-06-01", "2023-07-01"],
                       bands=["B04"])}  # fmt: skip
    result = execute(graph, pipeline="none")
    cube = result.value
    typed = result.plan.graph.node("l").type
    assert cube.data.sizes["x"] == typed.dimension("x").size == 10
    assert cube.data.sizes["y"] == typed.dimension("y").size == 7
    xs, ys = np.meshgrid(cube.data.x.values, cube.data.y.values)
    expected = shapely.intersects_xy(triangle, xs, ys)
    np.testing.assert_array_equal(cube.full_valid().values[0, 0], expected)
    chunked = execute(graph, pipeline="none", executor="dask")
    np.testing.assert_array_equal(chunked.value.full_valid().values, cube.full_valid().values)
    point = {"type": "Point", "coordinates": [4.43, 51.39]}
    with pytest.raises(pgc.PgcError) as err:
        execute({"l": {**graph["l"], "arguments": {**graph["l"]["arguments"],
                                                   "spatial_extent": point}}})  # fmt: skip
    assert err.value.code == "ProcessParameterInvalid"


def test_filter_spatial_type_agrees_with_the_run():
    """The filter_spatial type rule gives the sizes the run gives (polygons: their box;
    lines: the pixels they pass through, just beyond their box)."""
    from rasterio.warp import transform_geom

    load = node("load_collection", id="SENTINEL2_L2A_SAMPLE",
                spatial_extent={"west": 600000, "south": 5694800, "east": 600200,
                                "north": 5695000, "crs": 32631},
                temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04"])  # fmt: skip
    line = {"type": "LineString", "coordinates": [[600_013.0, 5_694_987.0],
                                                  [600_071.0, 5_694_933.0]]}  # fmt: skip
    square = box(600_012.5, 5_694_922.5, 600_077.5, 5_694_987.5)
    for geometry in (square, line):
        degrees = transform_geom("EPSG:32631", "EPSG:4326", geometry)
        graph = {"l": load, "f": node("filter_spatial", True, data={"from_node": "l"},
                                      geometries=degrees)}  # fmt: skip
        result = execute(graph, pipeline="none")
        typed = result.plan.graph.node("f").type
        assert result.value.data.sizes["x"] == typed.dimension("x").size
        assert result.value.data.sizes["y"] == typed.dimension("y").size
        optimized = execute(graph)
        np.testing.assert_array_equal(values_of(optimized.value), values_of(result.value))


# ---------------------------------------------------------------------------------------
# apply_kernel


def correlate(values: np.ndarray, kernel: np.ndarray, mode: str, fill: float) -> np.ndarray:
    """The definition's sum of weights times neighbours, by hand (numpy padding)."""
    ky, kx = kernel.shape[0] // 2, kernel.shape[1] // 2
    pad = [(0, 0)] * (values.ndim - 2) + [(ky, ky), (kx, kx)]
    padded = np.pad(values, pad, mode="constant", constant_values=fill) if mode == "constant" \
        else np.pad(values, pad, mode=mode)  # fmt: skip
    out = np.zeros(values.shape)
    height, width = values.shape[-2:]
    for i in range(kernel.shape[0]):
        for j in range(kernel.shape[1]):
            out = out + kernel[i, j] * padded[..., i : i + height, j : j + width]
    return out


BORDERS = {"replicate": "edge", "reflect": "symmetric", "reflect_pixel": "reflect",
           "wrap": "wrap"}  # fmt: skip


@FAST
@given(
    raster_cubes(),
    st.sampled_from([[[1]], [[0, 1, 0], [1, -4, 1], [0, 1, 0]], [[1, 2, 1]], [[1], [0], [-1]]]),
    st.one_of(st.sampled_from(list(BORDERS)), st.integers(-3, 3)),
    st.integers(-2, 2),
    st.sampled_from([1, 0.5]),
)
def test_apply_kernel_is_the_weighted_sum_of_the_neighbours(
    cube, kernel, border, replace_invalid, factor
):
    """apply_kernel: "Each value in the kernel is multiplied with the corresponding pixel
    value and all products are summed up afterwards. The sum is then multiplied with the
    factor"; "The inner level of the nested array aligns with the x axis and the outer
    level aligns with the y axis"; "NaN, no-data, or infinite values are replaced with
    zeroes by default (see parameter replace_invalid)"; the border modes
    (``nnn|abc|nnn``, replicate, reflect, reflect_pixel, wrap)."""
    out = run("apply_kernel", cube, kernel=kernel, border=border,
              replace_invalid=replace_invalid, factor=factor)  # fmt: skip
    flat = planar_last(cube)
    values = flat.data.values
    values = np.where(flat.full_valid().values & np.isfinite(values), values, replace_invalid)
    mode = "constant" if isinstance(border, int) else BORDERS[border]
    expected = correlate(values, np.array(kernel, float), mode, border if mode == "constant"
                         else 0) * factor  # fmt: skip
    np.testing.assert_allclose(planar_last(out).data.values, expected, rtol=1e-12, atol=1e-9)
    assert out.full_valid().values.all()


def test_apply_kernel_uneven_and_malformed_kernels():
    """apply_kernel: "Each level of the kernel must have an uneven number of elements,
    otherwise the process throws a KernelDimensionsUneven exception"."""
    cube = small()
    for kernel in ([[1, 1]], [[1], [1]], [[1, 1, 1], [1, 1, 1]], [[]]):
        assert code_of("apply_kernel", cube, kernel=kernel) == "KernelDimensionsUneven"
    assert code_of("apply_kernel", cube, kernel=[[1, 1, 1], [1]]) in (
        "ProcessParameterInvalid", "KernelDimensionsUneven")  # fmt: skip


# ---------------------------------------------------------------------------------------
# apply_neighborhood


@FEW
@given(raster_cubes(max_pixels=5), st.integers(1, 3), st.integers(0, 2))
def test_apply_neighborhood_identity_gives_the_cube_back(cube, size, overlap):
    """apply_neighborhood: the process gets neighbourhoods of size (plus overlap) and "The
    overlap region must be included in the data cube ... returned by process, but any
    changed values will be ignored"; the result has "the same dimensions" and properties
    -- an identity process gives the cube back, whatever the spatial dimensions' names."""
    x, y = planar(cube)
    process = {"process_graph": {"p": node("absolute", True, x={"from_parameter": "x"})}}
    identity = {"process_graph": {"a": node("apply", True, data={"from_parameter": "data"},
                                            process=process)}}  # fmt: skip
    chunk = [{"dimension": d, "value": size, "unit": "px"} for d in (x, y)]
    margin = [{"dimension": d, "value": overlap, "unit": "px"} for d in (x, y)]
    out = run("apply_neighborhood", cube, process=identity, size=chunk, overlap=margin)
    assert out.dims == cube.dims
    np.testing.assert_array_equal(out.full_valid().values, cube.full_valid().values)
    np.testing.assert_array_equal(values_of(out), np.abs(values_of(cube)))


def test_apply_neighborhood_errors():
    """apply_neighborhood: DimensionNotAvailable ("A dimension with the specified name does
    not exist") and DataCubePropertiesImmutable (the process changed the labels)."""
    cube = small()
    process = {"process_graph": {"p": node("absolute", True, x={"from_parameter": "x"})}}
    identity = {"process_graph": {"a": node("apply", True, data={"from_parameter": "data"},
                                            process=process)}}  # fmt: skip
    size = [{"dimension": "nope", "value": 2, "unit": "px"}]
    assert code_of("apply_neighborhood", cube, process=identity, size=size) == \
        "DimensionNotAvailable"  # fmt: skip
    cut = {"process_graph": {"f": node("filter_bands", True, data={"from_parameter": "data"},
                                       bands=["a"])}}  # fmt: skip
    size = [{"dimension": "x", "value": 2, "unit": "px"}]
    assert code_of("apply_neighborhood", cube, process=cut, size=size) == \
        "DataCubePropertiesImmutable"  # fmt: skip


# ---------------------------------------------------------------------------------------
# resample_spatial, resample_cube_spatial


@FEW
@given(raster_cubes(crs="32631", bands=False))
@example(grid_of(0, 0, step=1.0))  # 1 m pixels with their corner at 0, 0: GDAL warped nothing
def test_resample_near_to_a_finer_grid_repeats_the_values(cube):
    """resample_spatial: "near: nearest neighbour resampling" to half the resolution
    repeats every pixel 2 x 2, NaN, infinities and no-data as they are (a value, not
    computed); the dimensions keep their names."""
    x, y = planar(cube)
    step = (abs(float(cube.data[x].values[1] - cube.data[x].values[0]))
            if cube.data.sizes[x] > 1 else None)  # fmt: skip
    if step is None or cube.data.sizes[y] < 2:
        return
    out = run("resample_spatial", cube, resolution=step / 2, method="near")
    assert out.dims == cube.dims
    repeated = np.repeat(np.repeat(values_of(cube), 2, axis=0), 2, axis=1)
    np.testing.assert_array_equal(values_of(out), repeated)


def test_resample_methods_of_valid_pixels_leave_infinities_out():
    """resample_spatial: "max: maximum resampling, selects the maximum value from all valid
    pixels ... Valid pixels are determined based on the function is_valid()" (not no-data,
    NaN or infinite)."""
    cube = small()
    data = cube.data.copy(data=cube.data.values.copy())
    data.values[0, 0, 0] = np.inf
    data.values[0, 0, 1] = np.nan
    out = run("resample_spatial", Cube(data, cube.valid), resolution=20, method="max")
    assert out.data.values[0, 0, 0] == data.values[0, 1, 1]  # the finite maximum


def test_resample_cube_spatial_onto_itself_is_the_identity():
    """resample_cube_spatial: "Resamples the spatial dimensions (x,y) from a source data
    cube to align with the corresponding dimensions of the given target data cube" -- onto
    its own grid, nothing changes (default near); the dimensions keep their names."""
    cube = small(names=("lat", "lon"))
    out = run_process("resample_cube_spatial", {"c": cube}, data={"from_parameter": "c"},
                      target={"from_parameter": "c"})  # fmt: skip
    assert out.dims == cube.dims
    np.testing.assert_array_equal(values_of(out), values_of(cube))


# ---------------------------------------------------------------------------------------
# the dask executor agrees


def test_dask_filter_spatial_and_mask_polygon_agree_with_the_reference():
    """filter_spatial and mask_polygon run lazily on chunks with the reference's code: the
    same pixels as the reference on a load of the sample collection."""
    from rasterio.warp import transform_geom

    from pgc.executors.dask.chunked import DaskOptions

    load = node("load_collection", id="SENTINEL2_L2A_SAMPLE",
                spatial_extent={"west": 600000, "south": 5694800, "east": 600200,
                                "north": 5695000, "crs": 32631},
                temporal_extent=["2023-06-01", "2023-07-01"], bands=["B04"])  # fmt: skip
    square = transform_geom("EPSG:32631", "EPSG:4326",
                            box(600_012.5, 5_694_922.5, 600_077.5, 5_694_987.5))  # fmt: skip
    for process_id, argument in (("filter_spatial", "geometries"), ("mask_polygon", "mask")):
        graph = {"l": load, "f": node(process_id, True, data={"from_node": "l"},
                                      **{argument: square})}  # fmt: skip
        reference = execute(graph, pipeline="none").value
        chunked = execute(graph, pipeline="none", executor="dask", dask=DaskOptions(chunk=7))
        np.testing.assert_array_equal(values_of(chunked.value), values_of(reference))
