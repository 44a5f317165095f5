"""Processes that never mix pixels, run on each chunk alone by the dask executor (issue 9).

A chunk of a cube holds every date, band and other label of a block of ``y`` and ``x``.
A process whose value at a pixel depends only on that pixel of its cubes, along those
other dimensions, gives on a block what its whole result holds there:

    P(cube)[block] == P(cube[block])    for every block of y and x

(``aggregate_temporal_period`` of a block is the block of the aggregate, so is
``apply_dimension`` over ``t``, ``merge_cubes`` of two cubes on one grid, ...). So these
processes run here as the reference implements them, once per chunk, and no chunk waits
for another; the result keeps the chunks of its cubes. :data:`COLUMNS` lists them, with
the arguments that must not name ``y`` or ``x`` (``apply_dimension`` over ``x`` mixes
pixels: it runs whole).

Covered when every cube argument has ``y`` and ``x`` and all are chunked alike on one grid
(a computed cube is chunked like the others); callbacks may not hold cubes of an outer
scope (they would be shipped to every chunk). The reference's result on the corner pixel
of the cubes (zeros, all valid) gives the result's dimensions, labels and dtype without
reading anything; where that probe fails, or makes no cube with ``y`` and ``x``, the call
runs whole through the reference, which then gives its own result or error. An error a
chunk raises is the reference's, naming the node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import xarray as xr

from ..values import Cube
from .tasks import in_options

SPATIAL = ("y", "x")

# process id -> the arguments that, naming y or x, would make the process mix pixels
COLUMNS: dict[str, tuple[str, ...]] = {
    "add_dimension": ("name",),
    "aggregate_temporal": (),
    "aggregate_temporal_period": (),
    "anomaly": (),
    "apply": (),
    "apply_dimension": ("dimension", "target_dimension"),
    "climatological_normal": (),
    "drop_dimension": ("name",),
    "filter_labels": ("dimension",),
    "mask": (),
    "merge_cubes": (),
    "ndvi": (),
    "reduce_dimension": ("dimension",),
    "rename_dimension": ("source", "target"),
    "rename_labels": ("dimension",),
    "resample_cube_temporal": (),
}


# array processes whose result's length never depends on the values; an apply_dimension
# whose arrays could change length from pixel to pixel (sort dropping no-data, array_filter)
# runs whole: a chunk cannot know the length, nor the labels, the whole cube's result has
FIXED_LENGTH = frozenset(
    {"array_append", "array_apply", "array_concat", "array_interpolate_linear", "array_labels",
     "cummax", "cummin", "cumproduct", "cumsum", "extrema", "quantiles"}
)  # fmt: skip


def mixes_pixels(process_id: str, value_of: Any) -> bool:
    """Whether the call may mix pixels, or make labels that depend on the values: the
    process is not in :data:`COLUMNS`, an argument listed there names y or x, or it is an
    ``apply_dimension`` whose callback may change the arrays' length (``value_of(name)``:
    the argument's value; a callback's has a ``graph``)."""
    names = COLUMNS.get(process_id)
    if names is None or any(value_of(name) in SPATIAL for name in names):
        return True
    callback = value_of("process") if process_id == "apply_dimension" else None
    return callback is not None and not _fixed_length(callback.graph)


def _fixed_length(graph: Any) -> bool:
    """Whether every array the callback makes has a length independent of the values:
    scalar processes (but ``if``, which may pick arrays of two lengths), reducers, and the
    array processes of :data:`FIXED_LENGTH`, in its callbacks too."""
    from ...ir.nodes import Callback
    from ...specs import load_specs

    specs = load_specs()
    for node in graph.nodes():
        spec = specs.get(node.process_id) if not node.namespace else None
        kind = spec.traits.kind if spec is not None else None
        plain = kind in ("scalar", "reducer", "constant") and node.process_id != "if"
        if not plain and node.process_id not in FIXED_LENGTH:
            return False
        inner = [v.graph for _, v in node.arguments if isinstance(v, Callback)]
        if not all(_fixed_length(g) for g in inner):
            return False
    return True


def explain(node: Any) -> str | None:
    """How ``pgc explain --dask`` says the node runs, or None where it runs whole."""
    from ...ir.nodes import Literal

    def value_of(name: str) -> Any:  # literals as their values, callbacks as they are
        value = node.arg(name)
        return value.value if isinstance(value, Literal) else value

    if mixes_pixels(node.process_id, value_of):
        return None
    return "the reference on each chunk alone (it never mixes pixels)"


def columns(call: Any, options: Any) -> Cube | None:
    """The call run chunk by chunk, or None when it is not covered (see the module)."""
    from ..reference import Closure
    from .chunked import chunked_alike, is_lazy, rechunked_like

    if mixes_pixels(call.node.process_id, call.args.get):
        return None
    cubes = {k: v for k, v in call.args.items() if isinstance(v, Cube)}
    like = next((c.data for c in cubes.values() if is_lazy(c)), None)
    if like is None or not all(set(SPATIAL) <= set(c.dims) for c in cubes.values()):
        return None
    others, closures = {}, {}
    for name, value in call.args.items():
        if name in cubes:
            continue
        if isinstance(value, Closure):
            if _holds_cube(value.scope):
                return None
            closures[name] = (value.graph, value.scope)
        elif _holds_cube(value):
            return None
        else:
            others[name] = value
    cubes = {name: rechunked_like(cube, like) for name, cube in cubes.items()}
    if not all(chunked_alike(c.data, like) for c in cubes.values()):
        return None
    dataset = xr.Dataset()
    for i, cube in enumerate(cubes.values()):  # each cube's own labels: no alignment
        own = {d: f"{d}.{i}" for d in cube.dims if d not in SPATIAL}
        # and its own coordinates along them (band metadata, pgc.data.bands): renamed too
        along = {c: f"{c}.{i}" for c, v in cube.data.coords.items()
                 if c not in cube.dims and set(v.dims) & set(own)}  # fmt: skip
        dataset[f"data{i}"] = cube.data.rename({**own, **along}).copy(deep=False)
        dataset[f"data{i}"].attrs = {}
        valid = cube.valid.drop_vars([c for c in along if c in cube.valid.coords])
        dataset[f"valid{i}"] = valid.rename({d: n for d, n in own.items() if d in valid.dims})
    task = _Task(
        call.node,
        [(name, list(cube.dims), dict(cube.data.attrs)) for name, cube in cubes.items()],
        others,
        closures,
        (call.context.python_udf, call.context.udf_timeout),
    )
    from .chunked import blockwise, corner_probe, result_template

    try:
        probe = task(corner_probe(dataset))
    except Exception:  # the reference decides, on the whole cubes
        return None
    if probe is None or any(probe.sizes[d] != 1 for d in SPATIAL):  # not the corner's pixel
        return None
    # the task as an argument: dask names the result by its value (a bound method would be
    # named by the method alone, and two calls' results would share one name)
    template = result_template(probe, like)
    result = blockwise(in_options(_or_fail), dataset, (task,), template)
    data = result["data"]
    data.attrs = dict(probe["data"].attrs)
    return Cube(data, result["valid"])


def _holds_cube(value: Any) -> bool:
    if isinstance(value, Cube):
        return True
    if isinstance(value, dict):
        return any(_holds_cube(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_holds_cube(v) for v in value)
    return False


@dataclass(frozen=True)
class _Task:
    """The call on one chunk: picklable (a worker process of a cluster runs it)."""

    node: Any
    cubes: list  # (argument, its dimensions, its attributes) of each cube argument
    others: dict  # the other arguments' values
    closures: dict  # argument -> (graph, scope) of each callback
    udf: tuple  # (python_udf, udf_timeout) of the run

    def __call__(self, block: xr.Dataset) -> xr.Dataset | None:
        """The reference's result on ``block``: ``data`` and ``valid`` over every dimension,
        or None when it is not a cube with y and x."""
        from ..reference import IMPLEMENTATIONS, Call, Closure, RunContext, load_implementations

        load_implementations()
        context = RunContext(python_udf=self.udf[0], udf_timeout=self.udf[1])
        args = dict(self.others)
        for name, (graph, scope) in self.closures.items():
            args[name] = Closure(graph, scope, context)
        for i, (name, dims, attrs) in enumerate(self.cubes):
            data, valid = block[f"data{i}"], block[f"valid{i}"]
            back = {f"{d}.{i}": d for d in dims if d not in SPATIAL}
            back.update({c: c.removesuffix(f".{i}") for c in data.coords
                         if c not in back and c.endswith(f".{i}")})  # fmt: skip
            data = data.rename(back).transpose(*dims)
            data.attrs = attrs
            valid = valid.rename({k: v for k, v in back.items()
                                  if k in valid.dims or k in valid.coords})  # fmt: skip
            args[name] = Cube(data, valid)
        out = IMPLEMENTATIONS[self.node.process_id](Call(self.node, args, context))
        if not isinstance(out, Cube) or not set(SPATIAL) <= set(out.dims):
            return None
        out = out.in_order()
        return xr.Dataset({"data": out.data, "valid": out.full_valid()})


def _or_fail(block: xr.Dataset, task: _Task) -> xr.Dataset:
    from ..reference import ProcessError, node_error

    try:
        out = task(block)
    except ProcessError as exc:  # the reference's error, naming the node
        raise node_error(task.node, exc.code, exc.message, exc.argument) from None
    if out is None:  # the probe made a cube: every chunk makes one
        raise RuntimeError(f"{task.node.id}: a chunk the reference made no cube of")
    return out


FORMS = dict.fromkeys(COLUMNS, columns)


def first_of(*fns: Any) -> Any:
    """A function giving the first result of ``fns`` that is not None (a process with two
    chunked forms, or two explanations of one: the more specific first)."""
    return lambda *args: next((out for fn in fns if (out := fn(*args)) is not None), None)
