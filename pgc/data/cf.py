"""The dataset a result becomes in netCDF (and Zarr): CF conventions, so GDAL/QGIS and
xarray+rioxarray read it with its CRS, grid and dates (issue 18).

- one variable per band (the labels of the cube's bands dimension; the band's label, common
  name and wavelength as its attributes), or one variable ``values`` when the cube has no
  bands dimension (Zarr keeps one ``values`` variable with the bands as a dimension);
- x and y coordinate variables with CF's ``standard_name`` and units, and the grid mapping
  variable ``spatial_ref`` every variable names (:mod:`pgc.data.georef`);
- time labels as a CF time coordinate (xarray writes ``units: days since ...`` and the
  calendar), ``standard_name: time``;
- no-data as ``_FillValue`` in the stored dtype (:mod:`pgc.data.storage`): NaN for floats,
  the chosen value for integers, none when every pixel has data; no other attribute says
  something else about no-data (the old ``nodata: 0`` of the loaded bands contradicted
  the NaN the values held);
- vector cubes: the geometry dimension's features as coordinates along it: ``wkt`` (the
  geometries) and one coordinate per property of the input features (a field id survives).

>>> import numpy as np, xarray as xr
>>> from pgc.executors.values import Cube
>>> from pgc.data.storage import storage_for
>>> data = xr.DataArray(np.ones((2, 1, 2)), dims=["bands", "y", "x"], attrs={"crs": "32631"},
...                     coords={"bands": ["B04", "B08"], "y": [5.0], "x": [5.0, 15.0]})
>>> cube = Cube(data, xr.DataArray(True))
>>> ds = cf_dataset(cube, storage_for(cube))
>>> sorted(ds.data_vars), ds["B04"].attrs["grid_mapping"], ds["x"].attrs["units"]
(['B04', 'B08'], 'spatial_ref', 'm')
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import xarray as xr

from .georef import GRID_MAPPING, axis_attrs, crs_of, grid_mapping_attrs, transform_of
from .storage import Storage, stored_values

VALUES = "values"  # the variable of a cube without bands (and Zarr's one variable)
# the attribute of a dimension's coordinate that says its openEO type (the executors'
# pgc.executors.values.DIMENSION_TYPE; data/ sits below executors/ and cannot import it)
DIMENSION_TYPE = "openeo:type"


def cf_dataset(cube: Any, storage: Storage, split_bands: bool = True) -> xr.Dataset:
    """``cube`` as a CF dataset, its values stored as ``storage`` says (lazy for a chunked
    cube); ``split_bands``: one variable per band (netCDF) or one ``values`` (Zarr)."""
    values = stored_values(cube, storage).drop_encoding()
    values.attrs = {}
    crs = crs_of(cube)
    values = _described_coordinates(values, crs)
    bands = _bands_dimension(cube.data) if split_bands else None
    variables = _per_band(values, bands) if bands else {VALUES: values}
    encoding = _fill_value(storage)
    for variable in variables.values():
        variable.encoding = dict(encoding)
        if crs is not None and {"x", "y"} <= set(variable.dims):
            variable.attrs["grid_mapping"] = GRID_MAPPING
        if np.dtype(cube.data.dtype).kind == "b":  # CF flags: what 0 and 1 mean
            variable.attrs.update(flag_values=np.array([0, 1], "uint8"), flag_meanings="false true")
    dataset = xr.Dataset(variables)
    dataset = dataset.assign_coords(  # openEO's own attribute (a colon in its name) dropped
        {
            name: _with_attrs(
                dataset[name], {k: v for k, v in c.attrs.items() if k != DIMENSION_TYPE}
            )
            for name, c in dataset.coords.items()
            if DIMENSION_TYPE in c.attrs
        }
    )
    if crs is not None:
        spatial = {"x", "y"} <= set(values.dims)
        transform = transform_of(cube) if spatial else None
        mapping = xr.DataArray(np.int32(0), attrs=grid_mapping_attrs(crs, transform))
        dataset = dataset.assign_coords({GRID_MAPPING: mapping})
    dataset = _with_features(dataset, cube)
    dataset.attrs = {"Conventions": "CF-1.8", "source": "pgc (openEO process graph compiler)"}
    return dataset


def _bands_dimension(data: xr.DataArray) -> str | None:
    """The cube's bands dimension: the one whose coordinate says it is of type bands, else
    one named ``bands`` whose type is not said otherwise (as
    :func:`pgc.executors.values.dimension_type` decides)."""
    said = {d: data[d].attrs.get(DIMENSION_TYPE) for d in data.dims if d in data.coords}
    typed = [d for d, kind in said.items() if kind == "bands"]
    if typed:
        return str(typed[0])
    return "bands" if "bands" in data.dims and not said.get("bands") else None


def _described_coordinates(values: xr.DataArray, crs: Any) -> xr.DataArray:
    """x and y with CF's attributes; dates with ``standard_name: time``."""
    described = {axis: axis_attrs(crs, axis) for axis in ("x", "y") if axis in values.coords}
    for dim in values.dims:
        if dim in values.coords and np.issubdtype(values[dim].dtype, np.datetime64):
            described[dim] = {"standard_name": "time", "long_name": "time", "axis": "T"}
    return values.assign_coords(
        {name: _with_attrs(values[name], attrs, True) for name, attrs in described.items()}
    )


def _with_attrs(coordinate: xr.DataArray, attrs: dict, complete: bool = False) -> xr.DataArray:
    """A copy of ``coordinate`` with ``attrs`` (the cube's own coordinates are shared with
    its values and stay as they are); ``complete``: a coordinate without missing values,
    so without the ``_FillValue`` xarray gives float variables (CF 1.8, 5: "coordinate
    variables ... must not have missing values")."""
    copy = coordinate.copy(deep=False)
    copy.attrs = dict(attrs)
    if complete:
        copy.encoding = {**copy.encoding, "_FillValue": None}
    return copy


def _per_band(values: xr.DataArray, dim: str) -> dict[str, xr.DataArray]:
    """One variable per label of the bands dimension ``dim``, named by the label (made a
    valid, unique netCDF name: no ``/``, not a coordinate's name)."""
    taken = {str(c) for c in values.coords} | {str(d) for d in values.dims} | {GRID_MAPPING}
    along = [c for c in values.coords if c != dim and values[c].dims == (dim,)]
    variables: dict[str, xr.DataArray] = {}
    for i, label in enumerate(values[dim].values.tolist()):
        band = values.isel({dim: i}, drop=True).drop_vars(along, errors="ignore")
        band.attrs = {"long_name": str(label), "band": str(label)}
        for name in along:  # common_name, wavelength ... of this band
            value = values[name].values[i]
            if not _blank(value):
                band.attrs[str(name)] = value.item() if hasattr(value, "item") else value
        variables[_unique(_variable_name(label), taken)] = band
    return variables


def _blank(value: Any) -> bool:
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return value is None or value == ""


def _variable_name(label: Any) -> str:
    name = str(label).replace("/", "_").strip()
    return name or "band"


def _unique(name: str, taken: set[str]) -> str:
    unique, i = name, 1
    while unique in taken:
        i += 1
        unique = f"{name}_{i}"
    taken.add(unique)
    return unique


def _fill_value(storage: Storage) -> dict:
    """The encoding saying no-data: ``_FillValue`` in the stored dtype, or none at all."""
    if storage.nodata is None:
        return {"_FillValue": None, "dtype": storage.dtype}
    return {"_FillValue": np.array(storage.nodata, storage.dtype)[()], "dtype": storage.dtype}


def _with_features(dataset: xr.Dataset, cube: Any) -> xr.Dataset:
    """A vector cube's geometries (WKT) and its features' properties, as coordinates along
    the geometry dimension."""
    from .vector_output import feature_table

    table = feature_table(cube)
    if table is None or table.dimension not in dataset.dims:
        return dataset
    coords = {"wkt": (table.dimension, np.array(table.wkt(), dtype=object))}
    for key in table.property_names():
        if key in dataset.variables or key in coords:
            continue
        column = [p.get(key) for p in table.properties]
        coords[key] = (table.dimension, _column(column))
    return dataset.assign_coords(coords)


def _column(values: list) -> np.ndarray:
    """Property values as one netCDF variable: numbers (missing: NaN) or text."""
    numbers = all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values if v is not None
    )
    if numbers and any(v is not None for v in values):
        return np.array([math.nan if v is None else v for v in values], dtype="float64")
    return np.array(
        ["" if v is None else v if isinstance(v, str) else json.dumps(v) for v in values],
        dtype=object,
    )
