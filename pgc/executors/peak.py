"""The peak memory of a run on the reference or numba executor, estimated from the types of
its plan before anything is read (issue 23): what :mod:`pgc.executors.choice` weighs to send
a run to the dask executor.

The node loop (:mod:`pgc.executors.reference.loop`) runs the nodes in order and drops a
value after its last reader (the result is kept); a graph with a lazy ``if`` keeps every
value. The estimate walks the plan the same way and takes the largest sum of the values
alive at once -- after a node has run, before the values it read last are dropped -- each
held as the loop holds a :class:`~pgc.executors.values.Cube`:

- its values: ``CubeType.nbytes``;
- its validity, a bool per element: a loaded cube's is a full mask where its values hold
  the no-data value (``Cube.from_nodata``), and a process's result has one wherever a
  pixel may lack data, neither of which the types say; so it is counted for every cube
  (an upper bound: values without no-data have one true);
- for integer values that a process computes with (a reader whose result is a float
  cube: band math, kernels, reducers), their copy in the compute dtype (8 bytes per
  element under float64), which the cube keeps once made (``Cube.in_compute_dtype``);
  readers that keep the dtype (``filter_bands``, ``mask``), that convert slice by slice
  (``resample_spatial``, ``resample_cube_spatial``, ``apply_kernel``) or make booleans read
  the integers as they are.

An ``apply_kernel`` whose one reader is a fused kernel that folds no spatial dimension
counts :data:`STENCIL_BAND_BYTES`: the numba executor computes it band of rows by band of
rows as the kernel reads it (:class:`pgc.executors.numba.stencil.DeferredStencil`; the
reference executor runs only kernels too small for that to matter).

Not counted: values that are not data cubes (numbers, arrays, ``save_result``'s), the
parameters (the caller holds them whichever executor runs), and what a process makes
while it runs and drops before it returns. That last term is what the estimate misses
most: against the peak resident memory of ``pgc run`` (``python -m benchmarks
workflows``, 12 dates, a process of about 0.3 GB before it reads anything), the estimate
at 2048 px is 2.2 GB for composite_median (measured 1.4 GB with numba, 1.9 GB with the
reference), 2.9 GB for seasonal (2.0, 2.2), 1.0 GB for count_clear (1.1, 1.1) and 4.1 GB
for merge (3.2, 3.2), but 2.1 GB for gap_fill, whose ``array_interpolate_linear`` over
time took 5.3 GB while it made its temporaries for the whole cube at once (1.7 GB since
it goes block by block). A cube of unknown size counts ``unknown`` elements (the largest array
among the parameters).

>>> from pgc.ir.types import CubeType, Dimension
>>> x = Dimension("x", "spatial", axis="x", labels=tuple(range(1000)))
>>> held_bytes(CubeType((x,), dtype="uint16"), computed=True)  # 2 + 1 + 8 bytes an element
11000
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# the bytes of sums a deferred apply_kernel holds at once (pgc.executors.numba.stencil)
STENCIL_BAND_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Peak:
    """The estimated peak in bytes, and the node after which it is reached (None: an
    empty plan)."""

    bytes: int
    node: str | None


def held_bytes(
    cube: Any, unknown: int = 0, compute_itemsize: int = 8, computed: bool = False
) -> int:
    """The bytes a run holds for a value of type ``cube`` (0: not a data cube), with its
    copy in the compute dtype (``compute_itemsize`` bytes an element) where ``computed``
    and its values are integers."""
    from ..ir.types import ITEMSIZE, CubeType

    if not isinstance(cube, CubeType):
        return 0
    elements = cube.pixels if cube.pixels is not None else unknown
    values = cube.nbytes if cube.nbytes is not None else elements * ITEMSIZE.get(cube.dtype, 8)
    integers = cube.dtype.startswith(("int", "uint"))
    return values + elements + (elements * compute_itemsize if computed and integers else 0)


def peak(graph: Any, unknown: int = 0, compute_itemsize: int = 8) -> Peak:
    """The estimated peak memory of running ``graph`` (None: an empty plan) in the node
    loop; ``unknown``: the elements of a cube whose type does not know its size."""
    if graph is None:
        return Peak(0, None)
    nodes = graph.branch_order()  # as the loop runs them
    position = {node.id: i for i, node in enumerate(nodes)}
    # the loop keeps every value of a graph with a lazy ``if`` (its readers may run late)
    keep = any(node.process_id == "if" and node.namespace is None for node in nodes)
    last: dict[str, int] = {}
    held: dict[str, int] = {}
    for node in nodes:
        users = [graph.node(u) for u in graph.users(node.id)]
        last[node.id] = max((position[u.id] for u in users), default=position[node.id])
        held[node.id] = held_bytes(node.type, unknown, compute_itemsize,
                                   any(_computes(u) for u in users))  # fmt: skip
        if _in_bands(node, users):
            held[node.id] = min(held[node.id], STENCIL_BAND_BYTES)
    # a running total, and the values to drop after each position: linear in the nodes
    # (a graph from the internet may have thousands, all alive at once)
    dying: dict[int, list[str]] = {}
    for node_id, at in last.items():
        if not keep and node_id != graph.result:
            dying.setdefault(at, []).append(node_id)
    total = 0
    best = Peak(0, None)
    for i, node in enumerate(nodes):
        total += held[node.id]
        if total > best.bytes:
            best = Peak(total, node.id)
        total -= sum(held[gone] for gone in dying.get(i, ()))
    return best


# readers of integers whose result is float but which convert them slice by slice, not
# into a copy the cube keeps (:mod:`pgc.executors.reference.resample`; apply_kernel plane
# by plane, :class:`pgc.executors.reference.cube.Weighing`)
_SLICE_BY_SLICE = {"resample_spatial", "resample_cube_spatial", "apply_kernel"}


def _in_bands(node: Any, users: list) -> bool:
    """Whether ``node`` is an apply_kernel that its one reader, a fused kernel folding no
    spatial dimension and picking nothing along one, computes band by band."""
    from ..ir.types import CubeType

    if node.process_id != "apply_kernel" or node.namespace is not None or len(users) != 1:
        return False
    reader = users[0]
    if not reader.is_kernel:
        return False
    if not isinstance(node.type, CubeType):
        return False
    spatial = {d.name for d in node.type.dimensions if d.type == "spatial"}
    reduce = reader.literal("reduce")
    if isinstance(reduce, dict) and reduce.get("dimension") in spatial:
        return False
    return not any(spec[1] in spatial for spec in reader.literal("inputs") or [])


def _computes(reader: Any) -> bool:
    """Whether a reader node computes in the compute dtype: a float cube, made by a
    process that converts the whole cube."""
    from ..ir.types import CubeType

    if reader.process_id in _SLICE_BY_SLICE and reader.namespace is None:
        return False
    return isinstance(reader.type, CubeType) and reader.type.dtype.startswith("float")
