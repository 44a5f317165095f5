"""Reference implementations of flatten_dimensions and unflatten_dimension: dimensions
reshaped into one (and back); labels become text joined (split) at ``label_separator``,
the first dimension varying slowest.

>>> # the label text flatten_dimensions joins: integral numbers without a fraction
>>> _label_text(np.float64(600005.0)), _label_text(np.datetime64("2023-01-10T10:30"))
('600005', '2023-01-10T10:30:00Z')
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import xarray as xr

from ..values import Cube, validity_array, with_dimension_types
from .arguments import cube_argument
from .labels import callback_label
from .loop import Call
from .table import implements


def _label_text(value: Any) -> str:
    """A label as text: dates in RFC 3339, integral numbers without a fraction (as the
    type rules write them)."""
    value = callback_label(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _separator(call: Call) -> str:
    sep = call.get("label_separator", "~")
    if not isinstance(sep, str) or not sep:
        call.fail(
            "ProcessParameterInvalid",
            "'label_separator' must be a non-empty string.",
            "label_separator",
        )
    return sep


def _names(call: Call, argument: str) -> list[str]:
    names = call.get(argument)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        call.fail("ProcessParameterInvalid", f"'{argument}' must be a list of names.", argument)
    twice = [n for i, n in enumerate(names) if n in names[:i]]
    if twice:
        call.fail("ProcessParameterInvalid", f"Dimension '{twice[0]}' is listed twice.", argument)
    return names


@implements("flatten_dimensions")
def _flatten_dimensions(call: Call) -> Cube:
    """``dimensions`` merged into ``target_dimension``, which takes the place of the first
    of them in the cube. Labels are the combinations of the dimensions' labels in the
    order given, the first varying slowest ("2020~B1", "2020~B2", "2021~B1", ...), joined
    by ``label_separator``. An empty list of dimensions leaves the cube as it is (the type
    rule's reading: there is nothing to merge)."""
    cube = cube_argument(call)
    names = _names(call, "dimensions")
    target = call.get("target_dimension")
    sep = _separator(call)
    missing = [n for n in names if n not in cube.dims]
    if missing:
        call.fail(
            "DimensionNotAvailable",
            f"The data cube has no dimension '{missing[0]}'.",
            "dimensions",
        )
    if target in cube.dims:
        call.fail(
            "TargetDimensionExists",
            f"The data cube has a dimension '{target}' already.",
            "target_dimension",
        )
    if not names:
        return cube
    at = min(cube.dims.index(n) for n in names)
    kept = [d for d in cube.dims if d not in names]
    order = [*kept[:at], *names, *kept[at:]]
    labels = [
        sep.join(parts)
        for parts in itertools.product(*[map(_label_text, cube.data[n].values) for n in names])
    ]
    shape = [cube.data.sizes[d] for d in kept]
    shape.insert(at, len(labels))
    dims = [*kept[:at], target, *kept[at:]]
    coords = _kept_coords(cube, kept)
    coords[target] = np.array(labels, dtype=str)
    values = cube.data.transpose(*order).values.reshape(shape)
    valid = cube.full_valid().transpose(*order).values.reshape(shape)
    out = Cube(
        xr.DataArray(values, dims=dims, coords=coords, attrs=dict(cube.data.attrs)),
        xr.DataArray(valid, dims=dims, coords=coords),
    )
    return with_dimension_types(out, {target: "other"})


def _kept_coords(cube: Cube, kept: list[str]) -> dict:
    """The coordinates of ``cube`` along the dimensions ``kept`` only: their labels with
    their attributes (each dimension's type, :func:`dimension_type`) and the band
    metadata along them (:mod:`pgc.data.bands`)."""
    return {
        name: coord.variable
        for name, coord in cube.data.coords.items()
        if coord.dims and set(coord.dims) <= set(kept)
    }


@implements("unflatten_dimension")
def _unflatten_dimension(call: Call) -> Cube:
    """``dimension`` split into ``target_dimensions`` at its place. Each label is split at
    ``label_separator`` into one part per target dimension; a target dimension's labels
    are its parts in the order they first occur. Combinations of parts that no label had
    are no-data (the definition asks for "consistently structured" labels and is silent
    on the rest)."""
    cube = cube_argument(call)
    name = call.get("dimension")
    targets = _names(call, "target_dimensions")
    sep = _separator(call)
    if name not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{name}'.", "dimension")
    if len(targets) < 2:
        call.fail(
            "ProcessParameterInvalid", "Name at least two target dimensions.", "target_dimensions"
        )
    exists = [t for t in targets if t in cube.dims]
    if exists:
        call.fail(
            "TargetDimensionExists",
            f"The data cube has a dimension '{exists[0]}' already.",
            "target_dimensions",
        )
    parts = [_label_text(v).split(sep) for v in cube.data[name].values]
    wrong = next((p for p in parts if len(p) != len(targets)), None)
    if wrong is not None:
        call.fail(
            "ProcessParameterInvalid",
            f"Label '{sep.join(wrong)}' of dimension '{name}' does not split into "
            f"{len(targets)} parts at '{sep}'.",
            "target_dimensions",
        )
    levels = [list(dict.fromkeys(p[i] for p in parts)) for i in range(len(targets))]
    index = tuple(
        np.array([levels[i].index(p[i]) for p in parts], dtype=np.int64)
        for i in range(len(targets))
    )
    return _scatter(cube, name, dict(zip(targets, levels, strict=True)), index)


def _scatter(cube: Cube, name: str, levels: dict[str, list[str]], index: tuple) -> Cube:
    """``cube`` with dimension ``name`` replaced by the dimensions ``levels``; label i of
    ``name`` goes to the cell ``index[0][i], index[1][i], ...``."""
    at = cube.dims.index(name)
    kept = [d for d in cube.dims if d != name]
    values = np.moveaxis(cube.data.values, at, 0)
    valid = np.moveaxis(validity_array(cube), at, 0)
    shape = [len(labels) for labels in levels.values()] + list(values.shape[1:])
    data = np.zeros(shape, dtype=values.dtype)
    ok = np.zeros(shape, dtype=bool)
    data[index], ok[index] = values, valid
    new = list(range(len(levels)))
    data = np.moveaxis(data, new, [at + i for i in new])
    ok = np.moveaxis(ok, new, [at + i for i in new])
    dims = [*kept[:at], *levels, *kept[at:]]
    coords = _kept_coords(cube, kept)
    coords.update({t: np.array(labels, dtype=str) for t, labels in levels.items()})
    out = Cube(
        xr.DataArray(data, dims=dims, coords=coords, attrs=dict(cube.data.attrs)),
        xr.DataArray(ok, dims=dims, coords=coords),
    )
    return with_dimension_types(out, dict.fromkeys(levels, "other"))
