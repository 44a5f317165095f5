"""Generators of synthetic process graphs for the benchmarks and scaling tests."""

from __future__ import annotations


def apply_chain(n: int) -> dict:
    """``n`` ``apply`` nodes in a chain, each with a two-node callback: 3n + 1 nodes.

    The callback computes ``abs(x) * 2``; the chain starts at a ``load_collection``.
    """
    graph: dict = {
        "load": {
            "process_id": "load_collection",
            "arguments": {
                "id": "SENTINEL2_L2A_SAMPLE",
                "spatial_extent": {
                    "west": 600000,
                    "south": 5690000,
                    "east": 605000,
                    "north": 5695000,
                    "crs": 32631,
                },
                "temporal_extent": ["2023-01-01", "2023-12-31"],
                "bands": ["B04", "B08"],
            },
        }
    }
    previous = "load"
    for i in range(n):
        node_id = f"apply{i}"
        graph[node_id] = {
            "process_id": "apply",
            "arguments": {
                "data": {"from_node": previous},
                "process": {
                    "process_graph": {
                        "abs": {
                            "process_id": "absolute",
                            "arguments": {"x": {"from_parameter": "x"}},
                        },
                        "mul": {
                            "process_id": "multiply",
                            "arguments": {"x": {"from_node": "abs"}, "y": 2},
                            "result": True,
                        },
                    }
                },
            },
        }
        previous = node_id
    graph[previous]["result"] = True
    return graph
