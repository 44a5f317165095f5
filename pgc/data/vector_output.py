"""Vector-cube results (``aggregate_spatial`` ...) as files: the input features' properties
travel with the computed values (a field id survives), as the definitions say of vector
cubes (issue 18).

A vector cube's values carry their features in ``attrs`` keyed by the geometry dimension's
labels (see :mod:`pgc.executors.reference.vector`): ``geometries`` (GeoJSON), ``properties``,
``ids`` and the ``crs``. :func:`feature_table` reads them in the order of the labels;
the writers use it:

- GeoJSON: a FeatureCollection, one Feature per geometry (in WGS84, RFC 7946), its
  properties those of the input feature plus the computed values, one property per label
  of the other dimensions (``2023-05-10T10:30:00Z/B04``; ``value`` when there are none);
- CSV: one row per value, the features' properties as columns after the dimensions;
- JSON: the cube as ever, plus ``features`` (properties, ids, geometries).

>>> import numpy as np, xarray as xr
>>> from pgc.executors.values import Cube
>>> data = xr.DataArray([1.5, 2.0], dims=["geometry"], coords={"geometry": [0, 1]}, attrs={
...     "crs": "4326", "geometries": {0: {"type": "Point", "coordinates": [4.4, 51.3]},
...     1: {"type": "Point", "coordinates": [4.5, 51.3]}},
...     "properties": {0: {"field_id": "a"}, 1: {"field_id": "b"}}})
>>> collection = feature_collection(Cube(data, xr.DataArray(True)))
>>> [f["properties"] for f in collection["features"]]
[{'field_id': 'a', 'value': 1.5}, {'field_id': 'b', 'value': 2.0}]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

WGS84 = "4326"


@dataclass
class FeatureTable:
    """The features of a vector cube's geometry dimension, in the order of its labels."""

    dimension: str
    labels: list
    geometries: list[dict]
    properties: list[dict]
    ids: list
    crs: str

    def property_names(self) -> list[str]:
        """Every property key of the features, in the order first seen."""
        names: dict[str, None] = {}
        for properties in self.properties:
            names.update(dict.fromkeys(str(k) for k in properties))
        return list(names)

    def wkt(self) -> list[str]:
        from shapely.geometry import shape

        return [shape(g).wkt for g in self.geometries]

    def in_wgs84(self) -> list[dict]:
        """The geometries in WGS84, as GeoJSON wants them (RFC 7946)."""
        if self.crs == WGS84:
            return list(self.geometries)
        from rasterio.warp import transform_geom
        from shapely.geometry import shape

        source = f"EPSG:{self.crs}" if self.crs.isdigit() else self.crs
        return [
            g if shape(g).is_empty else transform_geom(source, "EPSG:4326", g)
            for g in self.geometries
        ]


def feature_table(cube: Any) -> FeatureTable | None:
    """The features of ``cube``'s geometry dimension, or None for a raster cube."""
    attrs = getattr(getattr(cube, "data", None), "attrs", {})
    if "geometries" not in attrs:
        return None
    dimension = attrs.get("geometry_dimension", "geometry")
    if dimension not in cube.data.dims:
        return None
    labels = cube.data[dimension].values.tolist()
    geometries, properties, ids = (
        attrs["geometries"],
        attrs.get("properties", {}),
        attrs.get("ids", {}),
    )
    missing = [label for label in labels if label not in geometries]
    if missing:
        raise ValueError(f"the vector cube has no geometry for label {missing[0]!r}")
    return FeatureTable(
        dimension,
        labels,
        [geometries[label] for label in labels],
        [dict(properties.get(label) or {}) for label in labels],
        [ids.get(label) for label in labels],
        str(attrs.get("crs", WGS84)),
    )


def plain(value: Any) -> Any:
    """A value as JSON holds it: numpy scalars as Python, dates as ISO 8601 (UTC), no-data
    and non-finite numbers as null (JSON has no NaN)."""
    if isinstance(value, np.datetime64):
        return iso_date(value)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def iso_date(value: Any) -> str:
    """A numpy date as ISO 8601 in UTC: ``2023-05-10T10:30:00Z`` (fractions of a second
    only where there are some)."""
    value = np.datetime64(value)
    whole = value.astype("datetime64[s]")
    unit = "s" if whole == value else "us"
    return str(np.datetime_as_string(value, unit=unit, timezone="UTC"))


def label_text(value: Any) -> str:
    """A dimension label as text (names of properties, GeoTIFF band descriptions)."""
    value = plain(value)
    return str(value)


def feature_collection(cube: Any) -> dict:
    """A vector cube as a GeoJSON FeatureCollection (see the module docstring)."""
    table = feature_table(cube)
    if table is None:
        raise ValueError("GeoJSON holds vector cubes (geometries); this result is a raster cube")
    data = cube.filled()  # no-data: NaN, or None for objects (written as null)
    other = [d for d in data.dims if d != table.dimension]
    data = data.transpose(table.dimension, *other)
    names = _value_names(data, other)
    features = []
    for i, geometry in enumerate(table.in_wgs84()):
        values = np.asarray(data.values[i]).ravel().tolist()
        properties = dict(table.properties[i])
        for name, value in zip(names, values, strict=True):
            key = name if name not in properties else f"{name} (value)"
            properties[key] = plain(value)
        feature = {"type": "Feature", "geometry": geometry, "properties": properties}
        if table.ids[i] is not None:
            feature["id"] = table.ids[i]
        features.append(feature)
    return {"type": "FeatureCollection", "features": features}


def _value_names(data: Any, other: list[str]) -> list[str]:
    """One name per value of a feature: the labels of the other dimensions, ``/`` between."""
    if not other:
        return ["value"]
    grids = np.meshgrid(*[data[d].values for d in other], indexing="ij")
    return [
        "/".join(label_text(v) for v in row)
        for row in zip(*[g.ravel() for g in grids], strict=True)
    ]


def json_features(table: FeatureTable) -> dict:
    """What a JSON result says of a vector cube's features, aligned with its labels."""
    out: dict = {
        "dimension": table.dimension,
        "crs": f"EPSG:{table.crs}" if table.crs.isdigit() else table.crs,
        "properties": [{k: plain(v) for k, v in p.items()} for p in table.properties],
        "geometries": table.geometries,
    }
    if any(i is not None for i in table.ids):
        out["ids"] = table.ids
    return out
