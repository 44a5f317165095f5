"""Band metadata on a cube's values: the common name and the centre wavelength of each band.

``filter_bands`` picks bands by common name and by wavelength (and ``load_collection``
by common name), so the metadata the collection gives (STAC ``eo:bands``, which the type
rules read through :func:`pgc.data.catalog.cube_type_of`) must reach run time. It rides
on the values as two non-index coordinates along the bands dimension, ``common_name``
(text, "" for none) and ``wavelength`` (micrometres, NaN for none): xarray keeps them
through selection, reordering and renaming of labels, and drops them with the dimension.
A coordinate is there only when some band has that metadata.

>>> import numpy as np, xarray as xr
>>> coords = {"bands": ["B04", "SCL"], **band_coords("bands", [Band("B04", "red", 0.665),
...                                                             Band("SCL")])}
>>> data = xr.DataArray(np.zeros(2), dims=["bands"], coords=coords)
>>> bands_of(data.sel(bands=["SCL", "B04"]), "bands")
[Band(name='SCL', common_name=None, wavelength=None, nodata=None, scale=None, offset=None), \
Band(name='B04', common_name='red', wavelength=0.665, nodata=None, scale=None, offset=None)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..ir.types import Band

COMMON_NAME = "common_name"
WAVELENGTH = "wavelength"
METADATA = (COMMON_NAME, WAVELENGTH)


def band_coords(dim: str, bands: Sequence[Band]) -> dict[str, tuple[str, np.ndarray]]:
    """The metadata coordinates of ``bands`` (in the order of the labels) along ``dim``,
    for an ``xarray.DataArray``'s ``coords``."""
    out: dict[str, tuple[str, np.ndarray]] = {}
    if any(b.common_name for b in bands):
        out[COMMON_NAME] = (dim, np.array([b.common_name or "" for b in bands], dtype=str))
    if any(b.wavelength is not None for b in bands):
        waves = [np.nan if b.wavelength is None else float(b.wavelength) for b in bands]
        out[WAVELENGTH] = (dim, np.array(waves, dtype="float64"))
    return out


def bands_of(data: Any, dim: str) -> list[Band]:
    """The bands along ``dim`` of ``data`` (an ``xarray.DataArray``): each label (as text,
    which is what band names are) with the metadata its coordinates give."""
    labels = data[dim].values if dim in data.coords else np.arange(data.sizes[dim])
    common = _along(data, COMMON_NAME, dim)
    waves = _along(data, WAVELENGTH, dim)
    out = []
    for i, label in enumerate(labels):
        name = common[i] if common is not None else None
        wave = waves[i] if waves is not None else None
        out.append(
            Band(
                _text(label),
                str(name) if isinstance(name, str) and name else None,
                float(wave) if _is_number(wave) else None,
            )
        )
    return out


def band_named(data: Any, dim: str, name: str) -> str | None:
    """The label of the band ``name`` names along ``dim`` (ndvi's ``nir``/``red``): the
    band of that unique name, which has priority, else the one band with that common name;
    None when no band, or more than one, has it."""
    bands = bands_of(data, dim)
    if any(b.name == name for b in bands):
        return name
    found = [b.name for b in bands if b.common_name == name]
    return found[0] if len(found) == 1 else None


def without_band_metadata(data: Any, dim: str | None = None) -> Any:
    """``data`` without the metadata coordinates (along ``dim`` only, when given): values
    computed along the bands, e.g. the arrays a callback returns, are not those bands."""
    gone = [c for c in METADATA if c in data.coords and (dim is None or dim in data[c].dims)]
    return data.drop_vars(gone)


def _along(data: Any, name: str, dim: str) -> list | None:
    if name not in data.coords or data.coords[name].dims != (dim,):
        return None
    return data.coords[name].values.tolist()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(label: Any) -> str:
    value = label.item() if isinstance(label, np.generic) else label
    return str(value)


def with_blank_metadata(data: Any, like: Any, dim: str) -> Any:
    """``data`` (new bands along ``dim``, e.g. ndvi's ``target_band``) with the metadata
    coordinates ``like`` has, empty ("" and NaN), so that the two concatenate along
    ``dim`` (xarray refuses a coordinate that only some of the parts have)."""
    size = data.sizes[dim]
    blank = {
        COMMON_NAME: (dim, np.full(size, "", dtype=str)),
        WAVELENGTH: (dim, np.full(size, np.nan)),
    }
    return data.assign_coords({c: blank[c] for c in METADATA if c in like.coords})
