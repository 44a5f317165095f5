"""``pgc explain --dask`` says what the dask executor does (issue 9): the nodes it calls
chunked are the nodes whose chunked form ran, on the optimizer's random graphs."""

from __future__ import annotations

from conftest import examples
from hypothesis import example, given, settings
from test_optimizer_differential import graphs

from pgc.compiler import compile as compile_graph
from pgc.errors import PgcError
from pgc.executors.dask import chunked
from pgc.executors.dask.explain import describe, placements
from pgc.runner import execute, with_kernels


def ran_chunked(graph: dict) -> set[str] | None:
    """The ids of the nodes whose chunked form returned a chunked result (None: an error)."""
    seen: set[str] = set()
    forms = dict(chunked.FORMS)

    def spy(form):
        def run(call, options):
            out = form(call, options)
            if out is not None:
                seen.add(call.node.id)
            return out

        return run

    chunked.FORMS.update({key: spy(form) for key, form in forms.items()})
    try:
        execute(graph, executor="dask", dask=chunked.DaskOptions(chunk=5))
    except PgcError:
        return None
    finally:
        chunked.FORMS.update(forms)
    return seen


def _box(north: int, south: int, east: int = 600040) -> dict:
    """A box at the sample's west edge, in its CRS."""
    return {"west": 600000, "east": east, "north": north, "south": south, "crs": 32631}


def _chain(north: int, south: int, *steps: tuple[str, dict]) -> dict:
    """A graph: load_collection of the bands in ``_box(north, south)``, then each step
    (process id, arguments) on the node before it; the last is the result."""
    load = {"id": "SENTINEL2_L2A_SAMPLE", "spatial_extent": _box(north, south),
            "temporal_extent": None, "bands": None}  # fmt: skip
    nodes = {"n0": {"process_id": "load_collection", "arguments": load}}
    for i, (process_id, arguments) in enumerate(steps, 1):
        data = {"data": {"from_node": f"n{i - 1}"}}
        nodes[f"n{i}"] = {"process_id": process_id, "arguments": {**data, **arguments}}
    nodes[f"n{len(steps)}"]["result"] = True
    return {"process_graph": nodes}


HALF_OF_X = {"x": {"from_parameter": "x"}, "y": 0.5}
HALF = {"process_graph": {"m": {"process_id": "multiply", "result": True, "arguments": HALF_OF_X}}}


@settings(deadline=None, max_examples=examples(40))
@given(graph=graphs())
@example(
    graph=_chain(
        5695000, 5694960,
        ("filter_temporal", {"extent": ["2023-01-10", "2023-02-10"]}),
        ("filter_temporal", {"extent": ["2023-02-10", "2023-03-10"]}),
        ("apply_kernel", {"kernel": [[1, 1, 1], [1, 1, 1], [1, 1, 1]]}),
    )  # fmt: skip
)  # two filter_temporal that leave no date: apply_kernel runs whole
@example(
    graph=_chain(
        5694990, 5694950,
        ("filter_bbox", {"extent": _box(5695000, 5694990, east=600010)}),
        ("rename_labels", {"dimension": "bands", "target": ["r0", "r1"],
                           "source": ["B01", "B02"]}),
    )  # fmt: skip
)  # a box that only touches the data's edge leaves no row: rename_labels runs whole
@example(
    graph=_chain(
        5695000, 5694960,
        ("apply", {"process": HALF}),
        ("filter_bbox", {"extent": _box(5695000, 5694990, east=600010)}),
        ("filter_bbox", {"extent": _box(5694990, 5694980, east=600010)}),
    )  # fmt: skip
)  # two adjacent one-pixel boxes leave nothing: the kernel (sources in a dict) runs whole
def test_explain_says_which_nodes_run_chunked(graph):
    try:
        plan = compile_graph(graph, pipeline=with_kernels("default"))
    except PgcError:
        return
    seen = ran_chunked(graph)
    if seen is None:
        return
    said = {node.id for node, how in placements(plan.graph) if how is not None}
    assert said == seen, describe(plan)


def test_explain_dask_on_the_command_line(capsys):
    from conftest import ROOT

    from pgc.cli import main

    assert main(["explain", str(ROOT / "examples" / "crop_features.json"), "--dask"]) == 0
    out = capsys.readouterr().out
    assert "# dask executor: where each node runs" in out
    assert "chunked  load_collection: windowed reads" in out
