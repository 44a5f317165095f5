"""Intermediate results between federation members: a STAC collection holding one cube.

A member's job ends in ``save_result``; the member that goes on reads the value with
``load_stac``. The value is written as a STAC collection folder:

- ``collection.json``: a STAC collection with the datacube extension, whose
  ``cube:dimensions`` are exactly the cube's dimensions (a cube reduced over time has no
  temporal dimension; a vector cube has its geometry dimension), and a link to its item;
- ``items/result.json``: the STAC item, with the same ``cube:dimensions``, the time span
  and one asset ``data``;
- ``items/result.nc``: the asset, netCDF (the openEO output format that holds any
  dimensions) in the exact form of :mod:`pgc.data.cube_file` (what a member of a
  federation over HTTP saves with ``save_result``'s ``pgc_exchange`` option).

Validity travels beside the values, not as a no-data value inside them, because a NaN that
a computation produced is a value, not no-data (pgc's reference semantics): the round trip
is exact, which the federation's differential test relies on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..data import cube_file

ASSET = "result.nc"
MEDIA_TYPE = "application/x-netcdf"


class NotExchangeable(ValueError):
    """A value that cannot travel between members as a file."""


def write(value: Any, folder: Path, collection_id: str) -> int:
    """Write a cube as a STAC collection folder; the bytes written."""
    from .values import Cube

    if not isinstance(value, Cube):
        raise NotExchangeable(f"a {type(value).__name__} is not a data cube")
    data = value.data
    try:
        cube_file.check(data)
    except cube_file.NotWritable as why:
        raise NotExchangeable(str(why)) from None
    folder = Path(folder)
    _check_fresh(folder)
    (folder / "items").mkdir(parents=True, exist_ok=True)
    cube_file.write(data, value.valid, folder / "items" / ASSET)
    dimensions = _dimensions(data)
    when = _time_span(data)
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": ["https://stac-extensions.github.io/datacube/v2.2.0/schema.json"],
        "id": "result",
        "geometry": None,
        "properties": {**when, "cube:dimensions": dimensions},
        "assets": {"data": {"href": ASSET, "type": MEDIA_TYPE, "roles": ["data"]}},
        "links": [{"rel": "collection", "href": "../collection.json"}],
    }
    collection = {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": item["stac_extensions"],
        "id": collection_id,
        "description": "An intermediate result of a federated pgc job.",
        "license": "other",
        "extent": {
            "spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]]},
            "temporal": {"interval": [[when.get("start_datetime"), when.get("end_datetime")]]},
        },
        "cube:dimensions": dimensions,
        "links": [{"rel": "item", "href": "items/result.json", "type": "application/json"}],
    }
    (folder / "items" / "result.json").write_text(json.dumps(item, indent=1), encoding="utf-8")
    (folder / "collection.json").write_text(json.dumps(collection, indent=1), encoding="utf-8")
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


_WRITTEN = {"collection.json", "items", "items/result.json", f"items/{ASSET}"}


def _check_fresh(folder: Path) -> None:
    """Refuse (:class:`pgc.data.safepaths.TargetExists`) a folder holding anything but
    what :func:`write` writes there (an earlier exchange's files are replaced; nothing
    else is overwritten), or a symlink on the way."""
    from ..data.safepaths import TargetExists

    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise TargetExists(f"{folder.name} exists and is not a folder pgc wrote")
    if not folder.exists():
        return
    for path in folder.rglob("*"):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink() or relative not in _WRITTEN:
            raise TargetExists(f"{folder.name} holds files pgc did not write")


def is_exchange(folder: Path) -> bool:
    """Whether a STAC collection folder holds one cube written by :func:`write`."""
    from ..data.access import ReadAccess

    item = ReadAccess((Path(folder),)).inside(Path(folder) / "items" / "result.json")
    if item is None or not item.is_file():  # a symlink out of the folder is no exchange
        return False
    assets = json.loads(item.read_text(encoding="utf-8")).get("assets", {})
    return assets.get("data", {}).get("type") == MEDIA_TYPE


def read(folder: Path):
    """The cube a :func:`write` wrote (values, validity, attributes as they were). The
    asset must resolve inside ``folder`` (:class:`pgc.data.access.ReadRefused` if not)."""
    from ..data.access import ReadAccess
    from .values import Cube

    values, valid = cube_file.read(Path(folder) / "items" / ASSET, ReadAccess((Path(folder),)))
    return Cube(values, valid)


def _dimensions(data) -> dict:
    """The datacube extension's description of every dimension of ``data``."""
    out: dict[str, dict] = {}
    crs = data.attrs.get("crs")
    for name in data.dims:
        labels = data[name].values if name in data.coords else np.arange(data.sizes[name])
        if name in ("x", "y"):
            entry: dict = {"type": "spatial", "axis": name}
            if len(labels):
                entry["extent"] = [float(np.min(labels)), float(np.max(labels))]
            if len(labels) > 1:
                entry["step"] = float(abs(labels[1] - labels[0]))
            if crs is not None:
                entry["reference_system"] = int(crs) if str(crs).isdigit() else str(crs)
        elif np.issubdtype(labels.dtype, np.datetime64):
            text = [str(v.astype("datetime64[s]")) + "Z" for v in labels]
            entry = {"type": "temporal", "values": text}
            if text:
                entry["extent"] = [text[0], text[-1]]
        elif name == data.attrs.get("geometry_dimension", "geometry") and "geometries" in (
            data.attrs
        ):
            entry = {"type": "geometry", "axes": ["x", "y"], "bbox": [-180, -90, 180, 90]}
        else:
            kind = "bands" if name == "bands" else "other"
            entry = {"type": kind, "values": [_plain(v) for v in labels]}
        out[name] = entry
    return out


def _time_span(data) -> dict:
    times = [data[d].values for d in data.dims if np.issubdtype(data[d].dtype, np.datetime64)]
    if not times or not len(times[0]):
        return {"datetime": "1970-01-01T00:00:00Z"}
    text = [str(v.astype("datetime64[s]")) + "Z" for v in times[0]]
    return {"datetime": None, "start_datetime": min(text), "end_datetime": max(text)}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
