"""numba code for a kernel that reduces a dimension: the elementwise expression computed for
every element along the dimension and folded into one value per pixel, in the same pass.

This is how a cloud-masked NDVI composite over time reads its input once: the band math,
the mask and the temporal ``max`` are one loop nest. The inputs have the reduced dimension
first (views, no copy); the output has the other dimensions. Per row of the output the
kernel keeps accumulators, walks the reduced dimension, and within it the row's pixels (so
every input is read along its contiguous last axis), then writes the row once. ``median``
keeps the row's values per pixel instead and sorts them in place.

The results are the reference executor's (:func:`pgc.executors.ref_scalar._masked_reduce`):

- values are in the compute dtype; no-data elements are skipped, or with
  ``ignore_nodata=false`` make the result no-data;
- a NaN among the values makes the result NaN (it is a value, not no-data);
- no value at all gives no-data, except for ``count``, which gives 0;
- ``sum`` and ``mean`` add in the order of the dimension's labels, in the compute dtype,
  as the reference does; ``mean`` divides that sum by the count in float64;
- ``median`` is (low + high) / 2 of the sorted values, as numpy's masked median;
- ``count`` (``condition`` null) counts the elements with data that are finite.

The reducers and their parameters are the table :data:`REDUCERS`.
"""

from __future__ import annotations

from .codegen import _emit
from .expr import Expr

# reducer -> (accumulator start, update of acc_ with the value vv (a number, not NaN))
REDUCERS = {
    "max": ("-np.inf", "acc_[iL] = vv if vv > acc_[iL] else acc_[iL]"),
    "min": ("np.inf", "acc_[iL] = vv if vv < acc_[iL] else acc_[iL]"),
    "sum": ("0.0", "acc_[iL] += vv"),
    "mean": ("0.0", "acc_[iL] += vv"),
    "count": (None, None),
    "median": (None, None),
}


def reduce_source(
    expr: Expr,
    ndim: int,
    n_inputs: int,
    dtype: str,
    masked: tuple,
    reducer: str,
    ignore_nodata: bool = True,
) -> str:
    """The source of a kernel reducing the leading dimension of its inputs with ``reducer``
    (``ndim`` is the output's number of dimensions, at least 2)."""
    if reducer not in REDUCERS or ndim < 2:
        raise ValueError(f"no reduction kernel for {reducer} over {ndim} dimensions")
    lines: list[str] = []
    names: dict[Expr, tuple[str, str]] = {}
    _emit(expr, lines, names, masked)
    lines = [line.replace("FLOAT(", f"np.{dtype}(") for line in lines]
    value, valid = names[expr]
    params = ", ".join(f"in{j}, ok{j}" if masked[j] else f"in{j}" for j in range(n_inputs))
    outer = ", ".join(f"i{d}" for d in range(ndim - 1))
    at_out = f"[{outer}, iL]"
    at_in = f"[t_, {outer}, iL]"
    body = [
        "import numpy as np",
        "from numba import njit, prange",
        "",
        "",
        f"# {reducer}(ignore_nodata={ignore_nodata}) over the leading dimension of {expr}",
        '@njit(parallel=True, cache=True, error_model="numpy")',
        f"def kernel({params}, out, out_ok):",
        "    n_ = in0.shape[0]",
        "    width = out.shape[-1]",
    ]
    indent = "    "
    for d in range(ndim - 1):
        body.append(f"{indent}for i{d} in {'prange' if d == 0 else 'range'}(out.shape[{d}]):")
        indent += "    "
    element = [indent + "        " + line.replace("[IDX]", at_in) for line in lines]
    if reducer == "median":
        body += _median(indent, element, value, valid, dtype, ignore_nodata, at_out)
    else:
        body += _fold(indent, element, value, valid, dtype, reducer, ignore_nodata, at_out)
    return "\n".join(body) + "\n"


def _fold(indent, element, value, valid, dtype, reducer, ignore_nodata, at_out) -> list[str]:
    start, update = REDUCERS[reducer]
    i2, i3 = indent + "    ", indent + "        "
    lines = [
        f"{indent}cnt_ = np.zeros(width, dtype=np.int64)",
        f"{indent}nan_ = np.zeros(width, dtype=np.bool_)",
        f"{indent}bad_ = np.zeros(width, dtype=np.bool_)",
    ]
    if start is not None:
        lines.append(f"{indent}acc_ = np.full(width, {start}, dtype=np.{dtype})")
    lines += [f"{indent}for t_ in range(n_):", f"{i2}for iL in range(width):", *element]
    if reducer == "count":  # finite values with data
        lines += [f"{i3}if {valid} and np.isfinite({value}):", f"{i3}    cnt_[iL] += 1"]
    else:
        lines += [
            f"{i3}if {valid}:",
            f"{i3}    cnt_[iL] += 1",
            f"{i3}    vv = {value}",
            f"{i3}    if np.isnan(vv):",
            f"{i3}        nan_[iL] = True",
            f"{i3}    else:",
            f"{i3}        {update}",
        ]
    lines += [f"{i3}else:", f"{i3}    bad_[iL] = True", f"{indent}for iL in range(width):"]
    if reducer == "count":
        return lines + [f"{i2}out{at_out} = np.{dtype}(cnt_[iL])", f"{i2}out_ok{at_out} = True"]
    result = {
        "mean": f"np.{dtype}(np.float64(acc_[iL]) / cnt_[iL])",
        "sum": "acc_[iL]",
        "max": "acc_[iL]",
        "min": "acc_[iL]",
    }[reducer]
    ok = "cnt_[iL] > 0" if ignore_nodata else "cnt_[iL] > 0 and not bad_[iL]"
    return lines + [
        f"{i2}ok_ = {ok}",
        f"{i2}out_ok{at_out} = ok_",
        f"{i2}if not ok_:",
        f"{i2}    out{at_out} = np.{dtype}(0.0)",
        f"{i2}elif nan_[iL]:",
        f"{i2}    out{at_out} = np.{dtype}(np.nan)",
        f"{i2}else:",
        f"{i2}    out{at_out} = {result}",
    ]


def _median(indent, element, value, valid, dtype, ignore_nodata, at_out) -> list[str]:
    i2, i3 = indent + "    ", indent + "        "
    ok = "m_ > 0" if ignore_nodata else "m_ > 0 and not bad_"
    return [
        f"{indent}buf_ = np.empty(n_, dtype=np.{dtype})",
        f"{indent}for iL in range(width):",
        f"{i2}m_ = 0",
        f"{i2}nan_ = False",
        f"{i2}bad_ = False",
        f"{i2}for t_ in range(n_):",
        *element,
        f"{i3}if {valid}:",
        f"{i3}    vv = {value}",
        f"{i3}    nan_ = nan_ or np.isnan(vv)",
        f"{i3}    buf_[m_] = vv",
        f"{i3}    m_ += 1",
        f"{i3}else:",
        f"{i3}    bad_ = True",
        f"{i2}ok_ = {ok}",
        f"{i2}out_ok{at_out} = ok_",
        f"{i2}if not ok_:",
        f"{i2}    out{at_out} = np.{dtype}(0.0)",
        f"{i2}elif nan_:",
        f"{i2}    out{at_out} = np.{dtype}(np.nan)",
        f"{i2}else:",
        f"{i3}part = buf_[:m_]",
        f"{i3}part.sort()",
        f"{i3}both = np.{dtype}(part[(m_ - 1) // 2] + part[m_ // 2])",
        f"{i3}out{at_out} = np.{dtype}(both / np.{dtype}(2.0))",
    ]
