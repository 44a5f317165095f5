"""A synthetic Sentinel-1 GRD-like collection on the sample's grid, for the federation
benchmark: ``VV`` and ``VH`` backscatter (linear sigma0, float32), 12 dates in 2023 (the
4th of each month), 512 x 512 pixels of 10 m in EPSG:32631 - the grid of
``SENTINEL2_L2A_SAMPLE``, so the two can be merged.

The values follow the Sentinel-2 sample's scene: backscatter rises with the green cover of
the date (derived from the sample's NDVI of the nearest month), water is dark, plus speckle
(a gamma-distributed factor with a fixed seed). They are generated, not observed.

Written once as a file-backed STAC collection (``collection.json``, one item per date, one
GeoTIFF per band) under the active options' cache folder (``~/.cache/pgc`` by default).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

COLLECTION_ID = "SENTINEL1_GRD_SAMPLE"
VERSION = 1
DATES = [f"2023-{m:02d}-04T05:50:00Z" for m in range(1, 13)]
SEED = 1


def folder() -> Path:
    from pgc.options import active

    return active().cache_root() / f"{COLLECTION_ID}-v{VERSION}"


def stac() -> dict:
    """The collection's STAC document (datacube extension, raster bands)."""
    from benchmarks.zarr_sample import collection, cube_dimensions

    dimensions = cube_dimensions((600000, 605120), (5689880, 5695000), 10, DATES, ["VV", "VH"])
    summaries = {
        "raster:bands": [
            {"name": "VV", "data_type": "float32"},
            {"name": "VH", "data_type": "float32"},
        ]
    }
    return collection(
        COLLECTION_ID, "Synthetic Sentinel-1 GRD-like backscatter on the pgc sample's grid.",
        [4.4373, 51.3525, 4.5114, 51.3992], DATES, dimensions, summaries,
        links=[{"rel": "item", "href": f"items/{d[:10]}.json"} for d in DATES],
    )  # fmt: skip


def ensure() -> Path:
    """The collection's folder, written first if it is not there."""
    out = folder()
    if (out / "collection.json").is_file():
        return out
    import rasterio
    from rasterio.transform import from_origin

    from pgc.data import sample

    partial = out.with_name(out.name + f".{os.getpid()}.tmp")
    (partial / "items").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    transform = from_origin(600000, 5695000, 10, 10)
    sample.ensure_generated()
    for i, date in enumerate(DATES):
        red = np.load(sample.band_path(i, "B04")).astype(np.float64)
        nir = np.load(sample.band_path(i, "B08")).astype(np.float64)
        green = np.clip((nir - red) / np.maximum(nir + red, 1), 0, 1)
        water = np.load(sample.band_path(i, "B08")) < 1400
        speckle = rng.gamma(4.0, 0.25, size=(2, *green.shape))
        vv = np.where(water, 0.01, 0.04 + 0.12 * green) * speckle[0]
        vh = np.where(water, 0.002, 0.008 + 0.05 * green) * speckle[1]
        assets = {}
        for name, values in (("VV", vv), ("VH", vh)):
            path = partial / "items" / f"{date[:10]}_{name}.tif"
            with rasterio.open(path, "w", driver="GTiff", height=values.shape[0],
                               width=values.shape[1], count=1, dtype="float32",
                               crs="EPSG:32631", transform=transform) as dst:  # fmt: skip
                dst.write(values.astype(np.float32), 1)
            assets[name] = {"href": path.name, "type": "image/tiff; application=geotiff"}
        item = {
            "type": "Feature", "stac_version": "1.0.0", "id": date[:10],
            "geometry": None, "properties": {"datetime": date}, "assets": assets, "links": [],
        }  # fmt: skip
        (partial / "items" / f"{date[:10]}.json").write_text(json.dumps(item), encoding="utf-8")
    (partial / "collection.json").write_text(json.dumps(stac(), indent=1), encoding="utf-8")
    try:
        partial.rename(out)
    except OSError:  # another process wrote it first
        import shutil

        shutil.rmtree(partial, ignore_errors=True)
    return out
