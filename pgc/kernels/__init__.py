"""Fused elementwise kernels: the scalar expression IR, numba code generation, the cache."""
