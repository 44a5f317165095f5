"""Type rules, one per process id: how each process maps argument types to its result type.

:data:`TYPE_RULES` maps every process id in ``specs/`` to a rule (a function of a
:class:`~pgc.ir.infer.RuleContext`). Rules state the process's effect on a cube's
dimensions, labels, extents, dtype and bands, following the process definitions, and raise
the definition's exceptions (``DimensionNotAvailable``, ``BandExists`` ...) when the types
already show the problem; where the definition names none, the openEO API's
``ProcessParameterInvalid`` (or ``NoDataAvailable``). Every rule first checks that no
argument computed by another node has a type its parameter schema rules out (a data cube
where a number is expected ...).

Conventions the rules share:

- dtype policy (the reference executor's): processes that only select or move values
  (filters, renames, ``resample_*`` with a selecting method, ``mask``) keep the dtype; any
  computation (a callback, band math, an average) gives float64 (float32 stays float32),
  except that a callback whose result is surely boolean gives ``bool`` (no-data in boolean
  cubes is the executor's business). Computed values lose the bands' raw-value metadata
  (nodata, scale, offset).
- Callback parameters see a cube's values as ``number|null`` (``boolean|null`` for bool
  cubes) and as ``any`` when the cube or its dtype is unknown.
- Array lengths: an :class:`ArrayType` whose ``dimension`` is ``d`` has one element per
  label of the cube dimension ``d``; an unlabeled array whose ``labels`` are not None
  carries its indices ``0..n-1`` there, i.e. its length (see :func:`~.base.array_length`).
- Geometry dimensions label geometries by their index in the GeoJSON they come from.

>>> from pgc.specs import load_specs
>>> sorted(TYPE_RULES) == load_specs().ids()
True
"""

from . import applying, combining, cubes, loading, values  # noqa: F401  (they fill TYPE_RULES)
from .base import FROM_RETURNS, TYPE_RULES, from_returns, rule

__all__ = ["FROM_RETURNS", "TYPE_RULES", "from_returns", "rule"]
