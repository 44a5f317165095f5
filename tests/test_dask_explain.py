"""``pgc explain --dask`` says what the dask executor does (issue 9): the nodes it calls
chunked are the nodes whose chunked form ran, on the optimizer's random graphs."""

from __future__ import annotations

from conftest import examples
from hypothesis import example, given, settings
from test_optimizer_differential import graphs

from pgc.compiler import compile as compile_graph
from pgc.errors import PgcError
from pgc.executors import chunked
from pgc.executors.dask_explain import describe, placements
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


@settings(deadline=None, max_examples=examples(40))
@given(graph=graphs())
@example(
    graph={
        "process_graph": {
            "n0": {
                "process_id": "load_collection",
                "arguments": {
                    "id": "SENTINEL2_L2A_SAMPLE",
                    "spatial_extent": {
                        "west": 600000,
                        "east": 600040,
                        "north": 5695000,
                        "south": 5694960,
                        "crs": 32631,
                    },
                    "temporal_extent": None,
                    "bands": None,
                },
            },
            "n1": {
                "process_id": "filter_temporal",
                "arguments": {"data": {"from_node": "n0"}, "extent": ["2023-01-10", "2023-02-10"]},
            },
            "n2": {
                "process_id": "filter_temporal",
                "arguments": {"data": {"from_node": "n1"}, "extent": ["2023-02-10", "2023-03-10"]},
            },
            "n3": {
                "process_id": "apply_kernel",
                "arguments": {
                    "data": {"from_node": "n2"},
                    "kernel": [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
                },
                "result": True,
            },
        }
    },
)  # two filter_temporal that leave no date: apply_kernel runs whole
@example(
    graph={
        "process_graph": {
            "n0": {
                "process_id": "load_collection",
                "arguments": {
                    "id": "SENTINEL2_L2A_SAMPLE",
                    "spatial_extent": {
                        "west": 600000,
                        "east": 600040,
                        "north": 5694990,
                        "south": 5694950,
                        "crs": 32631,
                    },
                    "temporal_extent": None,
                    "bands": None,
                },
            },
            "n1": {
                "process_id": "filter_bbox",
                "arguments": {
                    "data": {"from_node": "n0"},
                    "extent": {
                        "west": 600000,
                        "east": 600010,
                        "north": 5695000,
                        "south": 5694990,
                        "crs": 32631,
                    },
                },
            },
            "n2": {
                "process_id": "rename_labels",
                "arguments": {
                    "data": {"from_node": "n1"},
                    "dimension": "bands",
                    "target": ["r0", "r1"],
                    "source": ["B01", "B02"],
                },
                "result": True,
            },
        }
    },
)  # a box that only touches the data's edge leaves no row: rename_labels runs whole
@example(
    graph={
        "process_graph": {
            "n0": {
                "process_id": "load_collection",
                "arguments": {
                    "id": "SENTINEL2_L2A_SAMPLE",
                    "spatial_extent": {
                        "west": 600000,
                        "east": 600040,
                        "north": 5695000,
                        "south": 5694960,
                        "crs": 32631,
                    },
                    "temporal_extent": None,
                    "bands": None,
                },
            },
            "n1": {
                "process_id": "apply",
                "arguments": {
                    "data": {"from_node": "n0"},
                    "process": {
                        "process_graph": {
                            "m": {
                                "process_id": "multiply",
                                "arguments": {"x": {"from_parameter": "x"}, "y": 0.5},
                                "result": True,
                            }
                        }
                    },
                },
            },
            "n2": {
                "process_id": "filter_bbox",
                "arguments": {
                    "data": {"from_node": "n1"},
                    "extent": {
                        "west": 600000,
                        "east": 600010,
                        "north": 5695000,
                        "south": 5694990,
                        "crs": 32631,
                    },
                },
            },
            "n3": {
                "process_id": "filter_bbox",
                "arguments": {
                    "data": {"from_node": "n2"},
                    "extent": {
                        "west": 600000,
                        "east": 600010,
                        "north": 5694990,
                        "south": 5694980,
                        "crs": 32631,
                    },
                },
                "result": True,
            },
        }
    },
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
