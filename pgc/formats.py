"""The file formats pgc writes: one table, read by validation, types, writers and the CLI.

A format is named in ``save_result(format=...)`` case-insensitively, by its openEO name or an
alias (``GTiff``, ``GeoTIFF``, ``COG``; ``netCDF``, ``nc``). Validation refuses a format not in
this table (``FormatUnsupported``) before anything runs; :mod:`pgc.data.writers` holds a
writer for every key here (a test checks both ways).

>>> output_format("GeoTIFF"), output_format("PNG")
('gtiff', None)
>>> format_for_suffix(".nc")
'netcdf'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputFormat:
    """One output format: its key, the openEO name shown to users, what it can hold, the
    file suffixes that imply it."""

    key: str
    title: str
    raster: bool  # holds raster data cubes
    vector: bool  # holds vector cubes (geometries with values)
    values: bool  # holds plain values (numbers, arrays, objects)
    suffixes: tuple[str, ...]
    # save_result's options (openEO's file-format parameters, as /file_formats lists them)
    parameters: tuple[tuple[str, dict], ...] = ()


# netCDF's option for federated jobs (pgc.data.cube_file)
EXCHANGE = ("pgc_exchange", {
    "type": "boolean", "default": False,
    "description": "Write the cube exactly (values in their own dtype, validity beside them, "
    "attributes as JSON) for another pgc to load_stac, as federated jobs pass values on; "
    "not CF.",
})  # fmt: skip

OUTPUT_FORMATS: dict[str, OutputFormat] = {
    f.key: f
    for f in (
        OutputFormat("gtiff", "GTiff", True, False, False, (".tif", ".tiff")),
        OutputFormat("netcdf", "netCDF", True, True, False, (".nc",), (EXCHANGE,)),
        OutputFormat("zarr", "Zarr", True, False, False, (".zarr",)),
        OutputFormat("json", "JSON", True, True, True, (".json",)),
        OutputFormat("csv", "CSV", True, True, True, (".csv",)),  # a raster: a row per pixel
        OutputFormat("geojson", "GeoJSON", False, True, False, (".geojson",)),
    )
}
ALIASES = {"geotiff": "gtiff", "tif": "gtiff", "tiff": "gtiff", "cog": "gtiff", "nc": "netcdf"}


def output_format(name: str) -> str | None:
    """The key of format ``name`` in :data:`OUTPUT_FORMATS` (case and aliases aside), or
    None when pgc does not write it."""
    key = ALIASES.get(name.lower(), name.lower())
    return key if key in OUTPUT_FORMATS else None


def format_for_suffix(suffix: str) -> str | None:
    """The format a file suffix implies (``.tif`` -> ``gtiff``), or None."""
    suffix = suffix.lower()
    return next((f.key for f in OUTPUT_FORMATS.values() if suffix in f.suffixes), None)


def format_titles() -> str:
    """The formats pgc writes, for messages: ``GTiff, netCDF, ...``."""
    return ", ".join(f.title for f in OUTPUT_FORMATS.values())
