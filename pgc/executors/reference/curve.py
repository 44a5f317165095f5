"""Reference implementations of curve fitting: fit_curve and predict_curve.

``fit_curve`` is an array process (proposals/fit_curve.json): it fits the parameters of a
model ``y = function(x, parameters)`` to a labeled array by non-linear least squares, the
array's labels being ``x`` and its values ``y``. (The definition's ``data`` description has
the two the other way round, which contradicts its own model ``y = f(x, parameters)`` and its
no-data rule; pgc reads the labels as ``x``.) Over a cube it runs inside
``apply_dimension``, which hands it every pixel's array at once (a
:class:`~pgc.executors.values.CubeArray`): the result is the fitted parameters along the same
dimension, labelled ``0 .. n-1`` (what the type rules of ``fit_curve`` and
``apply_dimension`` say). ``predict_curve`` takes such a cube and evaluates the model at new
labels of that dimension.

Labels become numbers ``x`` as follows (the definitions are silent): numbers are used as
they are; dates and date-times (a temporal dimension's labels, or date strings) are
**seconds since 1970-01-01T00:00:00Z** as float (so a yearly harmonic is
``cos(2 * pi * x / 31557600)``); an array without labels uses the indices ``0 .. n-1``;
other labels (band names ...) cannot be ``x`` and fail with ``ProcessParameterInvalid``.

The fit is Levenberg-Marquardt with Marquardt's diagonal scaling, the Jacobian from central
differences, and it runs for all pixels at once: the model's child process graph is
evaluated once per iteration for every pixel that is still iterating (``x`` is a cube along
the dimension, ``parameters`` a cube array of every trial parameter vector), which is
exact because a child process graph acts on each value alone. Large cubes are fitted in
blocks of pixels (:data:`MAX_BLOCK_VALUES`), to bound the memory.

>>> x = np.array([0.0, 1.0, 2.0])
>>> line = lambda p: p[:, :, :1] + p[:, :, 1:] * x  # (pixels, probes, 2) -> (.., .., 3)
>>> y, ok = np.array([[1.0, 3.0, 5.0]]), np.ones((1, 3), bool)
>>> _levenberg_marquardt(y, ok, np.zeros((1, 2)), line).round(9).tolist()
[[1.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ...errors import echo
from ..values import ARRAY_DIM, Cube, CubeArray, LabeledArray, in_compute_dtype
from .loop import Call, ProcessError
from .scalar import FLOAT
from .table import implements

# Internal dimension names of the arrays handed to the model function; the double
# underscores keep them apart from user dimension names (as values.ARRAY_DIM does).
PIXEL = "__pixel__"
PROBE = "__probe__"
PARAMETER = "__parameters__"

# Bounds on untrusted input: every parameter adds two model evaluations per iteration.
MAX_PARAMETERS = 64
MAX_ITERATIONS = 200
MAX_BLOCK_VALUES = 2**23  # model values evaluated at once (64 MiB of float64)
# Convergence: a step smaller than XTOL relative to the parameters, or a relative decrease
# of the sum of squares below FTOL (rounding level), ends a pixel's iterations; a damping
# factor above LAMBDA_MAX means no step along any direction decreases the sum any more.
XTOL = 1e-12
FTOL = 1e-15
LAMBDA_START = 1e-3
LAMBDA_MAX = 1e16
# Central differences: the step that balances truncation and rounding error (eps ** 1/3).
FD_STEP = np.finfo(FLOAT).eps ** (1 / 3)
EPOCH = np.datetime64("1970-01-01T00:00:00", "ns")

Model = Callable[[np.ndarray], np.ndarray]  # (pixels, probes, n) -> (pixels, probes, points)


# ---------------------------------------------------------------------------------------
# fit_curve


@implements("fit_curve")
def _fit_curve(call: Call) -> Any:
    """The least-squares parameters for every pixel (``data`` a cube array) or for one
    labeled array.

    A pixel with fewer valid points than parameters gives no-data. With ``ignore_nodata``
    false any no-data value makes the pixel's fit no-data: the definition would pass
    no-data to the model, whose residual is then undefined. NaN or infinite values, or a
    model that is not finite at the initial guess, give NaN parameters (NaN is a value).
    """
    data = call.get("data")
    guess = _initial_guess(call)
    ignore_nodata = call.get("ignore_nodata", True)
    function = call.callback("function")
    if isinstance(data, CubeArray):
        return _fit_cube_array(call, data, guess, ignore_nodata, function)
    if isinstance(data, Cube) or not isinstance(data, list | LabeledArray):
        call.fail("ProcessParameterInvalid", "'data' must be a labeled array of numbers.", "data")
    return _fit_plain(call, data, guess, ignore_nodata, function)


def _initial_guess(call: Call) -> np.ndarray:
    guess = call.get("parameters")
    if not isinstance(guess, list) or not guess:
        call.fail(
            "ProcessParameterInvalid",
            "'parameters' must be a non-empty array of numbers (the initial guess).",
            "parameters",
        )
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in guess):
        call.fail("ProcessParameterInvalid", "'parameters' must all be numbers.", "parameters")
    if len(guess) > MAX_PARAMETERS:
        call.fail(
            "ProcessParameterInvalid",
            f"fit_curve supports at most {MAX_PARAMETERS} parameters, got {len(guess)}.",
            "parameters",
        )
    return np.asarray(guess, dtype=FLOAT)


def _fit_cube_array(
    call: Call, data: CubeArray, guess: np.ndarray, ignore_nodata: bool, function: Any
) -> CubeArray:
    cube, dim = data.cube, data.dimension
    x = _x_values(call, data.labels, "data")
    values = in_compute_dtype(cube.data).transpose(..., dim)
    valid = cube.full_valid().transpose(..., dim)
    pixel_dims = values.dims[:-1]
    shape = values.shape[:-1]
    n_points = values.shape[-1]
    y = values.values.reshape(-1, n_points)
    ok = valid.values.reshape(-1, n_points)
    params, fitted = _solve(y, ok, guess, _model(function, x, dim), ignore_nodata)
    coords = {d: values[d] for d in pixel_dims if d in values.coords}
    coords[dim] = np.arange(len(guess))
    out = xr.DataArray(params.reshape(*shape, len(guess)), dims=values.dims, coords=coords)
    ok_out = xr.DataArray(
        np.repeat(fitted.reshape(*shape, 1), len(guess), axis=-1), dims=values.dims, coords=coords
    )
    order = cube.data.dims
    return CubeArray(Cube(out.transpose(*order), ok_out.transpose(*order)), dim)


def _fit_plain(
    call: Call, data: list | LabeledArray, guess: np.ndarray, ignore_nodata: bool, function: Any
) -> list:
    values = list(data.values) if isinstance(data, LabeledArray) else list(data)
    labels = list(data.labels) if isinstance(data, LabeledArray) else None
    x = _x_values(call, labels if labels is not None else list(range(len(values))), "data")
    if not all(
        v is None or (isinstance(v, int | float) and not isinstance(v, bool)) for v in values
    ):
        call.fail("ProcessParameterInvalid", "'data' must hold numbers only.", "data")
    ok = np.array([[v is not None for v in values]], dtype=bool)
    y = np.array([[np.nan if v is None else float(v) for v in values]], dtype=FLOAT)
    params, fitted = _solve(y, ok, guess, _model(function, x, ARRAY_DIM), ignore_nodata)
    return [float(v) if fitted[0] else None for v in params[0]]


# ---------------------------------------------------------------------------------------
# The model function, evaluated for every pixel and every trial parameter vector at once


def _model(function: Any, x: np.ndarray, x_dim: str) -> Model:
    """``params (pixels, probes, n) -> y (pixels, probes, points)`` through the child graph:
    ``x`` a cube along ``x_dim``, ``parameters`` a cube array along an internal dimension.
    No-data results are NaN (they make the fit undefined)."""
    x_cube = Cube(
        xr.DataArray(x, dims=(x_dim,)), xr.DataArray(np.ones(len(x), bool), dims=(x_dim,))
    )

    def evaluate(params: np.ndarray) -> np.ndarray:
        dims = (PIXEL, PROBE, PARAMETER)
        values = xr.DataArray(params, dims=dims, coords={PARAMETER: np.arange(params.shape[2])})
        array = CubeArray(Cube(values, xr.ones_like(values, dtype=bool)), PARAMETER)
        result = function(x=x_cube, parameters=array)
        template = xr.DataArray(np.zeros((*params.shape[:2], len(x))), dims=(PIXEL, PROBE, x_dim))
        return _as_model_values(result, template)

    return evaluate


def _as_model_values(result: Any, template: xr.DataArray) -> np.ndarray:
    """The model's value at every (pixel, probe, point) as floats, NaN for no-data."""
    if result is None:
        return np.full(template.shape, np.nan)
    if isinstance(result, int | float) and not isinstance(result, bool):
        return np.full(template.shape, float(result))
    if not isinstance(result, Cube) or set(result.data.dims) - set(template.dims):
        raise ProcessError(
            "ProcessParameterInvalid",
            "The model function must return one number for each x.",
            "function",
        )
    filled = in_compute_dtype(result.data).where(result.full_valid())
    # Drop coordinates: the template has none, and the values line up by position.
    filled = filled.drop_vars(list(filled.coords))
    return xr.broadcast(filled, template)[0].transpose(*template.dims).values.astype(FLOAT)


# ---------------------------------------------------------------------------------------
# Levenberg-Marquardt, vectorized over pixels


def _solve(
    y: np.ndarray, ok: np.ndarray, guess: np.ndarray, model: Model, ignore_nodata: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(parameters (pixels, n), fitted (pixels,))`` for ``y`` and ``ok`` (pixels,
    points); pixels not fitted (too few points) are no-data."""
    n_pixels, n = y.shape[0], len(guess)
    fitted = ok.sum(axis=1) >= n
    if not ignore_nodata:
        fitted &= ok.all(axis=1)
    params = np.full((n_pixels, n), np.nan)
    # NaN and infinite values are values: the sum of squares, and the fit, is NaN.
    finite = np.where(ok, np.isfinite(y), True).all(axis=1)
    todo = np.flatnonzero(fitted & finite)
    # Blocks of pixels bound the memory of the trial values (pixels x probes x points);
    # a block's pixels all iterate together, one model evaluation per iteration.
    block = max(1, MAX_BLOCK_VALUES // ((2 * n + 1) * max(y.shape[1], 1)))
    for start in range(0, len(todo), block):
        part = todo[start : start + block]
        params[part] = _levenberg_marquardt(
            y[part], ok[part], np.broadcast_to(guess, (len(part), n)), model
        )
    return params, fitted


@dataclass
class _State:
    """Per pixel: parameters, residuals (weighted: 0 at unused points), Jacobian, sum of
    squares. Pixels whose model is not finite have ``cost`` inf."""

    params: np.ndarray  # (pixels, n)
    residual: np.ndarray  # (pixels, points)
    jacobian: np.ndarray  # (pixels, points, n)
    cost: np.ndarray  # (pixels,)


def _levenberg_marquardt(
    y: np.ndarray, ok: np.ndarray, guess: np.ndarray, model: Model
) -> np.ndarray:
    """Least-squares parameters for every pixel; NaN where the model is not finite at the
    initial guess. A pixel stops when its step or its decrease is at rounding level, or
    when no damped step decreases its sum of squares; at most MAX_ITERATIONS iterations
    (then the best parameters found are the result)."""
    state = _probe(guess.astype(FLOAT), y, ok, model)
    result = state.params.copy()
    bad = ~np.isfinite(state.cost)
    result[bad] = np.nan
    damping = np.full(len(y), LAMBDA_START)
    active = ~bad
    for _ in range(MAX_ITERATIONS):
        todo = np.flatnonzero(active)
        if not len(todo):
            break
        now = _subset(state, todo)
        step = _damped_step(now.jacobian, now.residual, damping[todo])
        trial = _probe(now.params + step, y[todo], ok[todo], model)
        better = trial.cost < now.cost
        _accept(state, todo[better], _subset(trial, np.flatnonzero(better)))
        result[todo[better]] = trial.params[better]
        damping[todo] = np.where(better, damping[todo] / 10, damping[todo] * 10)
        active[todo[_converged(now, trial, step, better, damping[todo])]] = False
    return result


def _converged(
    now: _State, trial: _State, step: np.ndarray, better: np.ndarray, damping: np.ndarray
) -> np.ndarray:
    # Norms of the whole vectors, so that a parameter at 0 does not demand a 0 step.
    tiny_step = np.linalg.norm(step, axis=1) <= XTOL * (np.linalg.norm(now.params, axis=1) + XTOL)
    decrease = now.cost - trial.cost
    flat = better & (decrease <= FTOL * now.cost)
    exact = better & (trial.cost == 0)
    return tiny_step | flat | exact | (damping > LAMBDA_MAX)


def _probe(params: np.ndarray, y: np.ndarray, ok: np.ndarray, model: Model) -> _State:
    """Residuals and the central-difference Jacobian at ``params``, in one model call:
    probe 0 is ``params``, probes 1..n step each parameter up, n+1..2n down."""
    n = params.shape[1]
    h = FD_STEP * np.maximum(np.abs(params), 1.0)
    eye = np.eye(n)
    up = params[:, None, :] + eye[None] * h[:, None, :]
    down = params[:, None, :] - eye[None] * h[:, None, :]
    values = model(np.concatenate([params[:, None, :], up, down], axis=1))
    # The steps actually taken (p + h is rounded), per pixel and parameter.
    taken = np.einsum("pkk->pk", up - down)
    with np.errstate(all="ignore"):
        jacobian = (values[:, 1 : n + 1] - values[:, n + 1 :]) / taken[:, :, None]
        residual = np.where(ok, y - values[:, 0], 0.0)
    jacobian = np.where(ok[:, :, None], jacobian.transpose(0, 2, 1), 0.0)
    finite = np.isfinite(residual).all(axis=1) & np.isfinite(jacobian).all(axis=(1, 2))
    with np.errstate(all="ignore"):
        cost = np.where(finite, (residual**2).sum(axis=1), np.inf)
    cost = np.where(np.isfinite(cost), cost, np.inf)
    # Keep non-finite pixels out of the linear algebra (they are never accepted).
    residual = np.where(finite[:, None], residual, 0.0)
    jacobian = np.where(finite[:, None, None], jacobian, 0.0)
    return _State(params, residual, jacobian, cost)


def _damped_step(jacobian: np.ndarray, residual: np.ndarray, damping: np.ndarray) -> np.ndarray:
    """The step minimizing ``|J d - r|^2 + damping * |D d|^2`` (D^2 = diag(J^T J), kept away
    from 0 so a parameter without influence does not make the system singular). Solved as
    the augmented least-squares problem through the SVD, which tolerates the poor
    conditioning of e.g. a linear model in seconds since 1970."""
    n = jacobian.shape[2]
    step = np.zeros((len(jacobian), n))
    with np.errstate(all="ignore"):
        scale = (jacobian**2).sum(axis=1)  # (pixels, n)
        floor = scale.max(axis=1, keepdims=True) * 1e-12 + np.finfo(FLOAT).tiny
        diag = np.sqrt(damping[:, None] * np.maximum(scale, floor))[:, :, None] * np.eye(n)
    a = np.concatenate([jacobian, diag], axis=1)
    b = np.concatenate([residual, np.zeros((len(residual), n))], axis=1)
    # Overflowing pixels (huge values) get no step: they stop as converged.
    ok = np.isfinite(a).all(axis=(1, 2))
    try:
        u, s, vt = np.linalg.svd(a[ok], full_matrices=False)
    except np.linalg.LinAlgError:
        return step
    cutoff = s[:, :1] * np.finfo(FLOAT).eps * max(a.shape[1:])
    inverse = np.where(s > cutoff, 1.0 / np.where(s > cutoff, s, 1.0), 0.0)
    coefficients = np.einsum("pmk,pm->pk", u, b[ok]) * inverse
    step[ok] = np.einsum("pkn,pk->pn", vt, coefficients)
    return step


def _subset(state: _State, index: np.ndarray) -> _State:
    return _State(
        state.params[index], state.residual[index], state.jacobian[index], state.cost[index]
    )


def _accept(state: _State, where: np.ndarray, new: _State) -> None:
    state.params[where] = new.params
    state.residual[where] = new.residual
    state.jacobian[where] = new.jacobian
    state.cost[where] = new.cost


# ---------------------------------------------------------------------------------------
# Labels as x


def _x_values(call: Call, labels: list, argument: str) -> np.ndarray:
    """Labels as numbers: numbers as they are, dates as seconds since 1970 (UTC)."""
    if all(isinstance(v, int | float | np.integer | np.floating) for v in labels) and not any(
        isinstance(v, bool | np.bool_) for v in labels
    ):
        return np.asarray(labels, dtype=FLOAT)
    times = _as_times(labels)
    if times is None:
        call.fail(
            "ProcessParameterInvalid",
            "The labels must be numbers, dates or date-times to serve as x.",
            argument,
        )
    return (times - EPOCH) / np.timedelta64(1, "s")


def _as_times(labels: list) -> np.ndarray | None:
    """``datetime64[ns]`` (UTC) for date/date-time labels, None if one is not a time."""
    if all(isinstance(v, np.datetime64) for v in labels):
        return np.asarray(labels, dtype="datetime64[ns]")
    if not all(isinstance(v, str) and len(v) >= 10 and v[4] == "-" for v in labels):
        return None
    try:
        parsed = pd.to_datetime(pd.Index(labels), utc=True, format="ISO8601")
    except (ValueError, TypeError):
        return None
    return parsed.tz_convert(None).to_numpy(dtype="datetime64[ns]")


# ---------------------------------------------------------------------------------------
# predict_curve


@implements("predict_curve")
def _predict_curve(call: Call) -> Cube:
    """The model at ``labels`` for every pixel: ``parameters`` holds each pixel's
    parameters along ``dimension`` (as ``apply_dimension`` with ``fit_curve`` gives), which
    the result replaces by ``labels``. No-data parameters give no-data.

    The definition predicts "only for no-data values in the data cube" when ``labels`` is
    null, but this version of the process takes no data cube, and the labels along
    ``dimension`` are the parameters' indices: pgc asks for ``labels`` then.
    """
    cube, dim = call.get("parameters"), call.get("dimension")
    if not isinstance(cube, Cube):
        call.fail("ProcessParameterInvalid", "'parameters' must be a data cube.", "parameters")
    if dim not in cube.dims:
        call.fail(
            "DimensionNotAvailable", f"The data cube has no dimension {echo(dim)}.", "dimension"
        )
    labels = call.get("labels")
    if labels is None:
        call.fail(
            "ProcessParameterInvalid",
            "predict_curve needs 'labels': without a data cube there are no no-data "
            "values to predict.",
            "labels",
        )
    x = _x_values(call, list(labels), "labels")
    values = in_compute_dtype(cube.data).rename({dim: PARAMETER})
    valid = cube.full_valid().rename({dim: PARAMETER})
    x_cube = Cube(xr.DataArray(x, dims=(dim,)), xr.DataArray(np.ones(len(x), bool), dims=(dim,)))
    result = call.callback("function")(
        x=x_cube, parameters=CubeArray(Cube(values, valid), PARAMETER)
    )
    return _prediction(call, result, cube, dim, labels)


def _prediction(call: Call, result: Any, cube: Cube, dim: str, labels: list) -> Cube:
    """The model's result as a cube with ``cube``'s dimensions, ``dim`` labelled ``labels``."""
    others = [d for d in cube.dims if d != dim]
    sizes = {d: cube.data.sizes[d] for d in others} | {dim: len(labels)}
    template = xr.DataArray(np.zeros(tuple(sizes.values())), dims=tuple(sizes))
    template = template.assign_coords({d: cube.data[d] for d in others if d in cube.data.coords})
    if isinstance(result, Cube) and not set(result.data.dims) <= set(cube.dims):
        call.fail("ProcessParameterInvalid", "The model function must return a number.", "function")
    if isinstance(result, Cube):
        data = xr.broadcast(in_compute_dtype(result.data), template)[0]
        valid = xr.broadcast(result.full_valid(), template)[0]
    elif result is None or (isinstance(result, int | float) and not isinstance(result, bool)):
        data = xr.full_like(template, 0.0 if result is None else float(result), dtype=FLOAT)
        valid = xr.full_like(template, result is not None, dtype=bool)
    else:
        call.fail("ProcessParameterInvalid", "The model function must return a number.", "function")
    coord = _label_coordinate(labels)
    data = data.transpose(*cube.dims).assign_coords({dim: coord})
    valid = valid.transpose(*cube.dims).assign_coords({dim: coord})
    return Cube(data.where(valid, 0.0), valid)


def _label_coordinate(labels: list) -> np.ndarray:
    """Date labels as ``datetime64[ns]`` (as temporal dimensions hold them), else as given."""
    times = _as_times(list(labels))
    return times if times is not None and len(labels) else np.asarray(labels)
