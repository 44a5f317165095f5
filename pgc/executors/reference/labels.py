"""Reference implementations of the processes on a cube's dimensions and their labels:
rename_labels, dimension_labels, add_dimension and drop_dimension; and
:func:`callback_label`, a label as a callback sees it (temporal labels as RFC 3339 text),
which filter_labels and the reshaping processes share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ...errors import echo
from ..values import Cube, dimension_type, dimensions_of_type, with_dimension_types
from .arguments import cube_argument
from .loop import Call
from .table import implements


@implements("rename_labels")
def _rename_labels(call: Call) -> Cube:
    """The labels of ``dimension`` renamed, in place (order and data unchanged).

    As the definition says: an empty ``source`` (the default) renames the labels by
    position, which needs labels enumerated 0, 1, 2, ... (else LabelsNotEnumerated) and
    one target per label (else LabelMismatch); otherwise ``source`` and ``target`` have the
    same length (LabelMismatch) and every source is a label (LabelNotAvailable). A target
    that is already a label of the dimension is LabelExists (the definition: "If a target
    dimension label already exists in the data cube"), so a swap is refused too. Temporal
    labels compare as instants ('2020-01-01' is '2020-01-01T00:00:00Z'), and the targets of
    a temporal dimension must be dates. The dimension keeps its type and band metadata."""
    cube, dim = cube_argument(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    target, source = call.get("target"), call.get("source") or []
    for argument, value in (("target", target), ("source", source)):
        if not isinstance(value, list):
            call.fail("ProcessParameterInvalid", f"'{argument}' must be an array.", argument)
    temporal = dimension_type(cube, dim) == "temporal"
    labels = [v if isinstance(v, np.datetime64) else _plain(v) for v in cube.data[dim].values]
    keys = [_label_key(v, temporal) for v in labels]
    if not source:
        if any(_label_text_of(v) != str(i) for i, v in enumerate(labels)):
            call.fail("LabelsNotEnumerated",
                      f"The labels of '{dim}' are not enumerated (0, 1, 2, ...); give the "
                      "labels to rename in 'source'.", "source")  # fmt: skip
        if len(target) != len(labels):
            call.fail("LabelMismatch",
                      f"'target' has {len(target)} labels, the dimension {len(labels)}.",
                      "target")  # fmt: skip
        mapping = dict(zip(keys, target, strict=True))
    else:
        if len(source) != len(target):
            call.fail("LabelMismatch", f"'source' has {len(source)} labels, 'target' "
                      f"{len(target)}.", "target")  # fmt: skip
        wanted = [_label_key(v, temporal) for v in source]
        missing = [v for v, k in zip(source, wanted, strict=True) if k not in keys]
        if missing:
            call.fail("LabelNotAvailable", f"The dimension has no label {echo(missing[0])}.",
                      "source")  # fmt: skip
        mapping = dict(zip(wanted, target, strict=True))
    taken = [v for v in target if _label_key(v, temporal) in keys]
    if taken:
        call.fail("LabelExists", f"Dimension '{dim}' has a label {echo(taken[0])} already.",
                  "target")  # fmt: skip
    new = [mapping.get(k, v) for k, v in zip(keys, labels, strict=True)]
    return _relabeled(call, cube, dim, labels, new)


def _relabeled(call: Call, cube: Cube, dim: str, labels: list, new: list) -> Cube:
    """``cube`` with ``new`` as the labels of ``dim``: dates where the labels were dates,
    the coordinate's attributes (the dimension's type) and band metadata kept."""
    from .vector import relabeled

    old = cube.data[dim]
    if np.issubdtype(old.dtype, np.datetime64):
        values = np.array(
            [v if isinstance(v, np.datetime64) else _temporal_label(call, v, "target")
             for v in new], dtype="datetime64[ns]",
        )  # fmt: skip
    elif len({type(v) for v in new} - {int, float}) > 1 or (
        any(isinstance(v, str) for v in new) and any(not isinstance(v, str) for v in new)
    ):
        values = np.array(new, dtype=object)  # text and numbers: each label as it is
    else:
        values = np.array(new) if new else old.values[:0]
    coord = xr.DataArray(values, dims=[dim], attrs=dict(old.attrs))
    data = cube.data.assign_coords({dim: coord})
    data.attrs = relabeled(cube.data.attrs, dim, dict(zip(labels, new, strict=True)))
    valid = cube.valid.assign_coords({dim: coord}) if dim in cube.valid.dims else cube.valid
    return Cube(data, valid)


def _label_key(label: Any, temporal: bool) -> Any:
    """What a label is compared by: an instant for temporal labels (any RFC 3339 spelling
    of it, or a datetime64), else the label itself."""
    if not temporal:
        return _plain(label)
    if isinstance(label, np.datetime64):
        return callback_label(label)
    if not isinstance(label, str) or len(label) < 10 or not label[:4].isdigit():
        return label  # not a date (as _temporal_label and the type rules read them)
    try:
        import pandas as pd

        moment = pd.Timestamp(label)
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        return label
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    return callback_label(moment.as_unit("ns").to_datetime64())


def _label_text_of(label: Any) -> str:
    """A label as text, integral numbers without a fraction (0.0 is enumerated as 0)."""
    if isinstance(label, float) and label.is_integer():
        return str(int(label))
    return str(label)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def callback_label(label: Any) -> Any:
    """A label as the callback sees it: temporal labels as RFC 3339 strings."""
    if isinstance(label, np.datetime64):
        return str(label.astype("datetime64[s]")) + "Z"
    return _plain(label)


@implements("dimension_labels")
def _dimension_labels(call: Call) -> list:
    cube, dim = cube_argument(call), call.get("dimension")
    if dim not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{dim}'.", "dimension")
    return [callback_label(v) for v in cube.data[dim].values]


def _temporal_label(call: Call, label: Any, argument: str) -> np.datetime64:
    """A label of a temporal dimension: a date or date-time (RFC 3339), as UTC. Text that
    does not start with a four-digit year and a month and day ('2020', '1') is not one (as
    the type rules read dates)."""
    import pandas as pd

    try:
        if not isinstance(label, str) or len(label) < 10 or not label[:4].isdigit():
            raise TypeError
        moment = pd.Timestamp(label)
        if moment.tzinfo is not None:
            moment = moment.tz_convert("UTC").tz_localize(None)
        return moment.as_unit("ns").to_datetime64()  # out of range: an error, not a wrap
    except (TypeError, ValueError, OverflowError):
        call.fail(
            "ProcessParameterInvalid",
            f"A temporal label must be a date or date-time between the years 1678 and 2261, "
            f"got {echo(label)}.",
            argument,
        )


_DIMENSION_TYPES = ("spatial", "temporal", "bands", "geometry", "other")


@implements("add_dimension")
def _add_dimension(call: Call) -> Cube:
    """A new dimension ``name`` of ``type`` with the single ``label``, said on the values
    (:func:`with_dimension_types`: the fallback by name would make a dimension ``x`` of
    type other spatial). DimensionExists for a name the cube has, and for a spatial one
    when the cube has spatial dimensions for all three axes."""
    cube, name, label = cube_argument(call), call.get("name"), call.get("label")
    kind = call.get("type") or "other"
    if kind not in _DIMENSION_TYPES:
        call.fail("ProcessParameterInvalid", f"Unknown dimension type {echo(kind)}.", "type")
    if name in cube.dims:
        call.fail("DimensionExists", f"The data cube has a dimension '{name}' already.", "name")
    if kind == "spatial" and len(dimensions_of_type(cube, "spatial")) >= 3:
        call.fail("DimensionExists",
                  "The data cube has spatial dimensions for all axes (x, y, z) already.",
                  "type")  # fmt: skip
    if isinstance(label, bool) or not isinstance(label, int | float | str):
        call.fail("ProcessParameterInvalid", "The label must be a number or a string.", "label")
    if kind == "temporal":
        label = _temporal_label(call, label, "label")
    # The new dimension comes first (the openEO conformance vectors; the type rule agrees).
    data = cube.data.expand_dims({name: [label]}, axis=0)
    valid = cube.full_valid().expand_dims({name: [label]}, axis=0)
    return with_dimension_types(Cube(data, valid), {name: kind})


@implements("drop_dimension")
def _drop_dimension(call: Call) -> Cube:
    cube, name = cube_argument(call), call.get("name")
    if name not in cube.dims:
        call.fail("DimensionNotAvailable", f"The data cube has no dimension '{name}'.", "name")
    if cube.data.sizes[name] > 1:
        call.fail(
            "DimensionLabelCountMismatch", f"Dimension '{name}' has more than one label.", "name"
        )
    valid = cube.full_valid()
    return Cube(cube.data.isel({name: 0}, drop=True), valid.isel({name: 0}, drop=True))
