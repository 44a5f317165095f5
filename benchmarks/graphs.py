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


# -- realistic graphs written the natural way: load everything, compute, filter late -------

SAMPLE = "SENTINEL2_L2A_SAMPLE"
# 51 x 51 pixels (1% of the 512 x 512 sample tile), in the tile's UTM zone
SMALL_AREA = {"west": 601000, "south": 5691000, "east": 601510, "north": 5691510, "crs": 32631}
FIELD = {"west": 601000, "south": 5691000, "east": 602280, "north": 5692280, "crs": 32631}


def _n(process_id: str, **arguments) -> dict:
    return {"process_id": process_id, "arguments": arguments}


def _band(label: str) -> dict:
    return _n("array_element", data={"from_parameter": "data"}, label=label)


def _load_everything() -> dict:
    return _n("load_collection", id=SAMPLE, spatial_extent=None, temporal_extent=None, bands=None)


def _ndvi_reducer() -> dict:
    nd = _n("normalized_difference", x={"from_node": "nir"}, y={"from_node": "red"})
    return {"process_graph": {"red": _band("B04"), "nir": _band("B08"),
                              "nd": {**nd, "result": True}}}  # fmt: skip


def _result(graph: dict, last: str) -> dict:
    graph[last] = {**graph[last], "result": True}
    return {"process_graph": graph}


def evi_reducer() -> dict:
    """EVI, 2.5 * (n - r) / (n + 6 r - 7.5 b + 10000), as a reducer over the bands
    (B02, B04, B08 picked by label)."""
    return {
        "blue": _band("B02"), "red": _band("B04"), "nir": _band("B08"),
        "d": _n("subtract", x={"from_node": "nir"}, y={"from_node": "red"}),
        "r6": _n("multiply", x=6, y={"from_node": "red"}),
        "b75": _n("multiply", x=7.5, y={"from_node": "blue"}),
        "s1": _n("add", x={"from_node": "nir"}, y={"from_node": "r6"}),
        "s2": _n("subtract", x={"from_node": "s1"}, y={"from_node": "b75"}),
        "s3": _n("add", x={"from_node": "s2"}, y=10000),
        "q": _n("divide", x={"from_node": "d"}, y={"from_node": "s3"}),
        "e": {**_n("multiply", x=2.5, y={"from_node": "q"}), "result": True},
    }  # fmt: skip


def evi_small_area() -> dict:
    """EVI of a small area (1% of the tile; 3 of 13 bands), the area chosen at the end."""
    evi = evi_reducer()
    graph = {
        "load": _load_everything(),
        "evi": _n("reduce_dimension", data={"from_node": "load"}, dimension="bands",
                  reducer={"process_graph": evi}),
        "area": _n("filter_bbox", data={"from_node": "evi"}, extent=SMALL_AREA),
    }  # fmt: skip
    return _result(graph, "area")


def cloud_masked_ndvi_composite() -> dict:
    """Maximum NDVI over April-July of a field, clouds (SCL 3, 8, 9, 10) masked; the
    months are chosen after the NDVI, the field at the very end."""
    cloudy = {
        "scl": _band("SCL"),
        "c": {**_n("array_contains", data=[3, 8, 9, 10], value={"from_node": "scl"}),
              "result": True},
    }  # fmt: skip
    graph = {
        "load": _load_everything(),
        "clouds": _n("reduce_dimension", data={"from_node": "load"}, dimension="bands",
                     reducer={"process_graph": cloudy}),
        "ndvi": _n("reduce_dimension", data={"from_node": "load"}, dimension="bands",
                   reducer=_ndvi_reducer()),
        "clear": _n("mask", data={"from_node": "ndvi"}, mask={"from_node": "clouds"}),
        "season": _n("filter_temporal", data={"from_node": "clear"},
                     extent=["2023-04-01", "2023-08-01"]),
        "best": _n("reduce_dimension", data={"from_node": "season"}, dimension="t",
                   reducer={"process_graph": {"m": {**_n("max", data={"from_parameter": "data"}),
                                                     "result": True}}}),
        "field": _n("filter_bbox", data={"from_node": "best"}, extent=FIELD),
    }  # fmt: skip
    return _result(graph, "field")


def filters_late() -> dict:
    """Scale to reflectance, pick two bands, NDVI; bands, dates and area chosen last."""
    scale = {"s": {**_n("multiply", x={"from_parameter": "x"}, y=0.0001), "result": True}}
    graph = {
        "load": _load_everything(),
        "reflectance": _n("apply", data={"from_node": "load"}, process={"process_graph": scale}),
        "pair": _n("filter_bands", data={"from_node": "reflectance"}, bands=["B04", "B08"]),
        "ndvi": _n("reduce_dimension", data={"from_node": "pair"}, dimension="bands",
                   reducer=_ndvi_reducer()),
        "summer": _n("filter_temporal", data={"from_node": "ndvi"},
                     extent=["2023-06-01", "2023-09-01"]),
        "area": _n("filter_bbox", data={"from_node": "summer"}, extent=FIELD),
    }  # fmt: skip
    return _result(graph, "area")
