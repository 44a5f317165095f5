"""Where a result lies: its CRS and grid, as GeoTIFF and CF-netCDF readers expect them.

A raster cube's values carry their CRS in ``attrs["crs"]`` (an EPSG code as text,
``"32631"``, or WKT) and their grid in the x and y coordinates (pixel centres, equally
spaced). GeoTIFF stores both in its header; netCDF by the CF conventions (CF 1.8, section
5.6), which GDAL/QGIS and xarray+rioxarray read: a *grid mapping* variable (``spatial_ref``)
holding the CRS as ``crs_wkt`` (CF) and ``spatial_ref`` (GDAL) plus the CF projection
parameters and GDAL's ``GeoTransform``; every data variable names it in ``grid_mapping``; x
and y are coordinate variables with ``standard_name`` ``projection_x_coordinate`` (or
``longitude`` for geographic CRSs) and units.

>>> import numpy as np, xarray as xr
>>> from pgc.executors.values import Cube
>>> data = xr.DataArray(np.zeros((2, 3)), dims=["y", "x"], attrs={"crs": "32631"},
...                     coords={"y": [5695.0, 5685.0], "x": [600005.0, 600015.0, 600025.0]})
>>> cube = Cube(data, xr.DataArray(True))
>>> crs_of(cube).to_epsg(), tuple(transform_of(cube))[:6]
(32631, (10.0, 0.0, 600000.0, 0.0, -10.0, 5700.0))
"""

from __future__ import annotations

from typing import Any

GRID_MAPPING = "spatial_ref"  # the grid mapping variable's name (GDAL's and rioxarray's)


def crs_of(cube: Any) -> Any:
    """The CRS of ``cube``'s values as a ``rasterio.crs.CRS``, or None when it has none."""
    from rasterio.crs import CRS

    crs = cube.data.attrs.get("crs")
    if crs is None or crs == "":
        return None
    text = str(crs)
    return CRS.from_user_input(f"EPSG:{text}" if text.isdigit() else text)


def transform_of(cube: Any, options: dict | None = None) -> Any:
    """The affine transform of ``cube``'s x/y grid (pixel corners, GDAL's convention); a
    single pixel is ``options["resolution"]`` (default 10) wide."""
    from affine import Affine

    data = cube.data
    if not {"x", "y"} <= set(data.dims):
        raise ValueError("a raster file needs a cube with x and y dimensions")
    x, y = data.x.values, data.y.values
    step_x = float(x[1] - x[0]) if len(x) > 1 else float((options or {}).get("resolution", 10))
    step_y = float(y[1] - y[0]) if len(y) > 1 else -step_x
    return Affine(step_x, 0.0, float(x[0]) - step_x / 2, 0.0, step_y, float(y[0]) - step_y / 2)


def grid_mapping_attrs(crs: Any, transform: Any) -> dict:
    """The attributes of the CF grid mapping variable for ``crs`` (rasterio) and
    ``transform``: the WKT for GDAL and rioxarray, and CF's ``grid_mapping_name`` and
    projection parameters where pyproj is installed (it is not a dependency of pgc; the
    readers named above need only the WKT)."""
    wkt = crs.to_wkt()
    attrs = {}
    try:
        from pyproj import CRS

        attrs = {k: v for k, v in CRS.from_wkt(wkt).to_cf().items() if k != "crs_wkt"}
    except ImportError:
        pass
    attrs.update(crs_wkt=wkt, spatial_ref=wkt)
    if transform is not None:  # GDAL's order: x0 dx rx y0 ry dy
        t = transform
        attrs["GeoTransform"] = " ".join(repr(float(v)) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    return attrs


def axis_attrs(crs: Any, axis: str) -> dict:
    """CF attributes of the ``x`` or ``y`` coordinate in ``crs`` (None: no CRS known)."""
    if crs is not None and crs.is_geographic:
        name, units = (
            ("longitude", "degrees_east") if axis == "x" else ("latitude", "degrees_north")
        )
        return {"standard_name": name, "long_name": name, "units": units, "axis": axis.upper()}
    attrs = {
        "standard_name": f"projection_{axis}_coordinate",
        "long_name": f"{axis} coordinate of projection",
        "axis": axis.upper(),
    }
    unit = _linear_unit(crs)
    if unit:
        attrs["units"] = unit
    return attrs


def _linear_unit(crs: Any) -> str | None:
    """The unit of a projected CRS's axes as CF writes it (``m``), or None when unknown."""
    if crs is None:
        return None
    try:
        unit = crs.linear_units
    except Exception:  # noqa: BLE001 - a CRS GDAL cannot say the unit of
        return None
    if not unit or unit == "unknown":
        return None
    return {"metre": "m", "meter": "m", "foot": "ft", "US survey foot": "us_survey_foot"}.get(
        unit, unit
    )
