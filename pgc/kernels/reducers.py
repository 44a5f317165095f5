"""numba code for a kernel that reduces a dimension: the elementwise expression computed for
every element along the dimension and folded into one value per pixel, in the same pass.

This is how a cloud-masked NDVI composite over time reads its input once: the band math,
the mask and the temporal ``max`` are one loop nest. The inputs are the source arrays,
indexed with the loop variable ``t_`` on the reduced axis (:class:`~pgc.kernels.codegen.
Input`); the output has the other dimensions. Per row of the output the kernel keeps
accumulators, walks the reduced dimension, and within it the row's pixels (so every input
is read along its contiguous last axis), then writes the row once. ``median`` keeps a
pixel's values instead, inserted in order as they are read.

The results are the reference executor's (:func:`pgc.executors.reference.reducers._masked_reduce`):

- values are in the compute dtype; no-data elements are skipped, or with
  ``ignore_nodata=false`` make the result no-data;
- a NaN among the values makes the result NaN (it is a value, not no-data);
- no value at all gives no-data, except for ``count``, which gives 0;
- ``sum`` and ``mean`` add in the order of the dimension's labels, in the compute dtype,
  as the reference does; ``mean`` divides that sum by the count in float64;
- ``median`` is the midpoint of the sorted values' middle two (low + high) / 2, or
  low / 2 + high / 2 where only their sum overflows (the reference's ``midpoint``);
- ``count`` (``condition`` null) counts the elements with data that are finite;
  :data:`COUNT_TRUE` (``count`` with a condition callback, which is the expression) the
  elements where the expression is true and has data.

The reducers and their parameters are the table :data:`REDUCERS`.
"""

from __future__ import annotations

from .codegen import Input, row_loops, signature, statements
from .expr import Expr

# reducer -> (accumulator start, its update with the element's value vv where it has data
# (ok_); NaN is a value and stays: max/min take it and keep it, sum adds it)
REDUCERS = {
    "max": ("-np.inf", "acc_[iL] = vv if ok_ & ((vv > acc_[iL]) | (vv != vv)) else acc_[iL]"),
    "min": ("np.inf", "acc_[iL] = vv if ok_ & ((vv < acc_[iL]) | (vv != vv)) else acc_[iL]"),
    # -0.0 is the exact identity of + (0.0 + -0.0 is 0.0): the start, and what no-data adds,
    # as the reference's sum in label order (reference.reducers.in_label_order) does
    "sum": ("-0.0", "acc_[iL] += vv if ok_ else ZERO"),
    "mean": ("-0.0", "acc_[iL] += vv if ok_ else ZERO"),
    "count": (None, None),
    "median": (None, None),
}
# count with a condition callback: the condition is the kernel's (boolean) expression, and
# the elements where it is true and has data count. Not a process id (no ":" in those).
COUNT_TRUE = "count:true"
FOLDS = (*REDUCERS, COUNT_TRUE)  # what a kernel's reduce may name


def reduce_source(
    expr: Expr,
    ndim: int,
    inputs: list[Input],
    dtype: str,
    reducer: str,
    ignore_nodata: bool = True,
) -> str:
    """The source of a kernel folding the dimension ``t_`` of its inputs with ``reducer``
    into an ``ndim``-dimensional output (at least 2; its last loop is ``iL``). The folds
    are branch-free selects, so the inner loop vectorizes."""
    if reducer not in FOLDS or ndim < 2:
        raise ValueError(f"no reduction kernel for {reducer} over {ndim} dimensions")
    lines, value, valid = statements(expr, inputs, dtype)
    at_out = "[" + ", ".join(f"i{d}" for d in range(ndim - 1)) + ", iL]"
    body = [
        "import numpy as np",
        "from numba import njit, prange",
        "",
        "",
        f"# {reducer}(ignore_nodata={ignore_nodata}) over t_ of {expr}",
        '@njit(parallel=True, cache=True, error_model="numpy")',
        f"def kernel({signature(inputs)}, n_, out, out_ok):",
        "    width = out.shape[-1]",
    ]
    loops, indent = row_loops(ndim - 1, "    ")
    body += loops
    step = [*lines, f"ok_ = {valid}", f"vv = {value}"]
    if reducer == "median":
        body += _median(indent, step, dtype, ignore_nodata, at_out)
    else:
        body += _fold(indent, step, dtype, reducer, ignore_nodata, at_out)
    return "\n".join(body) + "\n"


def _fold(indent, step, dtype, reducer, ignore_nodata, at_out) -> list[str]:
    """The accumulators are the output's row itself (``acc_``) and its validity row
    (``seen_``: whether any value had data), so the loop allocates nothing but the counts
    ``mean`` needs and the no-data flags of ``ignore_nodata=false``."""
    counts = {"count": "ok_ & np.isfinite(vv)", COUNT_TRUE: "ok_ & (vv != 0)"}.get(reducer)
    start, update = REDUCERS.get(reducer, (None, None))
    i2, i3 = indent + "    ", indent + "        "
    row = at_out.replace("iL]", ":]")
    lines = [f"{indent}acc_ = out{row}", f"{indent}seen_ = out_ok{row}"]
    if reducer == "mean":
        lines.append(f"{indent}cnt_ = np.zeros(width, dtype=np.int64)")
    if not ignore_nodata:
        lines.append(f"{indent}bad_ = np.zeros(width, dtype=np.bool_)")
    lines.append(f"{indent}acc_[:] = {start if start is not None else '0.0'}")
    lines.append(f"{indent}seen_[:] = {counts is not None}")
    lines += [f"{indent}for t_ in range(n_):", f"{i2}for iL in range(width):"]
    lines += [i3 + line for line in step]
    if counts is not None:  # counted in the output itself
        lines.append(f"{i3}acc_[iL] += np.{dtype}(1.0) if {counts} else np.{dtype}(0.0)")
    else:
        update = update.replace("ZERO", f"np.{dtype}(-0.0)")
        lines += [f"{i3}seen_[iL] |= ok_", f"{i3}{update}"]
        if reducer == "mean":
            lines.append(f"{i3}cnt_[iL] += 1 if ok_ else 0")
    if not ignore_nodata and counts is None:
        lines.append(f"{i3}bad_[iL] |= not ok_")
    if counts is not None:
        return lines
    result = (
        f"np.{dtype}(np.float64(acc_[iL]) / max(cnt_[iL], 1))" if reducer == "mean" else "acc_[iL]"
    )
    ok = "seen_[iL]" if ignore_nodata else "seen_[iL] & (not bad_[iL])"
    # the validity row is written again only when it changes: a store of every element
    # back costs the composite 8% (measured at 6000x6000x8)
    again = [] if ignore_nodata else [f"{i2}seen_[iL] = has_"]
    return lines + [
        f"{indent}for iL in range(width):",
        f"{i2}has_ = {ok}",
        *again,
        f"{i2}acc_[iL] = {result} if has_ else np.{dtype}(0.0)",
    ]


def _median(indent, step, dtype, ignore_nodata, at_out) -> list[str]:
    i2, i3 = indent + "    ", indent + "        "
    ok = "m_ > 0" if ignore_nodata else "m_ > 0 and not bad_"
    return [
        f"{indent}buf_ = np.empty(n_, dtype=np.{dtype})",
        f"{indent}for iL in range(width):",
        f"{i2}m_ = 0",
        f"{i2}nan_ = False",
        f"{i2}bad_ = False",
        f"{i2}for t_ in range(n_):",
        *[i3 + line for line in step],
        f"{i3}if ok_:",
        f"{i3}    nan_ = nan_ or np.isnan(vv)",
        # insertion in order as the values arrive: a dozen dates sort in a few compares,
        # where numba's sort of the row's part took near half of the kernel's time (at
        # 2048 px x 12 dates x 3 bands: 2.5 s -> 1.4 s). NaN compares false and
        # stays last; it makes the result NaN anyway.
        f"{i3}    j_ = m_",
        f"{i3}    while j_ > 0 and buf_[j_ - 1] > vv:",
        f"{i3}        buf_[j_] = buf_[j_ - 1]",
        f"{i3}        j_ -= 1",
        f"{i3}    buf_[j_] = vv",
        f"{i3}    m_ += 1",
        f"{i3}else:",
        f"{i3}    bad_ = True",
        f"{i2}has_ = {ok}",
        f"{i2}out_ok{at_out} = has_",
        f"{i2}if not has_:",
        f"{i2}    out{at_out} = np.{dtype}(0.0)",
        f"{i2}elif nan_:",
        f"{i2}    out{at_out} = np.{dtype}(np.nan)",
        f"{i2}else:",
        f"{i3}lo_ = buf_[(m_ - 1) // 2]",
        f"{i3}hi_ = buf_[m_ // 2]",
        f"{i3}both = np.{dtype}(lo_ + hi_)",
        # the reference's midpoint: a / 2 + b / 2 where only their sum overflows
        f"{i3}if lo_ == hi_:",
        f"{i3}    out{at_out} = lo_",
        f"{i3}elif np.isfinite(both) or not (np.isfinite(lo_) and np.isfinite(hi_)):",
        f"{i3}    out{at_out} = np.{dtype}(both / np.{dtype}(2.0))",
        f"{i3}else:",
        f"{i3}    out{at_out} = np.{dtype}(lo_ / np.{dtype}(2.0) + hi_ / np.{dtype}(2.0))",
    ]
