"""The dask executor's chunked apply_kernel and apply_neighborhood
(pgc/executors/dask/neighborhood.py) equal the reference executor: random cubes of the
embedded sample collection (uint16 with no-data, floats with NaN), random kernels, factors,
border modes and replace_invalid, random neighbourhood sizes, overlaps and callbacks, and
chunk sides from 1 pixel (smaller than any halo) to larger than the cube; same values and
validity bit for bit, dtype, labels and attributes, or the same error (code and message).
"""

from __future__ import annotations

import contextlib

from conftest import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimizer_differential import assert_same, callback, node, ref, utm_box

from pgc.errors import PgcError
from pgc.executors.dask import chunked
from pgc.executors.dask.chunked import DaskOptions
from pgc.runner import execute

X = {"from_parameter": "x"}
DATA = {"from_parameter": "data"}
BORDERS = [0, 2.5, -1, "replicate", "reflect", "reflect_pixel", "wrap"]
DOUBLE = "def apply_datacube(cube, context):\n    return cube * 2\n"


def outcome(graph: dict, **options):
    try:
        return ("value", execute(graph, **options).value)
    except PgcError as exc:
        return ("error", exc.diagnostics)


def check(graph: dict, dask: DaskOptions) -> None:
    expected = outcome(graph)
    with declared_dtypes() as declared:
        actual = outcome(graph, executor="dask", dask=dask)
    assert_same(expected, actual, "dask")
    if expected[0] == "value":
        a, b = expected[1], actual[1]
        assert a.data.attrs == b.data.attrs
        assert set(a.data.coords) == set(b.data.coords)
        if declared and graph["process_graph"]["n"]["process_id"] in OURS:
            assert declared[-1] == b.data.dtype  # the lazy result said what it would be


OURS = ("apply_kernel", "apply_neighborhood")  # the forms under test


@contextlib.contextmanager
def declared_dtypes():
    """The dtypes the forms' lazy results declare (what later forms and xarray read before
    computing), in the order the forms ran."""
    originals = {pid: chunked.FORMS[pid] for pid in OURS}
    declared = []

    def recorded(form):
        def run(call, options):
            out = form(call, options)
            if out is not None:
                declared.append(out.data.dtype)
            return out

        return run

    chunked.FORMS.update({pid: recorded(form) for pid, form in originals.items()})
    try:
        yield declared
    finally:
        chunked.FORMS.update(originals)


# -- random graphs ---------------------------------------------------------------------------


@st.composite
def sources(draw) -> dict:
    """Nodes making a small cube ('c'): uint16 as loaded (no-data where the swath ends, at
    columns 30..39 on 2023-05-10), floats with NaN (sqrt of x - 1500), or scaled floats."""
    col, row = draw(st.integers(24, 44)), draw(st.integers(0, 20))
    width, height = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    bands = draw(st.lists(st.sampled_from(["B04", "B08", "SCL"]), min_size=1, max_size=2,
                          unique=True))  # fmt: skip
    end = draw(st.sampled_from(["2023-06-01", "2023-07-01"]))
    nodes = {
        "c": node("load_collection", id="SENTINEL2_L2A_SAMPLE",
                  spatial_extent=utm_box(col, row, col + width, row + height),
                  temporal_extent=["2023-05-01", end], bands=bands),
    }  # fmt: skip
    kind = draw(st.sampled_from(["uint16", "nan", "scaled"]))
    if kind == "nan":
        minus = callback(m=node("subtract", x=X, y=1500), s=node("sqrt", x=ref("m")))
        nodes["f"] = node("apply", data=ref("c"), process=minus)
    elif kind == "scaled":
        nodes["f"] = node("apply", data=ref("c"), process=callback(m=node("multiply", x=X, y=0.25)))
    return nodes


def load(box: tuple[int, int, int, int], bands: list[str], end: str = "2023-07-01") -> dict:
    """load_collection of the sample's columns/rows ``box`` (col0, row0, col1, row1)."""
    return node("load_collection", id="SENTINEL2_L2A_SAMPLE", spatial_extent=utm_box(*box),
                temporal_extent=["2023-05-01", end], bands=bands)  # fmt: skip


def graph(nodes: dict, last: dict) -> dict:
    source = "f" if "f" in nodes else "c"
    last = {**last, "arguments": {**last["arguments"], "data": ref(source)}}
    return {"process_graph": {**nodes, "n": {**last, "result": True}}}


@st.composite
def kernels(draw) -> dict:
    rows, cols = draw(st.sampled_from([1, 3, 5, 7])), draw(st.sampled_from([1, 3, 5]))
    weight = st.sampled_from([0, 1, -1, 2, 0.5, -0.25, 3])
    kernel = [[draw(weight) for _ in range(cols)] for _ in range(rows)]
    arguments = {"data": None, "kernel": kernel}
    for name, values in (("factor", [1, 0.5, -2, 1 / 9]), ("border", BORDERS),
                         ("replace_invalid", [0, 1.5, -7])):  # fmt: skip
        if draw(st.booleans()):
            arguments[name] = draw(st.sampled_from(values))
    return node("apply_kernel", **arguments)


def extent(dimension: str, value, unit: str | None = "px") -> dict:
    return {"dimension": dimension, "value": value, **({"unit": unit} if unit else {})}


@st.composite
def neighbourhoods(draw) -> dict:
    """apply_neighborhood with sizes and overlaps in pixels or metres (10 m pixels),
    sometimes along time or bands too, and a callback that reads neighbours (a kernel),
    works per pixel, runs along time (per pixel: no-data makes bool results), or fails at
    run time (a Python UDF, which the run does not allow)."""
    size, overlap = [], []
    for dim in ("x", "y"):
        if draw(st.integers(0, 5)):  # mostly given; else the whole dimension
            metres = draw(st.booleans())
            pixels = draw(st.integers(1, 6))
            size.append(extent(dim, pixels * 10 - 5, "m") if metres else extent(dim, pixels))
        if draw(st.integers(0, 3)):  # mostly an overlap (0 to 3 pixels)
            overlap.append(extent(dim, draw(st.integers(0, 3))))
    if draw(st.booleans()):
        size.append(extent("t", draw(st.sampled_from(["P1M", "P2M", None])), None))
    if draw(st.booleans()):
        size.append(extent("bands", 1, None))
    body = draw(st.sampled_from(["kernel", "kernel", "kernel", "apply", "cumsum", "udf"]))
    if body == "kernel":
        laplace = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
        process = callback(k=node("apply_kernel", data=DATA, kernel=laplace))
    elif body == "apply":
        process = callback(a=node("apply", data=DATA, process=callback(m=node("multiply", x=X,
                                                                                y=2))))  # fmt: skip
    elif body == "cumsum":
        cumsum = callback(s=node("cumsum", data=DATA))
        process = callback(a=node("apply_dimension", data=DATA, dimension="t", process=cumsum))
    else:
        process = callback(u=node("run_udf", data=DATA, udf=DOUBLE, runtime="Python"))
    return node("apply_neighborhood", data=None, process=process, size=size, overlap=overlap)


CHUNKS = st.integers(1, 14)  # from one pixel (smaller than every halo) to the whole cube


@settings(deadline=None, max_examples=examples(60))
@given(nodes=sources(), kernel=kernels(), chunk=CHUNKS)
def test_chunked_apply_kernel_equals_the_reference(nodes, kernel, chunk):
    check(graph(nodes, kernel), DaskOptions(chunk=chunk))


@settings(deadline=None, max_examples=examples(40))
@given(nodes=sources(), neighbourhood=neighbourhoods(), chunk=CHUNKS)
def test_chunked_apply_neighborhood_equals_the_reference(nodes, neighbourhood, chunk):
    check(graph(nodes, neighbourhood), DaskOptions(chunk=chunk))


# -- it is chunked, and stays chunked ---------------------------------------------------------


def spied(monkeypatch, process_id: str) -> list[bool]:
    """Whether each call of ``process_id``'s chunked form gave a chunked cube."""
    seen = []
    original = chunked.FORMS[process_id]

    def spy(call, options):
        out = original(call, options)
        seen.append(out is not None and chunked.is_lazy(out))
        return out

    monkeypatch.setitem(chunked.FORMS, process_id, spy)
    return seen


def test_the_forms_run_chunked_and_kernels_after_them_too(monkeypatch):
    """A kernel with wrapped borders, then a neighbourhood process, then band math: all
    three chunked (the kernel keeps its input's chunks, so the fused band math reads it
    chunk by chunk)."""
    kernels_seen = spied(monkeypatch, "apply_kernel")
    neighbourhoods_seen = spied(monkeypatch, "apply_neighborhood")
    fused_seen = spied(monkeypatch, "pgc::kernel")
    process = callback(k=node("apply_kernel", data=DATA, kernel=[[1, 1, 1]] * 3))
    nodes = {
        "c": load((28, 0, 48, 16), ["B04", "B08"]),
        "k": node("apply_kernel", data=ref("c"), kernel=[[1, 2, 1]] * 5, border="wrap"),
        "a": node("apply", data=ref("k"), process=callback(m=node("multiply", x=X, y=0.5))),
        "n": node("apply_neighborhood", data=ref("a"), process=process,
                  size=[extent("x", 4), extent("y", 4)], overlap=[extent("x", 1), extent("y", 1)]),
        "s": {**node("apply", data=ref("n"), process=callback(m=node("add", x=X, y=1))),
              "result": True},
    }  # fmt: skip
    check({"process_graph": nodes}, DaskOptions(chunk=4))
    assert kernels_seen[-1] and neighbourhoods_seen[-1]
    assert fused_seen and all(fused_seen)
    said = explained({"process_graph": nodes})
    assert said["k"] == "the reference per chunk, with a halo of 2 rows, 1 columns (wrapped)"
    assert said["n"] == "the reference per chunk of whole neighbourhoods, each with its overlap"


def explained(graph: dict) -> dict:
    """What ``pgc explain --dask`` says of each node: how it runs chunked, or None."""
    from pgc.compiler import compile as compile_graph
    from pgc.executors.dask.explain import placements
    from pgc.runner import with_kernels

    plan = compile_graph(graph, pipeline=with_kernels("default"))
    return {node.id: how for node, how in placements(plan.graph)}


def test_a_callback_that_loads_data_falls_back_to_the_reference(monkeypatch):
    """The run's catalog stays in this process: a callback with load_collection is not
    shipped to chunks (and the result is still the reference's)."""
    seen = spied(monkeypatch, "apply_neighborhood")
    process = callback(
        l=load((0, 0, 2, 2), ["B04"]), m=node("merge_cubes", cube1=DATA, cube2=ref("l"))
    )
    nodes = {
        "c": load((0, 0, 4, 4), ["B04"]),
        "n": {**node("apply_neighborhood", data=ref("c"), process=process,
                     size=[extent("x", 2), extent("y", 2)]), "result": True},
    }  # fmt: skip
    check({"process_graph": nodes}, DaskOptions(chunk=2))
    assert seen == [False]
    assert explained({"process_graph": nodes})["n"] is None


def test_an_error_in_a_later_neighbourhood_is_the_references():
    """The callback filters to the first neighbourhood's box: the first runs before the
    computation and passes, the ones to its right hold no pixel of the box and fail in
    chunks' tasks, with the reference's error (every failing neighbourhood fails alike
    here: the reference names the first, a chunked run the first to fail). filter_bbox
    names no error (issue 17): it leaves them without pixels, which apply_neighborhood
    refuses (their labels changed)."""
    process = callback(f=node("filter_bbox", data=DATA, extent=utm_box(0, 0, 2, 2)))
    nodes = {
        "c": load((0, 0, 8, 2), ["B04"]),
        "n": {**node("apply_neighborhood", data=ref("c"), process=process,
                     size=[extent("x", 2), extent("y", 2)]), "result": True},
    }  # fmt: skip
    kind, diagnostics = outcome({"process_graph": nodes})
    assert kind == "error" and diagnostics[0].code == "DataCubePropertiesImmutable"
    assert diagnostics[0].node_id == "n"
    check({"process_graph": nodes}, DaskOptions(chunk=2))


def test_python_udfs_run_in_the_chunks_when_the_run_allows_them(monkeypatch):
    """The chunks' callbacks get the run's python_udf (and nothing of its catalog)."""
    seen = spied(monkeypatch, "apply_neighborhood")
    process = callback(u=node("run_udf", data=DATA, udf=DOUBLE, runtime="Python"))
    nodes = {
        "c": load((28, 0, 36, 4), ["B04"], "2023-06-01"),
        "n": {**node("apply_neighborhood", data=ref("c"), process=process,
                     size=[extent("x", 4), extent("y", 4)]), "result": True},
    }  # fmt: skip
    graph = {"process_graph": nodes}
    expected = execute(graph, python_udf=True).value
    actual = execute(graph, python_udf=True, executor="dask", dask=DaskOptions(chunk=4)).value
    assert_same(("value", expected), ("value", actual), "dask")
    assert seen == [True]


# -- on a distributed cluster ------------------------------------------------------------------


@settings(
    deadline=None,
    max_examples=examples(6),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    nodes=sources(),
    last=st.one_of(kernels(), neighbourhoods()),
    chunk=st.integers(1, 6),
)
def test_the_forms_on_a_local_cluster_equal_the_reference(cluster_client, nodes, last, chunk):
    check(graph(nodes, last), DaskOptions(chunk=chunk, scheduler=cluster_client))


def test_an_error_in_a_worker_comes_back_as_the_references(cluster_client):
    """A neighbourhood in a worker's chunk fails (see the test on threads above): the
    error pickles with its diagnostics (a plain PgcError would not) and is the
    reference's."""
    process = callback(f=node("filter_bbox", data=DATA, extent=utm_box(0, 0, 2, 2)))
    nodes = {
        "c": load((0, 0, 8, 2), ["B04"]),
        "n": {**node("apply_neighborhood", data=ref("c"), process=process,
                     size=[extent("x", 2), extent("y", 2)]), "result": True},
    }  # fmt: skip
    check({"process_graph": nodes}, DaskOptions(chunk=2, scheduler=cluster_client))


def test_errors_pickle_with_their_diagnostics():
    """A worker's error comes back to the client pickled."""
    import pickle

    from pgc.errors import Diagnostic

    error = PgcError([Diagnostic("UdfError", "it broke", "/process_graph/n")])
    back = pickle.loads(pickle.dumps(error))
    assert isinstance(back, PgcError) and back.diagnostics == error.diagnostics
    assert str(back) == str(error)
