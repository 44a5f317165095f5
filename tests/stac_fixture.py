"""Sentinel-2-like COG tiles, an nginx that serves them with range requests, and a real
STAC API over them, for the tests of STAC-backed collections (issue 21).

- :func:`build_scenes` writes Cloud-Optimized GeoTIFF tiles over UTM zones 31N and 32N
  around 6 deg E / 49.5 deg N, with STAC items in Earth Search's style, and
  :func:`cached_scenes` keeps a build across test runs (keyed by its parameters).
- :class:`Nginx` serves a folder on a free port of 127.0.0.1 and logs every request as
  JSON with the body bytes it sent: the byte counts the issue's criteria are measured by.
- :class:`StacApi` is stac-fastapi-pgstac under uvicorn on a throwaway PostgreSQL cluster
  with PostGIS (tests/postgres_fixture.py starts it), the items loaded with pypgstac.

Session fixtures: ``stac_scenes`` (the small scenes), ``cog_server`` (nginx over them),
``stac_api`` (the API holding them, asset hrefs into ``cog_server``), and, built only when a
test asks, ``stac_scenes_large`` and ``cog_server_large`` (4096-px tiles for byte counts).
A test file registers the ones it uses by naming them at its top level, as with
tests/postgres_fixture.py; each fixture gets what it stands on by itself, so any subset
works::

    import stac_fixture

    cog_server = stac_fixture.cog_server
    stac_api = stac_fixture.stac_api

The servers are shared by every file that registers them, started by the first and stopped
when the last is done. A fixture skips, saying why, when nginx, PostgreSQL, PostGIS,
pypgstac, stac-fastapi-pgstac or uvicorn is missing (.ci/run installs them).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from postgres_fixture import PostgresServer, _free_port, _postgres_programs

from pgc.data import sample

# --- the scenes -----------------------------------------------------------------------

RES = 10  # metres: the 10 m bands
TILE_OVERLAP = (1240, 240)  # metres by which neighbouring tiles of a zone overlap, x and y
# Each zone's 2 x 2 tiles: the east edge of zone 31's eastern column and the west edge of
# zone 32's western column, in their own zone's metres. 6 deg E at 49.5 deg N is at about
# x = 717,500 in zone 31 and x = 282,500 in zone 32: the zones overlap by about 5.5 km.
ZONE_EDGES = {32631: ("east", 719240), 32632: ("west", 280000)}
NORTH = 5495000  # the top of the northern row, in both zones
ROW_NAMES, COLUMN_NAMES = "PQ", "AB"  # north, south; west, east
FIRST_DATE = datetime(2023, 6, 1, 10, 30, 21, tzinfo=UTC)
REVISIT = timedelta(days=5)
ZONE_32_EARLIER = timedelta(seconds=10)  # zone 32's items are 10 s older: they win a mosaic
# The cloud amount (share of the area under thick cloud; thin cloud adds 40 % of it) of
# each date, cycled: the third date (2023-06-11) is overcast everywhere.
CLOUD_AMOUNTS = (0.0, 0.1, 0.97, 0.25, 0.04, 0.4)
# Earth Search's asset names: (band in sample.BANDS, common name, centre wavelength um)
SPECTRAL = {"red": ("B04", 0.665), "green": ("B03", 0.56), "nir": ("B08", 0.842)}
ALL_BANDS = ("red", "green", "nir", "scl")  # scl: the scene classification, 20 m, uint8
DN_OFFSET = 1000  # processing baseline 04.00, as the 2023 sample (raster:bands offset -0.1)
# metres: the finest cell of the fields the tiles are sampled from; at most 1024² cells (a
# 2048² FFT costs 5x as much), so 35 m for the small scenes, 80 m for the large ones
FIELD_CELL = 20.0
EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
    "https://stac-extensions.github.io/file/v2.1.0/schema.json",
]


@dataclass(frozen=True)
class Tile:
    """One tile's grid: ``size`` x ``size`` pixels of 10 m, top-left corner (x0, y0)."""

    name: str  # e.g. "32UAP": zone 32, column A (west), row P (north)
    epsg: int
    x0: float
    y0: float
    size: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0 - RES * self.size, self.x0 + RES * self.size, self.y0)


def tiles_of(tile_px: int, zones: tuple[int, ...]) -> list[Tile]:
    """The 2 x 2 tiles of each zone: neighbours overlap by TILE_OVERLAP, and zone 31's
    eastern column reaches past 6 deg E while zone 32's western one starts west of it."""
    span = RES * tile_px
    step_x, step_y = span - TILE_OVERLAP[0], span - TILE_OVERLAP[1]
    out = []
    for epsg in zones:
        side, edge = ZONE_EDGES[epsg]
        west = edge - span - step_x if side == "east" else edge
        for r in range(2):
            for c in range(2):
                name = f"{epsg % 100}U{COLUMN_NAMES[c]}{ROW_NAMES[r]}"
                out.append(Tile(name, epsg, west + c * step_x, NORTH - r * step_y, tile_px))
    return out


def footprint(tile: Tile, n: int = 8) -> tuple[dict, list[float]]:
    """The tile's outline in lon/lat (a densified polygon, counter-clockwise as RFC 7946
    asks) and its bbox."""
    from pyproj import Transformer

    x0, y1, x1, y0 = tile.bounds
    t = np.arange(n) / n
    xs = np.concatenate([x0 + (x1 - x0) * t, np.full(n, x1), x1 - (x1 - x0) * t, np.full(n, x0)])
    ys = np.concatenate([np.full(n, y0), y0 + (y1 - y0) * t, np.full(n, y1), y1 - (y1 - y0) * t])
    lon, lat = Transformer.from_crs(tile.epsg, 4326, always_xy=True).transform(xs, ys)
    ring = [[round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)]
    ring = [ring[0], *ring[:0:-1], ring[0]]  # drawn clockwise (north edge eastwards): reversed
    bbox = [float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())]
    return {"type": "Polygon", "coordinates": [ring]}, [round(v, 7) for v in bbox]


class Fields:
    """The scene's land cover, crop calendars and clouds on one lon/lat grid over all
    tiles, made with the sample generator's own pieces (:func:`pgc.data.sample.smooth_field`,
    its end-member spectra and SCL classes; the same length scales in metres).

    :func:`pgc.data.sample.generate` itself makes one square grid in one CRS with all 12
    bands, which can neither cover two UTM zones consistently nor stay cheap at 4096 px.
    Sampling one field grid at each pixel's lon/lat instead makes overlapping tiles, of
    either zone, show the same ground and the same clouds (up to the per-pixel noise)."""

    def __init__(
        self, tiles: list[Tile], months: np.ndarray, seed: int, pool: ThreadPoolExecutor
    ) -> None:
        bboxes = np.array([footprint(t)[1] for t in tiles])
        self.lon0, self.lat0 = bboxes[:, 0].min() - 0.01, bboxes[:, 1].min() - 0.01
        self.lon1, self.lat1 = bboxes[:, 2].max() + 0.01, bboxes[:, 3].max() + 0.01
        lat_mid = np.radians((self.lat0 + self.lat1) / 2)
        width_m = (self.lon1 - self.lon0) * 111320 * np.cos(lat_mid)
        height_m = (self.lat1 - self.lat0) * 110540
        n = int(min(1024, 2 ** np.ceil(np.log2(max(width_m, height_m) / FIELD_CELL))))
        self.n = n
        self.cell = (width_m / n, height_m / n)  # metres, x and y
        # sample.generate's length scales, in its 10 m pixels: relief (water), urban areas,
        # the texture inside fields, and a cloud field per date; here in this grid's cells.
        # One generator per field (spawned from the seed): the fields are made in threads
        # (numpy's FFT lets go of the GIL) and still come out the same every time.
        scales = [40.0, 25.0, 8.0] + [30.0] * len(months)
        cell = (self.cell[0] + self.cell[1]) / 2
        rng, *rngs = np.random.default_rng(seed).spawn(len(scales) + 1)
        made = list(pool.map(lambda r, s: sample.smooth_field(r, n, s * RES / cell).astype(
            np.float32), rngs, scales))  # fmt: skip
        relief, urban, texture, clouds = made[0], made[1], made[2], made[3:]
        # water where the relief is lowest, built-up ground where urban is highest, as in
        # sample.generate; kept as fields and levels, so that sampled boundaries are smooth
        self.relief, self.water_below = relief, float(np.quantile(relief, 0.08))
        self.urban, self.built_above = urban, float(np.quantile(urban, 0.9))
        self.texture = 0.9 + 0.2 * texture
        # parcels: a jittered grid of rectangles, on average 340 m apart as in the sample,
        # the edges in this grid's fractional cells (a parcel's id: its row x cols + column)
        self.row_edges = np.sort(rng.uniform(0, n, int(height_m / 340)))
        self.col_edges = np.sort(rng.uniform(0, n, int(width_m / 340)))
        count = (len(self.row_edges) + 1) * (len(self.col_edges) + 1)
        peak, width = rng.uniform(4.5, 8.5, count), rng.uniform(1.2, 2.5, count)
        most = rng.uniform(0.6, 0.95, count)
        self.cover = [
            (most * np.exp(-0.5 * ((m - peak) / width) ** 2)).astype(np.float32) for m in months
        ]
        # clouds, thresholded at the quantiles of the whole grid: the levels above which a
        # pixel is under thick, thin and high cloud (2: never, the field is in [0, 1];
        # -1: everywhere)
        self.clouds: list[tuple[np.ndarray, float, float, float]] = []
        for k, c in enumerate(clouds):
            amount = CLOUD_AMOUNTS[k % len(CLOUD_AMOUNTS)]
            thick, thin, high = (
                (float(np.quantile(c, 1 - a)) if a < 1 else -1.0) if amount else 2.0
                for a in (amount, amount * 1.4, amount / 2)
            )
            self.clouds.append((c, thick, thin, high))

    def parcel(self, fi: np.ndarray, fj: np.ndarray) -> np.ndarray:
        """The parcel of each point (fractional cells, as :meth:`index` gives)."""
        row = np.searchsorted(self.row_edges, fi)
        return row * (len(self.col_edges) + 1) + np.searchsorted(self.col_edges, fj)

    def index(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, column) in the field grid of lon/lat points (cell centres at
        whole numbers)."""
        fi = (self.lat1 - lat) / (self.lat1 - self.lat0) * self.n - 0.5
        fj = (lon - self.lon0) / (self.lon1 - self.lon0) * self.n - 0.5
        return fi.astype(np.float32), fj.astype(np.float32)


class Sampler:
    """Reads field grids bilinearly at fixed fractional (row, column) points, the indices
    and weights computed once."""

    def __init__(self, n: int, fi: np.ndarray, fj: np.ndarray) -> None:
        fi, fj = np.clip(fi, 0, n - 1.001), np.clip(fj, 0, n - 1.001)
        i, j = fi.astype(np.intp), fj.astype(np.intp)
        self.di, self.dj = (fi - i).astype(np.float32), (fj - j).astype(np.float32)
        self.corner = i * n + j  # flat index of the top-left neighbour
        self.n = n

    def __call__(self, grid: np.ndarray) -> np.ndarray:
        flat = grid.ravel()
        top = flat.take(self.corner)
        top += (flat.take(self.corner + 1) - top) * self.dj
        bottom = flat.take(self.corner + self.n)
        bottom += (flat.take(self.corner + self.n + 1) - bottom) * self.dj
        return top + (bottom - top) * self.di


def _tile_lonlat(tile: Tile, step: int, knot: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of the centres of the tile's ``step`` x ``step`` pixel blocks: exact every
    ``knot`` blocks, linear in between (under a centimetre here; projecting millions of
    points one by one takes seconds)."""
    from pyproj import Transformer

    size, pitch = tile.size // step, RES * step
    knots = np.unique(np.concatenate([np.arange(0, size, knot), [size - 1]])).astype(float)
    xx, yy = np.meshgrid(tile.x0 + pitch * (knots + 0.5), tile.y0 - pitch * (knots + 0.5))
    lon, lat = Transformer.from_crs(tile.epsg, 4326, always_xy=True).transform(xx, yy)
    # separable linear interpolation between the knots, rows then columns (no matrix
    # product: OpenBLAS's spinning threads would slow the tiles' threads down 2x)
    pixel = np.arange(size)
    at = np.clip(np.searchsorted(knots, pixel, side="right") - 1, 0, len(knots) - 2)
    w = ((pixel - knots[at]) / (knots[at + 1] - knots[at]))[:, None]

    def spread(v: np.ndarray) -> np.ndarray:
        rows = v[at] * (1 - w) + v[at + 1] * w
        return rows[:, at] * (1 - w.T) + rows[:, at + 1] * w.T

    return spread(lon), spread(lat)


def _write_cog(path: Path, data: np.ndarray, tile: Tile, res: float, block_px: int) -> None:
    """One COG: written to memory, then copied by GDAL's COG driver (rasterio lets go of the
    GIL in the copy, not in a COG written directly: the tiles' threads then run at once)."""
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    path.parent.mkdir(parents=True, exist_ok=True)
    with MemoryFile() as memory, memory.open(
        driver="MEM", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype,
        crs=f"EPSG:{tile.epsg}", transform=from_origin(tile.x0, tile.y0, res, res), nodata=0,
    ) as source:  # fmt: skip
        source.write(data, 1)
        rasterio.shutil.copy(
            source, path, driver="COG", compress="deflate", predictor=2, blocksize=block_px,
            overview_count=2, overview_resampling="average",
        )  # fmt: skip


def _tile_scenes(
    fields: Fields, tile: Tile, dates: list[datetime], bands: tuple[str, ...], block_px: int,
    root: Path, seed: int,
) -> list[tuple[int, str, str, float, float]]:  # fmt: skip
    """Write one tile's COGs for every date; per date (index, band, href, cloud %, nodata
    %)."""
    # The fields are read on blocks of at most 1024 x 1024 per tile (they vary over tens
    # of metres: 4x4 blocks of the 4096-px tiles are finer than their 80 m cells), the
    # noise and the no-data wedge are per pixel.
    step = max(1, tile.size // 1024)
    lon, lat = _tile_lonlat(tile, step)
    fi, fj = fields.index(lon, lat)
    del lon, lat
    at = Sampler(fields.n, fi, fj)
    # shadows: cast 180 m south and 240 m east of the thick clouds, as in the sample
    caster = Sampler(fields.n, fi - 180 / fields.cell[1], fj - 240 / fields.cell[0])
    parcel = fields.parcel(fi, fj)
    del fi, fj
    water = at(fields.relief) < fields.water_below
    built = (at(fields.urban) > fields.built_above) & ~water
    texture = at(fields.texture)

    def full(a: np.ndarray) -> np.ndarray:  # from blocks to pixels
        return a.repeat(step, axis=0).repeat(step, axis=1) if step > 1 else a

    size = tile.size
    out = []
    for k, when in enumerate(dates):
        rng = np.random.default_rng([seed, zlib.crc32(tile.name.encode()), k])
        cover = np.clip(fields.cover[k][parcel] * texture, 0, 1)
        cover[built] = 0.1
        c, thick_at, thin_at, high_at = fields.clouds[k]
        cloud = at(c)
        thick = cloud > thick_at
        thin = (cloud > thin_at) & ~thick
        shadow = (caster(c) > thick_at) & ~thick
        nodata = np.zeros((size, size), dtype=bool)
        if k % 2 == 1 and tile.epsg == 32632 and tile.name[3] == "A":
            # a swath edge: no data west of a slanted line through the tile's western third
            rows, cols = np.ogrid[:size, :size]
            nodata = cols < (size * 0.35 + 0.15 * rows)
        valid = ~nodata
        cloudy = 100 * float((full(thick | thin) & valid).sum() / max(1, valid.sum()))
        for band in bands:
            if band == "scl":
                data = np.where(cover > 0.35, sample.SCL_VEGETATION, sample.SCL_NOT_VEGETATED)
                data[water] = sample.SCL_WATER
                data[shadow] = sample.SCL_SHADOW
                data[thin] = sample.SCL_CIRRUS
                data[thick] = sample.SCL_CLOUD_MEDIUM
                data[thick & (cloud > high_at)] = sample.SCL_CLOUD_HIGH
                data = full(data.astype(np.uint8))
                data[nodata] = sample.SCL_NODATA
                data = data[::2, ::2]  # 20 m, as Sentinel-2's SCL
                res = 2 * RES
            else:  # the sample's reflectance mixing, in float32 (Python floats keep it so)
                b = sample.BANDS.index(SPECTRAL[band][0])
                vegetation, soil = float(sample.VEGETATION[b]), float(sample.SOIL[b])
                refl = soil + cover * (vegetation - soil)
                refl[built] = float(sample.BUILT[b])
                refl[water] = float(sample.WATER[b])
                refl[shadow] *= 0.45
                refl[thin] = 0.6 * refl[thin] + 0.4 * float(sample.CLOUD[b])
                refl[thick] = float(sample.CLOUD[b])
                refl = full(refl) + rng.standard_normal((size, size), dtype=np.float32) * 25
                refl += DN_OFFSET + 0.5  # + 0.5 and truncation: rounding, for >= 0
                data = np.clip(refl, 1, 65535).astype(np.uint16)
                data[nodata] = 0
                res = RES
            href = f"cogs/{tile.name}/{when:%Y%m%d}/{band}.tif"
            _write_cog(root / href, data, tile, res, block_px)
            out.append((k, band, href, cloudy, 100 * float(nodata.mean())))
    return out


def _asset(href: str, band: str, tile: Tile, root: Path) -> dict:
    import rasterio

    with rasterio.open(root / href) as src:
        shape, transform = [src.height, src.width], list(src.transform)[:6]
        bounds, dtype = list(src.bounds), src.dtypes[0]
        res = src.res[0]
    out: dict[str, Any] = {
        "href": href,
        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
        "title": f"{band} ({res:g} m)",
        "roles": ["data"],
        "gsd": res,
        "proj:epsg": tile.epsg,
        "proj:code": f"EPSG:{tile.epsg}",
        "proj:shape": shape,
        "proj:transform": transform,
        "proj:bbox": bounds,
        "file:size": (root / href).stat().st_size,
    }
    raster: dict[str, Any] = {"nodata": 0, "data_type": dtype, "spatial_resolution": res}
    if band in SPECTRAL:
        name, wavelength = SPECTRAL[band]
        out["roles"] = ["data", "reflectance"]
        out["eo:bands"] = [{"name": name, "common_name": band, "center_wavelength": wavelength}]
        raster.update(bits_per_sample=15, scale=0.0001, offset=-0.1)
    out["raster:bands"] = [raster]
    return out


def _collection(items: list[dict], collection_id: str, bands: tuple[str, ...]) -> dict:
    boxes = np.array([i["bbox"] for i in items])
    times = sorted(i["properties"]["datetime"] for i in items)
    first = {b: a for i in items[:1] for b, a in i["assets"].items()}
    keep = ("type", "title", "roles", "gsd", "eo:bands", "raster:bands")
    return {
        "type": "Collection",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/item-assets/v1.0.0/schema.json",
            *EXTENSIONS[:3],
        ],
        "id": collection_id,
        "title": "Synthetic Sentinel-2 L2A-like tiles (pgc tests)",
        "description": "Generated, not observed: Sentinel-2-like COG tiles over UTM zones "
        "31N and 32N around 6 deg E, 49.5 deg N, for pgc's tests (tests/stac_fixture.py).",
        "license": "CC0-1.0",
        "extent": {
            "spatial": {"bbox": [[*boxes[:, :2].min(0).tolist(), *boxes[:, 2:].max(0).tolist()]]},
            "temporal": {"interval": [[times[0], times[-1]]]},
        },
        "summaries": {
            "platform": ["sentinel-2a", "sentinel-2b"],
            "constellation": ["sentinel-2"],
            "instruments": ["msi"],
            "gsd": [RES],
            "eo:bands": [b for band in bands for b in first[band].get("eo:bands", [])],
        },
        "item_assets": {b: {k: v for k, v in first[b].items() if k in keep} for b in bands},
        "links": [],
    }


def build_scenes(
    root: Path, *, tile_px: int, block_px: int, dates: int,
    zones: tuple[int, ...] = (32631, 32632), bands: tuple[str, ...] = ALL_BANDS,
    collection_id: str = "sentinel-2-l2a", seed: int = 2023,
) -> Scenes:  # fmt: skip
    """Write the COG tiles, ``items.json``, ``collection.json`` and a static catalog
    (``catalog/``, asset hrefs relative) into ``root``; per zone of ``zones`` 2 x 2
    overlapping tiles of ``tile_px``² at 10 m (scl: 20 m), ``dates`` dates 5 days apart from
    2023-06-01, uint16 DNs (scl uint8), no-data 0, ``block_px`` internal tiles, deflate with
    predictor 2, overviews 2x and 4x (average)."""
    if tile_px % 32 or block_px % 16 or not set(bands) <= set(ALL_BANDS) or dates < 1:
        raise ValueError(f"unusable scene parameters: {tile_px=} {block_px=} {dates=} {bands=}")
    root.mkdir(parents=True, exist_ok=True)
    tiles = tiles_of(tile_px, zones)
    when = [FIRST_DATE + k * REVISIT for k in range(dates)]
    # the sample's calendar (each date as a month with a fraction) drives the crops
    months = sample.SampleSpec(
        "scenes", 32632, 0, 0, tile_px, RES, tuple(f"{w:%Y-%m-%dT%H:%M:%SZ}" for w in when), seed
    ).months()

    def one(tile: Tile) -> list[dict]:
        written = _tile_scenes(fields, tile, when, bands, block_px, root, seed)
        geometry, bbox = footprint(tile)
        items = []
        for k, date in enumerate(when):
            mine = [w for w in written if w[0] == k]
            moment = date - (ZONE_32_EARLIER if tile.epsg == 32632 else timedelta(0))
            items.append({
                "type": "Feature",
                "stac_version": "1.0.0",
                "stac_extensions": EXTENSIONS,
                "id": f"S2X_{tile.name}_{moment:%Y%m%d}_0_L2A",
                "collection": collection_id,
                "geometry": geometry,
                "bbox": bbox,
                "properties": {
                    "datetime": f"{moment:%Y-%m-%dT%H:%M:%SZ}",
                    "platform": "sentinel-2a" if k % 2 == 0 else "sentinel-2b",
                    "constellation": "sentinel-2",
                    "instruments": ["msi"],
                    "eo:cloud_cover": round(mine[0][3], 2),
                    "proj:epsg": tile.epsg,
                    "proj:code": f"EPSG:{tile.epsg}",
                    "mgrs:utm_zone": tile.epsg % 100,
                    "s2:nodata_pixel_percentage": round(mine[0][4], 2),
                    "pgc:synthetic": True,
                },
                "links": [],
                "assets": {band: _asset(href, band, tile, root) for _, band, href, *_ in mine},
            })  # fmt: skip
        return items

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        fields = Fields(tiles, months, seed, pool)
        items = [i for batch in pool.map(one, tiles) for i in batch]
    items.sort(key=lambda i: (i["properties"]["datetime"], i["id"]))
    collection = _collection(items, collection_id, bands)
    (root / "items.json").write_text(json.dumps(items))
    (root / "collection.json").write_text(json.dumps(collection))
    scenes = Scenes(root, collection, items)
    scenes.write_static_catalog(root / "catalog")
    return scenes


@dataclass(frozen=True)
class Scenes:
    """Built scenes: the folder, the collection and the items (asset hrefs relative to
    ``root``, e.g. ``cogs/32UAP/20230601/red.tif``; nginx over ``root`` serves them at the
    same paths, and the static catalog at ``catalog/collection.json``)."""

    root: Path
    collection: dict
    items: list[dict] = field(repr=False)

    @classmethod
    def read(cls, root: Path) -> Scenes:
        return cls(root, json.loads((root / "collection.json").read_text()),
                   json.loads((root / "items.json").read_text()))  # fmt: skip

    @property
    def static_collection(self) -> Path:
        """The static catalog's collection.json (items and assets linked relatively)."""
        return self.root / "catalog" / "collection.json"

    def path(self, item: dict | str, band: str) -> Path:
        """The local file of one asset (``item``: the item or its id)."""
        if isinstance(item, str):
            item = next(i for i in self.items if i["id"] == item)
        return self.root / item["assets"][band]["href"]

    def with_base_url(self, url: str) -> tuple[dict, list[dict]]:
        """Copies of the collection and items whose asset hrefs are absolute URLs under
        ``url`` (the server serving ``root``)."""
        items = copy.deepcopy(self.items)
        for item in items:
            for asset in item["assets"].values():
                asset["href"] = f"{url.rstrip('/')}/{asset['href']}"
        return copy.deepcopy(self.collection), items

    def write_static_catalog(self, folder: Path, base: str | None = None) -> Path:
        """A static STAC catalog in ``folder``: ``collection.json`` linking
        ``items/<id>.json`` (links relative). Asset hrefs are absolute under ``base`` (a
        URL) when given, else relative to the item file (valid wherever ``folder`` is on this
        file system; over HTTP when ``folder`` is under ``root``). Returns collection.json."""
        (folder / "items").mkdir(parents=True, exist_ok=True)
        collection, items = self.with_base_url(base) if base else (self.collection, self.items)
        collection = copy.deepcopy(collection)
        collection["links"] = [
            {"rel": "root", "href": "./collection.json", "type": "application/json"},
            {"rel": "self", "href": "./collection.json", "type": "application/json"},
        ] + [{"rel": "item", "href": f"./items/{i['id']}.json", "type": "application/geo+json"}
             for i in items]  # fmt: skip
        for item in copy.deepcopy(items):
            item["links"] = [
                {"rel": rel, "href": "../collection.json", "type": "application/json"}
                for rel in ("root", "parent", "collection")
            ]
            if not base:
                for asset in item["assets"].values():
                    asset["href"] = os.path.relpath(self.root / asset["href"], folder / "items")
            (folder / "items" / f"{item['id']}.json").write_text(json.dumps(item, indent=1))
        out = folder / "collection.json"
        out.write_text(json.dumps(collection, indent=1))
        return out


def cache_base() -> Path:
    """Where built scenes are kept across test runs: $PGC_TEST_SCENES, else
    /tmp/pgc-test-scenes-<uid>. Not ~/.cache or pytest's tmp_path: as root, nginx's workers
    run as nobody and must reach the files, and /root and pytest's folders are private."""
    given = os.environ.get("PGC_TEST_SCENES")
    base = Path(given) if given else Path(tempfile.gettempdir()) / f"pgc-test-scenes-{os.getuid()}"
    base.mkdir(parents=True, exist_ok=True)
    info = base.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise RuntimeError(f"{base} belongs to someone else or others may write to it")
    base.chmod(0o755)
    return base


def _generator_text() -> bytes:
    """What the scenes are made by: this module up to the nginx section, and
    pgc/data/sample.py."""
    own = Path(__file__).read_text().split("# --- nginx", 1)[0]
    return own.encode() + Path(sample.__file__).read_bytes()


def cached_scenes(**params: Any) -> Scenes:
    """:func:`build_scenes` with ``params``, built once into a folder of :func:`cache_base`
    named by a hash of the parameters and of the generator's text (so a changed generator
    builds anew; older builds stay until /tmp is cleaned). Files are world-readable (nginx's
    workers run as nobody under root)."""
    key = json.dumps(params, sort_keys=True)
    digest = hashlib.sha256(key.encode() + _generator_text()).hexdigest()[:16]
    base = cache_base()
    root = base / f"s2-{params.get('tile_px')}-{digest}"
    if (root / "complete").is_file():
        return Scenes.read(root)
    build = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=base))
    try:
        build_scenes(build, **params)
        for path in [build, *build.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (build / "complete").write_text(key + "\n")
        try:
            build.rename(root)  # atomic: a concurrent build of the same scenes agrees
        except OSError:
            if not (root / "complete").is_file():
                raise
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return Scenes.read(root)


SMALL = {"tile_px": 1024, "block_px": 256, "dates": 4}
# The "at least 50x fewer bytes than the whole assets" for a 1 % window needs >= 16
# blocks per tile side (research report, sec. 4): 4096-px tiles of 256-px blocks, zone 32's
# four tiles, one date, the three spectral bands.
LARGE = {"tile_px": 4096, "block_px": 256, "dates": 1, "zones": (32632,),
         "bands": ("red", "green", "nir"), "collection_id": "sentinel-2-l2a-large"}  # fmt: skip


# --- nginx ----------------------------------------------------------------------------

NGINX_CONF = """\
worker_processes 1;
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    types {{ image/tiff tif tiff; application/json json; application/geo+json geojson; }}
    default_type application/octet-stream;
    log_format bytes escape=json '{{"method":"$request_method","uri":"$uri",'
        '"request":"$request","status":$status,"range":"$http_range",'
        '"bytes_sent":$bytes_sent,"body_bytes_sent":$body_bytes_sent,'
        '"request_time":$request_time,"connection":$connection}}';
    access_log {tmp}/access.log bytes;
    sendfile on;
    keepalive_requests 10000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        autoindex off;
        {redirect}
        location / {{ try_files $uri =404; }}
    }}
}}
"""


def nginx_program() -> str | None:
    """nginx on PATH or where Debian puts it (/usr/sbin, not on a user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def _wait_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process is not None and process.poll() is not None:
            return False
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.02)
    return False


class Nginx:
    """nginx serving ``root`` on a free port of 127.0.0.1, unprivileged, from a config in
    a temporary folder, with byte ranges, no directory listings and one JSON line per
    request in its access log (``$body_bytes_sent``: the body bytes it sent).

    ``redirect_to`` (a URL such as ``http://127.0.0.1:8081``) adds ``/redirect/<path>``,
    answered with a 302 to ``<redirect_to>/<path>``: for tests that a client refuses
    redirects to hosts off its allow-list."""

    def __init__(self, root: Path, redirect_to: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.redirect_to = redirect_to
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="pgc-nginx-"))
        self.log = self.folder / "access.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Nginx:
        program = nginx_program()
        if program is None:
            raise FileNotFoundError("nginx is not installed (apt-get install nginx-light)")
        root_user = os.geteuid() == 0
        if root_user:  # the workers drop to nobody: every folder up to root must let them in
            for folder in [self.root, *self.root.parents]:
                if not folder.stat().st_mode & 0o001:
                    raise PermissionError(f"nginx's workers (nobody) cannot enter {folder}")
        redirect = ""
        if self.redirect_to:
            target = self.redirect_to.rstrip("/")
            redirect = f"location /redirect/ {{ rewrite ^/redirect/(.*)$ {target}/$1 redirect; }}"
        (self.folder / "nginx.conf").write_text(NGINX_CONF.format(
            tmp=self.folder, port=self.port, root=self.root, redirect=redirect,
            user="user nobody nogroup;" if root_user else ""))  # fmt: skip
        # -e: the error log before the config is read (else /var/log/nginx/error.log)
        self.process = subprocess.Popen(
            [program, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
             "-e", str(self.folder / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not _wait_port(self.port, 10, self.process):
            error = (self.folder / "error.log").read_text(errors="replace")
            self.stop()
            raise RuntimeError(f"nginx did not start:\n{error}")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: the master stops its workers and exits
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)

    def entries(self) -> list[dict]:
        """The access log, one dict per request (method, uri, request, status, range,
        bytes_sent, body_bytes_sent, request_time, connection). nginx writes a line once
        the response is sent: this waits until the log stops growing (20 ms)."""
        if not self.log.exists():
            return []
        size = -1
        while size != self.log.stat().st_size:
            size = self.log.stat().st_size
            time.sleep(0.02)
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def body_bytes(self, path_prefix: str | None = None) -> int:
        """Body bytes sent since the last :meth:`reset`, for URIs starting with
        ``path_prefix`` (e.g. ``/cogs/32UAP/``) or all."""
        return sum(e["body_bytes_sent"] for e in self.entries()
                   if path_prefix is None or e["uri"].startswith(path_prefix))  # fmt: skip

    def reset(self) -> None:
        """Empty the log (nginx appends with O_APPEND: truncating in place is safe)."""
        self.entries()  # let the lines of requests just answered arrive first
        if self.log.exists():
            os.truncate(self.log, 0)

    def __enter__(self) -> Nginx:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the STAC API ---------------------------------------------------------------------


def postgis_installed(programs: Path) -> bool:
    """Whether the PostgreSQL whose programs are in ``programs`` has PostGIS: its
    ``postgis.control`` in the server's share folder (``pg_config --sharedir``; Debian:
    /usr/share/postgresql/<version>, from the package postgresql-<version>-postgis-3)."""
    places = []
    if os.access(programs / "pg_config", os.X_OK):
        done = subprocess.run([str(programs / "pg_config"), "--sharedir"], capture_output=True,
                              text=True, timeout=30)  # fmt: skip
        places.append(Path(done.stdout.strip()))
    if programs.parent.name.isdigit():  # Debian: /usr/lib/postgresql/<version>/bin
        places.append(Path("/usr/share/postgresql") / programs.parent.name)
    return any((place / "extension" / "postgis.control").is_file() for place in places)


def stac_api_missing() -> str | None:
    """Why :class:`StacApi` cannot run here, or None."""
    import importlib.util

    programs = _postgres_programs()
    if programs is None:
        return "PostgreSQL is not installed (apt-get install postgresql)"
    if not postgis_installed(programs):
        return (f"PostGIS is not installed for the PostgreSQL in {programs} "
                "(apt-get install postgresql-<version>-postgis-3)")  # fmt: skip
    for module, package in (("pypgstac", "pypgstac[psycopg]"), ("psycopg", "psycopg"),
                            ("stac_fastapi.pgstac", "stac-fastapi-pgstac"),
                            ("uvicorn", "uvicorn")):  # fmt: skip
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # the parent package is missing
            found = False
        if not found:
            return f"{package} is not installed (pip install -e '.[test]')"
    return None


class StacApi:
    """A real STAC API: stac-fastapi-pgstac under uvicorn on a free port, over the
    database ``postgis`` of a PostgreSQL cluster of its own (tests/postgres_fixture.py's
    :class:`PostgresServer`), migrated to pgstac and loaded with pypgstac (in this process:
    three fewer Python start-ups). ``url`` is the API's landing page."""

    def __init__(self) -> None:
        programs = _postgres_programs()
        if programs is None:
            raise FileNotFoundError("PostgreSQL is not installed")
        self.postgres = PostgresServer(programs)
        self.dsn = self.postgres.url("postgis")
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.timings: dict[str, float] = {}

    def start(self) -> StacApi:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        import psycopg

        t0 = time.perf_counter()
        self.postgres.start()
        t1 = time.perf_counter()
        with psycopg.connect(self.postgres.url("postgres"), autocommit=True) as connection:
            connection.execute("CREATE DATABASE postgis")
        from pypgstac.db import PgstacDB
        from pypgstac.migrate import Migrate

        with PgstacDB(dsn=self.dsn) as db:
            Migrate(db).run_migration()  # the extensions postgis, btree_gist, unaccent too
        t2 = time.perf_counter()
        # stac-fastapi-pgstac's settings (PGPASSWORD must be set, empty is fine); it also
        # reads a .env file in its working folder: it runs in the cluster's folder
        env = {**os.environ, "PGUSER": "pgc", "PGPASSWORD": "", "PGHOST": "127.0.0.1",
               "PGPORT": str(self.postgres.port), "PGDATABASE": "postgis",
               "DB_MIN_CONN_SIZE": "1", "DB_MAX_CONN_SIZE": "4"}  # fmt: skip
        self._log = open(self.postgres.folder / "api.log", "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.postgres.folder,
        )  # fmt: skip
        if not _wait_port(self.port, 60, self.process):
            text = (self.postgres.folder / "api.log").read_text(errors="replace")
            raise RuntimeError(f"the STAC API did not start:\n{text[-3000:]}")
        t3 = time.perf_counter()
        self.timings = {"postgres": t1 - t0, "pgstac": t2 - t1, "api": t3 - t2}

    def load(self, collection: dict, items: list[dict]) -> None:
        """Upsert a collection and its items (asset hrefs as given)."""
        from pypgstac.db import PgstacDB
        from pypgstac.load import Loader, Methods

        with PgstacDB(dsn=self.dsn) as db:
            loader = Loader(db)
            loader.load_collections(iter([collection]), Methods.upsert)
            loader.load_items(iter(items), Methods.upsert)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if getattr(self, "_log", None) is not None:
            self._log.close()
        self.postgres.stop()

    def get(self, path: str) -> Any:
        """GET ``path`` of the API as JSON (for checks; clients use pystac-client)."""
        with urllib.request.urlopen(f"{self.url}/{path.lstrip('/')}", timeout=30) as answer:
            return json.loads(answer.read())


# --- session fixtures, shared by every test file that registers them ------------------


@dataclass
class _Shared:
    value: Any = None
    stop: Callable[[], None] | None = None
    holders: int = 0
    skip: str | None = None


_shared: dict[str, _Shared] = {}


@contextlib.contextmanager
def _hold(name: str, start: Callable[[], tuple[Any, Callable[[], None] | None]]) -> Iterator[Any]:
    """The shared ``name``: started by ``start`` (returning the value and how to stop it)
    for the first holder, stopped when the last one lets go; a skip is remembered."""
    entry = _shared.setdefault(name, _Shared())
    if entry.skip is not None:
        pytest.skip(entry.skip)
    if entry.holders == 0:
        try:
            entry.value, entry.stop = start()
        except pytest.skip.Exception as skipped:
            entry.skip = str(skipped.msg)
            raise
    entry.holders += 1
    try:
        yield entry.value
    finally:
        entry.holders -= 1
        if entry.holders == 0 and entry.stop is not None:
            stop, entry.stop, entry.value = entry.stop, None, None
            stop()


def _serve(scenes: Scenes) -> tuple[Nginx, Callable[[], None]]:
    if nginx_program() is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light; .ci/run does)")
    server = Nginx(scenes.root).start()
    return server, server.stop


def _scenes(params: dict) -> tuple[Scenes, None]:
    return cached_scenes(**params), None


@pytest.fixture(scope="session")
def stac_scenes() -> Iterator[Scenes]:
    """The small scenes (8 tiles of 1024² px, 4 dates, red/green/nir/scl), built once."""
    with _hold("stac_scenes", lambda: _scenes(SMALL)) as scenes:
        yield scenes


@pytest.fixture(scope="session")
def cog_server() -> Iterator[Nginx]:
    """nginx serving the small scenes' root (COGs under /cogs/, catalog under /catalog/)."""
    with (
        _hold("stac_scenes", lambda: _scenes(SMALL)) as scenes,
        _hold("cog_server", lambda: _serve(scenes)) as server,
    ):
        yield server


def _start_api(scenes: Scenes, server: Nginx) -> tuple[StacApi, Callable[[], None]]:
    missing = stac_api_missing()
    if missing:
        pytest.skip(f"no STAC API for the tests: {missing}")
    api = StacApi().start()
    try:
        api.load(*scenes.with_base_url(server.url))
    except BaseException:
        api.stop()
        raise
    return api, api.stop


@pytest.fixture(scope="session")
def stac_api() -> Iterator[StacApi]:
    """A pgstac STAC API holding the small scenes' collection ``sentinel-2-l2a``, its asset
    hrefs absolute URLs into ``cog_server``."""
    with (
        _hold("stac_scenes", lambda: _scenes(SMALL)) as scenes,
        _hold("cog_server", lambda: _serve(scenes)) as server,
        _hold("stac_api", lambda: _start_api(scenes, server)) as api,
    ):
        yield api


@pytest.fixture(scope="session")
def stac_scenes_large() -> Iterator[Scenes]:
    """Zone 32's four tiles of 4096² px (256-px blocks), one date, red/green/nir, collection
    ``sentinel-2-l2a-large``: for byte counts of 1 % windows. Built on first use (about
    half a minute), then cached."""
    with _hold("stac_scenes_large", lambda: _scenes(LARGE)) as scenes:
        yield scenes


@pytest.fixture(scope="session")
def cog_server_large() -> Iterator[Nginx]:
    """nginx serving the large scenes' root."""
    with (
        _hold("stac_scenes_large", lambda: _scenes(LARGE)) as scenes,
        _hold("cog_server_large", lambda: _serve(scenes)) as server,
    ):
        yield server
