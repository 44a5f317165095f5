"""Reading a STAC-backed collection: items found, grouped by day, mosaicked, reprojected.

:func:`plan_stac` makes the read plan of a load from its extents: it finds the items
(:mod:`pgc.data.stac.search`), groups them into one label per day, and notes, from each
item's STAC metadata (``proj:code``/``proj:epsg``, ``proj:transform``, ``proj:shape``), where
each of its assets lies on the load's grid. Nothing is read then. :func:`read_part` reads
any part of the plan's window (the whole, or one chunk of the dask executor) and gives the
same values whatever the part.

The value of a pixel of the grid, for one day and band:

- Each item of the day is a candidate, in the order of (acquisition time, item id): the
  first item with a valid value (not its asset's no-data) at that pixel gives it; where none
  has one, the pixel is no-data.
- An item's value at a pixel is the value of the asset's pixel (of the overview, see below)
  that contains the grid pixel's centre, transformed into the asset's CRS by PROJ
  (nearest neighbour; the pixel is the one PROJ's exact position lies in, also where
  positions are interpolated, :func:`pixels_across`; so a value does not depend on how
  the window is cut into chunks).
- When the grid's pixels are coarser than the asset's and the COG has overviews, the
  overview with the largest factor not above the ratio is read instead (the collection's
  ``overviews = false`` turns it off).

Reads run concurrently (one task per item, band and part), each reading only the window of
the asset it needs; over HTTP the blocks of that window are fetched first, adjacent ones in
one range request (:mod:`pgc.data.stac.http`).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

import numpy as np

from ...errors import echo
from .config import BandSource, StacSource
from .http import HEADER, HttpFiles, PicklesWithoutLock, merge
from .search import item_time

TIE = 1e-9  # pixels: how near an edge a centre counts as on it
# Across CRSs (pixels_across): PROJ transforms every LATTICE-th grid point and the rest are
# interpolated, when the interpolation is off by at most CHECKED pixels at the cells'
# middles; points within NEAR_EDGE pixels of an asset pixel's edge are transformed anyway.
# Between UTM zones over 16 pixels of 10 m the error is about 1e-6 pixels.
LATTICE = 16
CHECKED = 1e-3
NEAR_EDGE = 1e-2
# bytes between two blocks' ranges fetched with them rather than as another request: the
# blocks of a window's row lie one after the other in a COG, 8 bytes apart (each block's
# size before it, a copy of its last bytes after: GDAL's COG layout), and a request costs a
# round trip (on the benchmark's large request: 1188 requests became 171, for 8 kB more)
GAP = 64
MAX_SIDE = 1_000_000  # pixels: an asset's side larger than this is not a raster pgc reads
THREADS = 4  # concurrent reads per part (the machines pgc is built on have 2-8 cores)
_OPEN_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_PAM_ENABLED": "NO",
    "GDAL_GEOREF_SOURCES": "INTERNAL",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".pgc-no-network",  # GDAL itself reaches nothing
}


class StacReadError(ValueError):
    """Items whose metadata or assets cannot be read as the collection says (safe to
    show: it names items and assets, not paths)."""


@dataclass(frozen=True)
class Asset:
    """One band of one item: where it is and where its pixels lie."""

    href: str  # an http(s) URL, or an absolute local path
    crs: str  # EPSG code as digits
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]
    nodata: float | None
    item: str  # the item's id (for messages)

    @property
    def remote(self) -> bool:
        return "://" in self.href

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        a, b, c, d, e, f = self.transform
        h, w = self.shape
        xs = (c, c + a * w)
        ys = (f, f + e * h)
        return (min(xs), min(ys), max(xs), max(ys))


@dataclass
class StacRead(PicklesWithoutLock):
    """What a load of a STAC-backed collection reads: per label (day), the items in
    priority order, each a dict band -> :class:`Asset`; and the grid."""

    source: StacSource
    crs: str
    x0: float  # the grid's west edge
    y1: float  # the grid's north edge
    step: float
    bands: list[BandSource]
    days: list[list[dict[str, Asset]]]
    labels: list[str]
    files: HttpFiles
    access: Any = None  # pgc.data.access.ReadAccess for local assets (a static catalog's folder)
    overviews: bool = True  # a grid coarser than an asset reads the COG's overview
    expected: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def estimate(self) -> int:
        """pgc's estimate of the bytes the reads so far needed over the network: each
        remote asset's header and the compressed bytes of the blocks of its windows."""
        with self._lock:  # the header and the blocks, counted once where they overlap
            return sum(sum(b - a for a, b in merge([(0, HEADER), *r]))
                       for r in self.expected.values())  # fmt: skip


def day_label(item: dict, group_by: str) -> str | None:
    """The label of the day an item belongs to: its UTC date (``day``), or the date of
    its local mean solar time at the centre of its footprint (``solar_day``: UTC plus
    longitude / 15 hours), as ``YYYY-MM-DDT00:00:00Z``."""
    when = item_time(item)
    if when is None:
        return None
    if group_by == "solar_day":
        box = item.get("bbox")
        if isinstance(box, list) and len(box) >= 4:
            lon = (float(box[0]) + float(box[-2])) / 2
            when = when + timedelta(hours=lon / 15)
    return when.strftime("%Y-%m-%dT00:00:00Z")


def _epsg(value: Any) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.upper().startswith("EPSG:"):
        code = value[5:]
        return code if code.isdigit() else None
    return None


def asset_of(item: dict, band: BandSource, base: str | None) -> Asset | None:
    """The asset of ``band`` in ``item`` (None when the item has none): its href (relative
    hrefs resolved against the item's own location ``base``) and grid, from the asset's
    ``proj:*`` fields or the item's."""
    from urllib.parse import urljoin

    asset = (item.get("assets") or {}).get(band.asset)
    if not isinstance(asset, dict) or not isinstance(asset.get("href"), str):
        return None
    props = item.get("properties") or {}
    name = echo(str(item.get("id")))

    def field_of(key: str) -> Any:
        return asset.get(key, props.get(key))

    crs = _epsg(field_of("proj:code")) or _epsg(field_of("proj:epsg"))
    transform, shape = field_of("proj:transform"), field_of("proj:shape")
    if crs is None or not isinstance(transform, list) or len(transform) < 6 or not (
        isinstance(shape, list) and len(shape) == 2
    ):
        raise StacReadError(f"item {name} does not say its asset {echo(band.asset)}'s grid "
                            "(proj:code or proj:epsg, proj:transform, proj:shape)")  # fmt: skip
    numbers = [*transform[:6], *shape]
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in numbers) or not (
        transform[0] and transform[4] and 0 < shape[0] <= MAX_SIDE and 0 < shape[1] <= MAX_SIDE
    ):
        raise StacReadError(f"item {name}'s asset {echo(band.asset)} has no usable grid "
                            "(proj:transform, proj:shape)")  # fmt: skip
    href = asset["href"]
    if base is not None and "://" not in href:
        href = urljoin(base, href) if "://" in base else _local(base, href)
    nodata = band.nodata
    raster = asset.get("raster:bands")
    if isinstance(raster, list) and raster and isinstance(raster[0], dict):
        nodata = raster[0].get("nodata", nodata)
    return Asset(
        href,
        crs,
        tuple(float(v) for v in transform[:6]),  # type: ignore[arg-type]
        (int(shape[0]), int(shape[1])),
        nodata if isinstance(nodata, int | float) else None,
        str(item.get("id")),
    )


def _local(base: str, href: str) -> str:
    from pathlib import Path

    return str((Path(base).parent / href).resolve())


def group_items(items: list[dict], bands: list[BandSource], group_by: str
                ) -> tuple[list[str], list[list[dict[str, Asset]]]]:  # fmt: skip
    """Labels (sorted) and, per label, the items' assets in priority order (acquisition
    time, then id)."""
    days: dict[str, list[tuple[Any, str, dict[str, Asset]]]] = {}
    for item in items:
        label = day_label(item, group_by)
        if label is None:
            continue
        base = item.get("pgc:href") or _self_href(item)
        assets = {}
        for band in bands:
            found = asset_of(item, band, base)
            if found is not None:
                assets[band.name] = found
        if assets:
            days.setdefault(label, []).append((item_time(item), str(item.get("id")), assets))
    labels = sorted(days)
    return labels, [[a for _, _, a in sorted(days[d], key=lambda e: (e[0], e[1]))]
                    for d in labels]  # fmt: skip


def _self_href(item: dict) -> str | None:
    for link in item.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "self":
            href = link.get("href")
            return href if isinstance(href, str) else None
    return None


# -- reading -------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Any:
    from pyproj import Transformer

    return Transformer.from_crs(f"EPSG:{src}", f"EPSG:{dst}", always_xy=True)


def footprint(read: StacRead, asset: Asset, rows: tuple[int, int], cols: tuple[int, int]
              ) -> tuple[int, int, int, int] | None:  # fmt: skip
    """The part (r0, r1, c0, c1) of grid rows/cols whose pixel centres may lie in the
    asset (its bounds brought to the grid's CRS, one pixel of margin), or None."""
    from ...grid import bbox_in_crs

    bounds = asset.bounds
    if asset.crs != read.crs:
        try:
            bounds = bbox_in_crs(bounds, asset.crs, read.crs)
        except Exception:  # noqa: BLE001 - an asset CRS that does not cover the grid
            return None
    west, south, east, north = bounds
    c0 = max(cols[0], math.floor((west - read.x0) / read.step) - 1)
    c1 = min(cols[1], math.ceil((east - read.x0) / read.step) + 1)
    r0 = max(rows[0], math.floor((read.y1 - north) / read.step) - 1)
    r1 = min(rows[1], math.ceil((read.y1 - south) / read.step) + 1)
    if r1 <= r0 or c1 <= c0:
        return None
    return r0, r1, c0, c1


@dataclass(frozen=True)
class Pick:
    """Which asset pixel (at one overview) each grid pixel of a part takes: the pixel
    containing its centre. Within the grid's CRS (north-up) rows depend on y alone and
    columns on x alone (``separable``: 1-D ``rows``/``cols``); across CRSs every pixel is
    transformed (2-D). ``window``: the asset rows/cols to read, (ra, rb, ca, cb)."""

    rows: np.ndarray
    cols: np.ndarray
    row_ok: np.ndarray
    col_ok: np.ndarray
    window: tuple[int, int, int, int]
    separable: bool

    def take(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The picked values on the part (0 outside the asset) and where they come from it."""
        ra, _, ca, _ = self.window
        if self.separable:  # the rows and columns inside are runs: the maps are monotonic
            inside = np.outer(self.row_ok, self.col_ok)
            values = np.zeros(inside.shape, dtype=block.dtype)
            rs, cs = _run(self.row_ok), _run(self.col_ok)
            values[rs, cs] = _pick(block, self.rows[rs] - ra, self.cols[cs] - ca)
            return values, inside
        inside = self.row_ok
        values = np.zeros(inside.shape, dtype=block.dtype)
        values[inside] = block[self.rows[inside] - ra, self.cols[inside] - ca]
        return values, inside


def _run(ok: np.ndarray) -> slice:
    """The slice of the one run of True in ``ok``."""
    found = np.flatnonzero(ok)
    return slice(int(found[0]), int(found[-1]) + 1)


def _pick(block: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``block``'s ``rows`` x ``cols``: a plain slice where both step by one (the grid on
    the asset's own pixels, the usual case), else gathered."""
    def step(index: np.ndarray) -> slice | None:
        if len(index) and index[-1] - index[0] == len(index) - 1 and np.all(np.diff(index) == 1):
            return slice(int(index[0]), int(index[-1]) + 1)
        return None

    r, c = step(rows), step(cols)
    return block[r, c] if r is not None and c is not None else block[np.ix_(rows, cols)]


def _edge_floor(values: np.ndarray) -> np.ndarray:
    # a centre on a pixel edge takes the pixel after it, as GDAL's nearest neighbour does
    # (it adds 1e-10 before truncating): a 20 m grid over 10 m pixels has all its centres
    # on edges, and resample_spatial's result must not depend on rounding
    with np.errstate(invalid="ignore"):
        return np.floor(values + TIE)


def index_map(read: StacRead, asset: Asset, factor: int, part: tuple[int, int, int, int]
              ) -> Pick | None:  # fmt: skip
    """For the grid pixels of ``part`` (r0, r1, c0, c1): the asset pixels (at overview
    ``factor``) containing their centres, transformed exactly with PROJ; None when no
    centre lies in the asset."""
    r0, r1, c0, c1 = part
    xs = read.x0 + (np.arange(c0, c1) + 0.5) * read.step
    ys = read.y1 - (np.arange(r0, r1) + 0.5) * read.step
    a, b, c, d, e, f = asset.transform
    height, width = (math.ceil(n / factor) for n in asset.shape)
    if asset.crs == read.crs and b == 0 and d == 0:
        col = _edge_floor((xs - c) / (a * factor))
        row = _edge_floor((ys - f) / (e * factor))
        col_ok, row_ok = (col >= 0) & (col < width), (row >= 0) & (row < height)
        if not col_ok.any() or not row_ok.any():
            return None
        cols, rows = col.astype(np.int32), row.astype(np.int32)
        window = (int(rows[row_ok].min()), int(rows[row_ok].max()) + 1,
                  int(cols[col_ok].min()), int(cols[col_ok].max()) + 1)  # fmt: skip
        return Pick(rows, cols, row_ok, col_ok, window, True)
    from affine import Affine

    to_pixels = ~(Affine(*asset.transform) * Affine.scale(factor))
    if asset.crs == read.crs:
        col, row = to_pixels * np.meshgrid(xs, ys)
    else:
        col, row = pixels_across(_transformer(read.crs, asset.crs), to_pixels, xs, ys)
    col, row = _edge_floor(col), _edge_floor(row)
    inside = np.isfinite(col) & np.isfinite(row)
    inside &= (col >= 0) & (col < width) & (row >= 0) & (row < height)
    if not inside.any():
        return None
    rows = np.where(inside, row, 0).astype(np.int32)
    cols = np.where(inside, col, 0).astype(np.int32)
    window = (int(rows[inside].min()), int(rows[inside].max()) + 1,
              int(cols[inside].min()), int(cols[inside].max()) + 1)  # fmt: skip
    return Pick(rows, cols, inside, inside, window, False)


def pixels_across(transformer: Any, to_pixels: Any, xs: np.ndarray, ys: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The asset's pixel coordinates (column, row; fractional) of the grid points ``xs`` x
    ``ys`` in another CRS: what PROJ gives for each point, at a fraction of its cost.

    PROJ transforms every :data:`LATTICE`-th point; the points between are interpolated
    (bilinear), which the smooth maps between projected CRSs allow to within far less than
    a pixel. The interpolation is checked at the middle of every lattice cell (where its
    error is largest) against PROJ: when any error exceeds :data:`CHECKED` pixels, every
    point is transformed. Then every point whose interpolated position lies within
    :data:`NEAR_EDGE` pixels of a pixel edge (where an error could pick the neighbour)
    is transformed by PROJ as well. So every pixel picked is the one PROJ's position lies
    in, as when transforming all of them (a 1024 x 1024 part: 0.34 s with PROJ alone)."""
    ny, nx = len(ys), len(xs)
    if nx < 4 * LATTICE or ny < 4 * LATTICE:
        return to_pixels * transformer.transform(*np.meshgrid(xs, ys))
    ci = np.unique(np.r_[np.arange(0, nx, LATTICE), nx - 1])
    ri = np.unique(np.r_[np.arange(0, ny, LATTICE), ny - 1])
    lattice = to_pixels * transformer.transform(*np.meshgrid(xs[ci], ys[ri]))
    mid_c, mid_r = (ci[:-1] + ci[1:]) // 2, (ri[:-1] + ri[1:]) // 2
    exact = to_pixels * transformer.transform(*np.meshgrid(xs[mid_c], ys[mid_r]))
    col, row = (_bilinear(v, ri, ci, ny, nx) for v in lattice)
    error = max(float(np.max(np.abs(col[np.ix_(mid_r, mid_c)] - exact[0]))),
                float(np.max(np.abs(row[np.ix_(mid_r, mid_c)] - exact[1]))))  # fmt: skip
    if not error <= CHECKED:  # (NaN too: points outside the CRS's domain)
        return to_pixels * transformer.transform(*np.meshgrid(xs, ys))
    near = _near_edge(col) | _near_edge(row)
    if near.any():
        r, c = np.nonzero(near)
        col[r, c], row[r, c] = to_pixels * transformer.transform(xs[c], ys[r])
    return col, row


def _bilinear(values: np.ndarray, ri: np.ndarray, ci: np.ndarray, ny: int, nx: int
              ) -> np.ndarray:  # fmt: skip
    """``values`` known at rows ``ri`` x columns ``ci`` of an ``ny`` x ``nx`` grid,
    interpolated linearly along x, then along y."""
    c = np.arange(nx)
    k = np.clip(np.searchsorted(ci, c, side="right") - 1, 0, len(ci) - 2)
    wx = (c - ci[k]) / (ci[k + 1] - ci[k])
    along_x = values[:, k] * (1 - wx) + values[:, k + 1] * wx
    r = np.arange(ny)
    m = np.clip(np.searchsorted(ri, r, side="right") - 1, 0, len(ri) - 2)
    wy = ((r - ri[m]) / (ri[m + 1] - ri[m]))[:, None]
    return along_x[m] * (1 - wy) + along_x[m + 1] * wy


def _near_edge(position: np.ndarray) -> np.ndarray:
    fraction = position - np.floor(position)
    return (fraction < NEAR_EDGE) | (fraction > 1 - NEAR_EDGE)


class _Memo:
    """Values computed once per key by whichever thread asks first (index maps shared by
    every date and band of a tile)."""

    def __init__(self) -> None:
        self._values: dict = {}
        self._locks: dict = {}
        self._lock = threading.Lock()

    def get(self, key: Any, make: Any) -> Any:
        with self._lock:
            if key in self._values:
                return self._values[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = make()
            return self._values[key]


def _level(read: StacRead, asset: Asset, factors: list[int]) -> tuple[int, int | None]:
    """The overview to read: (factor, level) with the largest factor not above the ratio
    of the grid's pixel size to the asset's; (1, None) for full resolution."""
    if not read.overviews or not factors or not _same_units(asset.crs, read.crs):
        return 1, None
    ratio = read.step / abs(asset.transform[0])
    usable = [f for f in factors if f <= ratio + 1e-9]
    if not usable:
        return 1, None
    factor = max(usable)
    return factor, factors.index(factor)


@lru_cache(maxsize=64)
def _same_units(one: str, other: str) -> bool:
    """Whether pixel sizes in the two CRSs compare: the same CRS, or both projected in
    metres (UTM zones)."""
    if one == other:
        return True
    from pyproj import CRS

    def metres(code: str) -> bool:
        crs = CRS.from_epsg(int(code))
        return crs.is_projected and all(a.unit_name in ("metre", "meter") for a in crs.axis_info)

    return metres(one) and metres(other)


def _open(read: StacRead, asset: Asset, level: int | None) -> Any:
    import rasterio

    options = {} if level is None else {"overview_level": level}
    if asset.remote:
        return rasterio.open(asset.href, driver="GTiff", opener=read.files.open, **options)
    return read.access.open_raster(asset.href, f"the asset of item {echo(asset.item)}",
                                   **options)  # fmt: skip


def _prefetch(read: StacRead, asset: Asset, src: Any, window: Any) -> None:
    """Fetch the blocks of ``window`` of an open remote asset (adjacent ones in one
    request), and book them in the read's estimate."""
    bh, bw = src.block_shapes[0]
    ranges = []
    for i in range(window.row_off // bh, (window.row_off + window.height - 1) // bh + 1):
        for j in range(window.col_off // bw, (window.col_off + window.width - 1) // bw + 1):
            offset = src.get_tag_item(f"BLOCK_OFFSET_{j}_{i}", "TIFF", bidx=1)
            size = src.get_tag_item(f"BLOCK_SIZE_{j}_{i}", "TIFF", bidx=1)
            if offset and size and int(size) > 0:
                ranges.append((int(offset), int(offset) + int(size)))
    with read._lock:
        read.expected.setdefault(asset.href, []).extend(ranges)
    read.files.prefetch(asset.href, ranges, gap=GAP)


def read_asset(read: StacRead, asset: Asset, part: tuple[int, int, int, int],
               picks: _Memo | None = None) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """One asset's values on the grid pixels of ``part`` and where they are valid, or
    None when none of them lies in the asset. ``picks``: index maps shared between calls."""
    import rasterio
    from rasterio.errors import RasterioError

    picks = picks if picks is not None else _Memo()
    if asset.remote:
        read.files.check(asset.href)  # the policy's reason, rather than GDAL's
    try:
        with rasterio.Env(**_OPEN_OPTIONS):
            with _open(read, asset, None) as src:
                factor, level = _level(read, asset, list(src.overviews(1)))
                key = (asset.crs, asset.transform, asset.shape, factor, part)
                pick = picks.get(key, lambda: index_map(read, asset, factor, part))
                if pick is None:
                    return None
                if level is None:
                    return _gather(read, asset, src, pick)
            with _open(read, asset, level) as src:
                return _gather(read, asset, src, pick)
    except RasterioError as exc:
        cause = exc.__cause__ or exc.__context__
        reason = str(cause) if isinstance(cause, OSError) else "not a GeoTIFF GDAL can read"
        raise StacReadError(f"the asset of item {echo(asset.item)} cannot be read: "
                            f"{reason}") from None  # fmt: skip
    finally:
        if asset.remote:
            read.files.trim()


def _gather(read: StacRead, asset: Asset, src: Any, pick: Pick
            ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The values ``pick`` takes from the open asset: the window holding them read (its
    blocks fetched first when remote), then picked; valid where not the asset's no-data."""
    from rasterio.windows import Window

    ra, rb, ca, cb = pick.window
    window = Window(ca, ra, cb - ca, rb - ra)
    if asset.remote:
        _prefetch(read, asset, src, window)
    values, inside = pick.take(src.read(1, window=window))
    valid = inside
    if asset.nodata is not None:
        valid = inside & (values != asset.nodata) & ~_isnan(values)
    return values, valid


def _isnan(values: np.ndarray) -> np.ndarray:
    return np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)


def read_part(read: StacRead, window: Any, dates: list[int], dtype: str,
              nodata: float | None, stats: Any = None) -> np.ndarray:  # fmt: skip
    """The values [t, bands, y, x] of the grid ``window`` (a :class:`pgc.grid.Window`) for
    the labels at ``dates``: each day's items mosaicked in priority order (the first valid
    value wins), no-data where none has one."""
    height, width = window.shape
    out = np.full((len(dates), len(read.bands), height, width),
                  0 if nodata is None else nodata, dtype=dtype)  # fmt: skip
    # (a float grid -- a resample_spatial's average the load took over -- is NaN where no
    # item has a value)
    filled = np.zeros(out.shape, dtype=bool)
    rows, cols = (window.y0, window.y1), (window.x0, window.x1)
    parts: dict[tuple, Any] = {}  # footprint per tile grid (computed here, in one thread)
    picks = _Memo()  # index maps, computed by the read threads
    jobs = []
    for i, d in enumerate(dates):
        for j, band in enumerate(read.bands):
            for assets in read.days[d]:
                asset = assets.get(band.name)
                if asset is None:
                    continue
                key = (asset.crs, asset.transform, asset.shape)
                if key not in parts:
                    parts[key] = footprint(read, asset, rows, cols)
                part = parts[key]
                if part is not None:
                    jobs.append((i, j, asset, part))

    def paste(job: tuple, result: Any) -> None:
        if result is None:
            return
        i, j, _, (r0, r1, c0, c1) = job
        values, valid = result
        ys, xs = slice(r0 - window.y0, r1 - window.y0), slice(c0 - window.x0, c1 - window.x0)
        target = (i, j, ys, xs)
        take = valid & ~filled[target]
        np.copyto(out[target], values, where=take, casting="unsafe")
        filled[target] |= take

    # pasted in priority order as they come, at most 2 x THREADS reads held at a time
    with ThreadPoolExecutor(max(1, min(THREADS, len(jobs)))) as pool:
        pending: deque = deque()
        for job in jobs:
            pending.append((job, pool.submit(read_asset, read, job[2], job[3], picks)))
            if len(pending) >= 2 * THREADS:
                done, future = pending.popleft()
                paste(done, future.result())
        while pending:
            done, future = pending.popleft()
            paste(done, future.result())
    if stats is not None:
        stats.add(out.nbytes, f"STAC {read.source.id}")
        stats.remote(read)
    return out


def plan_stac(source: StacSource, cube: Any, bands: list[str], crs: str,
              lonlat: tuple | None, interval: tuple, conditions: list,
              allowed: tuple[str, ...] = (), overviews: bool = True) -> StacRead:  # fmt: skip
    """The read of ``bands`` of ``source`` on the grid of ``cube`` (x/y typed on the
    load's grid), for the items ``lonlat``, ``interval`` and ``conditions`` select;
    ``overviews``: whether a coarser grid reads the COGs' overviews."""
    from pathlib import Path

    from ..access import ReadAccess
    from .search import find_items

    files = HttpFiles(source.policy(allowed))
    chosen = [source.band(b) for b in bands]
    items = find_items(source, files, lonlat, interval, conditions)
    labels, days = group_items(items, chosen, source.group_by)
    x, y = cube.dimension("x"), cube.dimension("y")
    access = None
    if source.static is not None and "://" not in source.static:
        access = ReadAccess((Path(source.static).parent,))
    return StacRead(source, crs, float(x.extent[0]), float(y.extent[1]), float(x.step),
                    chosen, days, labels, files, access, overviews)  # fmt: skip


__all__ = ["Asset", "Pick", "StacRead", "StacReadError", "asset_of", "day_label", "group_items",
           "index_map", "pixels_across", "plan_stac", "read_part"]  # fmt: skip
