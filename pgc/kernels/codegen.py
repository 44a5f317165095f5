"""numba code for a kernel expression, and the kernel cache.

A kernel is one function that walks every pixel once (``prange`` over the first
dimension: parallel over pixels), reads each input band's value and validity once, computes
the expression and writes the value and validity once. Values are in the compute dtype
inside (:mod:`pgc.dtypes`: float64 unless set to float32; integer
bands are promoted as in the reference executor); a boolean expression writes a bool array.
Where the result is no-data the value written is 0, as the reference executor keeps it.

Compiled with ``error_model="numpy"`` (division by zero gives inf/NaN as in numpy, not an
exception) and without fastmath, so NaN checks and IEEE results stay exact. The statements
are simplified before numba sees them (:mod:`pgc.kernels.simplify`: validity that is
always true folds away, unused numbers of booleans go).

Cache: kernels are Python modules written under ``$PGC_CACHE_DIR/kernels`` (default
``~/.cache/pgc/kernels``), named by the structural hash of their expression, the dtype and
a hash of how they read their inputs (dimensions, picks, validity, reduction), and compiled
by numba with ``cache=True``: a second process loads the machine code from disk instead of
compiling. Within a process, loaded kernels are kept in memory. Both are bounded
(:data:`MAX_LOADED`, :data:`MAX_FILES`), and the folder is private (mode 0700, this
user's): pgc imports what it finds there.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import stat
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .expr import BINARY, UNARY, Expr
from .simplify import simplify

# Bounds of the cache: kernels kept loaded in this process (least recently used go first),
# and kernel modules kept on disk (oldest first, with numba's cached machine code). A graph
# makes a few kernels; a back-end serving many users sees many graphs.
MAX_LOADED = 256
MAX_FILES = 2048
_LOADED: OrderedDict[str, Any] = OrderedDict()
_LOCK = threading.Lock()
_PRIVATE: dict[str, Path] = {}  # cache folders checked private, by the folder asked for


@dataclass
class KernelStats:
    """What the kernels of a run cost: compile (first call per signature) and run time."""

    compile_seconds: float = 0.0
    run_seconds: float = 0.0
    kernels: list[str] = field(default_factory=list)  # the keys of the kernels that ran


def cache_dir() -> Path:
    """Where kernel modules are written: ``kernels`` under the active options' cache
    folder (:meth:`pgc.Options.cache_root`)."""
    from ..options import active

    return active().cache_root() / "kernels"


@dataclass(frozen=True)
class Input:
    """How a kernel reads one input: ``value`` and ``valid`` are index expressions into
    the input's array and its validity array (``valid`` None: every pixel has data), made
    of the kernel's loop variables (``i0`` ..., ``iL`` and ``t_`` in reductions), ``p{j}``
    (the position of a picked element, passed when the kernel is called) and ``0`` (an
    axis the validity does not have). The kernel reads whole source arrays, not views of
    picked bands: numba then knows their layout (C-contiguous) and vectorizes the inner
    loop."""

    value: str
    valid: str | None = None
    pick: bool = False


def default_inputs(n_inputs: int, ndim: int, masked: tuple | None = None) -> list[Input]:
    """Inputs that are arrays of the output's shape, indexed by the loops (``explain``)."""
    index = "[" + ", ".join(f"i{d}" for d in range(ndim)) + "]"
    masked = masked if masked is not None else (True,) * n_inputs
    return [Input(index, index if m else None) for m in masked]


def signature(inputs: list[Input]) -> str:
    """The kernel's parameters for ``inputs`` (before ``out``)."""
    params = []
    for j, item in enumerate(inputs):
        params.append(f"in{j}")
        if item.valid is not None:
            params.append(f"ok{j}")
        if item.pick:
            params.append(f"p{j}")
    return ", ".join(params)


def always_valid(expr: Expr, masked: tuple[bool, ...]) -> bool:
    """Whether every pixel of the result has data: no input has a mask, no operand is a
    literal null and no ``mask`` replaces with null (every process then gives data for
    data)."""
    if any(masked) or expr.holds_null:
        return False
    return not any(item.op == "mask" and not item.params for item in expr.nodes())


def statements(expr: Expr, inputs: list[Input], dtype: str) -> tuple[list[str], str, str]:
    """The statements computing ``expr`` for one pixel, and the names of its value and
    validity."""
    lines: list[str] = []
    names: dict[Expr, tuple[str, str]] = {}
    fixed = _emit(expr, lines, names, inputs)
    value, valid = names[expr]
    lines = [
        line.replace("FLOAT(", f"np.{dtype}(").replace("WIDE(", "np.float64(") for line in lines
    ]
    lines, known = simplify(lines, {value, valid})
    value = str(known.get(value, value))
    if fixed and not expr.boolean:
        value = f"np.{dtype}({value})"  # a result that reads no pixel, in the output's dtype
    return lines, value, str(known.get(valid, valid))


def source(expr: Expr, ndim: int, inputs: list[Input], dtype: str = "float64") -> str:
    """The Python source of the numba kernel for ``expr`` writing ``ndim``-dimensional
    output, computing in ``dtype`` (the dtype policy). A result that always has data
    writes no validity (the kernel then has no ``out_ok``). Validity is combined with
    ``&``/``|``, not short-circuit ``and``/``or``, so the loop has no branches to stop
    vectorizing."""
    lines, value, valid = statements(expr, inputs, dtype)
    index = ", ".join(f"i{d}" for d in range(ndim))
    out_value = f"({value} != 0.0)" if expr.boolean else value
    full = always_valid(expr, tuple(i.valid is not None for i in inputs))
    params = signature(inputs)
    body = [
        "import numpy as np",
        "from numba import njit, prange",
        "",
        "",
        f"# {expr}",
        '@njit(parallel=True, cache=True, error_model="numpy")',
        f"def kernel({params}, out):" if full else f"def kernel({params}, out, out_ok):",
    ]
    loops, indent = row_loops(ndim - 1, "    ")
    body += loops
    last = "prange" if ndim == 1 else "range"
    body.append(f"{indent}for i{ndim - 1} in {last}(out.shape[{ndim - 1}]):")
    indent += "    "
    body += [indent + line for line in lines]
    if full:
        body.append(f"{indent}out[{index}] = {out_value}")
        return "\n".join(body) + "\n"
    body.append(f"{indent}out_ok[{index}] = {valid}")
    zero = "False" if expr.boolean else f"np.{dtype}(0.0)"
    body.append(f"{indent}out[{index}] = {out_value} if {valid} else {zero}")
    return "\n".join(body) + "\n"


def row_loops(n: int, indent: str) -> tuple[list[str], str]:
    """The loops over the output's first ``n`` axes (``i0`` .. ``i{n-1}``) as one ``prange``
    over all their rows, and the indent inside them. One loop, not nested ones with the
    outer in parallel: an outer axis of 3 bands on 2 cores gave one core two bands and
    the other one (a 2048 px median composite: 1.4 s -> 1.07 s)."""
    if n == 0:
        return [], indent
    if n == 1:
        return [f"{indent}for i0 in prange(out.shape[0]):"], indent + "    "
    rows = " * ".join(f"out.shape[{d}]" for d in range(n))
    inner = indent + "    "
    lines = [f"{indent}for r_ in prange({rows}):"]
    for d in range(n):  # (numba refuses a parallel loop's index assigned to and divided)
        below = " * ".join(f"out.shape[{e}]" for e in range(d + 1, n))
        row = f"(r_ // ({below}))" if below else "r_"
        lines.append(f"{inner}i{d} = {row}" + (f" % out.shape[{d}]" if d else ""))
    return lines, inner


def _emit(expr: Expr, lines: list[str], names: dict[Expr, tuple[str, str]], inputs: list) -> bool:
    """Statements computing every node of ``expr`` (post-order, iteratively; equal
    subexpressions once). Every node is computed for every pixel, also the data under a
    mask: the loop then has no branch and vectorizes, which is faster than skipping the
    masked pixels' work (the cloud-masked composite with a third of its pixels cloudy:
    7% faster in an A/B at 6000x6000x8).

    A node that reads no pixel (constants only, e.g. ``linear_scale_range(0.5, ...)``)
    computes in float64 (``WIDE``) and meets the pixels' values in the compute dtype
    (``FLOAT``): the reference computes it as Python numbers, in float64, and a number
    meets a float32 cube as float32 (under the float32 policy, three such scalings in a
    row gave 8.290687e-06 in float32 against 8.290686e-06 in float64). Returns whether
    ``expr`` itself reads no pixel."""
    fixed: dict[Expr, bool] = {}  # reads no pixel
    stack: list[tuple[Expr, bool]] = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in names:
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args))
            continue
        k = len(names)
        v, ok = f"v{k}", f"k{k}"
        names[node] = (v, ok)
        fixed[node] = node.op != "in" and all(fixed[a] for a in node.args)
        args = [
            (f"FLOAT({names[a][0]})" if fixed[a] and not fixed[node] else names[a][0], names[a][1])
            for a in node.args
        ]
        truths = [_truth(a, names[a][0]) for a in node.args]
        own = _statements(node, v, ok, args, inputs, truths)
        if fixed[node]:
            own = [line.replace("FLOAT(", "WIDE(") for line in own]
        lines.extend(own)
    return fixed[expr]


def _truth(expr: Expr, v: str) -> str:
    """The truth of a value: a boolean operation keeps a native bool ``t<v>`` next to its
    number (the loop then tests bools, not floats); others are true when non-zero."""
    return f"t{v}" if expr.boolean and expr.op != "const" else f"({v} != 0.0)"


def _statements(
    node: Expr,
    v: str,
    ok: str,
    args: list[tuple[str, str]],
    inputs: list[Input],
    truths: list[str] | None = None,
) -> list[str]:
    """The statements of one node; boolean results are a bool ``t<v>`` and its number."""
    op = node.op
    if op == "in":
        j, item = node.value, inputs[node.value]
        valid = f"{ok} = ok{j}{item.valid}" if item.valid is not None else f"{ok} = True"
        return [f"{v} = FLOAT(in{j}{item.value})", valid]
    if op == "const":
        if node.value is None:
            return [f"{v} = FLOAT(0.0)", f"{ok} = False"]
        return [f"{v} = {_const(node.value)}", f"{ok} = True"]
    values = [a for a, _ in args]
    valids = [b for _, b in args]
    every = " & ".join(valids) or "True"
    truths = truths or [f"({a} != 0.0)" for a in values]
    number = f"{v} = FLOAT(1.0) if t{v} else FLOAT(0.0)"
    if op == "not":
        return [f"{ok} = {every}", f"t{v} = not {truths[0]}", number]
    if op == "xor":
        return [f"{ok} = {every}", f"t{v} = {truths[0]} != {truths[1]}", number]
    if op in UNARY or op in BINARY:
        template = UNARY.get(op) or BINARY[op]
        expression = template.format(*values)
        if node.boolean:
            return [f"{ok} = {every}", f"t{v} = {expression}", number]
        return [f"{ok} = {every}", f"{v} = {expression}"]
    if op == "and" or op == "or":
        (x, kx), (y, ky) = args
        tx, ty = truths
        # the result has data when an operand with data decides alone, or both have data;
        # then it is true exactly when (or) / unless (and) an operand decided
        if op == "and":  # a false operand decides alone
            decided = f"({kx} & (not {tx})) | ({ky} & (not {ty}))"
            truth = f"not d{v}"
        else:  # a true operand decides alone
            decided = f"({kx} & {tx}) | ({ky} & {ty})"
            truth = f"d{v}"
        return [f"d{v} = {decided}", f"{ok} = ({kx} & {ky}) | d{v}", f"t{v} = {truth}", number]
    if op == "if":
        (c, kc), (a, ka), (r, kr) = args
        return [
            f"c{v} = {kc} & {truths[0]}",
            f"{v} = {a} if c{v} else {r}",
            f"{ok} = {ka} if c{v} else {kr}",
        ]
    if op == "mask":
        (d, kd), (m, km) = args
        if node.params:  # the replacement where the mask hits (the data keeps its validity)
            return [
                f"h{v} = {km} & {truths[1]}",
                f"{v} = {_const(node.params[0])} if h{v} else {d}",
                f"{ok} = h{v} | {kd}",
            ]
        return [f"h{v} = {km} & {truths[1]}", f"{v} = {d}", f"{ok} = {kd} & (not h{v})"]
    if op == "array_contains":  # no-data is false, with data (array_contains(..., null))
        (x, kx) = args[0]
        tests = " | ".join(f"({x} == {_const(p)})" for p in node.params) or "False"
        return [f"t{v} = {kx} & ({tests})", number, f"{ok} = True"]
    if op in ("is_nodata", "is_nan", "is_valid"):
        (x, kx) = args[0]
        test = {
            "is_nodata": f"not {kx}",
            "is_nan": f"{kx} & np.isnan({x})",
            "is_valid": f"{kx} & np.isfinite({x})",
        }[op]
        return [f"t{v} = {test}", number, f"{ok} = True"]
    if op == "clip":
        (x, kx), (lo, hi) = args[0], node.params
        bounds = f"min(max({x}, {_const(lo)}), {_const(hi)})"
        return [f"{ok} = {kx}", f"{v} = {x} if np.isnan({x}) else {bounds}"]
    if op == "linear_scale_range":
        (x, kx) = args[0]
        lo, hi, out_lo, out_hi = node.params
        low, high = min(lo, hi), max(lo, hi)
        out_low, out_high = min(out_lo, out_hi), max(out_lo, out_hi)
        return [  # clipped into the input range, and the result into the output range
            f"{ok} = {kx}",
            f"c{v} = {x} if np.isnan({x}) else min(max({x}, {_const(low)}), {_const(high)})",
            f"s{v} = ((c{v} - {_const(lo)}) / {_const(hi - lo)}) * {_const(out_hi - out_lo)}"
            f" + {_const(out_lo)}",
            f"{v} = s{v} if np.isnan(s{v}) else min(max(s{v}, {_const(out_low)}), "
            f"{_const(out_high)})",
        ]
    raise ValueError(f"no code for {op}")  # pragma: no cover - from_callback never builds it


def _const(value: float) -> str:
    """A number as source text in the compute dtype: ``inf`` and ``nan`` are no Python
    literals (``linear_scale_range`` over the whole float range has an infinite scale)."""
    value = float(value)
    text = (
        repr(value)
        if math.isfinite(value)
        else ("np.nan" if value != value else "np.inf" if value > 0 else "-np.inf")
    )
    return f"FLOAT({text})"


def load(
    expr: Expr,
    ndim: int,
    inputs: list[Input],
    dtype: str = "float64",
    reduce: tuple[str, bool] | None = None,
    expr_key: str | None = None,
):
    """The compiled kernel function (from memory, the disk cache, or newly written);
    ``reduce`` = (reducer, ignore_nodata) for a kernel that folds a dimension
    (:mod:`pgc.kernels.reducers`). Cached by the expression's structural hash (``expr_key``
    when the caller has it: :meth:`Expr.key`), the dtype and a hash of how the inputs are
    read."""
    key = f"k_{expr_key or expr.key()}_{dtype}_{_layout_hash(ndim, tuple(inputs), reduce)}"
    with _LOCK:
        if key in _LOADED:
            _LOADED.move_to_end(key)
            return _LOADED[key]
        if reduce is None:
            text = source(expr, ndim, inputs, dtype)
        else:
            from .reducers import reduce_source

            text = reduce_source(expr, ndim, inputs, dtype, *reduce)
        _LOADED[key] = _import(key, text)
        while len(_LOADED) > MAX_LOADED:
            _LOADED.popitem(last=False)
        return _LOADED[key]


@lru_cache(maxsize=1024)
def _layout_hash(ndim: int, inputs: tuple[Input, ...], reduce: tuple[str, bool] | None) -> str:
    """A short hash of how a kernel reads its inputs (part of its cache key)."""
    return hashlib.sha256(repr((ndim, list(inputs), reduce)).encode()).hexdigest()[:12]


def private_cache_dir() -> Path:
    """:func:`cache_dir`, made (mode 0700) or checked to be this user's and writable by no
    one else: pgc imports the modules it finds there. A folder that fails the check is
    not used; a fresh private temporary folder is, for this process."""
    asked = cache_dir()
    known = _PRIVATE.get(str(asked))
    if known is not None:
        return known
    folder = asked
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
        if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
            raise PermissionError("not this user's folder")
        if stat.S_IMODE(info.st_mode) & 0o077:
            folder.chmod(0o700)  # ours, made before kernels were private
    except OSError:
        import tempfile

        folder = Path(tempfile.mkdtemp(prefix="pgc-kernels-"))
    _PRIVATE[str(asked)] = folder
    return folder


def _prune(folder: Path) -> None:
    """Keep at most :data:`MAX_FILES` kernel modules: the oldest go, with numba's cached
    machine code for them (``__pycache__/k_*``)."""
    modules = sorted(folder.glob("k_*.py"), key=lambda p: p.stat().st_mtime)
    for old in modules[: max(0, len(modules) - MAX_FILES)]:
        for path in [old, *(folder / "__pycache__").glob(f"{old.stem}.*")]:
            path.unlink(missing_ok=True)


def _import(key: str, text: str):
    """Write the kernel's module to the cache folder (if it is not there) and import it."""
    folder = private_cache_dir()
    path = folder / f"{key}.py"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)  # atomic: other processes see all of it or nothing
        _prune(folder)
    spec = importlib.util.spec_from_file_location(f"pgc_kernels.{key}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)  # pgc's own generated code, never user text
    return module.kernel


def call(kernel, arrays: list, out, out_ok, stats: KernelStats | None, key: str) -> None:
    """Run a kernel (``out_ok`` None: it writes no validity). With ``stats``, a call that
    needs a signature the kernel does not have yet compiles it (or loads it from the disk
    cache) first, timed as compile time, and then the run alone is timed: booking the
    first call whole as compile time left ``run 0.0 ms`` for every kernel a run called
    once (issue 18)."""
    args = (*arrays, out) if out_ok is None else (*arrays, out, out_ok)
    if stats is None:
        kernel(*args)
        return
    start = time.perf_counter()
    types = _argument_types(args)
    if _READY.get((id(kernel), types)) is not kernel:  # typing the arguments costs 0.1 ms
        compiled = _compile_for(kernel, args)
        if compiled:  # a kernel that had the signature took no compile time (a warm cache)
            stats.compile_seconds += time.perf_counter() - start
        if compiled is not None:
            if len(_READY) >= 4 * MAX_LOADED:
                _READY.clear()
            _READY[(id(kernel), types)] = kernel
    known = len(kernel.overloads)  # (not signatures: a list made of them, 20 us)
    start = time.perf_counter()
    kernel(*args)
    seconds = time.perf_counter() - start
    if len(kernel.overloads) > known:  # not compiled ahead: the call compiled it
        stats.compile_seconds += seconds
    else:
        stats.run_seconds += seconds
    stats.kernels.append(key)


# the kernels compiled for the argument types of a call, by (id, _argument_types): a
# kernel called again with the same kinds of arrays (the next run of a plan) needs no
# numba typing to know it is compiled. The kernel is the value: an id is not reused while
# the entry holds it.
_READY: dict[tuple, Any] = {}


def _argument_types(args: tuple) -> tuple:
    """What numba's signature of ``args`` depends on, cheaply: an array's dtype, number of
    dimensions, layout and writability; any other argument's Python type."""
    return tuple(
        (a.dtype.str, a.ndim, a.flags.c_contiguous, a.flags.f_contiguous, a.flags.writeable)
        if isinstance(a, np.ndarray)
        else type(a)
        for a in args
    )


def _compile_for(kernel, args: tuple) -> bool | None:
    """Compile ``kernel`` for the types of ``args`` (numba's dispatcher picks the same
    signature when called with them); True when this compiled (or loaded) it, False when
    it was there; None when it cannot be done ahead and the call has to."""
    known = len(kernel.signatures)
    try:
        from numba import typeof

        kernel.compile(tuple(typeof(a) for a in args))
    except Exception:  # noqa: BLE001 - the call itself compiles then, and reports errors
        return None
    return len(kernel.signatures) > known
