"""One data cube as one netCDF file, exactly: pgc's exchange form between federation members.

A CF netCDF (what ``save_result(format="netCDF")`` writes for users) is made for other
tools: it stores bands as variables, no-data as a fill value, and reads back as float32
without the CRS (issue 22 measured all three). A member of a federated run must read its
producer's value back exactly, so a job of a split saves with
``save_result(format="netCDF", options={"pgc_exchange": true})`` and gets this form:

- ``values``: the cube's values in their own dtype (booleans as 0/1 bytes), its own
  dimensions and labels, no fill value;
- ``valid``: the validity beside the values (compressed; omitted when every value has
  data), because a NaN a computation produced is a value, not no-data;
- the attributes (CRS, no-data value, a vector cube's geometries) as JSON in
  ``pgc_attrs``, the dtype in ``pgc_dtype``.

:func:`read` gives back what :func:`write` was given; :func:`is_cube_file` tells this form
from any other netCDF by its attributes.

>>> import numpy as np, xarray as xr, tempfile, pathlib
>>> values = xr.DataArray(np.array([[1, 2]], "uint16"), dims=("y", "x"), attrs={"crs": "32631"})
>>> path = pathlib.Path(tempfile.mkdtemp()) / "v.nc"
>>> size = write(values, xr.DataArray(True), path)
>>> back, valid = read(path)
>>> back.dtype, back.attrs["crs"], bool(valid)
(dtype('uint16'), '32631', True)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

OPTION = "pgc_exchange"  # the save_result option asking for this form
MARK = "pgc_dtype"  # the attribute that tells this form from other netCDF files


class NotWritable(ValueError):
    """A value this form cannot hold (text labels as values, objects)."""


def write(data: Any, valid: Any, path: Path) -> int:
    """Write ``data`` (an xarray DataArray) and its validity (a boolean DataArray, or a
    scalar True) to ``path``; the bytes written."""
    import xarray as xr

    # a value read from a file carries that file's encoding (a label dtype of '<U2', say),
    # which xarray would apply to labels that have grown since: 'r10' written as 'r1'
    data = data.drop_encoding()
    check(data)
    variables = {"values": data.astype("uint8") if data.dtype == bool else data}
    valid = valid.drop_encoding()
    everywhere = bool(np.all(valid.values))
    if not everywhere:
        variables["valid"] = valid.astype("uint8")
    dataset = xr.Dataset(variables)
    dataset.attrs = {
        "pgc_attrs": json.dumps(_encode(dict(data.attrs)), default=str),
        MARK: str(data.dtype),
        "pgc_valid_everywhere": int(everywhere),
    }
    for name in dataset.variables:  # the cube's attributes are in pgc_attrs
        dataset[name].attrs = {}
    encoding: dict = {name: {} for name in dataset.data_vars}
    if "valid" in dataset:
        encoding["valid"] = {"zlib": True, "complevel": 1}
    encoding["values"] = {"_FillValue": None}
    for name, coord in dataset.coords.items():  # exact to the nanosecond, also with no label
        if np.issubdtype(coord.dtype, np.datetime64):
            encoding[name] = {"units": "nanoseconds since 1970-01-01", "dtype": "int64"}
    dataset.to_netcdf(path, engine="netcdf4", encoding=encoding)
    return Path(path).stat().st_size


def check(data: Any) -> None:
    """:class:`NotWritable` unless this form can hold ``data``'s values."""
    if data.dtype == object or data.dtype.kind in "USM":
        raise NotWritable(f"values of dtype {data.dtype} cannot be written as netCDF")


def is_cube_file(dataset: Any) -> bool:
    """Whether an open xarray Dataset is this form (and not, say, a CF netCDF)."""
    return MARK in dataset.attrs and "values" in dataset.variables


def read(path: Path, access: Any = None) -> tuple[Any, Any]:
    """(values, validity) of a file :func:`write` wrote, loaded. ``access``: the
    :class:`pgc.data.access.ReadAccess` the path must pass (by default its own folder).
    ValueError for a netCDF file of another form."""
    from .access import ReadAccess

    access = access if access is not None else ReadAccess((Path(path).parent,))
    with access.open_netcdf(path, "the exchanged cube", mask_and_scale=False) as dataset:
        if not is_cube_file(dataset):
            raise ValueError("the netCDF file is not a cube pgc saved for exchange "
                             f"(save_result option {OPTION})")  # fmt: skip
        dataset.load()
        values = dataset["values"]
        dtype = dataset.attrs[MARK]
        values = values.astype(dtype) if dtype == "bool" else values
        if int(dataset.attrs["pgc_valid_everywhere"]):
            import xarray as xr

            valid = xr.DataArray(True)
        else:
            valid = dataset["valid"].astype(bool)
        values.attrs = _decode(json.loads(dataset.attrs["pgc_attrs"]))
        values.name = None
        # the file's encoding stays with the file (see write)
        return values.drop_encoding(), valid.drop_encoding()


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _encode(value: Any) -> Any:
    """JSON for attributes whose dicts may have integer keys (a vector cube's labels)."""
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"__pairs__": [[_plain(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    return _plain(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__pairs__"}:
            return {k: _decode(v) for k, v in value["__pairs__"]}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value
