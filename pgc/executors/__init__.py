"""Executors: the reference (numpy/xarray, the semantic oracle); numba and dask follow."""
