"""Values in and out of :func:`pgc.run` (issue 19): the xarray and numpy values an
embedding application passes become openEO values, and results come back as the xarray
ecosystem (rioxarray, CF readers) reads them.

**In** (:func:`parameter_value`; every executor binds a graph's parameters through it):

- an ``xarray.DataArray`` is a data cube (:func:`cube_from_xarray`). Its dimensions keep
  their names and order; their openEO types are the ``openeo:type`` attribute of a
  coordinate where it is said, CF's ``axis`` (``X``, ``Y``, ``Z``: spatial), else what
  :func:`~pgc.executors.values.dimension_type` reads from names and labels (dates are
  temporal, ``bands`` is the bands dimension and its labels the band names, ``x``/``y``/
  ``lat``/``lon`` are spatial). No-data is NaN in float values (xarray's convention for
  missing values) and values equal to a declared no-data value, the first of the
  attributes ``_FillValue``, ``missing_value``, ``fill_value``, ``nodata`` (where
  rioxarray reads it). To say exactly which pixels hold data (so that NaN is a value, as
  openEO allows), pass a cube: ``cube_from_xarray(values, valid=mask)``. The CRS is read
  as rioxarray and CF readers read it: the grid mapping coordinate (``grid_mapping`` in the
  encoding or attributes, else ``spatial_ref``) with WKT in ``spatial_ref`` or
  ``crs_wkt``, or CF projection parameters; else a ``crs`` attribute. The grid is the
  x and y coordinates (pixel centres); where they are missing, the grid mapping's
  ``GeoTransform``.
- a numpy array is an openEO array (nested lists): without dimension names and labels it
  is not a data cube in openEO's data model, and it means what the same list would
  (NaN is a value); the masked elements of a ``numpy.ma`` array are no-data (null).
  numpy scalars are Python numbers. Items of a list and values of an object are
  converted one level deep (a list of DataArrays, a bbox of numpy numbers).
- anything else (JSON values, a :class:`~pgc.executors.values.Cube`) as it is.

**Out** (:func:`result_value`, what ``pgc.run`` returns):

- a data cube is an ``xarray.DataArray`` (:func:`to_dataarray`) with its coordinates, the
  CRS as a CF grid mapping coordinate ``spatial_ref`` (with ``GeoTransform`` for a regular
  x/y grid), so ``result.rio.crs`` and ``result.rio.transform()`` are right, and no-data
  as NaN with ``_FillValue`` NaN (what ``result.rio.nodata`` reads). Float values keep
  their dtype (float32 under the float32 compute dtype: :mod:`pgc.dtypes`); integer and
  boolean values become float64, as pgc.run always gave them (float64 holds NaN and every
  integer up to 2**53 exactly, and the dtype of a result then follows from its type, not
  from whether a pixel happened to be missing); text stays text with None for no-data.
  Where every pixel holds data, float values come back without a copy. A vector cube is a
  DataArray too (its features in ``attrs``); :func:`to_json` and :func:`to_geodataframe`
  turn it into GeoJSON or a ``geopandas.GeoDataFrame``;
- a labeled array is openEO's JSON for it (the encoding of the process test vectors):
  ``{"type": "labeled-array", "data": [{"key": label, "value": value}, ...]}``;
- numbers, text, lists and objects as they are (numpy scalars as Python's).

>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.array([[0.5, np.nan]]), dims=["y", "x"], attrs={"crs": "32631"},
...                   coords={"y": [5.0], "x": [5.0, 15.0]})
>>> cube = parameter_value(da)
>>> cube.to_python(), cube.data.attrs["crs"]
([[0.5, None]], '32631')
>>> out = to_dataarray(cube)
>>> float(out.attrs["_FillValue"]), str(out.spatial_ref.attrs["crs_wkt"])[:6]
(nan, 'PROJCS')
>>> parameter_value(np.array([1.0, np.nan]))
[1.0, nan]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import xarray as xr

from ..data.georef import GRID_MAPPING, grid_mapping_attrs
from ..data.vector_output import feature_collection, feature_table, iso_date
from ..errors import Diagnostic, PgcError, echo
from .spatial import AXIS, axes
from .values import DIMENSION_TYPE, Cube, CubeArray, LabeledArray, dimension_type, like

# where a DataArray declares its no-data value, in the order rioxarray reads them
FILL_ATTRIBUTES = ("_FillValue", "missing_value", "fill_value", "nodata")
INVALID = "ProcessParameterInvalid"
_SIMPLE = frozenset({str, int, float, bool, type(None)})  # JSON's values, as Python holds them
_RUNTIME = (Cube, CubeArray, LabeledArray)  # the executors' own values
_FOREIGN = (np.ndarray, np.generic, xr.DataArray, xr.Dataset)


# -- in ------------------------------------------------------------------------------------


def parameter_values(parameters: Mapping[str, Any] | None, limits: Any = None) -> dict:
    """Every value of ``parameters`` as an openEO value (:func:`parameter_value`)."""
    return {name: parameter_value(v, name, limits) for name, v in (parameters or {}).items()}


def parameter_value(value: Any, name: str = "data", limits: Any = None) -> Any:
    """``value`` (of parameter ``name``) as the executors hold it: a DataArray as a cube,
    a numpy array as a list, numpy scalars as Python's, also as the items of a list or
    the values of an object (one level: a list of DataArrays, a bbox of numpy numbers; a
    walk through every level of a large GeoJSON would cost more than the run). Raises
    PgcError (``ProcessParameterInvalid``) for a value that cannot be one."""
    if type(value) in _SIMPLE or isinstance(value, _RUNTIME):
        return value
    if isinstance(value, xr.DataArray):
        return cube_from_xarray(value, name=name)
    if isinstance(value, xr.Dataset):
        _invalid(name, "is an xarray.Dataset; a data cube is one DataArray (a Dataset of "
                 "one variable per band is ds.to_dataarray(dim='bands'))")  # fmt: skip
    if isinstance(value, np.ndarray):
        return array_value(value, name, limits)
    if isinstance(value, np.generic):
        return _scalar(value)
    if isinstance(value, list) and _foreign(value):
        return [_item(v, name, limits) for v in value]
    if isinstance(value, dict) and _foreign(value.values()):
        return {k: _item(v, name, limits) for k, v in value.items()}
    return value


def _foreign(items: Any) -> bool:
    """Whether any of ``items`` is a numpy or xarray value: decided on the set of their
    types, which is one fast pass (37 ms for two million numbers) and a handful of
    subclass checks."""
    types = set(map(type, items))
    return not types <= _SIMPLE and any(issubclass(t, _FOREIGN) for t in types)


def _item(value: Any, name: str, limits: Any) -> Any:
    return parameter_value(value, name, limits) if isinstance(value, _FOREIGN) else value


def array_value(array: np.ndarray, name: str = "data", limits: Any = None) -> Any:
    """A numpy array as the openEO array it holds (nested lists; masked elements and NaT
    as None). One larger than the input limit of JSON values (``max_json_values``) is
    refused: as lists of Python numbers it would cost far more than as a cube."""
    from ..limits import Limits

    bound = (limits or Limits()).max_json_values
    if array.size > bound:
        _invalid(name, f"is a numpy array of {array.size} values, over the limit of {bound} "
                 "for an array; a data cube is an xarray.DataArray")  # fmt: skip
    missing = np.ma.getmaskarray(array) if isinstance(array, np.ma.MaskedArray) else None
    values = np.asarray(array)
    if values.dtype.kind == "M":
        missing = np.isnat(values) if missing is None else missing | np.isnat(values)
        values = np.vectorize(iso_date, otypes=[object])(values) if values.size else values
    if missing is None or not missing.any():
        return values.tolist()
    held = values.astype(object)
    held[missing] = None
    return held.tolist()


def cube_from_xarray(data: xr.DataArray, valid: Any = None, *, name: str = "data") -> Cube:
    """``data`` as a data cube (see the module docstring): no-data where ``valid`` (a
    boolean DataArray over some of ``data``'s dimensions, or a numpy array of its shape)
    is false, else NaN and the declared no-data value. ``data`` itself is not changed and
    its values are not copied.

    >>> da = xr.DataArray(np.array([1, 0], "uint16"), dims=["x"], attrs={"_FillValue": 0})
    >>> cube_from_xarray(da).to_python()
    [1, None]
    """
    if not isinstance(data, xr.DataArray):
        _invalid(name, f"must be an xarray.DataArray, not {type(data).__name__}")
    mapping_name = str(data.encoding.get("grid_mapping", data.attrs.get("grid_mapping",
                                                                        GRID_MAPPING)))  # fmt: skip
    mapping = data.coords.get(mapping_name)
    mapping_attrs = dict(mapping.attrs) if mapping is not None else {}
    crs = _crs_text(data, mapping_attrs, name)
    declared = _declared_nodata(data, name)
    out = data.copy(deep=False)  # new attributes and coordinates, the same values
    if mapping is not None and mapping_name not in out.dims:
        out = out.drop_vars(mapping_name)
    out = _with_grid(out.drop_encoding(), mapping_attrs, name)
    out = _with_axes(out)
    attrs = {k: v for k, v in data.attrs.items() if k not in (*FILL_ATTRIBUTES, "grid_mapping")}
    if crs is not None:
        attrs["crs"] = crs
    if declared is not None:
        attrs["nodata"] = declared
    out.attrs = attrs
    if valid is None:
        return Cube(out, _validity(out, declared))
    return Cube(out, _given_validity(out, valid, name))


def _invalid(name: str, message: str) -> None:
    raise PgcError([Diagnostic(INVALID, f"The value of parameter {echo(name)} {message}.",
                               argument=name)])  # fmt: skip


def _scalar(value: np.generic) -> Any:
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else iso_date(value)
    return value.item()


def _crs_text(data: xr.DataArray, mapping: dict, name: str) -> str | None:
    """The CRS ``data`` says, as pgc's cubes hold it (``attrs["crs"]``: an EPSG code as
    text where the CRS is exactly one, else WKT); None when it says none."""
    said: Any = next((mapping[k] for k in ("spatial_ref", "crs_wkt") if mapping.get(k)), None)
    if said is None and "grid_mapping_name" in mapping:
        try:
            from pyproj import CRS

            said = CRS.from_cf(mapping).to_wkt()
        except Exception:  # noqa: BLE001 - pyproj absent, or parameters it cannot read
            _invalid(name, "has a grid mapping whose CRS pgc cannot read (no WKT in "
                     "'crs_wkt' or 'spatial_ref')")  # fmt: skip
    if said is None:
        said = data.attrs.get("crs")
    if said is None or (isinstance(said, str) and not said.strip()):
        return None
    try:
        return normalized_crs(str(said) if isinstance(said, int | np.integer) else said)
    except (ValueError, TypeError):
        _invalid(name, f"has a CRS pgc cannot read ({echo(str(said)[:60])})")
    return None  # not reached


@lru_cache(maxsize=64)
def _normalized(text: str) -> str:
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    try:
        crs = CRS.from_user_input(f"EPSG:{text}" if text.isdigit() else text)
    except CRSError as exc:
        raise ValueError(str(exc)) from None
    code = crs.to_epsg(confidence_threshold=100)
    return str(code) if code is not None else crs.to_wkt()


def normalized_crs(crs: Any) -> str:
    """A CRS (EPSG code, WKT, PROJ text, or an object with ``to_wkt``) as pgc's cubes hold
    it: the EPSG code as text where the CRS is exactly that code, else WKT. Raises
    ValueError for one rasterio cannot read.

    >>> normalized_crs("EPSG:4326"), normalized_crs("32631")
    ('4326', '32631')
    """
    text = crs if isinstance(crs, str) else crs.to_wkt() if hasattr(crs, "to_wkt") else None
    if text is None:
        raise TypeError(f"not a CRS: {type(crs).__name__}")
    text = text.strip()
    return text if text.isdigit() else _normalized(text)


def _declared_nodata(data: xr.DataArray, name: str) -> Any:
    """The no-data value ``data``'s attributes declare (a number), or None."""
    said = next((data.attrs[k] for k in FILL_ATTRIBUTES if data.attrs.get(k) is not None), None)
    if said is None:
        return None
    if isinstance(said, np.ndarray) and said.size == 1:
        said = said.ravel()[0]
    if isinstance(said, bool | np.bool_):
        return bool(said)
    try:
        number = float(said)
    except (TypeError, ValueError):
        _invalid(name, f"declares a no-data value that is not a number ({echo(str(said)[:40])})")
    whole = math.isfinite(number) and number == int(number) and data.dtype.kind in "iub"
    return int(number) if whole else number


def _with_grid(data: xr.DataArray, mapping: dict, name: str) -> xr.DataArray:
    """``data`` with x and y labels from the grid mapping's GeoTransform where it has the
    dimensions but no coordinates for them (rioxarray's convention: pixel centres)."""
    lacking = [d for d in ("x", "y") if d in data.dims and d not in data.coords]
    text = mapping.get("GeoTransform")
    if not lacking or not text:
        return data
    try:
        c, a, b, f, d, e = (float(v) for v in str(text).split())
    except ValueError:
        _invalid(name, f"has a GeoTransform pgc cannot read ({echo(str(text)[:60])})")
    if b or d:
        _invalid(name, "has a rotated grid (GeoTransform); pgc's cubes have grids without "
                 "rotation")  # fmt: skip
    labels = {
        "x": c + (np.arange(data.sizes.get("x", 0)) + 0.5) * a,
        "y": f + (np.arange(data.sizes.get("y", 0)) + 0.5) * e,
    }
    return data.assign_coords({dim: labels[dim] for dim in lacking})


def _with_axes(data: xr.DataArray) -> xr.DataArray:
    """``data`` with the openEO type and axis of the dimensions CF's ``axis`` attribute
    says are x, y or z (where ``openeo:type`` does not say otherwise)."""
    said = {}
    for dim in data.dims:
        if dim not in data.coords or data.coords[dim].attrs.get(DIMENSION_TYPE):
            continue
        axis = str(data.coords[dim].attrs.get("axis", "")).lower()
        if axis in ("x", "y", "z"):
            said[dim] = axis
    for dim, axis in said.items():
        coord = data.coords[dim].copy(deep=False)
        coord.attrs = {**coord.attrs, DIMENSION_TYPE: "spatial", AXIS: axis}
        data = data.assign_coords({dim: coord})
    return data


def _validity(data: xr.DataArray, declared: Any) -> xr.DataArray:
    """Where ``data`` holds data: not NaN (floats) and not ``declared``. One scalar true
    where every pixel does, so that nothing after it (kernels, pgc.run's result) reads a
    mask: for floats that is decided by one pass that allocates nothing (``np.min`` is NaN
    exactly when a value is NaN)."""
    kind = data.dtype.kind
    if kind not in "biuf":
        return xr.DataArray(True)
    sentinel = declared is not None and not (isinstance(declared, float) and math.isnan(declared))
    values = data.data
    if not isinstance(values, np.ndarray):  # dask: lazily, chunk by chunk
        missing = xr.zeros_like(data, dtype=bool) if kind != "f" else np.isnan(data)
        return ~(missing | (data == declared)) if sentinel else ~missing
    has_nan = kind == "f" and values.size > 0 and bool(np.isnan(np.min(values)))
    missing = np.isnan(values) if has_nan else None
    if sentinel:
        equal = values == declared
        if equal.any():
            missing = equal if missing is None else missing | equal
    if missing is None:
        return xr.DataArray(True)
    return xr.DataArray(~missing, coords=data.coords, dims=data.dims)


def _given_validity(data: xr.DataArray, valid: Any, name: str) -> Any:
    """A mask given with the values: a boolean DataArray over some of their dimensions, a
    boolean numpy array of their shape, or one boolean."""
    if isinstance(valid, bool | np.bool_):
        return xr.DataArray(bool(valid))
    if isinstance(valid, np.ndarray) and valid.shape == data.shape:
        valid = xr.DataArray(valid, coords=data.coords, dims=data.dims)
    if not isinstance(valid, xr.DataArray) or valid.dtype.kind != "b":
        _invalid(name, "has a mask that is not booleans over the values' dimensions")
    if not set(valid.dims) <= set(data.dims):
        _invalid(name, f"has a mask over dimensions the values lack ({list(valid.dims)})")
    return valid


# -- out -----------------------------------------------------------------------------------


def result_value(value: Any) -> Any:
    """What ``pgc.run`` gives for a run-time value (see the module docstring)."""
    if isinstance(value, Cube):
        return to_dataarray(value)
    if isinstance(value, LabeledArray):
        return to_json(value)
    if isinstance(value, np.generic):
        return _scalar(value)
    if isinstance(value, list) and _produced(value):
        return [result_value(v) for v in value]
    if isinstance(value, dict) and _produced(value.values()):
        return {k: result_value(v) for k, v in value.items()}
    return value


def _produced(items: Any) -> bool:
    """Whether ``items`` (of a result list or object) hold values to convert: the
    executors' own, numpy values, or lists and objects that may hold them."""
    types = set(map(type, items))
    return not types <= _SIMPLE and any(
        issubclass(t, (*_RUNTIME, np.generic, np.ndarray, list, dict)) for t in types
    )


def to_dataarray(cube: Cube) -> xr.DataArray:
    """``cube`` as the ecosystem reads a raster (see the module docstring): its values with
    NaN for no-data (:meth:`Cube.filled`, no copy where every pixel holds float data), the
    CF grid mapping coordinate ``spatial_ref`` where the cube has a CRS, ``_FillValue``
    NaN for floats; the ``nodata`` of the loaded bands (which the values no longer hold)
    is gone."""
    filled = cube.filled()
    attrs = {k: v for k, v in filled.attrs.items() if k not in FILL_ATTRIBUTES}
    if filled.dtype.kind == "f":
        attrs["_FillValue"] = filled.dtype.type(np.nan)
    out = like(filled, filled.variable.data, attrs)  # the cube's own attributes stay as they are
    mapping = _grid_mapping(out)
    if mapping is None:
        return out
    out = out.assign_coords({GRID_MAPPING: mapping})
    out.encoding["grid_mapping"] = GRID_MAPPING  # where rioxarray writes and reads it
    return out


def _grid_mapping(data: xr.DataArray) -> xr.DataArray | None:
    """The CF grid mapping variable of ``data``'s CRS and (for a regular x/y grid of at
    least two pixels each way) transform; None without a CRS pgc can read."""
    crs = data.attrs.get("crs")
    if crs is None or crs == "":
        return None
    try:
        attrs = dict(_mapping_attrs(normalized_crs(str(crs))))
    except (ValueError, TypeError):
        return None
    transform = _geotransform(data)
    if transform is not None:
        attrs["GeoTransform"] = transform
    return xr.DataArray(np.int32(0), attrs=attrs)


@lru_cache(maxsize=64)
def _mapping_attrs(crs: str) -> tuple:
    """The grid mapping attributes of ``crs`` (pgc's text), without the transform: the
    same few CRSs come back run after run, and pyproj's CF parameters cost milliseconds."""
    from rasterio.crs import CRS

    attrs = grid_mapping_attrs(CRS.from_user_input(f"EPSG:{crs}" if crs.isdigit() else crs), None)
    return tuple(attrs.items())


def _geotransform(data: xr.DataArray) -> str | None:
    """GDAL's GeoTransform text of ``data``'s x/y grid (pixel centres, equally spaced, two
    or more each way), or None."""
    if not {"x", "y"} <= set(data.dims) or not {"x", "y"} <= set(data.coords):
        return None
    steps = []
    for dim in ("x", "y"):
        labels = data[dim].values
        if labels.size < 2 or labels.dtype.kind not in "iuf":
            return None
        diffs = np.diff(labels.astype("float64"))
        if not np.allclose(diffs, diffs[0], rtol=1e-9, atol=0):
            return None
        steps.append((float(labels[0]), float(diffs[0])))
    (x0, dx), (y0, dy) = steps
    return " ".join(repr(v) for v in (x0 - dx / 2, dx, 0.0, y0 - dy / 2, 0.0, dy))


def to_json(value: Any) -> Any:
    """``value`` (a run-time value, or what ``pgc.run`` returned) as JSON data: a vector
    cube as a GeoJSON FeatureCollection (in WGS84, RFC 7946, as ``save_result`` writes
    GeoJSON); a raster cube as openEO's JSON for data cubes (the encoding of the process
    test vectors: ``type``, ``order``, ``dimensions`` with ``type``, ``values``, ``axis``
    and ``reference_system``, ``data`` with null for no-data); a labeled array as
    ``{"type": "labeled-array", "data": [{"key", "value"}]}``; dates as ISO 8601. NaN and
    the infinities stay numbers (openEO values; Python's json writes them, strict JSON
    does not).

    >>> to_json(LabeledArray([1.5, None], ["B04", "B08"]))
    {'type': 'labeled-array', 'data': [{'key': 'B04', 'value': 1.5}, {'key': 'B08', 'value': None}]}
    """
    if isinstance(value, xr.DataArray):
        value = cube_from_xarray(value)
    if isinstance(value, Cube):
        if feature_table(value) is not None:
            return feature_collection(value)
        return _datacube(value)
    if isinstance(value, LabeledArray):
        return {
            "type": "labeled-array",
            "data": [
                {"key": _label(k), "value": to_json(v)}
                for k, v in zip(value.labels, value.values, strict=True)
            ],
        }
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, np.generic):
        return _scalar(value)
    return value


def _label(value: Any) -> Any:
    if isinstance(value, np.datetime64):
        return iso_date(value)
    return value.item() if isinstance(value, np.generic) else value


def _datacube(cube: Cube) -> dict:
    data = cube.data
    found = {dim: axis for axis, dim in axes(cube).items()}
    crs = data.attrs.get("crs")
    dimensions = {}
    for dim in data.dims:
        kind = dimension_type(cube, dim)
        labels = data[dim].values if dim in data.coords else np.arange(data.sizes[dim])
        entry: dict = {"type": kind, "values": [_label(v) for v in labels]}
        if kind == "spatial" and dim in found:
            entry["axis"] = found[dim]
            if crs:
                entry["reference_system"] = f"EPSG:{crs}" if str(crs).isdigit() else str(crs)
        dimensions[str(dim)] = entry
    values = to_json(cube.to_python())
    return {"type": "datacube", "order": [str(d) for d in data.dims], "dimensions": dimensions,
            "data": values}  # fmt: skip


def to_geodataframe(value: Any) -> Any:
    """A vector cube (what ``pgc.run`` returned for ``aggregate_spatial`` ..., or a cube)
    as a ``geopandas.GeoDataFrame``: one row per geometry, in the cube's CRS, its columns
    the input features' properties and the computed values (one per label of the other
    dimensions, named as in GeoJSON output). Needs geopandas, which pgc does not depend on.
    """
    try:
        import geopandas
        from shapely.geometry import shape
    except ImportError:
        raise ImportError("to_geodataframe needs geopandas (pip install geopandas)") from None
    cube = cube_from_xarray(value) if isinstance(value, xr.DataArray) else value
    table = feature_table(cube) if isinstance(cube, Cube) else None
    if table is None:
        raise ValueError("a GeoDataFrame holds a vector cube (geometries); this is not one")
    rows = [f["properties"] for f in feature_collection(cube)["features"]]
    index = table.ids if all(i is not None for i in table.ids) else None
    crs = f"EPSG:{table.crs}" if table.crs.isdigit() else table.crs
    geometry = [shape(g) for g in table.geometries]
    return geopandas.GeoDataFrame(rows, geometry=geometry, crs=crs, index=index)
