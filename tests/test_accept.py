"""pgc accepts valid openEO process graphs.

Four sources of graphs that are valid per the openEO process definitions, each of which
pgc must validate without errors (warnings are allowed unless a test says otherwise):

1. the example graphs in ``examples/`` (built with the openEO Python client);
2. the reference process graphs of the openEO process definitions, and the child process
   graphs in the definitions' examples (wrapped into a one-node process object);
3. the openEO conformance test vectors (``tests/*.json5`` of openeo-processes), one
   one-node graph per test case;
4. graphs built offline with the official openEO Python client.

The upstream openeo-processes checkout is taken from ``$OPENEO_PROCESSES_DIR``, else from
``../shared/openeo-processes`` next to the repository. Where an upstream graph is itself
invalid per the definitions the case is skipped with the exact reason; where pgc rejects a
graph that is valid the case is a strict xfail naming the pgc bug.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pgc
from pgc import Diagnostic

try:
    import json5
except ImportError:  # a test extra; only group 3 needs it
    json5 = None

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SPEC_IDS = frozenset(p.stem for p in (ROOT / "specs" / "processes").glob("*.json"))
from conftest import UPSTREAM, VECTORS  # noqa: E402 - $OPENEO_PROCESSES_DIR or ../shared


def _describe(diagnostics: list[Diagnostic]) -> str:
    return "\n".join(
        f"  {d.severity} {d.code} at {d.pointer or '/'}: {d.message}" for d in diagnostics
    )


def assert_accepted(document: Any, *, no_warnings: bool = False, **kwargs: Any) -> None:
    """Validate ``document`` and fail with every diagnostic if pgc reports an error."""
    result = pgc.validate(document, **kwargs)
    assert not result.errors, "pgc rejected a valid graph:\n" + _describe(result.diagnostics)
    assert result.ok
    if no_warnings:
        assert not result.warnings, "unexpected warnings:\n" + _describe(result.warnings)


def _unavailable(reason: str) -> list:
    """One skipped case for a test parametrized by two names (every caller's)."""
    return [pytest.param(None, None, id="unavailable", marks=pytest.mark.skip(reason=reason))]


def _process_ids(graph: dict) -> set[str]:
    """Process ids used in a flat graph, child process graphs included (iteratively)."""
    found: set[str] = set()
    stack: list[Any] = [graph]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if isinstance(item.get("process_id"), str):
                found.add(item["process_id"])
            stack.extend(item.values())
    return found


# -- 1. examples/*.json ------------------------------------------------------------------


EXAMPLE_FILES = sorted(EXAMPLES.glob("*.json"))


def test_examples_exist():
    assert EXAMPLE_FILES, f"no example graphs in {EXAMPLES}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_example_graph(path: Path):
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert "process_graph" in document
    # The file as text and as Python objects, and the other accepted forms of the same graph.
    assert_accepted(text, name=path.name)
    assert_accepted(document)
    assert_accepted({"process": document})
    assert_accepted({"process_graph": document["process_graph"]})
    assert_accepted(document["process_graph"])


# -- 2. reference process graphs and example child graphs of the definitions ---------------


def _definition_files() -> list[Path]:
    if not UPSTREAM.is_dir():
        return []
    return sorted(UPSTREAM.glob("*.json")) + sorted((UPSTREAM / "proposals").glob("*.json"))


def _definitions() -> list[tuple[Path, dict]]:
    return [(p, json.loads(p.read_text(encoding="utf-8"))) for p in _definition_files()]


DEFINITIONS = _definitions()

# Definitions whose reference process graph is itself invalid per the definitions.
INVALID_REFERENCE_GRAPHS = {
    "variance": (
        "upstream mistake in variance.json: node 'apply' calls apply (which needs a data "
        "cube) on the array parameter 'data' (array_apply was meant), and its callback "
        "object uses the key 'process-graph' instead of 'process_graph', so the callback "
        "is a plain object whose from_parameter 'x'/'context' and from_node 'subtract' "
        "refer to nothing in the reference graph"
    ),
}


def _reference_graph_params() -> list:
    if not DEFINITIONS:
        return _unavailable(f"openeo-processes definitions not found at {UPSTREAM}")
    params = []
    for path, definition in DEFINITIONS:
        if "process_graph" not in definition:
            continue
        pid = definition["id"]
        marks = []
        if pid in INVALID_REFERENCE_GRAPHS:
            marks.append(pytest.mark.skip(reason=INVALID_REFERENCE_GRAPHS[pid]))
        params.append(pytest.param(path, definition, id=pid, marks=marks))
    return params


@pytest.mark.parametrize(("path", "definition"), _reference_graph_params())
def test_definition_reference_graph(path: Path, definition: dict):
    """The whole definition is a process object with declared parameters."""
    assert isinstance(definition.get("parameters"), list)
    assert_accepted(definition)
    assert_accepted(path.read_text(encoding="utf-8"), name=path.name)


def _has_child_graph(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "process_graph" in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _free_references(value: Any) -> Iterator[str]:
    """from_parameter names in a value outside its child process graphs."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if "process_graph" in item:
                continue  # child graph parameters are the callback's own
            if isinstance(item.get("from_parameter"), str):
                yield item["from_parameter"]
                continue
            stack.extend(item.values())


def wrap_example(definition: dict, arguments: dict) -> dict:
    """A one-node process object calling the defined process with the example arguments.

    Placeholders in the example (``{"from_parameter": "data"}`` standing for a data cube)
    become declared parameters of the wrapping process object, with the schema of the
    process parameter they are passed to.
    """
    schemas = {p["name"]: p["schema"] for p in definition["parameters"]}
    declared: dict[str, Any] = {}
    for name, value in arguments.items():
        if isinstance(value, dict) and set(value) == {"from_parameter"}:
            declared.setdefault(value["from_parameter"], schemas[name])
    for ref in _free_references(arguments):
        declared.setdefault(ref, {})  # nested placeholder: any value
    return {
        "id": f"example_{definition['id']}",
        "parameters": [
            {"name": name, "description": "Placeholder of the example.", "schema": schema}
            for name, schema in declared.items()
        ],
        "process_graph": {
            "n": {"process_id": definition["id"], "arguments": arguments, "result": True}
        },
    }


def _example_params() -> list:
    if not DEFINITIONS:
        return _unavailable(f"openeo-processes definitions not found at {UPSTREAM}")
    params = []
    for _path, definition in DEFINITIONS:
        pid = definition["id"]
        examples = [
            ex.get("arguments", {})
            for ex in definition.get("examples", [])
            if _has_child_graph(ex.get("arguments", {}))
        ]
        for i, arguments in enumerate(examples):
            case_id = pid if len(examples) == 1 else f"{pid}-{i}"
            marks = []
            if pid not in SPEC_IDS:
                marks.append(pytest.mark.skip(reason=f"pgc's specs have no process '{pid}'"))
            params.append(pytest.param(definition, arguments, id=case_id, marks=marks))
    return params


EXAMPLE_PARAMS = _example_params()


def test_definition_examples_found():
    if not DEFINITIONS:
        pytest.skip(f"openeo-processes definitions not found at {UPSTREAM}")
    # Processes whose definitions show a child process graph in an example.
    ids = {p.id for p in EXAMPLE_PARAMS}
    assert {"aggregate_temporal", "apply_neighborhood", "filter_labels"} <= ids


@pytest.mark.parametrize(("definition", "arguments"), EXAMPLE_PARAMS)
def test_definition_example_child_graph(definition: dict, arguments: dict):
    process = wrap_example(definition, arguments)
    assert_accepted(process)
    assert_accepted(json.dumps(process))
    assert_accepted({"process": process})


# -- 3. openEO conformance test vectors ----------------------------------------------------

DATACUBE = {"type": "object", "subtype": "datacube"}
LABELED_ARRAY = {"type": "array", "subtype": "labeled-array"}
NUMBER = {"type": "number"}


def convert_vector_arguments(arguments: dict) -> tuple[dict, list[dict]]:
    """Turn the special values of a test vector into JSON arguments and declared parameters.

    Data cubes and ``$ref`` assets, labeled arrays and non-finite numbers become
    ``{"from_parameter": "p<i>"}`` with a declared schema; no-data becomes null and
    datetimes their string. The walk is iterative and rebuilds containers bottom-up.
    """
    parameters: list[dict] = []

    def parameter(schema: dict) -> dict:
        name = f"p{len(parameters)}"
        parameters.append(
            {"name": name, "description": "Value of the test case.", "schema": dict(schema)}
        )
        return {"from_parameter": name}

    def leaf(value: Any) -> tuple[bool, Any]:
        """(True, replacement) for special values, (False, None) for containers to walk."""
        if isinstance(value, float) and not math.isfinite(value):
            return True, parameter(NUMBER)
        if isinstance(value, dict):
            if "$ref" in value:
                return True, parameter(DATACUBE)
            kind = value.get("type")
            if kind == "datacube":
                return True, parameter(DATACUBE)
            if kind == "labeled-array":
                return True, parameter(LABELED_ARRAY)
            if kind == "nodata":
                return True, None
            if kind == "datetime":
                return True, value["value"]
            return False, None
        if isinstance(value, list):
            return False, None
        return True, value

    out: dict = {}
    # Each task: (value, container to put the result in, key in that container).
    stack: list[tuple[Any, Any, Any]] = [(v, out, k) for k, v in reversed(arguments.items())]
    while stack:
        value, target, key = stack.pop()
        done, replacement = leaf(value)
        if done:
            new = replacement
        elif isinstance(value, list):
            new = [None] * len(value)
            stack.extend((v, new, i) for i, v in reversed(list(enumerate(value))))
        else:
            new = {}
            stack.extend((v, new, k) for k, v in reversed(value.items()))
        target[key] = new
    return out, parameters


def vector_graph(process_id: str, arguments: dict) -> dict:
    """A one-node process object for one test case, special values as parameters."""
    converted, parameters = convert_vector_arguments(arguments)
    return {
        "id": f"test_{process_id}",
        "parameters": parameters,
        "process_graph": {"n": {"process_id": process_id, "arguments": converted, "result": True}},
    }


FROM_ARGUMENT = (
    "upstream mistake: the callback uses the pre-1.0 reference {{'from_argument': ...}}{}; "
    "openEO 1.x/2.x has only from_parameter/from_node, so the argument is a plain object "
    "where the callee's schema needs a number"
)

# Test cases that are invalid per the definitions: skipped, with what is wrong.
INVALID_VECTORS = {
    "aggregate_temporal.json5#9": (
        "upstream mistake: 'labels': ['before', 'after'] is written inside the reducer's "
        "child process object (which has no 'labels' field, pgc: ProcessGraphInvalid "
        "'A child process graph has the unknown key labels') instead of as an argument of "
        "aggregate_temporal, so the labels the expected result uses are never passed"
    ),
    **{f"array_apply.json5#{i}": FROM_ARGUMENT.format("") for i in (0, 1, 2, 3, 6, 7)},
    "array_apply.json5#8": FROM_ARGUMENT.format(
        ", and the result node calls the misspelt process 'mulitply' (ProcessUnsupported)"
    ),
    **{
        f"array_filter.json5#{i}": (
            "upstream mistake: the callback is passed as 'process', but array_filter's "
            "parameter is 'condition' (required), so 'process' is unsupported and "
            "'condition' missing"
            + (" (case 0's gt node also lacks its required 'y')" if i == 0 else "")
            + ("; the callback also uses pre-1.0 'from_argument'" if i >= 1 else "")
        )
        for i in range(7)
    },
    "merge_cubes.json5#3": FROM_ARGUMENT.format(" ('x', 'y' in the sum's data array)"),
    "normalized_difference.json5#3": (
        "invalid per the definition: x is no-data (null), but normalized_difference's "
        "x schema is {'type': 'number'} only (and its result schema has no null either)"
    ),
    "reduce_dimension.json5#1": (
        "upstream mistake: divide's x and y use {'from_argument': 'red'/'blue'} where "
        "{'from_node': ...} was meant; a plain object is not a number"
    ),
}

# Test cases pgc rejects although they are valid: strict xfail, with the pgc bug.
PGC_BUGS: dict[str, str] = {}  # none left: out-of-domain math values are warnings now


def _vector_params() -> list:
    if json5 is None:
        return _unavailable("json5 is not installed")
    files = sorted(VECTORS.glob("*.json5")) if VECTORS.is_dir() else []
    if not files:
        return _unavailable(f"openEO test vectors not found at {VECTORS}")
    params = []
    for path in files:
        document = json5.loads(path.read_text(encoding="utf-8"))
        for index, case in enumerate(document["tests"]):
            case_id = f"{path.name}#{index}"
            process_id = case.get("id", document["id"])
            missing = [p for p in [process_id, *case.get("required", [])] if p not in SPEC_IDS]
            marks = []
            if missing:
                marks.append(pytest.mark.skip(reason=f"pgc's specs have no process {missing[0]!r}"))
            elif case_id in INVALID_VECTORS:
                marks.append(pytest.mark.skip(reason=INVALID_VECTORS[case_id]))
            elif case_id in PGC_BUGS and "throws" not in case:
                marks.append(pytest.mark.xfail(reason=PGC_BUGS[case_id], strict=True))
            params.append(pytest.param(process_id, case, id=case_id, marks=marks))
    return params


VECTOR_PARAMS = _vector_params()


def test_vector_expectations_are_current():
    """Every skip/xfail above names a test case that exists."""
    if VECTOR_PARAMS[0].id == "unavailable":
        pytest.skip("test vectors not available")
    ids = {p.id for p in VECTOR_PARAMS}
    assert set(INVALID_VECTORS) <= ids
    assert set(PGC_BUGS) <= ids


def test_vector_conversion():
    args, params = convert_vector_arguments(
        {
            "data": [1, float("nan"), {"type": "nodata"}, float("-inf")],
            "cube": {"$ref": "assets/xyt-minimal-float.json5"},
            "labels": {"type": "labeled-array", "data": [{"key": "a", "value": 1}]},
            "date": {"type": "datetime", "value": "2020-01-01T00:00:00Z"},
            "type": "bands",  # an argument named 'type' is not a special value
            "geometries": {"type": "Point", "coordinates": [1.0, 2.0]},
        }
    )
    assert args == {
        "data": [1, {"from_parameter": "p0"}, None, {"from_parameter": "p1"}],
        "cube": {"from_parameter": "p2"},
        "labels": {"from_parameter": "p3"},
        "date": "2020-01-01T00:00:00Z",
        "type": "bands",
        "geometries": {"type": "Point", "coordinates": [1.0, 2.0]},
    }
    assert [p["schema"] for p in params] == [NUMBER, NUMBER, DATACUBE, LABELED_ARRAY]


@pytest.mark.parametrize(("process_id", "case"), VECTOR_PARAMS)
def test_vector(process_id: str, case: dict):
    process = vector_graph(process_id, case["arguments"])
    text = json.dumps(process, allow_nan=False)  # NaN/Infinity must be gone
    if "throws" in case:
        # May legitimately be rejected; pgc must answer with diagnostics, not raise.
        result = pgc.validate(text)
        assert isinstance(result.diagnostics, list)
        assert all(isinstance(d, Diagnostic) and d.code for d in result.diagnostics)
        return
    assert_accepted(text)


# -- 4. graphs built with the official openEO Python client ----------------------------------

COLLECTION = "SENTINEL2_L2A_SAMPLE"
EXTENT = {"west": 600000, "south": 5690000, "east": 605000, "north": 5695000, "crs": 32631}
FIELD = {
    "type": "Polygon",
    "coordinates": [
        [[4.445, 51.360], [4.452, 51.360], [4.452, 51.364], [4.445, 51.364], [4.445, 51.360]]
    ],
}
FIELDS = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"field_id": "field_1"}, "geometry": FIELD},
        {
            "type": "Feature",
            "properties": {"field_id": "field_2"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [4.465, 51.370],
                        [4.473, 51.370],
                        [4.474, 51.375],
                        [4.466, 51.375],
                        [4.465, 51.370],
                    ]
                ],
            },
        },
    ],
}


def load(bands=("B02", "B04", "B08", "SCL"), **kwargs):
    """load_collection offline (no connection, no metadata) with the official client."""
    from openeo.rest.datacube import DataCube

    return DataCube.load_collection(
        COLLECTION,
        connection=None,
        fetch_metadata=False,
        spatial_extent=EXTENT,
        temporal_extent=["2023-05-01", "2023-09-01"],
        bands=list(bands),
        **kwargs,
    )


# name -> (builder returning a client DataCube, process ids the graph must contain)
CLIENT_GRAPHS: dict[str, tuple[Callable[[], Any], set[str]]] = {}


def client_graph(*process_ids: str):
    def register(builder: Callable[[], Any]) -> Callable[[], Any]:
        CLIENT_GRAPHS[builder.__name__] = (builder, set(process_ids))
        return builder

    return register


@client_graph("load_collection", "reduce_dimension", "array_element", "subtract", "divide")
def band_math_normalized_difference():
    c = load()
    nir, red = c.band("B08"), c.band("B04")
    return (nir - red) / (nir + red)


@client_graph("array_element", "multiply", "add", "power")
def band_math_constants():
    c = load()
    return (c.band("B04") * 0.0001 + 1) ** 2


@client_graph("gt", "lt", "and", "or", "eq", "not")
def band_math_comparisons_and_logic():
    c = load()
    vegetated = (c.band("B08") > 3000) & (c.band("B04") < 1000)
    return vegetated | ~(c.band("SCL") == 4)


@client_graph("ndvi", "save_result")
def ndvi_saved_as_gtiff():
    return load().ndvi(nir="B08", red="B04").save_result(format="GTiff")


@client_graph("ndvi")
def ndvi_as_new_band():
    return load().ndvi(nir="B08", red="B04", target_band="NDVI")


@client_graph("reduce_dimension", "mean")
def reduce_time_mean():
    return load().reduce_dimension(dimension="t", reducer="mean")


@client_graph("reduce_dimension", "max", "min", "subtract")
def reduce_temporal_lambda():
    return load().reduce_temporal(lambda x: x.max() - x.min())


@client_graph("reduce_dimension", "array_element", "multiply", "divide", "add", "subtract")
def reduce_bands_evi_lambda():
    def evi(bands):
        blue, red, nir = bands[0], bands[1], bands[2]
        return 2.5 * (nir - red) / (1 + nir + 6 * red - 7.5 * blue)

    return load().reduce_dimension(dimension="bands", reducer=evi)


@client_graph("reduce_dimension", "median")
def median_time():
    return load().median_time()


@client_graph("apply", "absolute", "multiply")
def apply_lambda():
    return load().apply(lambda x: x.absolute() * 2)


@client_graph("apply", "if", "is_nan", "clip")
def apply_if_clip():
    from openeo.processes import clip, if_, is_nan

    return load().apply(lambda x: if_(is_nan(x), 0, clip(x, 0, 10000)))


@client_graph("apply_dimension", "cumsum")
def apply_dimension_named():
    return load().apply_dimension(dimension="t", process="cumsum")


@client_graph("apply_dimension", "array_interpolate_linear")
def apply_dimension_interpolate():
    from openeo.processes import array_interpolate_linear

    return load().apply_dimension(dimension="t", process=lambda d: array_interpolate_linear(d))


@client_graph("mask", "filter_bands", "eq")
def mask_with_scl():
    c = load()
    clouds = c.band("SCL") == 9
    return c.filter_bands(["B04", "B08"]).mask(clouds)


@client_graph("merge_cubes", "filter_bands")
def merge_two_band_cubes():
    c = load()
    return c.filter_bands(["B04"]).merge_cubes(c.filter_bands(["B08"]))


@client_graph("merge_cubes", "max")
def merge_with_overlap_resolver():
    return load(["B04"]).merge_cubes(load(["B04"]), overlap_resolver="max")


@client_graph("filter_bbox", "filter_temporal", "filter_bands")
def filters_chain():
    return (
        load()
        .filter_bbox(west=600500, south=5690500, east=604500, north=5694500, crs=32631)
        .filter_temporal("2023-06-01", "2023-07-01")
        .filter_bands(["B04", "B08"])
    )


@client_graph("resample_spatial")
def resample_spatial_20m():
    return load().resample_spatial(resolution=20, method="bilinear")


@client_graph("resample_cube_spatial")
def resample_cube_spatial_to_other():
    return load().resample_cube_spatial(load(["B08"]), method="near")


@client_graph("aggregate_temporal_period", "median")
def aggregate_monthly_median():
    return load().aggregate_temporal_period("month", reducer="median")


@client_graph("aggregate_temporal", "mean")
def aggregate_temporal_intervals():
    return load().aggregate_temporal(
        [["2023-05-01", "2023-06-01"], ["2023-06-01", "2023-07-01"]],
        reducer="mean",
        labels=["may", "june"],
    )


@client_graph("aggregate_spatial", "mean")
def aggregate_spatial_polygon():
    return load().aggregate_spatial(FIELD, reducer="mean")


@client_graph("aggregate_spatial", "median", "save_result")
def aggregate_spatial_fields_csv():
    return load().aggregate_spatial(FIELDS, reducer=lambda d: d.median()).save_result("CSV")


@client_graph("apply_kernel")
def apply_kernel_mean_3x3():
    return load().apply_kernel([[1, 1, 1], [1, 1, 1], [1, 1, 1]], factor=1 / 9)


@client_graph("apply_neighborhood", "apply_kernel")
def apply_neighborhood_laplace():
    return load().apply_neighborhood(
        lambda data: data.apply_kernel(kernel=[[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
        size=[
            {"dimension": "x", "value": 64, "unit": "px"},
            {"dimension": "y", "value": 64, "unit": "px"},
        ],
        overlap=[
            {"dimension": "x", "value": 8, "unit": "px"},
            {"dimension": "y", "value": 8, "unit": "px"},
        ],
    )


@client_graph("linear_scale_range", "apply", "save_result")
def linear_scale_to_bytes():
    return load().linear_scale_range(0, 3000, 0, 255).save_result(format="GTiff")


@client_graph("filter_spatial", "mask_polygon")
def spatial_filter_and_mask():
    return load().filter_spatial(FIELDS).mask_polygon(FIELD)


@client_graph("rename_labels", "add_dimension")
def rename_and_add_dimension():
    return (
        load()
        .rename_labels("bands", target=["blue", "red", "nir", "scl"])
        .add_dimension("source", "s2", type="other")
    )


@client_graph("load_collection", "lte")
def load_with_cloud_cover_property():
    return load(max_cloud_cover=50)


@client_graph("save_result")
def save_netcdf():
    return load().save_result(format="netCDF")


CLIENT_IDS = sorted(CLIENT_GRAPHS)


def test_client_graph_count():
    assert len(CLIENT_GRAPHS) >= 12


@pytest.mark.parametrize("name", CLIENT_IDS)
def test_client_graph(name: str):
    pytest.importorskip("openeo")
    builder, expected = CLIENT_GRAPHS[name]
    graph = builder().flat_graph()
    assert expected <= _process_ids(graph), "the client built a different graph"
    assert_accepted(graph)
    assert_accepted(json.dumps(graph))


def _bbox_process():
    """A user-defined process as built with the client: free bbox/date/threshold parameters."""
    from openeo.api.process import Parameter

    bbox = Parameter(
        "bbox",
        description="Area of interest.",
        schema={"type": "object", "subtype": "bounding-box"},
    )
    start = Parameter.string("start", description="Start date (inclusive).")
    threshold = Parameter.number("threshold", description="NDVI threshold.", default=0.3)
    cube = load().filter_bbox(bbox).filter_temporal(start, "2023-09-01")
    result = cube.ndvi(nir="B08", red="B04") > threshold
    return result, [bbox, start, threshold]


def test_client_user_defined_process_bare_graph():
    pytest.importorskip("openeo")
    cube, _ = _bbox_process()
    graph = cube.flat_graph()
    assert {"from_parameter": "bbox"} in graph["filterbbox1"]["arguments"].values()
    # A bare graph does not declare its parameters: accepted, warnings allowed.
    assert_accepted(graph)
    assert_accepted(json.dumps(graph))
    assert_accepted({"process_graph": graph})


def test_client_user_defined_process_object():
    pytest.importorskip("openeo")
    from openeo.rest.udp import build_process_dict

    cube, parameters = _bbox_process()
    process = build_process_dict(
        cube, process_id="ndvi_above", summary="NDVI above a threshold", parameters=parameters
    )
    assert [p["name"] for p in process["parameters"]] == ["bbox", "start", "threshold"]
    # Declared parameters: no errors and no warnings, in every form.
    assert_accepted(process, no_warnings=True)
    assert_accepted(json.dumps(process), no_warnings=True)
    assert_accepted({"process": process}, no_warnings=True)
