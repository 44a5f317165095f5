"""apply_neighborhood, aggregate_spatial_window, flatten_dimensions and unflatten_dimension
in the reference executor.

Expected values are computed here with plain numpy on the generated bands of the sample
collection: B04 and B08 on 2023-05-10 and 2023-06-10, rows 0..14 and columns 30..49 of
the grid (10 m pixels, EPSG:32631). On 2023-05-10 columns 30..39 are outside the swath:
no-data (value 0), which the expected values mask by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import node

import pgc
from pgc.compiler import compile as compile_graph
from pgc.data import sample
from pgc.executors.reference import IMPLEMENTATIONS
from pgc.executors.values import Cube
from pgc.runner import execute

COLLECTION = "SENTINEL2_L2A_SAMPLE"
EXTENT = {"west": 600300, "south": 5694850, "east": 600500, "north": 5695000, "crs": 32631}
BANDS = ["B04", "B08"]
DATES = ["2023-05-10T10:30:00Z", "2023-06-10T10:30:00Z"]
X = 600305.0 + 10 * np.arange(20)  # pixel centres, west to east
Y = 5694995.0 - 10 * np.arange(15)  # north to south
LOAD = node(
    "load_collection",
    id=COLLECTION,
    spatial_extent=EXTENT,
    temporal_extent=["2023-05-01", "2023-07-01"],
    bands=BANDS,
)
DATA = {"from_node": "l"}
PARAM = {"from_parameter": "data"}
KERNEL = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=float)


def reducer(process_id: str, **arguments) -> dict:
    return {"process_graph": {"r": node(process_id, result=True, data=PARAM, **arguments)}}


def run(**nodes) -> xr.DataArray:
    """The last node's value (no-data as NaN), on the LOAD cube as node 'l'."""
    return pgc.run(_graph(nodes))


def run_cube(**nodes) -> Cube:
    """The last node's value as a Cube: values and validity apart."""
    return execute(_graph(nodes)).value


def _graph(nodes: dict) -> dict:
    nodes = {"l": LOAD, **nodes}
    last = list(nodes)[-1]
    nodes[last] = {**nodes[last], "result": True}
    return nodes


def error_code(graph: dict, **parameters) -> str:
    with pytest.raises(pgc.PgcError) as err:
        execute(graph, parameters=parameters or None, pipeline="none")
    return err.value.code


def on_parameter_cube(process_id: str, **arguments) -> dict:
    """A graph whose cube is a parameter: its type is unknown, so only the executor can
    find what is wrong (the type rules stay silent)."""
    return {
        "parameters": [{"name": "cube", "schema": {}}],
        "process_graph": {
            "p": node(process_id, result=True, data={"from_parameter": "cube"}, **arguments)
        },
    }


def client_load():
    """load_collection built offline with the official openEO client."""
    from openeo.rest.datacube import DataCube

    return DataCube.load_collection(
        COLLECTION,
        connection=None,
        fetch_metadata=False,
        spatial_extent=EXTENT,
        temporal_extent=["2023-05-01", "2023-07-01"],
        bands=BANDS,
    )


def nan_below_1500(source: dict) -> dict:
    """Nodes a, b: sqrt(x - 1500), NaN where a value is below 1500 (no-data stays)."""
    minus = {"process_graph": {"m": node("subtract", result=True, x={"from_parameter": "x"},
                                         y=1500)}}  # fmt: skip
    sqrt = {"process_graph": {"s": node("sqrt", result=True, x={"from_parameter": "x"})}}
    return {
        "a": node("apply", data=source, process=minus),
        "b": node("apply", data={"from_node": "a"}, process=sqrt),
    }


@pytest.fixture(scope="module")
def raw() -> np.ndarray:
    """The cube's values [t, bands, y, x] as float64."""
    data = sample.generate()
    return np.stack([data[b][4:6, 0:15, 30:50] for b in BANDS], axis=1).astype("float64")


@pytest.fixture(scope="module")
def valid(raw) -> np.ndarray:
    return raw != 0  # the collection's nodata value


def test_the_sample_window_is_what_the_tests_assume(raw, valid):
    cube = run_cube(i=node("inspect", data=DATA))
    assert cube.dims == ("t", "bands", "y", "x")
    np.testing.assert_array_equal(cube.data.values, raw)
    np.testing.assert_array_equal(cube.data.x.values, X)
    np.testing.assert_array_equal(cube.data.y.values, Y)
    assert not valid[0, :, :, :10].any() and valid[0, :, :, 10:].all() and valid[1].all()


# ---------------------------------------------------------------------------------------
# apply_neighborhood


def pixels(**sizes) -> list[dict]:
    return [{"dimension": d, "value": v, "unit": "px"} for d, v in sizes.items()]


def kernel_process() -> dict:
    kernel = KERNEL.astype(int).tolist()
    return {"process_graph": {"k": node("apply_kernel", result=True, data=PARAM, kernel=kernel)}}


def correlate(values: np.ndarray) -> np.ndarray:
    """KERNEL over the last two axes, zero beyond the edges (apply_kernel's border 0)."""
    height, width = values.shape[-2:]
    padded = np.pad(values, [(0, 0)] * (values.ndim - 2) + [(1, 1), (1, 1)])
    out = np.zeros_like(values)
    for i, j in np.ndindex(*KERNEL.shape):
        out += KERNEL[i, j] * padded[..., i : i + height, j : j + width]
    return out


def test_apply_neighborhood_with_overlap_equals_the_kernel_over_the_whole_cube(raw, valid):
    # An overlap of one pixel gives the 3x3 kernel all the neighbours it needs; at the
    # cube's edges the neighbourhood is padded with no-data, which apply_kernel reads as 0
    # (replace_invalid), as it reads the missing pixels beyond the edge (border 0).
    out = run(
        n=node(
            "apply_neighborhood",
            data=DATA,
            process=kernel_process(),
            size=pixels(x=8, y=8),
            overlap=pixels(x=1, y=1),
        )
    )
    assert out.dims == ("t", "bands", "y", "x")
    np.testing.assert_array_equal(out.values, correlate(np.where(valid, raw, 0)))


def test_apply_neighborhood_without_overlap_sees_each_block_alone(raw, valid):
    out = run(
        n=node(
            "apply_neighborhood",
            data=DATA,
            process=kernel_process(),
            size=pixels(x=8, y=8),
        )
    )
    values = np.where(valid, raw, 0)
    expected = np.zeros_like(values)
    for rows in (slice(0, 8), slice(8, 15)):  # the last blocks are partial (15 x 20 pixels)
        for cols in (slice(0, 8), slice(8, 16), slice(16, 20)):
            expected[..., rows, cols] = correlate(values[..., rows, cols])
    np.testing.assert_array_equal(out.values, expected)
    assert not np.array_equal(expected, correlate(values))  # the blocks' edges differ


def test_apply_neighborhood_from_the_openeo_client(raw, valid):
    pytest.importorskip("openeo")
    cube = client_load().apply_neighborhood(
        lambda data: data.apply_kernel(kernel=KERNEL.astype(int).tolist()),
        size=[
            {"dimension": "x", "value": 8, "unit": "px"},
            {"dimension": "y", "value": 8, "unit": "px"},
        ],
        overlap=[
            {"dimension": "x", "value": 1, "unit": "px"},
            {"dimension": "y", "value": 1, "unit": "px"},
        ],
    )
    graph = cube.flat_graph()
    assert {n["process_id"] for n in graph.values()} == {
        "load_collection",
        "apply_neighborhood",
    }
    np.testing.assert_array_equal(pgc.run(graph).values, correlate(np.where(valid, raw, 0)))


@pytest.fixture
def windows(monkeypatch) -> list[Cube]:
    """The cubes an ``inspect`` callback is called with, in order."""
    seen: list[Cube] = []
    inspect = IMPLEMENTATIONS["inspect"]

    def spy(call):
        seen.append(call.get("data"))
        return inspect(call)

    monkeypatch.setitem(IMPLEMENTATIONS, "inspect", spy)
    return seen


@pytest.fixture
def stamped(monkeypatch) -> list[Cube]:
    """Like ``windows``, but ``inspect`` returns the neighbourhood's number (1, 2, ...)
    everywhere: the stitched cube shows which neighbourhood wrote each value."""
    seen: list[Cube] = []

    def stamp(call):
        data = call.get("data")
        seen.append(data)
        return Cube(xr.full_like(data.data, len(seen)), xr.ones_like(data.valid))

    monkeypatch.setitem(IMPLEMENTATIONS, "inspect", stamp)
    return seen


INSPECT = {"process_graph": {"i": node("inspect", result=True, data=PARAM)}}


def neighbourhoods(size: list[dict], overlap: list[dict] | None = None, **load) -> Cube:
    """apply_neighborhood with an identity process (inspect): the stitched result."""
    args = {"size": size} if overlap is None else {"size": size, "overlap": overlap}
    return run_cube(
        l={**LOAD, "arguments": {**LOAD["arguments"], **load}},
        n=node("apply_neighborhood", data=DATA, process=INSPECT, **args),
    )


def test_apply_neighborhood_pads_border_neighbourhoods_with_no_data(raw, valid, windows):
    out = neighbourhoods(pixels(x=8, y=8), pixels(x=2, y=2))
    # 15 x 20 pixels in 8 x 8 neighbourhoods: 2 x 3 of them, each 8 + 2 * 2 pixels wide.
    assert len(windows) == 6
    assert {w.data.shape for w in windows} == {(2, 2, 12, 12)}
    last = windows[-1]  # rows 8..15 and columns 16..23, with 2 pixels around
    rows, cols = np.arange(6, 18), np.arange(14, 26)
    np.testing.assert_array_equal(last.data.y.values, 5694995.0 - 10 * rows)
    np.testing.assert_array_equal(last.data.x.values, 600305.0 + 10 * cols)
    beyond = [(0, 0), (0, 0), (0, 3), (0, 6)]  # rows 15..17 and columns 20..25: no-data
    np.testing.assert_array_equal(last.valid.values, np.pad(valid[..., 6:, 14:], beyond))
    np.testing.assert_array_equal(last.data.values[..., :9, :6], raw[..., 6:, 14:])
    first = windows[0]  # starts 2 pixels before the cube: no-data there
    assert not first.valid.values[..., :2, :].any() and not first.valid.values[..., :, :2].any()
    np.testing.assert_array_equal(first.data.values[..., 2:, 2:], raw[..., :10, :10])
    # The identity process gives the cube back: overlap and padding are cut off again.
    np.testing.assert_array_equal(out.valid.values, valid)
    np.testing.assert_array_equal(np.where(valid, out.data.values, 0), np.where(valid, raw, 0))
    assert out.data.dtype == np.uint16  # the process returned the values as they were


def test_apply_neighborhood_writes_back_each_neighbourhood_without_its_overlap(stamped):
    out = neighbourhoods(pixels(x=8, y=8), pixels(x=2, y=2))
    rows, cols = np.arange(15) // 8, np.arange(20) // 8  # neighbourhoods in row-major order
    expected = 1 + rows[:, None] * 3 + cols[None, :]
    np.testing.assert_array_equal(out.data.values, np.broadcast_to(expected, (2, 2, 15, 20)))
    assert out.valid.values.all()  # what the process returned, even in the no-data strip


@pytest.mark.parametrize(
    "size, overlap",
    [
        (pixels(x=8, y=8), pixels(x=2, y=2)),
        (
            [{"dimension": d, "value": 80, "unit": "m"} for d in "xy"],
            [{"dimension": d, "value": 15, "unit": "m"} for d in "xy"],  # 1.5 px: rounded up
        ),
        (
            # No unit: the unit of the reference system, metres for UTM (the definition).
            [{"dimension": d, "value": 80} for d in "xy"],
            [{"dimension": d, "value": 20, "unit": None} for d in "xy"],
        ),
    ],
    ids=["pixels", "metres", "reference-system-units"],
)
def test_apply_neighborhood_sizes_in_pixels_or_metres(windows, size, overlap):
    neighbourhoods(size, overlap)
    assert len(windows) == 6 and {w.data.shape[-2:] for w in windows} == {(12, 12)}


def test_apply_neighborhood_larger_than_the_cube_is_one_neighbourhood(raw, windows):
    out = neighbourhoods(pixels(x=100, y=100), pixels(x=1))
    [window] = windows
    assert window.data.shape == (2, 2, 15, 22)  # only the overlap is added
    np.testing.assert_array_equal(window.data.x.values, 600305.0 + 10 * np.arange(-1, 21))
    np.testing.assert_array_equal(out.data.values, raw)


def test_apply_neighborhood_over_bands_and_dates_by_label_count(raw, windows):
    out = neighbourhoods(pixels(bands=1, t=1))
    assert [w.data.shape for w in windows] == [(1, 1, 15, 20)] * 4
    assert [(str(w.data.bands.values[0]), str(w.data.t.values[0])[:10]) for w in windows] == [
        ("B04", "2023-05-10"),
        ("B08", "2023-05-10"),
        ("B04", "2023-06-10"),
        ("B08", "2023-06-10"),
    ]
    np.testing.assert_array_equal(out.data.values, raw)
    windows.clear()
    # Along dimensions other than x and y there are no labels to pad with: the overlap
    # stops at the first and last band.
    neighbourhoods(pixels(bands=1), pixels(bands=1))
    assert [list(w.data.bands.values) for w in windows] == [BANDS, BANDS]


FOUR_MONTHS = ["2023-03-01", "2023-07-01"]  # 03-10, 04-10, 05-10, 06-10


def test_apply_neighborhood_over_time_by_duration(windows):
    size = [{"dimension": "t", "value": "P2M"}]
    overlap = [{"dimension": "t", "value": "P10D"}]
    out = neighbourhoods(size, overlap, temporal_extent=FOUR_MONTHS)
    dates = [[str(v)[:10] for v in w.data.t.values] for w in windows]
    # [03-10, 05-10) and [05-10, 07-10), each 10 days wider on both sides
    assert dates == [["2023-03-10", "2023-04-10", "2023-05-10"], ["2023-05-10", "2023-06-10"]]
    data = sample.generate()
    expected = np.stack([data[b][2:6, 0:15, 30:50] for b in BANDS], axis=1)
    np.testing.assert_array_equal(out.data.values, expected)
    np.testing.assert_array_equal(out.valid.values, expected != 0)


@pytest.mark.parametrize(
    "size, overlap, owners",
    [
        ("P2M", "P10D", [1, 1, 2, 2]),
        ("P1M", "P1M", [1, 2, 3, 4]),
        ("P45D", None, [1, 1, 2, 3]),  # [03-10, 04-24), [04-24, 06-08), [06-08, 07-23)
        ("P1Y", "P1D", [1, 1, 1, 1]),
    ],
)
def test_apply_neighborhood_over_time_writes_back_each_date_once(stamped, size, overlap, owners):
    sizes = [{"dimension": "t", "value": size}]
    overlaps = None if overlap is None else [{"dimension": "t", "value": overlap}]
    out = neighbourhoods(sizes, overlaps, temporal_extent=FOUR_MONTHS)
    assert out.data.values[:, 0, 0, 0].tolist() == owners


def test_apply_neighborhood_keeps_nan_and_no_data_apart(raw, valid):
    out = run_cube(
        **nan_below_1500(DATA),
        n=node(
            "apply_neighborhood",
            data={"from_node": "b"},
            process=INSPECT,
            size=pixels(x=6, y=6),
            overlap=pixels(x=3, y=3),
        ),
    )
    with np.errstate(invalid="ignore"):
        expected = np.sqrt(raw - 1500)  # NaN where the value is below 1500
    assert np.isnan(expected[valid]).any() and np.isfinite(expected[valid]).any()
    np.testing.assert_array_equal(out.valid.values, valid)
    np.testing.assert_array_equal(out.data.values[valid], expected[valid])  # NaN == NaN here


def test_apply_neighborhood_must_keep_dimensions_and_labels():
    size = pixels(x=8, y=8)
    shrink = {"process_graph": {"f": node("filter_bbox", result=True, data=PARAM, extent=EXTENT)}}
    graph = _graph({"n": node("apply_neighborhood", data=DATA, process=shrink, size=size)})
    assert error_code(graph) == "DataCubePropertiesImmutable"  # labels of x and y change
    context = {"process_graph": {"c": node("inspect", result=True,
                                           data={"from_parameter": "context"})}}  # fmt: skip
    graph = _graph({"n": node("apply_neighborhood", data=DATA, process=context, size=size,
                              context=3)})  # fmt: skip
    assert error_code(graph) == "DataCubePropertiesImmutable"  # a number, not a cube
    reduce = {
        "process_graph": {
            "r": node(
                "reduce_dimension", result=True, data=PARAM, dimension="t", reducer=reducer("mean")
            )  # fmt: skip
        }
    }
    graph = _graph({"n": node("apply_neighborhood", data=DATA, process=reduce, size=size)})
    assert error_code(graph) == "DataCubePropertiesImmutable"  # the type rule sees this one
    # On a cube of unknown type only the executor sees the missing dimension.
    graph = on_parameter_cube("apply_neighborhood", process=reduce, size=size)
    assert error_code(graph, cube=run_cube()) == "DataCubePropertiesImmutable"


def test_apply_neighborhood_errors():
    def code(size, overlap=None):
        args = {"size": size} if overlap is None else {"size": size, "overlap": overlap}
        graph = on_parameter_cube("apply_neighborhood", process=INSPECT, **args)
        return error_code(graph, cube=run_cube())

    assert code(pixels(z=8)) == "DimensionNotAvailable"
    assert code(pixels(x=8), pixels(z=1)) == "DimensionNotAvailable"
    assert code(pixels(x=8) + pixels(x=4)) == "ProcessParameterInvalid"  # listed twice
    assert code(pixels(x=0)) == "ProcessParameterInvalid"
    assert code([{"dimension": "x", "value": "P1D"}]) == "ProcessParameterInvalid"
    assert code([{"dimension": "t", "value": "-P1D"}]) == "ProcessParameterInvalid"
    assert code([{"dimension": "t", "value": "P0D"}]) == "ProcessParameterInvalid"
    assert code([{"dimension": "bands", "value": 1, "unit": "m"}]) == "ProcessParameterInvalid"
    mixed = code([{"dimension": "t", "value": "P1M"}], pixels(t=1))
    assert mixed == "ProcessUnsupported"
    literal = _graph({"n": node("apply_neighborhood", data=DATA, process=INSPECT,
                                size=pixels(z=8))})  # fmt: skip
    assert error_code(literal) == "DimensionNotAvailable"  # found by the type rule


# ---------------------------------------------------------------------------------------
# aggregate_spatial_window


def blocks(values: np.ndarray, fill, size: tuple[int, int], boundary: str, align: str):
    """``values`` [..., y, x] padded with ``fill`` or trimmed at the corner opposite
    ``align`` (rows run north to south), as [..., rows, columns, pixels of a window]."""
    size_x, size_y = size
    layout = []
    for axis, n, s, at_start in (
        (-2, values.shape[-2], size_y, align.startswith("upper")),
        (-1, values.shape[-1], size_x, align.endswith("left")),
    ):
        if boundary == "trim":
            keep = n // s * s
            index = np.arange(keep) if at_start else np.arange(n - keep, n)
            values = np.take(values, index, axis=axis)
        else:
            extra = -n % s
            pad = [(0, 0)] * values.ndim
            pad[axis] = (0, extra) if at_start else (extra, 0)
            values = np.pad(values, pad, constant_values=fill)
        layout.append(values.shape[axis] // s)
    rows, cols = layout
    shaped = values.reshape(*values.shape[:-2], rows, size_y, cols, size_x)
    return np.swapaxes(shaped, -3, -2).reshape(*values.shape[:-2], rows, cols, -1)


def centres(coords: np.ndarray, size: int, boundary: str, at_start: bool) -> np.ndarray:
    """Window centres: the mean coordinate of each window, padding continuing the grid."""
    n, step = len(coords), coords[1] - coords[0]
    if boundary == "trim":
        keep = n // size * size
        grid = coords[:keep] if at_start else coords[n - keep :]
    else:
        extra = -n % size
        grid = coords[0] + step * (np.arange(n + extra) if at_start else np.arange(-extra, n))
    return grid.reshape(-1, size).mean(axis=1)


def masked_mean(values: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over the last axis of the valid values (NaN stays NaN); where none: no-data."""
    count = ok.sum(axis=-1)
    with np.errstate(invalid="ignore"):
        mean = np.where(ok, values, 0).sum(axis=-1) / count
    return mean, count > 0


@pytest.mark.parametrize(
    "size, boundary, align",
    [
        ((3, 2), "pad", "upper-left"),
        ((3, 2), "trim", "lower-right"),
        ((4, 4), "pad", "lower-left"),
        ((6, 4), "trim", "upper-right"),
        ((1, 1), "pad", "upper-left"),
    ],
)
def test_aggregate_spatial_window_mean_matches_numpy(raw, valid, size, boundary, align):
    out = run_cube(
        a=node(
            "aggregate_spatial_window",
            data=DATA,
            reducer=reducer("mean"),
            size=list(size),
            boundary=boundary,
            align=align,
        )
    )
    values = blocks(raw, 0.0, size, boundary, align)
    ok = blocks(valid, False, size, boundary, align)
    mean, has = masked_mean(values, ok)
    assert out.dims == ("t", "bands", "y", "x")
    np.testing.assert_array_equal(out.valid.values, has)
    np.testing.assert_allclose(out.data.values[has], mean[has], rtol=1e-12)
    assert not has.all() and has.any()  # windows in the no-data strip, and beside it
    x_at_start, y_at_start = align.endswith("left"), align.startswith("upper")
    np.testing.assert_allclose(out.data.x.values, centres(X, size[0], boundary, x_at_start))
    np.testing.assert_allclose(out.data.y.values, centres(Y, size[1], boundary, y_at_start))


@pytest.mark.parametrize("boundary", ["pad", "trim"])
@pytest.mark.parametrize("align", ["upper-left", "upper-right", "lower-left", "lower-right"])
def test_aggregate_spatial_window_agrees_with_the_type_rule(boundary, align):
    args = dict(reducer=reducer("max"), size=[3, 4], boundary=boundary, align=align)
    graph = _graph({"a": node("aggregate_spatial_window", data=DATA, **args)})
    inferred = compile_graph(graph).graph.result_node.type
    out = execute(graph).value
    assert tuple(d.name for d in inferred.dimensions) == out.dims
    for dim in ("x", "y"):
        rule = inferred.dimension(dim)
        labels = out.data[dim].values
        assert len(labels) == round((rule.extent[1] - rule.extent[0]) / rule.step)
        assert sorted([labels[0], labels[-1]]) == pytest.approx(
            [rule.extent[0] + rule.step / 2, rule.extent[1] - rule.step / 2]
        )
    assert str(out.data.dtype) == inferred.dtype


def test_aggregate_spatial_window_windows_hold_their_pixels_and_padding(raw, valid):
    size = [3, 2]  # 20 columns: the last window has 2 pixels and 1 of padding
    out = {
        name: run_cube(a=node("aggregate_spatial_window", data=DATA, reducer=r, size=size))
        for name, r in {
            "all": reducer("count", condition=True),
            "valid": reducer("count"),
            "first": reducer("first"),
            "max": reducer("max"),
        }.items()
    }
    np.testing.assert_array_equal(out["all"].data.values, 6)  # padding counts as elements
    ok = blocks(valid, False, (3, 2), "pad", "upper-left")
    values = blocks(raw, 0.0, (3, 2), "pad", "upper-left")
    np.testing.assert_array_equal(out["valid"].data.values, ok.sum(axis=-1))
    # The last column of windows has 2 x 2 pixels, 2 x 1 in the last row; that row 3 x 1.
    assert out["valid"].data.values[1, :, :, -1].tolist() == [[4] * 7 + [2]] * 2
    assert out["valid"].data.values[1, :, -1, 0].tolist() == [3, 3]
    first = np.take_along_axis(values, np.argmax(ok, axis=-1)[..., None], axis=-1)[..., 0]
    has = ok.any(axis=-1)
    np.testing.assert_array_equal(out["first"].data.values[has], first[has])
    np.testing.assert_array_equal(out["first"].valid.values, has)
    np.testing.assert_array_equal(
        out["max"].data.values[has], np.where(ok, values, -np.inf).max(axis=-1)[has]
    )


def test_aggregate_spatial_window_nan_is_a_value(raw, valid):
    out = run_cube(
        **nan_below_1500(DATA),
        w=node(
            "aggregate_spatial_window", data={"from_node": "b"}, reducer=reducer("max"), size=[2, 2]
        ),  # fmt: skip
    )
    with np.errstate(invalid="ignore"):
        roots = np.sqrt(raw - 1500)
    values = blocks(roots, 0.0, (2, 2), "pad", "upper-left")
    ok = blocks(valid, False, (2, 2), "pad", "upper-left")
    has = ok.any(axis=-1)
    largest = np.where(ok, values, -np.inf).max(axis=-1)  # NaN where a window holds NaN
    assert np.isnan(largest[has]).any() and np.isfinite(largest[has]).any()
    np.testing.assert_array_equal(out.valid.values, has)
    np.testing.assert_array_equal(out.data.values[has], largest[has])


def test_aggregate_spatial_window_mean_of_nan_is_nan(raw, valid):
    # mean([1, NaN]) is NaN: NaN is a value, not no-data (needs the reference's masked
    # reducers to give NaN back where numpy's masked arrays mask a NaN result).
    out = run_cube(
        **nan_below_1500(DATA),
        w=node(
            "aggregate_spatial_window",
            data={"from_node": "b"},
            reducer=reducer("mean"),
            size=[2, 2],
        ),  # fmt: skip
    )
    with np.errstate(invalid="ignore"):
        roots = np.sqrt(raw - 1500)
    mean, has = masked_mean(
        blocks(roots, 0.0, (2, 2), "pad", "upper-left"),
        blocks(valid, False, (2, 2), "pad", "upper-left"),
    )
    assert np.isnan(mean[has]).any()
    np.testing.assert_array_equal(out.valid.values, has)
    np.testing.assert_allclose(out.data.values[has], mean[has], rtol=1e-12)


def test_aggregate_spatial_window_from_the_openeo_client(raw, valid):
    pytest.importorskip("openeo")
    graph = client_load().aggregate_spatial_window(reducer="mean", size=[3, 2]).flat_graph()
    out = pgc.run(graph)
    mean, has = masked_mean(
        blocks(raw, 0.0, (3, 2), "pad", "upper-left"),
        blocks(valid, False, (3, 2), "pad", "upper-left"),
    )
    np.testing.assert_allclose(out.values, np.where(has, mean, np.nan), rtol=1e-12)
    assert out.shape == (2, 2, 8, 7)


def test_aggregate_spatial_window_trimmed_to_nothing_is_empty():
    out = run_cube(
        a=node(
            "aggregate_spatial_window",
            data=DATA,
            reducer=reducer("mean"),
            size=[30, 2],
            boundary="trim",
        )
    )
    assert out.data.sizes == {"t": 2, "bands": 2, "y": 7, "x": 0}


def test_aggregate_spatial_window_on_an_ascending_y_axis():
    # South-up rows: "upper" is the largest y, which is now the last row.
    values = np.arange(12.0).reshape(3, 4)
    data = xr.DataArray(
        values, dims=["y", "x"], coords={"y": [0.5, 1.5, 2.5], "x": [0.5, 1.5, 2.5, 3.5]}
    )
    graph = on_parameter_cube(
        "aggregate_spatial_window", reducer=reducer("sum"), size=[2, 2], boundary="trim"
    )
    cube = Cube(data, xr.ones_like(data, dtype=bool))
    out = execute(graph, parameters={"cube": cube}, pipeline="none").value
    assert out.data.y.values.tolist() == [2.0]  # rows 1 and 2 (the upper ones)
    assert out.data.x.values.tolist() == [1.0, 3.0]
    assert out.data.values.tolist() == [[4 + 5 + 8 + 9, 6 + 7 + 10 + 11]]


def test_aggregate_spatial_window_errors():
    def code(**arguments):
        graph = on_parameter_cube("aggregate_spatial_window", **arguments)
        return error_code(graph, cube=run_cube())

    assert code(reducer=reducer("mean"), size=[0, 2]) == "ProcessParameterInvalid"
    assert code(reducer=reducer("mean"), size=[2]) == "ProcessParameterInvalid"
    assert code(reducer=INSPECT, size=[2, 2]) == "ProcessParameterInvalid"  # not one value
    literal = _graph({"a": node("aggregate_spatial_window", data=DATA, reducer=INSPECT,
                                size=[2, 2])})  # fmt: skip
    assert error_code(literal) == "ProcessParameterInvalid"  # found by the type rule
    no_x = {"r": node("reduce_dimension", data=DATA, dimension="x", reducer=reducer("mean"))}
    graph = _graph({**no_x, "a": node("aggregate_spatial_window", data={"from_node": "r"},
                                      reducer=reducer("mean"), size=[2, 2])})  # fmt: skip
    assert error_code(graph) == "ProcessParameterInvalid"


# ---------------------------------------------------------------------------------------
# flatten_dimensions, unflatten_dimension


def flatten(dimensions, target="tb", **arguments) -> dict:
    return node(
        "flatten_dimensions", data=DATA, dimensions=dimensions, target_dimension=target, **arguments
    )


def test_flatten_dimensions_in_the_order_given(raw, valid):
    out = run_cube(f=flatten(["t", "bands"]))
    assert out.dims == ("tb", "y", "x")
    assert list(out.data.tb.values) == [f"{d}~{b}" for d in DATES for b in BANDS]
    np.testing.assert_array_equal(out.data.values, raw.reshape(4, 15, 20))
    np.testing.assert_array_equal(out.valid.values, valid.reshape(4, 15, 20))
    swapped = run_cube(f=flatten(["bands", "t"], label_separator="/"))
    assert list(swapped.data.tb.values) == [f"{b}/{d}" for b in BANDS for d in DATES]
    np.testing.assert_array_equal(swapped.data.values, raw.transpose(1, 0, 2, 3).reshape(4, 15, 20))


def test_flatten_dimensions_takes_the_place_of_the_first(raw):
    out = run(f=flatten(["x", "bands"], target="xb"))
    assert out.dims == ("t", "xb", "y")  # bands came first of the two
    assert list(out.xb.values[:3]) == ["600305~B04", "600305~B08", "600315~B04"]
    expected = raw.transpose(0, 3, 1, 2).reshape(2, 40, 15)  # [t, x * bands, y]
    np.testing.assert_array_equal(out.values, np.where(expected == 0, np.nan, expected))


def test_unflatten_dimension_reverses_flatten(raw, valid):
    out = run_cube(
        f=flatten(["t", "bands"], label_separator="|"),
        u=node(
            "unflatten_dimension",
            data={"from_node": "f"},
            dimension="tb",
            target_dimensions=["date", "band"],
            label_separator="|",
        ),
    )
    assert out.dims == ("date", "band", "y", "x")
    assert list(out.data.date.values) == DATES and list(out.data.band.values) == BANDS
    np.testing.assert_array_equal(out.data.values, raw)
    np.testing.assert_array_equal(out.valid.values, valid)


def test_flatten_and_unflatten_agree_with_the_type_rules():
    graph = _graph(
        {
            "f": flatten(["bands", "t"]),
            "u": node(
                "unflatten_dimension",
                data={"from_node": "f"},
                dimension="tb",
                target_dimensions=["b", "d"],
            ),  # fmt: skip
        }
    )
    for node_id in ("f", "u"):
        nodes = {k: v for k, v in graph.items() if k != "u" or node_id == "u"}
        nodes[node_id] = {**nodes[node_id], "result": True}
        inferred = compile_graph(nodes, pipeline="none").graph.result_node.type
        out = execute(nodes).value
        assert tuple(d.name for d in inferred.dimensions) == out.dims
        for dim in inferred.dimensions:
            if dim.type == "other":
                assert list(dim.labels) == [str(v) for v in out.data[dim.name].values]
        assert str(out.data.dtype) == inferred.dtype


def test_unflatten_dimension_fills_missing_combinations_with_no_data(raw):
    out = run_cube(
        r=node(
            "rename_labels", data=DATA, dimension="bands", target=["a~1", "b~2"], source=BANDS
        ),  # fmt: skip
        u=node(
            "unflatten_dimension",
            data={"from_node": "r"},
            dimension="bands",
            target_dimensions=["letter", "digit"],
        ),  # fmt: skip
    )
    assert out.dims == ("t", "letter", "digit", "y", "x")
    assert list(out.data.letter.values) == ["a", "b"] and list(out.data.digit.values) == ["1", "2"]
    assert not out.valid.values[:, 0, 1].any() and not out.valid.values[:, 1, 0].any()
    np.testing.assert_array_equal(out.data.values[:, 0, 0], raw[:, 0])
    np.testing.assert_array_equal(out.data.values[:, 1, 1], raw[:, 1])


def test_flatten_keeps_nan_and_no_data_apart(raw, valid):
    out = run_cube(
        **nan_below_1500(DATA),
        f=node(
            "flatten_dimensions",
            data={"from_node": "b"},
            dimensions=["y", "x"],
            target_dimension="pixel",
        ),  # fmt: skip
    )
    assert out.dims == ("t", "bands", "pixel") and out.data.sizes["pixel"] == 300
    assert out.data.pixel.values[0] == "5694995~600305"
    with np.errstate(invalid="ignore"):
        expected = np.sqrt(raw - 1500).reshape(2, 2, 300)
    ok = valid.reshape(2, 2, 300)
    np.testing.assert_array_equal(out.valid.values, ok)
    np.testing.assert_array_equal(out.data.values[ok], expected[ok])
    assert np.isnan(out.data.values[ok]).any()


def test_flatten_and_unflatten_from_the_openeo_client(raw):
    pytest.importorskip("openeo")
    cube = client_load().flatten_dimensions(["t", "bands"], "tb", label_separator="+")
    flat = pgc.run(cube.flat_graph())
    assert list(flat.tb.values) == [f"{d}+{b}" for d in DATES for b in BANDS]
    back = pgc.run(cube.unflatten_dimension("tb", ["d", "b"], label_separator="+").flat_graph())
    assert back.dims == ("d", "b", "y", "x")
    np.testing.assert_array_equal(back.values, np.where(raw == 0, np.nan, raw))


def test_flatten_dimensions_errors():
    def code(**arguments):
        graph = on_parameter_cube("flatten_dimensions", **arguments)
        return error_code(graph, cube=run_cube())

    assert code(dimensions=["t", "z"], target_dimension="q") == "DimensionNotAvailable"
    assert code(dimensions=["t", "bands"], target_dimension="x") == "TargetDimensionExists"
    assert code(dimensions=["t", "bands"], target_dimension="t") == "TargetDimensionExists"
    assert code(dimensions=["t", "t"], target_dimension="q") == "ProcessParameterInvalid"
    literal = _graph({"f": flatten(["t", "z"])})
    assert error_code(literal) == "DimensionNotAvailable"  # found by the type rule
    literal = _graph({"f": flatten(["t", "bands"], target="y")})
    assert error_code(literal) == "TargetDimensionExists"


def test_unflatten_dimension_errors():
    def code(**arguments):
        graph = on_parameter_cube("unflatten_dimension", **arguments)
        return error_code(graph, cube=run_cube(f=flatten(["t", "bands"])))

    assert code(dimension="z", target_dimensions=["a", "b"]) == "DimensionNotAvailable"
    assert code(dimension="tb", target_dimensions=["a", "y"]) == "TargetDimensionExists"
    assert code(dimension="tb", target_dimensions=["tb", "b"]) == "TargetDimensionExists"
    assert code(dimension="tb", target_dimensions=["a", "b", "c"]) == "ProcessParameterInvalid"
    assert code(dimension="tb", target_dimensions=["a"]) == "ProcessParameterInvalid"
    assert (
        code(dimension="tb", target_dimensions=["a", "b"], label_separator=":")
        == "ProcessParameterInvalid"  # "2023-05-10T10:30:00Z~B04" has two ':'
    )
    literal = _graph({"u": node("unflatten_dimension", data=DATA, dimension="bands",
                                target_dimensions=["a", "b"])})  # fmt: skip
    assert error_code(literal) == "ProcessParameterInvalid"  # found by the type rule
