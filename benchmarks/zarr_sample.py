"""A synthetic Sentinel-2 L2A-like collection in one Zarr store, as large as asked: the
dask benchmark's data (issue 9), from a few megabytes (tests) to a full tile time series
larger than a worker's memory.

Bands ``B04`` and ``B08`` (uint16 reflectance x 10000) and ``SCL`` (the scene
classification: vegetation, bare soil, water, and clouds and their shadows in about a fifth
of the pixels of each date, varying by date). Fields are smooth at 640 m with pixel noise;
the values are generated with a fixed seed, not observed. The grid is 10 m in EPSG:32631
from (600000, 5700000), a Sentinel-2 tile's corner; ``side`` 10980 is a whole tile.

Stored uncompressed (``compressors=None``), one storage chunk per date and ``block`` x
``block`` pixels, so the bytes on disk are the bytes of the values and a read's cost is the
disk's. The collection folder holds ``collection.json`` (a STAC collection whose Zarr asset
:meth:`pgc.data.catalog.Catalog.add_folder` reads) and ``cube.zarr``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

BANDS = ("B04", "B08", "SCL")
VERSION = 2
SEED = 9
COARSE = 64  # pixels of one cell of the smooth fields


def folder(side: int, dates: int, block: int, base: Path | None = None) -> Path:
    root = base or Path(os.environ.get("PGC_CACHE_DIR") or Path.home() / ".cache" / "pgc")
    return Path(root) / f"S2_ZARR_{side}px_{dates}d_{block}-v{VERSION}"


def date_labels(dates: int) -> list[str]:
    """One date every 10 days from 2023-04-01: 12 dates cover April to July."""
    start = np.datetime64("2023-04-01T10:30:00")
    return [f"{start + np.timedelta64(10 * i, 'D')}Z" for i in range(dates)]


def cube_dimensions(x: tuple, y: tuple, step: float, dates: list[str], bands,
                    crs: int = 32631) -> dict:  # fmt: skip
    """The datacube extension's dimensions of a benchmark collection: x and y extents
    (west, east) and (south, north) in ``crs`` at ``step``, the dates, the bands."""

    def spatial(axis: str, extent: tuple) -> dict:
        return {"type": "spatial", "axis": axis, "extent": list(extent), "step": step,
                "reference_system": crs}  # fmt: skip

    return {
        "x": spatial("x", x),
        "y": spatial("y", y),
        "t": {"type": "temporal", "extent": [dates[0], dates[-1]], "values": dates},
        "bands": {"type": "bands", "values": list(bands)},
    }


def collection(collection_id: str, description: str, bbox: list, dates: list[str],
               dimensions: dict, summaries: dict, **rest: Any) -> dict:  # fmt: skip
    """A benchmark collection's STAC document (datacube and raster extensions): its id and
    description, the bounding box and first to last date, ``cube:dimensions``, summaries,
    then ``rest`` (assets, links) in the order given."""
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/datacube/v2.2.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        ],
        "id": collection_id,
        "description": description,
        "license": "Apache-2.0",
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [[dates[0], dates[-1]]]}},
        "cube:dimensions": dimensions,
        "summaries": summaries,
        **rest,
    }


ZARR_ASSETS = {"data": {"href": "cube.zarr", "type": "application/vnd+zarr", "roles": ["data"]}}


def stac(collection_id: str, side: int, dates: int) -> dict:
    """The collection's STAC document: datacube dimensions, raster bands, the Zarr asset."""
    labels = date_labels(dates)
    x0, y1 = 600000, 5700000
    band = {"data_type": "uint16", "nodata": 0}
    summaries = {
        "eo:bands": [
            {"name": "B04", "common_name": "red", "center_wavelength": 0.665},
            {"name": "B08", "common_name": "nir", "center_wavelength": 0.842},
            {"name": "SCL"},
        ],
        "raster:bands": [{"name": b, **band} for b in BANDS],
    }
    dimensions = cube_dimensions((x0, x0 + 10 * side), (y1 - 10 * side, y1), 10, labels, BANDS)
    return collection(
        collection_id, "Synthetic Sentinel-2 L2A-like bands in one Zarr store (pgc benchmark).",
        [4.41, 50.46, 5.97, 51.45], labels, dimensions, summaries, assets=ZARR_ASSETS,
        links=[],
    )  # fmt: skip


def band_arrays(store: Path, bands, dates: int, side: int, block: int) -> dict:
    """A new Zarr group at ``store`` with one uint16 array (t, y, x) per band, chunked one
    date by ``block`` x ``block`` pixels, uncompressed (so a read's bytes are its pixels')."""
    import zarr

    root = zarr.open_group(store, mode="w")
    return {
        b: root.create_array(b, shape=(dates, side, side), chunks=(1, block, block),
                             dtype="uint16", compressors=None, fill_value=0,
                             dimension_names=("t", "y", "x"))
        for b in bands
    }  # fmt: skip


def ensure(
    side: int,
    dates: int,
    block: int = 1024,
    base: Path | None = None,
    collection_id: str = "SENTINEL2_L2A_ZARR",
) -> Path:
    """The collection's folder, written first if it is not there (complete: the STAC
    document is written last)."""
    out = folder(side, dates, block, base)
    if (out / "collection.json").is_file():
        return out

    out.mkdir(parents=True, exist_ok=True)
    arrays = band_arrays(out / "cube.zarr", BANDS, dates, side, block)
    rng = np.random.default_rng(SEED)
    cells = -(-side // COARSE) + 1
    green = rng.random((cells, cells))  # the land cover: how green each 640 m cell is
    water = rng.random((cells, cells)) < 0.08
    for t in range(dates):
        clouds = rng.random((cells, cells)) < 0.2
        season = 0.6 + 0.4 * np.sin(np.pi * t / max(dates - 1, 1))
        for r in range(0, side, block):
            rows = min(block, side - r)
            bands = _strip(rng, green, water, clouds, season, r, rows, side)
            for name, values in bands.items():
                arrays[name][t, r : r + rows, :] = values
    document = stac(collection_id, side, dates)
    (out / "collection.json").write_text(json.dumps(document, indent=1), encoding="utf-8")
    return out


def _strip(rng, green, water, clouds, season, row, rows, side) -> dict[str, np.ndarray]:
    """Rows ``row``..``row + rows`` of one date's bands."""

    def fine(coarse: np.ndarray) -> np.ndarray:  # cells to pixels
        y = (row + np.arange(rows)) // COARSE
        x = np.arange(side) // COARSE
        return coarse[np.ix_(y, x)]

    g = fine(green) * season
    noise = rng.integers(0, 200, size=(2, rows, side), dtype=np.uint16)
    red = (1400 - 1100 * g).astype(np.uint16) + noise[0]
    nir = (1500 + 2500 * g).astype(np.uint16) + noise[1]
    scl = np.where(g > 0.35, 4, 5).astype(np.uint16)
    wet = fine(water)
    scl[wet] = 6
    nir[wet] = 300
    cloud = fine(clouds)
    scl[cloud] = 9
    red[cloud] = 6000
    nir[cloud] = 6500
    return {"B04": red, "B08": nir, "SCL": scl}


def nbytes(side: int, dates: int) -> int:
    """The bytes of the values (and on disk: uncompressed)."""
    return side * side * dates * len(BANDS) * 2
