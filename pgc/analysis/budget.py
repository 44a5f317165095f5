"""The budget of a graph, checked from its types before anything runs (issue 16).

The typed IR knows, for every node, the dimensions, labels and dtype of the value it makes:
a data cube's bytes (``CubeType.nbytes``) and an array's length are known before a pixel is
read. A graph whose plan holds a value over the budget (:class:`pgc.limits.Limits`) is
refused with openEO's ``ProcessGraphComplexity``, naming the node and the estimated size,
instead of trying to allocate it (a ``resample_spatial`` to 0.0001 m that the plan itself
sizes at exabytes). Sizes the types cannot know (labels that depend on the data) are
checked again while running (:func:`check_cube`, called by the reference executor).

>>> from pgc.compiler import compile
>>> from pgc.limits import Limits
>>> graph = {"a": {"process_id": "array_create", "arguments": {"data": [1], "repeat": 5},
...           "result": True}}
>>> plan = compile(graph, pipeline="none")
>>> [d.code for d in check_budget(plan.graph, Limits(max_array_length=4))]
['ProcessGraphComplexity']
"""

from __future__ import annotations

from ..errors import Diagnostic
from ..ir.graph import Graph
from ..ir.nodes import Node
from ..ir.types import ArrayType, CubeType, format_bytes
from ..limits import Limits

CODE = "ProcessGraphComplexity"


def check_budget(graph: Graph, limits: Limits) -> list[Diagnostic]:
    """A diagnostic for each node of ``graph`` (child graphs included) whose value's size,
    as its type estimates it, is over ``limits``."""
    problems = []
    kernels = set()
    for _, node in graph.walk():
        message = over_budget(node.type, limits)
        if message is not None:
            problems.append(_at(node, message))
        if node.is_kernel:
            kernels.add(repr(node.arg("expression")))  # the same expression: one kernel
            if len(kernels) == limits.max_kernels + 1:  # reported once, where it tips over
                message = (
                    f"makes fused kernel number {len(kernels)}, over the budget of "
                    f"{limits.max_kernels} distinct kernels for one request"
                )
                problems.append(_at(node, message))
    return problems


def over_budget(value_type: object, limits: Limits) -> str | None:
    """Why a value of ``value_type`` is over the budget, or None."""
    if isinstance(value_type, CubeType):
        size = value_type.nbytes
        if size is not None and size > limits.max_cube_bytes:
            shape = " x ".join(d.describe() for d in value_type.dimensions)
            return (
                f"makes a data cube of about {format_bytes(size)} ({shape}), over the budget "
                f"of {format_bytes(limits.max_cube_bytes)} for one value: make the extent, "
                "the dates, the bands or the resolution smaller"
            )
    labels = value_type.labels if isinstance(value_type, ArrayType) else None
    if labels is not None and len(labels) > limits.max_array_length:
        return (
            f"makes an array of {len(labels)} elements, over the budget of "
            f"{limits.max_array_length}"
        )
    return None


def _at(node: Node, message: str) -> Diagnostic:
    name = node.origin.node_id if node.origin else node.id
    return Diagnostic(
        CODE,
        f"Node '{name}' ({node.process_id}) {message}.",
        node.origin.pointer if node.origin else "",
        node_id=name,
        process_id=node.process_id,
    )
