"""Which executor runs a plan when the caller does not say (``executor="auto"``, issue 23).

Decided from the types of the plan lowered for the numba executor (its ``pgc::kernel``
nodes are the per-pixel work fused into one pass), before anything is read:

1. **dask** when the run's estimated peak memory (:func:`pgc.executors.peak.peak`: the
   values alive at once as the node loop drops them, with their validity and the compute
   dtype copy of integers) is over :data:`PEAK_SHARE` of the machine's memory: the
   reference and numba executors hold whole values, dask goes chunk by chunk. Measured
   with ``python -m benchmarks workflows`` on this machine (25 GB, 2 cores; 12 dates):
   at 4096 px ``pgc run`` on numba ran out of memory on gap_fill (estimate 8.5 GB) where
   dask took 3.1 GB, and was slower and larger on seasonal (11.7 GB estimated; 39 s and
   7.0 GB against dask's 25 s and 1.4 GB) and composite_median (8.9 GB; 40 s, 4.8 GB
   against 20 s, 1.1 GB), though no value there is over 2 GB; at 2048 px numba or the
   reference beat dask on every workflow, with estimates up to 4.1 GB (merge). A quarter
   leaves room for what the estimate misses: what a process makes while it runs, which
   took gap_fill to 2.5 times its estimate (5.3 GB measured at 2048 px, before its
   interpolation went block by block), and the other
   work on a shared machine. The largest value alone is no longer a rule: it is part of
   the peak. Only a plan that reads its data with ``load_collection``, which dask reads
   chunk by chunk, goes to dask: values given in memory are held whole whichever executor
   runs, and at 4096 px (``pgc.run`` on the arrays, the benchmark's ``mem``) dask held as
   much or more than numba and took up to 5x its time (seasonal 25 s and 8.7 GB against
   7.8 s and 6.7 GB; kernel_smooth 6.7 s against 1.3 s).
2. **numba** when a fused kernel computes at least :data:`NUMBA_ELEMENTS` elements (its
   inputs' or its result's, whichever is larger): below that, importing numba and loading
   the cached kernels cost more than the pass they save. Measured with
   ``python -m benchmarks workflows`` (fresh ``pgc run`` processes, this 2-core machine):
   numba adds about 0.45 s to a run; it loses at 5 million elements (NDVI composite at
   512 px: 2.28 s against the reference's 1.82 s) and wins at 84 million (NDVI composite
   at 2048 px: 3.82 s against 6.34 s). It broke even at about 25 million (EVI at 2048 px:
   3.30 s against 3.44 s) until the reference got faster (at 792e1f2: EVI 2.28 s with
   numba against 2.02 s; count_clear, 50 million, 1.83 s against 2.79 s): numba from
   2**25 then.
3. **numba** for a *hot* plan (one this process ran before: a library's, a back-end's,
   the next tile's) when a fused kernel computes at least :data:`HOT_ELEMENTS` elements:
   importing numba and loading or compiling the kernels is then paid once for every run
   to come, and a warm kernel run costs about 0.4 ms besides its pass, where the
   reference executor's node-by-node numpy takes 4 ms on 100 x 100 px and 80x the
   memory-bandwidth bound on 1000 x 1000 px (EVI, ``python -m benchmarks``). A plan run
   once (``pgc run``: one graph per process) is judged by rule 2 alone.
4. **reference** otherwise: nothing to fuse, or too little for numba to pay.

Where the types do not know a size (a cube given as a parameter), the largest array among
the parameters stands for it. Every reason says the estimated peak.

>>> choose(None, parameter_elements=0).executor
'reference'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

NUMBA_ELEMENTS = 2**25  # ~33.6 million: e.g. 2048 x 2048 x 8 dates (see the module)
HOT_ELEMENTS = 2**20  # ~1 million: 1024 x 1024 px of one band
PEAK_SHARE = 1 / 4  # of the memory: over it, dask (see the module)


@dataclass(frozen=True)
class Choice:
    """The executor chosen and why, in a sentence ``explain`` and ``--stats`` show."""

    executor: str
    reason: str


def memory_bytes() -> int:
    """The machine's physical memory (0 where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def parameter_elements(parameters: Any) -> int:
    """The element count of the largest array-like parameter (a cube given in memory)."""
    largest = 0
    if not isinstance(parameters, dict):  # the parameters' check says what is wrong
        return 0
    for value in parameters.values():
        data = getattr(value, "data", value)
        size = getattr(data, "size", None)
        if isinstance(size, int):
            largest = max(largest, size)
    return largest


def choose(
    graph: Any, parameter_elements: int = 0, memory: int | None = None, hot: bool = False
) -> Choice:
    """The executor for ``graph`` (a plan's graph lowered with the kernels; None: an empty
    plan); ``hot``: the plan ran before in this process (rule 3)."""
    from ..dtypes import compute_dtype
    from ..ir.types import ITEMSIZE, format_bytes
    from .peak import peak

    memory = memory_bytes() if memory is None else memory
    nodes = list(graph.nodes()) if graph is not None else []
    estimate = peak(graph, parameter_elements, ITEMSIZE.get(compute_dtype(), 8))
    limit = int(memory * PEAK_SHARE)
    reads = any(n.process_id == "load_collection" and n.namespace is None for n in nodes)
    if memory and estimate.bytes > limit and reads:
        return Choice("dask", f"the estimated peak memory ({format_bytes(estimate.bytes)}, after "
                      f"node {estimate.node}) is over {PEAK_SHARE:.3g} of the memory "
                      f"({format_bytes(memory)})")  # fmt: skip
    held = f"; estimated peak memory {format_bytes(estimate.bytes)}" + (
        f" (dask from {format_bytes(limit)})" if memory else "")  # fmt: skip
    if memory and estimate.bytes > limit:  # (rule 1's last sentence)
        held += ", but dask reads no data here chunk by chunk (no load_collection)"
    kernels = [n for n in nodes if n.is_kernel]
    if not kernels:
        return Choice("reference", "no per-pixel work to fuse" + held)
    work = max(_elements(graph, k, parameter_elements) for k in kernels)
    if work >= NUMBA_ELEMENTS:
        return Choice("numba", f"{len(kernels)} fused kernel(s), the largest over {work:,} "
                      f"elements (numba from {NUMBA_ELEMENTS:,}){held}")  # fmt: skip
    if hot and work >= HOT_ELEMENTS:
        return Choice("numba", f"{len(kernels)} fused kernel(s), the largest over {work:,} "
                      f"elements, in a plan run before (numba from {HOT_ELEMENTS:,} for "
                      f"those){held}")  # fmt: skip
    return Choice("reference", f"{len(kernels)} fused kernel(s) over at most {work:,} elements, "
                  f"too few for numba to pay (from {NUMBA_ELEMENTS:,}; "
                  f"{HOT_ELEMENTS:,} in a plan run before){held}")  # fmt: skip


def _elements(graph: Any, kernel: Any, unknown: int) -> int:
    """The elements a kernel computes: its result's or its largest input's."""
    from ..ir.types import CubeType

    counts = []
    for node in [kernel, *(graph.node(ref) for ref in dict.fromkeys(kernel.node_refs()))]:
        pixels = node.type.pixels if isinstance(node.type, CubeType) else None
        counts.append(pixels if pixels is not None else unknown)
    return max(counts, default=unknown)
