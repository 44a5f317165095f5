"""Definition-derived tests of the cube dimension and label processes (issue 17).

The oracle is each process definition's text (openeo-processes 2.0.0-rc.2), quoted in the
docstring of the test that checks it; the thing under test is the reference executor, run
through the public path (validation, type rules, execution) by ``run_process``. Besides
the values, every property test checks that the type rule's dimensions (names, order,
types) and its labels, where it knows them, are those of the run's result: the type is
inferred with the input cubes' own types as the parameters' types.

Cubes are random (``strategies.cubes``): random dimension names and types, labels, values
with NaN, infinities and no-data. Bands carry their metadata (common name, centre
wavelength) as the loaders put it on the values (:mod:`pgc.data.bands`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import xarray as xr
from conftest import examples, node, run_process
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from strategies import cubes_with_nodata as cubes  # a boolean validity

import pgc
from pgc.data.bands import band_coords, bands_of
from pgc.errors import PgcError
from pgc.executors.values import Cube, dimension_type, with_dimension_types
from pgc.frontend.lower import lower
from pgc.ir.infer import Environment, infer_graph
from pgc.ir.types import Band, CubeType, Dimension
from pgc.runner import execute
from pgc.specs import load_specs

SPECS = load_specs()
C = {"from_parameter": "c"}
D = {"from_parameter": "data"}
FAST = settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


# ---------------------------------------------------------------------------------------
# Helpers: running, errors, the type of a run-time cube, agreement of type and result


def callback(process_id: str, **arguments: Any) -> dict:
    return {"process_graph": {"cb": node(process_id, True, **arguments)}}


def error_of(process_id: str, values: dict, **arguments: Any) -> str:
    """The openEO code a run fails with (never a Python exception, never Internal)."""
    with pytest.raises(PgcError) as caught:
        run_process(process_id, values, **arguments)
    code = caught.value.code
    assert code != "Internal", caught.value
    return code


def label_of(value: Any, temporal: bool = False) -> Any:
    """A run-time label as the type rules write labels (dates in RFC 3339 UTC)."""
    if isinstance(value, np.datetime64):
        return str(value.astype("datetime64[s]")) + "Z"
    return value.item() if isinstance(value, np.generic) else value


def labels(cube: Cube, dim: str) -> list:
    return [label_of(v) for v in cube.data[dim].values]


def cube_type(cube: Cube) -> CubeType:
    """The type of a run-time cube: its dimensions, their types and labels, its bands."""
    dims, bands = [], ()
    for name in cube.dims:
        kind = dimension_type(cube, name)
        axis = {"x": "x", "lon": "x", "y": "y", "lat": "y"}.get(name, "z")
        dims.append(Dimension(name, kind, axis=axis if kind == "spatial" else None,
                              labels=tuple(labels(cube, name))))  # fmt: skip
        if kind == "bands" and not bands:
            bands = tuple(bands_of(cube.data, name))
    return CubeType(tuple(dims), dtype=str(cube.data.dtype), bands=bands)


def typed(process_id: str, values: dict, **arguments: Any) -> tuple[Any, list[str]]:
    """The type rule's result for the one-node graph ``run_process`` runs, the inputs
    typed as they are, and the codes of its diagnostics (or of the validator's, which sees
    some faults in literal arguments first)."""
    graph = {
        "parameters": [{"name": name, "schema": {}} for name in values],
        "process_graph": {"n": node(process_id, True, **arguments)},
    }
    checked = pgc.validate(graph)
    if not checked.ok:
        return None, [d.code for d in checked.errors]
    env = Environment(SPECS, None)
    types = {n: cube_type(v) for n, v in values.items() if isinstance(v, Cube)}
    out = infer_graph(lower(checked), env, param_types=types)
    return out.node(out.result).type, [d.code for d in env.diagnostics]


def same_label(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b and type(a) is not bool


def assert_agrees(process_id: str, values: dict, result: Cube, **arguments: Any) -> None:
    """The type rule says the run's dimensions (names, order, types) and, where it knows
    them, its labels; and it finds no fault in a graph that ran."""
    t, codes = typed(process_id, values, **arguments)
    assert codes == [], codes
    assert isinstance(t, CubeType) and not t.unknown_dimensions, t
    assert t.names == result.dims
    assert [d.type for d in t.dimensions] == [dimension_type(result, d) for d in result.dims]
    for d in t.dimensions:
        if d.labels is not None:
            got = labels(result, d.name)
            assert len(d.labels) == len(got), (d.name, d.labels, got)
            assert all(same_label(a, b) for a, b in zip(d.labels, got, strict=True)), (
                d.name, d.labels, got)  # fmt: skip


def assert_type_error(code: str, process_id: str, values: dict, **arguments: Any) -> None:
    """The type rule reports what the run fails with, when it can see it."""
    _, codes = typed(process_id, values, **arguments)
    assert codes == [code]


def plain(cube: Cube) -> list:
    """Values with None for no-data and 'nan' for NaN (NaN is not equal to itself)."""

    def clean(v):
        if isinstance(v, list):
            return [clean(x) for x in v]
        return "nan" if isinstance(v, float) and math.isnan(v) else v

    return clean(cube.to_python())


def types_of(cube: Cube) -> list[str]:
    return [dimension_type(cube, d) for d in cube.dims]


def with_band_metadata(cube: Cube, dim: str, bands: list[Band]) -> Cube:
    coords = band_coords(dim, bands)
    return Cube(cube.data.assign_coords(coords), cube.valid)


# A cube with a bands dimension under any name, at any position, with band metadata.
BAND_NAMES = ["bands", "b", "spectral"]
COMMON = st.sampled_from([None, "red", "nir", "blue", "green"])
WAVES = st.one_of(st.none(), st.floats(0.3, 3.0))


@st.composite
def band_cubes(draw, max_bands: int = 5) -> Cube:
    name = draw(st.sampled_from(BAND_NAMES))
    others = draw(st.lists(st.sampled_from(["t", "x", "other"]), max_size=2, unique=True))
    kinds = {"t": "temporal", "x": "spatial", "other": "other", name: "bands"}
    order = list(others)
    order.insert(draw(st.integers(0, len(others))), name)
    cube = draw(cubes(types={d: kinds[d] for d in order}, max_size=max_bands, min_size=1))
    count = cube.data.sizes[name]
    commons = draw(st.lists(COMMON, min_size=count, max_size=count))
    waves = draw(st.lists(WAVES, min_size=count, max_size=count))
    labels_ = [str(v) for v in cube.data[name].values]
    meta = [Band(b, c, w) for b, c, w in zip(labels_, commons, waves, strict=True)]
    return with_band_metadata(cube, name, meta)


def bands_dim(cube: Cube) -> str:
    return next(d for d in cube.dims if dimension_type(cube, d) == "bands")


def chosen_by_definition(bands: list[Band], names: list, ranges: list) -> list[int]:
    """filter_bands' choice written from its definition: each name is the unique band name
    or else the common name (all bands that have it, in the original order); each range
    picks the bands whose wavelength lies in it, in the original order; the order of the
    arrays is the result's; the criteria are OR-ed (a band once)."""
    out: list[int] = []
    for name in names:
        hits = [i for i, b in enumerate(bands) if b.name == name]
        hits = hits or [i for i, b in enumerate(bands) if b.common_name == name]
        out += [i for i in hits if i not in out]
    for lo, hi in ranges:
        hits = [i for i, b in enumerate(bands) if b.wavelength is not None
                and lo <= b.wavelength <= hi]  # fmt: skip
        out += [i for i in hits if i not in out]
    return out


# ---------------------------------------------------------------------------------------
# filter_bands


@FAST
@given(band_cubes(), st.data())
def test_filter_bands_gives_the_named_bands_in_the_order_asked(cube, data):
    """filter_bands: "The order of the specified array defines the order of the bands in
    the data cube"; a name is "the unique band name ... or one of the common band names";
    "If multiple bands match a common name, all matched bands are included in the original
    order"; the dimension of type bands may have any name and place."""
    dim = bands_dim(cube)
    bands = bands_of(cube.data, dim)
    pool = [b.name for b in bands] + [b.common_name for b in bands if b.common_name]
    names = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
    out = run_process("filter_bands", {"c": cube}, data=C, bands=names)
    picked = chosen_by_definition(bands, names, [])
    assert labels(out, dim) == [bands[i].name for i in picked]
    assert plain(out) == plain(cube.isel({dim: picked}))
    assert out.dims == cube.dims and types_of(out) == types_of(cube)
    assert bands_of(out.data, dim) == [bands[i] for i in picked]  # the metadata follows
    assert_agrees("filter_bands", {"c": cube}, out, data=C, bands=names)


@FAST
@given(band_cubes(), st.lists(st.tuples(st.floats(0.2, 3.2), st.floats(0.0, 1.0)),
                              min_size=1, max_size=3), st.data())  # fmt: skip
@example(
    cube=with_band_metadata(
        with_dimension_types(
            Cube(xr.DataArray(np.arange(3.0), dims=["b"], coords={"b": ["B1", "B2", "B3"]}),
                 xr.DataArray(np.ones(3, bool), dims=["b"])), {"b": "bands"}),
        "b", [Band("B1", None, 0.45), Band("B2", None, 0.85), Band("B3", None, 0.48)]),
    ranges=[(0.8, 0.1), (0.4, 0.1)], data=None,
)  # fmt: skip
def test_filter_bands_by_wavelengths_per_range_in_the_original_order(cube, ranges, data):
    """filter_bands: wavelengths are "ranges of wavelengths in micrometers"; "The order of
    the specified array defines the order of the bands"; "If multiple bands are matched by
    a single criterion (e.g. a range of wavelengths), they stay in the original order"; with
    names too, "any of them must match" (OR)."""
    dim = bands_dim(cube)
    bands = bands_of(cube.data, dim)
    windows = [[lo, lo + width] for lo, width in ranges]
    names = [] if data is None else data.draw(st.lists(st.sampled_from([b.name for b in bands]),
                                                       max_size=2, unique=True))  # fmt: skip
    arguments = {"data": C, "wavelengths": windows, **({"bands": names} if names else {})}
    out = run_process("filter_bands", {"c": cube}, **arguments)
    picked = chosen_by_definition(bands, names, windows)
    assert labels(out, dim) == [bands[i].name for i in picked]
    assert plain(out) == plain(cube.isel({dim: picked}))
    assert_agrees("filter_bands", {"c": cube}, out, **arguments)


def _three_bands(commons=("red", "nir", "red"), names=("B1", "B2", "B3")) -> Cube:
    data = xr.DataArray(np.arange(6.0).reshape(3, 2), dims=["bands", "x"],
                        coords={"bands": list(names), "x": [0.0, 1.0]})  # fmt: skip
    cube = with_dimension_types(Cube(data, xr.ones_like(data, dtype=bool)),
                                {"bands": "bands", "x": "spatial"})  # fmt: skip
    return with_band_metadata(cube, "bands", [Band(n, c, None) for n, c in zip(names, commons,
                                                                            strict=True)])


def test_filter_bands_unique_name_wins_over_a_common_name():
    """filter_bands: "If the unique band name and the common name conflict, the unique band
    name has a higher priority"."""
    cube = _three_bands(commons=("nir", "red", None), names=("red", "B2", "B3"))
    out = run_process("filter_bands", {"c": cube}, data=C, bands=["red"])
    assert labels(out, "bands") == ["red"]
    both = run_process("filter_bands", {"c": _three_bands()}, data=C, bands=["red", "B2"])
    assert labels(both, "bands") == ["B1", "B3", "B2"]


def test_filter_bands_errors():
    """filter_bands: "Fails with a DimensionMissing exception if no such dimension exists";
    "If no criteria are specified, the BandFilterParameterMissing exception must be
    thrown"; a name that is no band's name or common name is invalid."""
    no_bands = with_dimension_types(
        Cube(xr.DataArray([1.0], dims=["x"], coords={"x": [0.0]}), xr.DataArray(True)),
        {"x": "spatial"},
    )
    assert error_of("filter_bands", {"c": no_bands}, data=C, bands=["B1"]) == "DimensionMissing"
    assert_type_error("DimensionMissing", "filter_bands", {"c": no_bands}, data=C, bands=["B1"])
    empty = {"c": _three_bands(), "b": []}
    assert error_of("filter_bands", empty, data=C, bands={"from_parameter": "b"}) == (
        "BandFilterParameterMissing"
    )
    unknown = error_of("filter_bands", {"c": _three_bands()}, data=C, bands=["B9"])
    assert unknown == "ProcessParameterInvalid"
    assert_type_error(unknown, "filter_bands", {"c": _three_bands()}, data=C, bands=["B9"])


LOAD = node("load_collection", id="SENTINEL2_L2A_SAMPLE", temporal_extent=["2023-06-01",
            "2023-07-01"], spatial_extent={"west": 600000, "south": 5694950, "east": 600030,
                                           "north": 5695000, "crs": 32631})  # fmt: skip


@pytest.mark.parametrize(
    "criteria, expected",
    [
        ({"bands": ["nir", "B02"]}, ["B08", "B02"]),
        ({"wavelengths": [[0.8, 0.9], [0.4, 0.5]]}, ["B08", "B8A", "B01", "B02"]),
        ({"bands": ["red"], "wavelengths": [[0.8, 0.9]]}, ["B04", "B08", "B8A"]),
    ],
)
@pytest.mark.parametrize("pipeline", ["none", "default"])
def test_filter_bands_on_a_collection_uses_its_band_metadata(criteria, expected, pipeline):
    """filter_bands: common names and wavelengths "are exposed in the band metadata of the
    collection": the loader carries them to run time, the type says the same bands, and
    the optimizer (which prunes the bands a load reads) keeps the ones picked."""
    graph = {"process_graph": {"l": LOAD, "f": node("filter_bands", True,
                                                    data={"from_node": "l"}, **criteria)}}
    run = execute(graph, pipeline=pipeline)
    assert labels(run.value, "bands") == expected
    assert run.plan.graph.node(run.plan.graph.result).type.dimension("bands").labels == tuple(
        expected
    )


def test_load_collection_takes_common_names_too():
    """load_collection's bands: "Either the unique band name ... or one of the common band
    names ... can be specified" (the loader resolves them as filter_bands does)."""
    graph = {"process_graph": {"l": {**LOAD, "arguments": {**LOAD["arguments"],
                                                          "bands": ["red", "B02"]},
                                     "result": True}}}  # fmt: skip
    assert labels(execute(graph).value, "bands") == ["B04", "B02"]


# ---------------------------------------------------------------------------------------
# rename_dimension


@FAST
@given(cubes(), st.data())
def test_rename_dimension_and_back_is_the_identity(cube, data):
    """rename_dimension: "Renames a dimension in the data cube while preserving all other
    properties"; "The dimension properties (name, type, labels, reference system and
    resolution) remain unchanged" -- so renaming there and back is the identity, and the
    dimension keeps its place and type."""
    source = data.draw(st.sampled_from(cube.dims))
    target = data.draw(st.sampled_from(["renamed", "x", "bands", "t", "zz"]).filter(
        lambda n: n not in cube.dims))  # fmt: skip
    out = run_process("rename_dimension", {"c": cube}, data=C, source=source, target=target)
    assert out.dims == tuple(target if d == source else d for d in cube.dims)
    assert types_of(out) == types_of(cube)
    assert labels(out, target) == labels(cube, source) and plain(out) == plain(cube)
    assert_agrees("rename_dimension", {"c": cube}, out, data=C, source=source, target=target)
    back = run_process("rename_dimension", {"c": out}, data=C, source=target, target=source)
    assert back.dims == cube.dims and types_of(back) == types_of(cube)
    assert all(labels(back, d) == labels(cube, d) for d in cube.dims)
    assert plain(back) == plain(cube)


def test_rename_dimension_keeps_band_metadata():
    """rename_dimension: all other properties preserved -- the bands keep their metadata,
    so filter_bands still finds them by common name."""
    out = run_process("rename_dimension", {"c": _three_bands()}, data=C, source="bands",
                      target="spectral")  # fmt: skip
    picked = run_process("filter_bands", {"c": out}, data=C, bands=["nir"])
    assert labels(picked, "spectral") == ["B2"]


def test_rename_dimension_of_a_loaded_cube_keeps_the_types():
    """rename_dimension: "The dimension properties (name, type, ...) remain unchanged" --
    also for a loaded cube, whose dimensions' types follow from their names ('bands', 'x')
    until they are renamed."""
    graph = {"process_graph": {
        "l": LOAD,
        "b": node("rename_dimension", data={"from_node": "l"}, source="bands", target="s"),
        "x": node("rename_dimension", True, data={"from_node": "b"}, source="x", target="e"),
    }}  # fmt: skip
    cube = execute(graph).value
    assert cube.dims == ("t", "s", "y", "e")
    assert types_of(cube) == ["temporal", "bands", "spatial", "spatial"]
    picked = run_process("filter_bands", {"c": cube}, data=C, bands=["nir"])
    assert labels(picked, "s") == ["B08"]


def test_rename_dimension_errors():
    """rename_dimension: source "Fails with a DimensionNotAvailable exception if the
    specified dimension does not exist"; target "Fails with a DimensionExists exception if
    a dimension with the specified name exists" (the source itself too)."""
    cube = _three_bands()
    for source, target, code in [("q", "r", "DimensionNotAvailable"),
                                 ("bands", "x", "DimensionExists"),
                                 ("bands", "bands", "DimensionExists")]:  # fmt: skip
        assert error_of("rename_dimension", {"c": cube}, data=C, source=source,
                        target=target) == code  # fmt: skip
        assert_type_error(code, "rename_dimension", {"c": cube}, data=C, source=source,
                          target=target)  # fmt: skip


# ---------------------------------------------------------------------------------------
# rename_labels


@FAST
@given(cubes(nodata=False), st.data())
def test_rename_labels_renames_in_place_and_back(cube, data):
    """rename_labels: "Renames the labels of the specified dimension ... from source to
    target"; "It is allowed to only specify a subset of labels to rename"; "The order of
    the labels doesn't need to match"; "This process doesn't change the order of the
    labels and their corresponding data"; renaming back restores the cube."""
    dim = data.draw(st.sampled_from(cube.dims))
    assume(dimension_type(cube, dim) != "temporal")
    old = labels(cube, dim)
    source = data.draw(st.lists(st.sampled_from(old), min_size=1, unique=True))
    target = [f"new{i}" for i in range(len(source))]
    args = {"data": C, "dimension": dim, "source": source, "target": target}
    out = run_process("rename_labels", {"c": cube}, **args)
    mapping = dict(zip(source, target, strict=True))
    assert labels(out, dim) == [mapping.get(v, v) for v in old]
    assert out.dims == cube.dims and types_of(out) == types_of(cube)
    assert plain(out) == plain(cube)
    assert_agrees("rename_labels", {"c": cube}, out, **args)
    back = run_process("rename_labels", {"c": out}, data=C, dimension=dim, source=target,
                       target=source)  # fmt: skip
    assert labels(back, dim) == old and plain(back) == plain(cube)


@FAST
@given(cubes(types={"t": "temporal", "q": "other"}, nodata=False))
def test_rename_labels_by_position_of_enumerated_labels(cube):
    """rename_labels: "If the array for the source labels is empty (the default), the
    dimension labels are enumerated with zero-based numbering (0,1,2,3,...) so that the
    dimension labels directly map to the indices of the array specified for the parameter
    target"."""
    count = cube.data.sizes["q"]
    enumerated = Cube(cube.data.assign_coords(q=np.arange(count)), cube.valid.assign_coords(
        q=np.arange(count)))  # fmt: skip
    enumerated = with_dimension_types(enumerated, {"q": "other"})
    target = [f"l{i}" for i in range(count)]
    out = run_process("rename_labels", {"c": enumerated}, data=C, dimension="q", target=target)
    assert labels(out, "q") == target and plain(out) == plain(cube)
    assert_agrees("rename_labels", {"c": enumerated}, out, data=C, dimension="q", target=target)


def test_rename_labels_of_dates_compares_instants_and_keeps_the_type():
    """rename_labels: the dimension properties, type included, "remain unchanged, except
    that for the given dimension the labels change" -- a temporal dimension's labels are
    dates, which compare as instants whatever their spelling."""
    data = xr.DataArray([1.0, 2.0], dims=["when"], coords={"when": np.array(
        ["2020-01-01", "2020-01-02"], "datetime64[ns]")})  # fmt: skip
    cube = with_dimension_types(Cube(data, xr.DataArray(True)), {"when": "temporal"})
    args = {"data": C, "dimension": "when", "source": ["2020-01-02"], "target": ["2021-05-05"]}
    out = run_process("rename_labels", {"c": cube}, **args)
    assert labels(out, "when") == ["2020-01-01T00:00:00Z", "2021-05-05T00:00:00Z"]
    assert dimension_type(out, "when") == "temporal"
    assert_agrees("rename_labels", {"c": cube}, out, **args)
    wrong = {**args, "target": ["soon"]}
    assert error_of("rename_labels", {"c": cube}, **wrong) == "ProcessParameterInvalid"


@pytest.mark.parametrize(
    "arguments, code",
    [
        # "If the dimension labels are not enumerated and the given array is empty, the
        # LabelsNotEnumerated exception is thrown."
        ({"target": ["a", "b", "c"]}, "LabelsNotEnumerated"),
        # "the number of the source and target labels must be equal ... LabelMismatch"
        ({"source": ["B1"], "target": ["a", "b"]}, "LabelMismatch"),
        # "If one of the source dimension labels doesn't exist, the LabelNotAvailable
        # exception is thrown."
        ({"source": ["B9"], "target": ["a"]}, "LabelNotAvailable"),
        # "If a target dimension label already exists in the data cube, a LabelExists
        # exception is thrown." -- a swap's targets exist too
        ({"source": ["B1"], "target": ["B2"]}, "LabelExists"),
        ({"source": ["B1", "B2"], "target": ["B2", "B1"]}, "LabelExists"),
        ({"dimension": "q", "target": ["a"]}, "DimensionNotAvailable"),
    ],
)
def test_rename_labels_errors(arguments, code):
    """rename_labels names LabelsNotEnumerated, LabelMismatch, LabelNotAvailable and
    LabelExists; the type rule reports each where it sees it, the run otherwise."""
    args = {"data": C, "dimension": "bands", **arguments}
    assert error_of("rename_labels", {"c": _three_bands()}, **args) == code
    assert_type_error(code, "rename_labels", {"c": _three_bands()}, **args)


def test_rename_labels_enumerated_needs_one_target_per_label():
    """rename_labels: by position, every label maps to an index of target; else "the
    LabelMismatch exception is thrown"."""
    data = xr.DataArray([1.0, 2.0], dims=["q"], coords={"q": [0, 1]})
    cube = with_dimension_types(Cube(data, xr.DataArray(True)), {"q": "other"})
    args = {"data": C, "dimension": "q", "target": ["a"]}
    assert error_of("rename_labels", {"c": cube}, **args) == "LabelMismatch"
    assert_type_error("LabelMismatch", "rename_labels", {"c": cube}, **args)


# ---------------------------------------------------------------------------------------
# apply_dimension


def _any_dim(cube: Cube, data) -> str:
    return data.draw(st.sampled_from(cube.dims))


@FAST
@given(cubes(), st.data())
def test_apply_dimension_keeping_the_length_keeps_the_labels(cube, data):
    """apply_dimension: "The dimension labels are preserved when the target dimension is
    the source dimension and the number of values in the source dimension is equal to the
    number of values computed by the process"; "The name, type and reference system are
    preserved"; the dimensions stay in their order."""
    dim = _any_dim(cube, data)
    args = {"data": C, "dimension": dim, "process": callback("cumsum", data=D)}
    out = run_process("apply_dimension", {"c": cube}, **args)
    assert out.dims == cube.dims and types_of(out) == types_of(cube)
    assert all(labels(out, d) == labels(cube, d) for d in cube.dims)
    assert_agrees("apply_dimension", {"c": cube}, out, **args)


@FAST
@given(cubes(), st.data())
def test_apply_dimension_changing_the_length_numbers_the_labels(cube, data):
    """apply_dimension: "Otherwise, the dimension labels will be incrementing integers
    starting from zero"; "The number of labels will be equal to the number of values
    computed by the process"; name, type and place stay."""
    dim = _any_dim(cube, data)
    assume(cube.data.sizes[dim] != 2)
    args = {"data": C, "dimension": dim, "process": callback("extrema", data=D)}
    out = run_process("apply_dimension", {"c": cube}, **args)
    assert out.dims == cube.dims and types_of(out) == types_of(cube)
    assert labels(out, dim) == [0, 1]
    assert all(labels(out, d) == labels(cube, d) for d in cube.dims if d != dim)
    assert_agrees("apply_dimension", {"c": cube}, out, **args)


@FAST
@given(cubes(), st.data(), st.sampled_from(["cumsum", "extrema"]))
def test_apply_dimension_to_a_new_target_dimension(cube, data, process):
    """apply_dimension, case 3: "The source dimension is not the target dimension and the
    latter does not exist: ... the source dimension is replaced with the target dimension.
    The target dimension has the specified name and the type other"; its labels are
    "incrementing integers starting from zero"."""
    dim = _any_dim(cube, data)
    target = data.draw(st.sampled_from(["new", "bands", "x", "t"]).filter(
        lambda n: n not in cube.dims))  # fmt: skip
    args = {"data": C, "dimension": dim, "target_dimension": target,
            "process": callback(process, data=D)}  # fmt: skip
    out = run_process("apply_dimension", {"c": cube}, **args)
    assert out.dims == tuple(target if d == dim else d for d in cube.dims)
    assert dimension_type(out, target) == "other"
    assert labels(out, target) == list(range(out.data.sizes[target]))
    assert_agrees("apply_dimension", {"c": cube}, out, **args)


@FAST
@given(cubes(types={"t": "temporal", "bands": "bands", "one": "other"}, max_size=3),
       st.data())  # fmt: skip
def test_apply_dimension_into_an_existing_single_label_dimension(cube, data):
    """apply_dimension, case 2: "The target dimension exists with a single label only: The
    number of dimensions decreases by one as the source dimension is 'dropped' and the
    target dimension is filled"; "The target dimension properties name and type remain
    unchanged"; its labels are incrementing integers from zero."""
    cube = cube.isel({"one": [0]})
    dim = data.draw(st.sampled_from(["t", "bands"]))
    args = {"data": C, "dimension": dim, "target_dimension": "one",
            "process": callback("cumsum", data=D)}  # fmt: skip
    out = run_process("apply_dimension", {"c": cube}, **args)
    assert out.dims == tuple(d for d in cube.dims if d != dim)
    assert dimension_type(out, "one") == "other"
    assert labels(out, "one") == list(range(cube.data.sizes[dim]))
    assert_agrees("apply_dimension", {"c": cube}, out, **args)


def test_apply_dimension_over_bands_keeps_their_metadata_when_the_labels_stay():
    """apply_dimension: labels (and so the bands they name) are preserved when the number
    of values stays: filter_bands still finds a band by common name; numbered labels name
    no band of the collection any more."""
    cube = _three_bands()
    args = {"data": C, "dimension": "bands", "process": callback("cumsum", data=D)}
    out = run_process("apply_dimension", {"c": cube}, **args)
    assert labels(run_process("filter_bands", {"c": out}, data=C, bands=["nir"]),
                  "bands") == ["B2"]  # fmt: skip
    extrema = {**args, "process": callback("extrema", data=D)}
    numbered = run_process("apply_dimension", {"c": cube}, **extrema)
    assert error_of("filter_bands", {"c": numbered}, data=C, bands=["nir"]) == (
        "ProcessParameterInvalid"
    )


def test_apply_dimension_errors():
    """apply_dimension: dimension "Fails with a DimensionNotAvailable exception if the
    specified dimension does not exist"; the process "must return an array with at least
    one element"; an existing target dimension is only defined with a single label."""
    cube = _three_bands()
    cumsum = callback("cumsum", data=D)
    missing = {"data": C, "dimension": "q", "process": cumsum}
    assert error_of("apply_dimension", {"c": cube}, **missing) == "DimensionNotAvailable"
    assert_type_error("DimensionNotAvailable", "apply_dimension", {"c": cube}, **missing)
    nothing = callback("array_filter", data=D, condition=callback("gt", x={"from_parameter":
                       "x"}, y=1e9))  # fmt: skip
    empty = {"data": C, "dimension": "bands", "process": nothing}
    assert error_of("apply_dimension", {"c": cube}, **empty) == "ProcessParameterInvalid"
    crowded = {"data": C, "dimension": "bands", "target_dimension": "x", "process": cumsum}
    assert error_of("apply_dimension", {"c": cube}, **crowded) == "ProcessParameterInvalid"
    assert_type_error("ProcessParameterInvalid", "apply_dimension", {"c": cube}, **crowded)


# ---------------------------------------------------------------------------------------
# apply, reduce_dimension, filter_labels, dimension_labels


@FAST
@given(cubes())
def test_apply_keeps_every_dimension_property(cube):
    """apply: "A data cube with the newly computed values and the same dimensions. The
    dimension properties (name, type, labels, reference system and resolution) remain
    unchanged"."""
    args = {"data": C, "process": callback("absolute", x={"from_parameter": "x"})}
    out = run_process("apply", {"c": cube}, **args)
    assert out.dims == cube.dims and types_of(out) == types_of(cube)
    assert all(labels(out, d) == labels(cube, d) for d in cube.dims)
    assert_agrees("apply", {"c": cube}, out, **args)


@FAST
@given(cubes(), st.data())
def test_reduce_dimension_drops_only_that_dimension(cube, data):
    """reduce_dimension: "It is missing the given dimension, the number of dimensions
    decreases by one. The dimension properties (name, type, labels, reference system and
    resolution) for all other dimensions remain unchanged"."""
    dim = _any_dim(cube, data)
    args = {"data": C, "dimension": dim, "reducer": callback("max", data=D)}
    out = run_process("reduce_dimension", {"c": cube}, **args)
    assert out.dims == tuple(d for d in cube.dims if d != dim)
    assert types_of(out) == [dimension_type(cube, d) for d in out.dims]
    assert all(labels(out, d) == labels(cube, d) for d in out.dims)
    assert_agrees("reduce_dimension", {"c": cube}, out, **args)


@FAST
@given(cubes(), st.data())
def test_filter_labels_keeps_the_labels_the_condition_accepts(cube, data):
    """filter_labels: "Only the dimension labels that match the specified condition are
    preserved, all other labels with their corresponding data get removed"; "The dimension
    properties ... remain unchanged, except that the given dimension has less (or the
    same) dimension labels"."""
    dim = _any_dim(cube, data)
    old = labels(cube, dim)
    keep = data.draw(st.lists(st.sampled_from(old), unique=True))
    args = {"data": C, "dimension": dim, "condition": callback(
        "array_contains", data=keep, value={"from_parameter": "value"})}  # fmt: skip
    out = run_process("filter_labels", {"c": cube}, **args)
    positions = [i for i, v in enumerate(old) if v in keep]
    assert labels(out, dim) == [old[i] for i in positions]
    assert out.dims == cube.dims and types_of(out) == types_of(cube)
    assert plain(out) == plain(cube.isel({dim: positions}))
    assert_agrees("filter_labels", {"c": cube}, out, **args)


@FAST
@given(cubes(), st.data())
def test_dimension_labels_in_the_cube_order(cube, data):
    """dimension_labels: "Gives all labels for a dimension in the data cube. The labels
    have the same order as in the data cube" (dates as RFC 3339 strings)."""
    dim = _any_dim(cube, data)
    assert run_process("dimension_labels", {"c": cube}, data=C, dimension=dim) == labels(
        cube, dim
    )


@pytest.mark.parametrize(
    "process_id, arguments",
    [
        ("reduce_dimension", {"dimension": "q", "reducer": callback("max", data=D)}),
        ("filter_labels", {"dimension": "q", "condition": callback(
            "eq", x={"from_parameter": "value"}, y=1)}),  # fmt: skip
        ("dimension_labels", {"dimension": "q"}),
        ("drop_dimension", {"name": "q"}),
        ("flatten_dimensions", {"dimensions": ["x", "q"], "target_dimension": "f"}),
        ("unflatten_dimension", {"dimension": "q", "target_dimensions": ["a", "b"]}),
    ],
)
def test_a_missing_dimension_is_dimension_not_available(process_id, arguments):
    """reduce_dimension, filter_labels, dimension_labels, drop_dimension,
    flatten_dimensions, unflatten_dimension: "Fails with a DimensionNotAvailable exception
    if the specified dimension does not exist"."""
    values = {"c": _three_bands()}
    assert error_of(process_id, values, data=C, **arguments) == "DimensionNotAvailable"
    if process_id != "dimension_labels":  # its result is an array, which is not checked here
        assert_type_error("DimensionNotAvailable", process_id, values, data=C, **arguments)


# ---------------------------------------------------------------------------------------
# add_dimension, drop_dimension, create_data_cube


@FAST
@given(cubes(), st.sampled_from(["other", "bands", "temporal", "spatial"]),
       st.sampled_from(["n", "x", "t", "bands"]))  # fmt: skip
def test_add_dimension_then_drop_dimension_is_the_identity(cube, kind, name):
    """add_dimension: "Adds a new named dimension"; "The dimension label of the dimension is
    set to the specified label"; type "defaults to other"; "The new dimension has exactly
    one dimension label. All other dimensions remain unchanged". drop_dimension: "Dropping
    a dimension only works on dimensions with a single dimension label left" -- and gives
    back the cube."""
    assume(name not in cube.dims)
    assume(kind != "spatial" or len([k for k in types_of(cube) if k == "spatial"]) < 3)
    label = {"temporal": "2020-02-02", "other": 7, "bands": "B9", "spatial": 2.5}[kind]
    args = {"data": C, "name": name, "label": label, "type": kind}
    out = run_process("add_dimension", {"c": cube}, **args)
    assert set(out.dims) == {*cube.dims, name} and out.data.sizes[name] == 1
    assert [d for d in out.dims if d != name] == list(cube.dims)
    assert dimension_type(out, name) == kind
    expected = "2020-02-02T00:00:00Z" if kind == "temporal" else label
    assert labels(out, name) == [expected]
    assert_agrees("add_dimension", {"c": cube}, out, **args)
    back = run_process("drop_dimension", {"c": out}, data=C, name=name)
    assert back.dims == cube.dims and types_of(back) == types_of(cube)
    assert plain(back) == plain(cube)
    assert_agrees("drop_dimension", {"c": out}, back, data=C, name=name)


def test_add_dimension_errors():
    """add_dimension: "If a dimension with the specified name exists, the process fails
    with a DimensionExists exception"; for type spatial it "Throws a DimensionExists
    exception if dimensions for all axes exist"; a temporal label is a date."""
    cube = _three_bands()
    assert error_of("add_dimension", {"c": cube}, data=C, name="x", label=1) == (
        "DimensionExists"
    )
    assert_type_error("DimensionExists", "add_dimension", {"c": cube}, data=C, name="x",
                      label=1)  # fmt: skip
    xyz = with_dimension_types(Cube(xr.DataArray(np.zeros((1, 1, 1)), dims=["x", "y", "z"],
                                                 coords={"x": [0.0], "y": [0.0], "z": [0.0]}),
                                    xr.DataArray(True)),
                               {"x": "spatial", "y": "spatial", "z": "spatial"})  # fmt: skip
    args = {"data": C, "name": "h", "label": 1, "type": "spatial"}
    assert error_of("add_dimension", {"c": xyz}, **args) == "DimensionExists"
    assert_type_error("DimensionExists", "add_dimension", {"c": xyz}, **args)
    when = {"data": C, "name": "w", "label": "soon", "type": "temporal"}
    assert error_of("add_dimension", {"c": cube}, **when) == "ProcessParameterInvalid"
    assert_type_error("ProcessParameterInvalid", "add_dimension", {"c": cube}, **when)


def test_drop_dimension_of_more_than_one_label():
    """drop_dimension: "Dropping a dimension only works on dimensions with a single
    dimension label left, otherwise the process fails with a DimensionLabelCountMismatch
    exception"."""
    cube = _three_bands()
    assert error_of("drop_dimension", {"c": cube}, data=C, name="bands") == (
        "DimensionLabelCountMismatch"
    )
    assert_type_error("DimensionLabelCountMismatch", "drop_dimension", {"c": cube}, data=C,
                      name="bands")  # fmt: skip


def test_create_data_cube_has_no_dimensions():
    """create_data_cube: "Creates a new data cube without dimensions. Dimensions can be
    added with add_dimension()"."""
    graph = {"process_graph": {
        "c": node("create_data_cube"),
        "a": node("add_dimension", True, data={"from_node": "c"}, name="d", label="one"),
    }}  # fmt: skip
    cube = execute(graph).value
    assert cube.dims == ("d",) and labels(cube, "d") == ["one"]
    assert dimension_type(cube, "d") == "other"
    empty = execute({"process_graph": {"c": node("create_data_cube", True)}}).value
    assert empty.dims == ()


# ---------------------------------------------------------------------------------------
# merge_cubes, trim_cube


@FAST
@given(cubes(nodata=False), st.data())
def test_merge_cubes_of_a_split_cube_is_the_cube(cube, data):
    """merge_cubes: "A merge operation without overlap should be reversible with (a set of)
    filter operations for each of the two cubes"; "the dimensions with a natural/inherent
    label order (... each spatial and temporal dimensions) still have all dimension labels
    sorted. For other dimensions ..., the dimension labels of cube2 get appended to the
    dimension labels of cube1"."""
    dim = _any_dim(cube, data)
    count = cube.data.sizes[dim]
    assume(count > 1)
    if data.draw(st.booleans()):  # north to south, as y often runs
        cube = cube.isel({dim: list(range(count))[::-1]})
    first = sorted(data.draw(st.lists(st.integers(0, count - 1), min_size=1,
                                      max_size=count - 1, unique=True)))  # fmt: skip
    second = [i for i in range(count) if i not in first]
    a, b = cube.isel({dim: first}), cube.isel({dim: second})
    out = run_process("merge_cubes", {"c": a, "q": b}, cube1=C, cube2={"from_parameter": "q"})
    assert out.dims == cube.dims and types_of(out) == types_of(cube)
    old = labels(cube, dim)
    if dimension_type(cube, dim) in ("spatial", "temporal"):
        own = next((labels(c, dim) for c in (a, b) if c.data.sizes[dim] > 1), [])
        descending = len(own) > 1 and own[0] > own[-1]  # cube1's direction, else cube2's
        assert labels(out, dim) == sorted(old, reverse=descending)
    else:
        assert labels(out, dim) == [old[i] for i in first + second]
    order = [labels(out, dim).index(v) for v in old]
    assert plain(out.isel({dim: order})) == plain(cube)
    assert_agrees("merge_cubes", {"c": a, "q": b}, out, cube1=C, cube2={"from_parameter": "q"})


@pytest.mark.parametrize("y", [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0, 0.0]])
def test_merge_cubes_of_single_labels_keeps_the_order_of_the_other(y):
    """merge_cubes: spatial and temporal labels "still have all dimension labels sorted";
    the type rule says the labels of both cubes (regression: hypothesis found the type
    keeping cube1's one label, and a one-label cube1 turning a north-to-south y around)."""
    data = xr.DataArray(np.arange(len(y), dtype=float), dims=["y"], coords={"y": y})
    cube = with_dimension_types(Cube(data, xr.DataArray(True)), {"y": "spatial"})
    a, b = cube.isel({"y": [0]}), cube.isel({"y": list(range(1, len(y)))})
    out = run_process("merge_cubes", {"c": a, "q": b}, cube1=C, cube2={"from_parameter": "q"})
    # cube1 has one label, no direction: cube2's if it has one, else ascending
    assert labels(out, "y") == sorted(y, reverse=len(y) > 2 and y[1] > y[-1])
    assert_agrees("merge_cubes", {"c": a, "q": b}, out, cube1=C, cube2={"from_parameter": "q"})


def test_merge_cubes_errors_and_band_metadata():
    """merge_cubes: "If there is any overlap between the dimension labels, the parameter
    overlap_resolver must be specified" (OverlapResolverMissing); "All dimensions share the
    same properties, such as name, type" -- a dimension of two types is refused; the bands
    of both cubes keep their metadata."""
    a = _three_bands()
    assert error_of("merge_cubes", {"c": a, "q": a}, cube1=C, cube2={"from_parameter": "q"}
                    ) == "OverlapResolverMissing"  # fmt: skip
    other = with_dimension_types(_three_bands(names=("B7", "B8", "B9")), {"bands": "other"})
    assert error_of("merge_cubes", {"c": a, "q": other}, cube1=C,
                    cube2={"from_parameter": "q"}) == "ProcessParameterInvalid"  # fmt: skip
    more = _three_bands(commons=("blue", None, "green"), names=("B7", "B8", "B1"))
    out = run_process("merge_cubes", {"c": a, "q": more}, cube1=C, cube2={"from_parameter": "q"},
                      overlap_resolver=callback("max", data=[{"from_parameter": "x"},
                                                             {"from_parameter": "y"}]))  # fmt: skip
    assert labels(out, "bands") == ["B1", "B2", "B3", "B7", "B8"]
    assert [b.common_name for b in bands_of(out.data, "bands")] == ["red", "nir", "red",
                                                                     "blue", None]  # fmt: skip


@FAST
@given(cubes(max_size=5), st.data())
def test_trim_cube_removes_only_labels_without_data(cube, data):
    """trim_cube: "Removes dimension labels solely containing no-data values. If the
    dimension is irregular categorical then dimension labels in the middle can be
    removed"; "The dimension properties name, type, reference system and resolution
    remain unchanged"."""
    out = run_process("trim_cube", {"c": cube}, data=C)
    assert out.dims == cube.dims and types_of(out) == types_of(cube)
    valid = cube.full_valid()
    for dim in cube.dims:
        others = [d for d in cube.dims if d != dim]
        has = (valid.any(dim=others) if others else valid).values
        old, kept = labels(cube, dim), labels(out, dim)
        assert all(v in kept for v, h in zip(old, has, strict=True) if h)  # data stays
        if dimension_type(cube, dim) in ("spatial", "temporal") and has.any():
            first, last = np.flatnonzero(has)[[0, -1]]
            assert kept == old[first:last + 1]  # ordered: trimmed at the edges only
        elif has.any():
            assert kept == [v for v, h in zip(old, has, strict=True) if h]
    assert_agrees("trim_cube", {"c": cube}, out, data=C)


# ---------------------------------------------------------------------------------------
# flatten_dimensions, unflatten_dimension


@FAST
@given(cubes(types={"a": "other", "bands": "bands", "t": "temporal"}, max_size=3),
       st.permutations(["a", "bands", "t"]), st.integers(1, 3))  # fmt: skip
@example(cube=None, order=["a", "bands"], count=2).via("the definition's example")
def test_flatten_then_unflatten_restores_the_values(cube, order, count):
    """flatten_dimensions: "Combines multiple given dimensions into a single dimension by
    flattening the values and merging the dimension labels with the given label_separator";
    "The order of the array defines the order in which the dimension labels and values are
    combined"; "A new dimensions will be created with the given names and type other".
    unflatten_dimension is "the opposite": the values come back at their labels."""
    if cube is None:  # the example: A (2020, 2021) and B (B1, B2), [[1, 2], [3, 4]]
        data = xr.DataArray([[1.0, 2.0], [3.0, 4.0]], dims=["a", "bands"],
                            coords={"a": ["2020", "2021"], "bands": ["B1", "B2"]})  # fmt: skip
        cube = with_dimension_types(Cube(data, xr.DataArray(True)), {"a": "other",
                                                                      "bands": "bands"})
    names = [d for d in order if d in cube.dims][:count]
    args = {"data": C, "dimensions": names, "target_dimension": "f"}
    flat = run_process("flatten_dimensions", {"c": cube}, **args)
    assert dimension_type(flat, "f") == "other"
    at = min(cube.dims.index(n) for n in names)
    kept = [d for d in cube.dims if d not in names]
    assert flat.dims == tuple(kept[:at] + ["f"] + kept[at:])
    assert [dimension_type(flat, d) for d in kept] == [dimension_type(cube, d) for d in kept]
    assert_agrees("flatten_dimensions", {"c": cube}, flat, **args)
    if names == ["a", "bands"] and labels(cube, "a") == ["2020", "2021"]:
        assert labels(flat, "f") == ["2020~B1", "2020~B2", "2021~B1", "2021~B2"]
        assert plain(flat) == [1.0, 2.0, 3.0, 4.0]
    if len(names) < 2:
        return
    targets = [f"u{i}" for i in range(len(names))]
    back = run_process("unflatten_dimension", {"c": flat}, data=C, dimension="f",
                       target_dimensions=targets)  # fmt: skip
    assert types_of(back)[at:at + len(names)] == ["other"] * len(names)
    expected = cube.data.transpose(*kept[:at], *names, *kept[at:]).values
    got = back.data.values
    valid = cube.full_valid().transpose(*kept[:at], *names, *kept[at:]).values
    assert got.shape == expected.shape
    assert np.array_equal(back.full_valid().values, valid)
    assert np.allclose(got[valid], expected[valid], equal_nan=True)


def test_flatten_and_unflatten_errors():
    """flatten_dimensions / unflatten_dimension: "Fails with a TargetDimensionExists
    exception if a dimension with the specified name exists"."""
    cube = _three_bands()
    flat = {"data": C, "dimensions": ["bands"], "target_dimension": "x"}
    assert error_of("flatten_dimensions", {"c": cube}, **flat) == "TargetDimensionExists"
    assert_type_error("TargetDimensionExists", "flatten_dimensions", {"c": cube}, **flat)
    split = {"data": C, "dimension": "bands", "target_dimensions": ["x", "k"]}
    assert error_of("unflatten_dimension", {"c": cube}, **split) == "TargetDimensionExists"
    assert_type_error("TargetDimensionExists", "unflatten_dimension", {"c": cube}, **split)


def _geojson_merge(first: dict, second: dict, resolver: bool = False) -> dict:
    merge = {"cube1": {"from_node": "a"}, "cube2": {"from_node": "b"}}
    if resolver:
        merge["overlap_resolver"] = callback("add", x={"from_parameter": "x"},
                                             y={"from_parameter": "y"})  # fmt: skip
    return {"process_graph": {
        "a": node("load_geojson", data=first, properties=["v"]),
        "b": node("load_geojson", data=second, properties=["v"]),
        "m": node("merge_cubes", True, **merge),
    }}  # fmt: skip


def _features(*geometries: dict, start: int = 0) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g, "properties": {"v": start + i}}
        for i, g in enumerate(geometries)]}  # fmt: skip


def test_merge_cubes_of_vector_cubes():
    """merge_cubes: "The equality for geometries follows the definition in the Simple
    Features standard" (equal geometries are one label, the overlap resolved); "It is not
    possible to merge a vector and a raster data cube"; "Merging vector data cubes with
    different base geometry types ... throws the IncompatibleGeometryTypes exception. The
    base geometry types can be merged with their corresponding multi geometry types"."""
    p1, p2 = ({"type": "Point", "coordinates": c} for c in ([1, 2], [3, 4]))
    many = {"type": "MultiPoint", "coordinates": [[5, 6]]}
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    disjoint = execute(_geojson_merge(_features(p1, p2), _features(many, start=10))).value
    assert labels(disjoint, "geometry") == [0, 1, 2]
    assert disjoint.data.attrs["geometries"][2] == many
    assert plain(disjoint) == [[0], [1], [10]]
    shared = _geojson_merge(_features(p1, p2), _features(p2, many, start=10), resolver=True)
    assert plain(execute(shared).value) == [[0], [11], [11]]
    with pytest.raises(PgcError) as caught:
        execute(_geojson_merge(_features(p1, p2), _features(p2, start=10)))
    assert caught.value.code == "OverlapResolverMissing"
    with pytest.raises(PgcError) as caught:
        execute(_geojson_merge(_features(p1), _features(polygon)))
    assert caught.value.code == "IncompatibleGeometryTypes"
    raster = _three_bands()
    vector = execute({"process_graph": {"g": node("load_geojson", True, data=p1)}}).value
    assert error_of("merge_cubes", {"c": raster, "q": vector}, cube1=C,
                    cube2={"from_parameter": "q"}) == "ProcessParameterInvalid"  # fmt: skip


@pytest.mark.parametrize("executor", ["reference", "numba", "dask"])
def test_ndvi_takes_common_names_on_every_executor(executor):
    """ndvi: "Either the unique band name (metadata field name in bands) or one of the
    common band names (metadata field common_name in bands) can be specified": nir/red by
    common name give the same values as B08/B04 by name (NirBandAmbiguous before: the
    executors read band metadata that nothing set)."""
    from pgc.runner import execute

    def graph(nir: str, red: str) -> dict:
        load = {"id": "SENTINEL2_L2A_SAMPLE", "bands": ["B04", "B08"],
                "spatial_extent": {"west": 600000, "east": 600040, "north": 5695000,
                                   "south": 5694960, "crs": 32631},
                "temporal_extent": ["2023-01-01", "2023-03-01"]}  # fmt: skip
        return {
            "l": {"process_id": "load_collection", "arguments": load},
            "n": {"process_id": "ndvi", "result": True,
                  "arguments": {"data": {"from_node": "l"}, "nir": nir, "red": red}},
        }  # fmt: skip

    by_common = execute(graph("nir", "red"), executor=executor).value
    by_name = execute(graph("B08", "B04"), executor=executor).value
    assert by_common.to_python() == by_name.to_python()
