"""Which bands a band filter picks (``filter_bands``; ``load_collection``'s ``bands``).

One rule for both sides: the type rules apply it to the band metadata of the cube's type
(known from the collection), the executors to the same metadata carried on the cube's
values (:mod:`pgc.data.bands`), so the labels the type promises are the ones the run
gives. What the definition of ``filter_bands`` says:

- a name is the unique band name or a common name; the unique name wins a conflict, and a
  common name shared by several bands picks all of them in the cube's order;
- a wavelength range ``[min, max]`` (micrometres, both ends included) picks the bands whose
  centre wavelength lies in it, in the cube's order;
- the order of the names (then of the ranges) is the order of the result; the criteria are
  OR-ed, so a band picked twice appears once, where it was picked first.

>>> bands = [Band("B02", "blue", 0.49), Band("B04", "red", 0.665), Band("B08", "nir", 0.842)]
>>> select_bands(bands, ["nir", "B02"]), select_bands(bands, [], [[0.6, 0.9], [0.4, 0.5]])
([2, 0], [1, 2, 0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .types import Band


class UnknownBand(ValueError):
    """A name that is neither a band's name nor a common name of the cube's bands."""

    def __init__(self, name: Any):
        super().__init__(name)
        self.name = name


class BadRange(ValueError):
    """A wavelength range that is not two numbers."""


def select_bands(
    bands: Sequence[Band], names: Sequence[Any] = (), wavelengths: Sequence[Any] = ()
) -> list[int]:
    """The positions in ``bands`` that ``names`` and ``wavelengths`` pick, in the result's
    order (see the module docstring). Raises :class:`UnknownBand` for a name no band
    has, :class:`BadRange` for a range that is not two numbers."""
    chosen: list[int] = []
    for name in names:
        picked = [i for i, b in enumerate(bands) if b.name == name]
        if not picked:
            picked = [i for i, b in enumerate(bands) if b.common_name == name]
        if not picked:
            raise UnknownBand(name)
        chosen.extend(i for i in picked if i not in chosen)
    for lo, hi in (_range(r) for r in wavelengths):
        for i, band in enumerate(bands):
            w = band.wavelength
            if w is not None and lo <= w <= hi and i not in chosen:
                chosen.append(i)
    return chosen


def _range(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise BadRange(value)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise BadRange(value)
    lo, hi = float(value[0]), float(value[1])
    if math.isnan(lo) or math.isnan(hi):
        raise BadRange(value)
    return lo, hi


def band_by_common_name(bands: Sequence[Band], labels: Sequence[Any], name: Any) -> Any:
    """The label of the one band among ``labels`` whose common name is ``name`` (how
    ``array_element(label="nir")`` reads a band in a reducer over the bands, as
    ``filter_bands`` and ``ndvi`` read names), or None: when a label is ``name`` itself
    (the unique name wins), when no band has that common name, or when several do (the
    definition of array_element returns one element, so an ambiguous name picks none).

    >>> bands = [Band("B04", "red"), Band("B08", "nir"), Band("B8A", "nir08")]
    >>> band_by_common_name(bands, ["B04", "B08", "B8A"], "nir")
    'B08'
    """
    if not isinstance(name, str) or name in labels:
        return None
    found = [b.name for b in bands if b.common_name == name and b.name in labels]
    return found[0] if len(found) == 1 else None
