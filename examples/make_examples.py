#!/usr/bin/env python
"""Regenerate the example openEO process graphs in this folder.

The graphs are built offline with the official openEO Python client
(``openeo.DataCube.load_collection(..., connection=None)``), so no back-end
connection is needed.  Each output file is a full openEO process object::

    {"id": ..., "summary": ..., "process_graph": {...}}

Usage::

    python examples/make_examples.py
"""

import json
from pathlib import Path

import openeo

HERE = Path(__file__).resolve().parent

COLLECTION_ID = "SENTINEL2_L2A_SAMPLE"

# Small 5 km x 5 km area in UTM zone 31N (EPSG:32631), native CRS of the sample collection.
SPATIAL_EXTENT = {
    "west": 600000,
    "south": 5690000,
    "east": 605000,
    "north": 5695000,
    "crs": 32631,
}

# A few small agricultural field polygons (GeoJSON, so WGS84 lon/lat) inside the extent above
# (the UTM box spans roughly lon 4.437..4.509, lat 51.352..51.397).
FIELDS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"field_id": "field_1"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [4.445, 51.360],
                        [4.452, 51.360],
                        [4.452, 51.364],
                        [4.445, 51.364],
                        [4.445, 51.360],
                    ]
                ],
            },
        },
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
        {
            "type": "Feature",
            "properties": {"field_id": "field_3"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [4.485, 51.380],
                        [4.495, 51.380],
                        [4.495, 51.386],
                        [4.485, 51.386],
                        [4.485, 51.380],
                    ]
                ],
            },
        },
    ],
}


def load(temporal_extent, bands):
    """Offline load_collection (no connection, no metadata fetching)."""
    return openeo.DataCube.load_collection(
        COLLECTION_ID,
        connection=None,
        spatial_extent=SPATIAL_EXTENT,
        temporal_extent=temporal_extent,
        bands=bands,
        fetch_metadata=False,
    )


def evi():
    """EVI band math, saved as GeoTIFF."""
    cube = load(["2023-06-01", "2023-07-01"], ["B02", "B04", "B08"])
    blue = cube.band("B02")
    red = cube.band("B04")
    nir = cube.band("B08")
    evi_cube = 2.5 * (nir - red) / (1 + nir + 6 * red - 7.5 * blue)
    result = evi_cube.save_result(format="GTiff")
    return {
        "id": "evi",
        "summary": "Compute the Enhanced Vegetation Index (EVI) from Sentinel-2 blue, red "
        "and near-infrared bands and save it as GeoTIFF.",
        "process_graph": result.flat_graph(),
    }


def ndvi_composite():
    """Cloud-masked NDVI, median composite over time, saved as GeoTIFF."""
    cube = load(["2023-05-01", "2023-09-01"], ["B04", "B08", "SCL"])

    # Scene classification: 3 = cloud shadow, 8/9 = cloud medium/high probability,
    # 10 = thin cirrus.  Masked (invalid) pixels are True.
    scl = cube.band("SCL")
    cloud_mask = (scl == 3) | (scl == 8) | (scl == 9) | (scl == 10)

    ndvi = cube.ndvi(nir="B08", red="B04")
    ndvi_masked = ndvi.mask(cloud_mask)
    composite = ndvi_masked.reduce_dimension(dimension="t", reducer="median")
    result = composite.save_result(format="GTiff")
    return {
        "id": "ndvi_composite",
        "summary": "Build a cloud-masked median NDVI composite over the 2023 growing season "
        "from Sentinel-2 using the SCL band and save it as GeoTIFF.",
        "process_graph": result.flat_graph(),
    }


def crop_features():
    """Monthly per-field band + NDVI time series for crop classification."""
    cube = load(
        ["2023-03-01", "2023-10-01"],
        ["B02", "B03", "B04", "B08", "B11", "B12"],
    )
    cube = cube.filter_spatial(geometries=FIELDS)
    cube = cube.ndvi(nir="B08", red="B04", target_band="NDVI")
    monthly = cube.aggregate_temporal_period(period="month", reducer="mean")
    filled = monthly.apply_dimension(dimension="t", process="array_interpolate_linear")
    features = filled.aggregate_spatial(geometries=FIELDS, reducer="mean")
    result = features.save_result(format="CSV")
    return {
        "id": "crop_features",
        "summary": "Extract gap-filled monthly mean Sentinel-2 band and NDVI time series "
        "per field polygon as features for crop classification and save them as CSV.",
        "process_graph": result.flat_graph(),
    }


EXAMPLES = {
    "evi.json": evi,
    "ndvi_composite.json": ndvi_composite,
    "crop_features.json": crop_features,
}


def main():
    for filename, build in EXAMPLES.items():
        process = build()
        path = HERE / filename
        path.write_text(json.dumps(process, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
