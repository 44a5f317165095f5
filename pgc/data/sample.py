"""pgc's embedded sample collections: synthetic, deterministic Sentinel-2 L2A-like data.

Two collections come from one generator, each described by a :class:`SampleSpec`:

- ``SENTINEL2_L2A_SAMPLE``: 12 dates in 2023 (the 10th of each month), 512 x 512 pixels of
  10 m in UTM zone 31N (EPSG:32631);
- ``SENTINEL2_L2A_SAMPLE_32632``: 6 dates in June 2022, every 5 days as Sentinel-2's
  revisit, 512 x 512 pixels of 10 m in UTM zone 32N (EPSG:32632) around the area the openEO
  test suite's workflow tests load (x 679,720 to 680,680, y 5,151,080 to 5,151,920).

Both have the 12 L2A spectral bands and the scene classification ``SCL``. A scene is made
of spatially coherent parts:

- water (a smooth low-lying area), bare/built ground, and agricultural parcels
  (rectangles) whose crops green up and senesce with their own calendars;
- per-date clouds (smooth blobs, SCL 8/9 and thin cirrus 10) with their shadows (SCL 3)
  cast to the south-east, and one date with a no-data strip (value 0, SCL 0).

Reflectances follow typical surface-reflectance spectra of water, green vegetation and
bare soil, mixed by the fraction of green cover. Digital numbers are stored as in the L2A
processing baseline 04.00: ``DN = reflectance * 10000 + offset`` with an offset of 1000 for
the 2023 sample (scale 0.0001, offset -0.1, nodata 0) and none for the June 2022 one (scale
0.0001, offset 0, as collections harmonized to the older baselines are served), as each
collection's STAC metadata says. The values are generated, not observed: the metadata says
so (``pgc:synthetic``).

A cube is generated once with its fixed seed and cached on disk, one ``.npy`` file per
date and band, so loads read only the windows they need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ..threadsafe import AST

BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


@dataclass(frozen=True)
class SampleSpec:
    """What one generated sample collection is: its id, grid, dates and seed.

    The grid is ``size`` x ``size`` pixels of ``pixel`` metres in EPSG:``epsg``, its top-left
    corner at (``west``, ``north``). ``version`` keys the cache: bump it when the generator
    changes what this collection holds. ``dn_offset`` is added to ``reflectance * 10000``;
    ``nodata_date`` is the position of the date with a no-data strip (None: no strip).
    """

    id: str
    epsg: int
    west: float
    north: float
    size: int
    pixel: float
    dates: tuple[str, ...]
    seed: int
    version: int = 1
    dn_offset: int = 1000
    nodata_date: int | None = None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the grid, in its CRS."""
        span = self.size * self.pixel
        return (self.west, self.north - span, self.west + span, self.north)

    def months(self) -> np.ndarray:
        """Each date as a month of the year with a fraction, whole on the 10th (the 2023
        sample's dates are months 1.0 to 12.0): what the crop calendars and cloud amounts
        are a function of."""
        out = []
        for date in self.dates:
            when = datetime.strptime(date[:10], "%Y-%m-%d")
            out.append(when.month + (when.day - 10) / 30)
        return np.array(out, dtype=np.float64)


SAMPLE = SampleSpec(
    id="SENTINEL2_L2A_SAMPLE",
    epsg=32631,
    west=600000,
    north=5695000,
    size=512,
    pixel=10,
    dates=tuple(f"2023-{m:02d}-10T10:30:00Z" for m in range(1, 13)),
    seed=2023,
    version=1,
    dn_offset=1000,
    nodata_date=4,
)
# The openEO test suite's workflow tests load x 679,720-680,680, y 5,151,080-5,151,920
# (EPSG:32632) from 2022-06-01 to 2022-07-01; this grid holds it with 2 km on every side.
# The dates start on June 2 so that the suite's one-day interval [06-01, 06-03) holds one
# date and each ISO week of June 2022 (weeks 22 to 26) holds at least one. The seed is one
# whose first date has, in the suite's area, both dense crops (NDVI of the DNs above 0.75 on
# 12 % of it, which the suite's boolean mask test needs) and other ground, and few clouds
# (13 %); most seeds put no parcel green enough there so early in June.
SAMPLE_32632 = SampleSpec(
    id="SENTINEL2_L2A_SAMPLE_32632",
    epsg=32632,
    west=677600,
    north=5154100,
    size=512,
    pixel=10,
    dates=tuple(f"2022-06-{d:02d}T10:20:00Z" for d in (2, 7, 12, 17, 22, 27)),
    seed=2052,
    version=1,
    dn_offset=0,
    nodata_date=3,
)
SPECS = {spec.id: spec for spec in (SAMPLE, SAMPLE_32632)}

# The first sample's constants, under the names its users know.
COLLECTION_ID = SAMPLE.id
VERSION = SAMPLE.version
SIZE = SAMPLE.size
DATES = SAMPLE.dates
SEED = SAMPLE.seed


def spec_of(source: str | SampleSpec | None) -> SampleSpec:
    """The spec named ``source`` (a collection's ``pgc:sample``); None: the first sample,
    which is what a collection without data of its own reads (as before there were two).
    A name that is no sample is the catalog's fault: :class:`~pgc.errors.ConfigurationError`.
    """
    if isinstance(source, SampleSpec):
        return source
    if source is None:
        return SAMPLE
    if not isinstance(source, str) or source not in SPECS:
        from ..errors import ConfigurationError, echo

        raise ConfigurationError(
            f"The collection names pgc:sample {echo(source)}, which is none of pgc's "
            f"samples ({', '.join(sorted(SPECS))})."
        )
    return SPECS[source]


# Surface reflectance (x 10000) of the end members, band by band (BANDS order).
WATER = np.array([700, 650, 750, 450, 350, 250, 220, 200, 180, 120, 60, 40], dtype=np.float64)
VEGETATION = np.array(
    [350, 350, 700, 350, 1200, 2900, 3500, 3700, 3800, 3600, 1800, 900], dtype=np.float64
)
SOIL = np.array(
    [1100, 1200, 1500, 1800, 2000, 2200, 2350, 2450, 2550, 2600, 3100, 2600], dtype=np.float64
)
BUILT = np.array(
    [1500, 1600, 1700, 1800, 1900, 2000, 2050, 2100, 2150, 2100, 2500, 2300], dtype=np.float64
)
CLOUD = np.array(
    [6500, 6800, 6900, 7000, 7100, 7200, 7200, 7300, 7300, 6000, 5000, 4000], dtype=np.float64
)

SCL_NODATA, SCL_SHADOW, SCL_VEGETATION, SCL_NOT_VEGETATED, SCL_WATER = 0, 3, 4, 5, 6
SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS = 8, 9, 10


def cache_dir(spec: SampleSpec = SAMPLE) -> Path:
    """Where the generated cube lives: under the active options' cache folder
    (``Options.cache_dir``, default ``~/.cache/pgc``), one folder per collection and
    version."""
    from ..options import active

    return active().cache_root() / f"{spec.id}-v{spec.version}"


def band_path(date_index: int, band: str, spec: SampleSpec = SAMPLE) -> Path:
    return cache_dir(spec) / f"t{date_index:02d}_{band}.npy"


def ensure_generated(spec: SampleSpec = SAMPLE) -> Path:
    """Generate the cube once (a few seconds); later calls find it on disk."""
    folder = cache_dir(spec)
    done = folder / "complete"
    if done.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    cube = generate(spec)
    for t in range(len(spec.dates)):
        for band in (*BANDS, "SCL"):
            tmp = folder / f".t{t:02d}_{band}.{os.getpid()}.npy"
            np.save(tmp, cube[band][t])
            tmp.replace(band_path(t, band, spec))  # atomic: concurrent generators agree
    done.write_text(f"{spec.id} v{spec.version}\n")
    return folder


def smooth_field(rng: np.random.Generator, size: int, scale: float) -> np.ndarray:
    """Spatially coherent noise in [0, 1]: white noise low-passed in the Fourier domain."""
    noise = rng.standard_normal((size, size))
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.fftfreq(size)[None, :]
    kernel = np.exp(-((fx**2 + fy**2) * (scale**2)))
    field = np.real(np.fft.ifft2(np.fft.fft2(noise) * kernel))
    lo, hi = field.min(), field.max()
    return (field - lo) / (hi - lo)


def generate(spec: SampleSpec = SAMPLE) -> dict[str, np.ndarray]:
    """The whole cube as ``{band: array[t, y, x]}`` (uint16 reflectance DNs, uint8 SCL)."""
    rng = np.random.default_rng(spec.seed)
    n, nt = spec.size, len(spec.dates)
    relief = smooth_field(rng, n, 40.0)
    urban = smooth_field(rng, n, 25.0)
    water = relief < np.quantile(relief, 0.08)
    built = (urban > np.quantile(urban, 0.9)) & ~water

    # Agricultural parcels: a jittered grid of rectangles, each with a crop calendar.
    parcel_id = np.zeros((n, n), dtype=np.int64)
    edges_y = np.sort(np.concatenate([[0, n], rng.integers(16, n - 16, 14)]))
    edges_x = np.sort(np.concatenate([[0, n], rng.integers(16, n - 16, 14)]))
    pid = 0
    for y0, y1 in zip(edges_y[:-1], edges_y[1:], strict=True):
        for x0, x1 in zip(edges_x[:-1], edges_x[1:], strict=True):
            parcel_id[y0:y1, x0:x1] = pid
            pid += 1
    peak_month = rng.uniform(4.5, 8.5, pid)  # when each parcel is greenest
    width = rng.uniform(1.2, 2.5, pid)
    max_cover = rng.uniform(0.6, 0.95, pid)
    month = spec.months()

    out = {band: np.zeros((nt, n, n), dtype=np.uint16) for band in BANDS}
    out["SCL"] = np.zeros((nt, n, n), dtype=np.uint8)
    texture = 0.9 + 0.2 * smooth_field(rng, n, 8.0)  # within-field variation
    for t in range(nt):
        cover_by_parcel = max_cover * np.exp(-0.5 * ((month[t] - peak_month) / width) ** 2)
        cover = np.clip(cover_by_parcel[parcel_id] * texture, 0, 1)
        cover[built] = 0.1
        refl = cover[None] * VEGETATION[:, None, None] + (1 - cover[None]) * SOIL[:, None, None]
        refl[:, built] = BUILT[:, None]
        refl[:, water] = WATER[:, None]
        scl = np.where(cover > 0.35, SCL_VEGETATION, SCL_NOT_VEGETATED).astype(np.uint8)
        scl[water] = SCL_WATER

        # Clouds and their shadows (none in July and August, much in winter).
        season = round(month[t])
        amount = 0.0 if season in (7, 8) else (0.35 if season in (1, 2, 11, 12) else 0.12)
        if amount:
            clouds = smooth_field(rng, n, 30.0)
            thick = clouds > np.quantile(clouds, 1 - amount)
            thin = (clouds > np.quantile(clouds, 1 - amount * 1.4)) & ~thick
            shadow = np.roll(np.roll(thick, 18, axis=0), 24, axis=1) & ~thick
            refl[:, shadow] *= 0.45
            refl[:, thin] = 0.6 * refl[:, thin] + 0.4 * CLOUD[:, None]
            refl[:, thick] = CLOUD[:, None]
            scl[shadow] = SCL_SHADOW
            scl[thin] = SCL_CIRRUS
            high = thick & (clouds > np.quantile(clouds, 1 - amount / 2))
            scl[thick] = SCL_CLOUD_MEDIUM
            scl[high] = SCL_CLOUD_HIGH
        noise = rng.normal(0, 25, refl.shape)
        dn = np.clip(np.rint(refl + noise) + spec.dn_offset, 1, 65535).astype(np.uint16)
        if t == spec.nodata_date:  # a strip outside the swath on one date: no data
            dn[:, :, :40] = 0
            scl[:, :40] = SCL_NODATA
        for b, band in enumerate(BANDS):
            out[band][t] = dn[b]
        out["SCL"][t] = scl
    return out


def read(bands: list[str], window, date_indices: list[int], stats=None, source=None):
    """Values of ``bands`` in a pixel ``window`` (pgc.grid.Window) on the given dates of the
    sample ``source`` (a spec or its id, see :func:`spec_of`; None: the first sample).

    Returns an array ``[t, bands, y, x]`` (uint16; SCL values fit) and counts in ``stats``
    the bytes read: only the window of each requested band and date is read from the cache
    (memory-mapped ``.npy`` files).
    """
    spec = spec_of(source)
    ensure_generated(spec)
    out = np.zeros((len(date_indices), len(bands), *window.shape), dtype=np.uint16)
    for i, t in enumerate(date_indices):
        for j, band in enumerate(bands):
            with AST:  # np.load parses the header with ast (pgc.threadsafe)
                stored = np.load(band_path(t, band, spec), mmap_mode="r")
            part = stored[window.y0 : window.y1, window.x0 : window.x1]
            out[i, j] = part
            if stats is not None:
                stats.add(part.size * part.dtype.itemsize, f"{spec.id}/{band}")
    return out
