"""The reference form of the fuse-elementwise pass's ``pgc::kernel`` nodes."""

from __future__ import annotations

from typing import Any

from .loop import Call
from .table import implements


@implements("pgc::kernel")
def kernel_body(call: Call) -> Any:
    """A fused kernel as the reference runs it: the nodes it replaced, over its sources.
    The numba executor runs the compiled loop instead (:func:`pgc.executors.numba.fused_hook`)."""
    return call.callback("body")(**call.get("sources"))
