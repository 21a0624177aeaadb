r"""The tensor primitives: one table row per op, its forward rule beside its VJPs.

The same design as :mod:`tinygrad_edu.ops`, one level up. There an op gives its local
derivative :math:`\partial out/\partial x_i` and the engine multiplies by ``out.grad``.
Here an input is a whole array, its Jacobian would be huge, so each row gives instead the
*vector-Jacobian product* (VJP) per input: from the output's gradient ``g`` (same shape as
``out``) it returns :math:`\bar x_i = g \cdot \partial out/\partial x_i`, the input's share.
``matmul`` reads like the math: :math:`\bar A = g B^\top`, :math:`\bar B = A^\top g`.

A VJP is called as ``vjp(g, out, *inputs, **params)`` on numpy arrays; ``params`` are an
op's settings (``axis`` of a sum). For an elementwise op with broadcast inputs a VJP may
return the broadcast shape: the engine sums the extra axes away, once, for every op.

Everything here is plain numpy; graph bookkeeping lives in ``engine.py`` of this package.
Domain errors are raised by the forward rules, naming how many entries failed and the
first one, as :mod:`tinygrad_edu.ops` names the value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tinygrad_edu.ops import OPS

Array = npt.NDArray[np.float64]
VJP = Callable[..., Array]


@dataclass(frozen=True)
class TensorOp:
    """A primitive: its name, forward rule and one vector-Jacobian product per input."""

    name: str
    forward: Callable[..., Array]
    vjps: tuple[VJP, ...]
    # The interval the tests draw every input entry from: inside the domain, |f'| ~ 1.
    domain: tuple[float, float] = (-2.0, 2.0)
    # NOTE: a bounded op maps finite inputs to finite outputs, and g to a share no bigger
    # than |g|, so the engine skips its overflow checks (a training step 10% faster).
    bounded: bool = False


@dataclass(frozen=True)
class Local:
    r"""The VJP of an entry-by-entry op, from its local derivative: :math:`\bar x = g \odot f'`.

    ``derivative(out, *inputs)`` is :math:`\partial out/\partial x` entry by entry, the number
    the scalar table's partial gives. Kept apart from ``g`` so the engine can check it is
    finite where ``g`` is 0 too (``0 / 5e-324`` is 0, but ``1 / 5e-324`` is inf), as Value does.
    """

    derivative: Callable[..., Array]

    def __call__(self, g: Array, out: Array, *inputs: Array) -> Array:
        """``g`` times the local derivative."""
        share: Array = g * self.derivative(out, *inputs)
        return share


def first_failure(bad: npt.NDArray[np.bool_], what: str) -> str:
    """``"3 of 6 entries invalid (first at index (0, 2))"``: how many are ``bad``, and where."""
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    return f"{np.count_nonzero(bad)} of {bad.size} entries {what} (first at index {first})"


def _refuse(bad: npt.NDArray[np.bool_], error: type[Exception], message: str) -> None:
    if bad.any():
        raise error(f"{message}: {first_failure(bad, 'invalid')}")


# ---- forward rules with their domain checks ---------------------------------------------


def _divide(a: Array, b: Array) -> Array:
    zero = b == 0.0
    if zero.any():  # the common case, x / n, costs one comparison of b alone
        shape = np.broadcast_shapes(a.shape, b.shape)
        _refuse(np.broadcast_to(zero, shape), ZeroDivisionError, "division by zero")
    return np.divide(a, b)


def _power(a: Array, b: Array) -> Array:
    shape = np.broadcast_shapes(a.shape, b.shape)
    _refuse(
        np.broadcast_to((a == 0.0) & (b < 0.0), shape),
        ZeroDivisionError,
        "0.0 ** negative: zero cannot be raised to a negative power",
    )
    _refuse(
        np.broadcast_to((a < 0.0) & (b != np.round(b)), shape),
        ValueError,
        "a negative base needs an integer exponent",
    )
    return np.power(a, b)


def _log(a: Array) -> Array:
    _refuse(~(a > 0.0), ValueError, "log needs positive numbers")  # ~(>) catches NaN too
    return np.log(a)


def _sqrt(a: Array) -> Array:
    _refuse(~(a >= 0.0), ValueError, "sqrt needs numbers >= 0")
    return np.sqrt(a)


def _sigmoid(a: Array) -> Array:
    # NOTE: ops._sigmoid's two branches, so exp never overflows: 1 / (1 + e^-a) for a >= 0,
    # e^a / (1 + e^a) below, so sigmoid(-720) is 1.4e-313 as with Value, not 0.
    e = np.exp(-np.abs(a))
    result: Array = np.where(a < 0.0, e, 1.0) / (e + 1.0)
    return result


def _relu(a: Array) -> Array:
    result: Array = np.maximum(a, 0.0)
    return result


def _matmul(a: Array, b: Array) -> Array:
    if a.ndim not in (1, 2) or b.ndim not in (1, 2):
        raise ValueError(f"@ takes 1-D and 2-D tensors, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[0]:
        raise ValueError(
            f"@: shapes {a.shape} and {b.shape} do not match ({a.shape[-1]} != {b.shape[0]})"
        )
    product: Array = np.matmul(a, b)
    return product


def _as_matrices(g: Array, a: Array, b: Array) -> tuple[Array, Array, Array]:
    if a.ndim == 2 and b.ndim == 2:  # the common case: nothing to reshape
        return g, a, b
    # A 1-D left operand is a row, a 1-D right operand a column, as numpy reads them.
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    return g.reshape(a2.shape[0], b2.shape[1]), a2, b2


def _matmul_vjp_left(g: Array, out: Array, a: Array, b: Array) -> Array:
    g2, _, b2 = _as_matrices(g, a, b)
    grad_a: Array = (g2 @ b2.T).reshape(a.shape)  # gA = g @ B.T
    return grad_a


def _matmul_vjp_right(g: Array, out: Array, a: Array, b: Array) -> Array:
    g2, a2, _ = _as_matrices(g, a, b)
    # gB = A.T @ g, computed as (g.T @ A).T: the same sums, stored so that a layer's weight
    # W, used as W.T, gets its gradient row by row like W itself (copied and updated faster).
    grad_b: Array = (g2.T @ a2).T.reshape(b.shape)
    return grad_b


def _d_power_d_base(out: Array, a: Array, b: Array) -> Array:
    # NOTE: as ops._d_power_d_base, step by step: d/da a**0 is 0 at a = 0 (where a**-1
    # divides by zero); elsewhere b * a**(b - 1), whose power may divide by zero or overflow.
    both_zero = (a == 0.0) & (b == 0.0)
    exponent = np.where(both_zero, 1.0, b - 1.0)
    _refuse(
        (a == 0.0) & (exponent < 0.0),
        ZeroDivisionError,
        "the derivative b * a**(b - 1) divides by zero at a = 0",
    )
    power = np.power(a, exponent)
    _refuse(~np.isfinite(power), OverflowError, "a**(b - 1) of the derivative overflows a float")
    result: Array = np.where(both_zero, 0.0, b * power)
    return result


def _d_power_d_exponent(out: Array, a: Array, b: Array) -> Array:
    # NOTE: at a = 0 (b >= 0) we take 0, as ops._d_power_d_exponent and PyTorch do.
    _refuse(
        np.broadcast_to(a < 0.0, out.shape),
        ValueError,
        "no derivative with respect to the exponent (a**b * ln a needs a positive base)",
    )
    result: Array = out * np.log(np.where(a > 0.0, a, 1.0))
    return result


def _d_sqrt(out: Array, a: Array) -> Array:
    # d sqrt(a) = 1 / (2 sqrt(a)): infinite at a = 0, which we refuse rather than return inf.
    _refuse(
        out == 0.0, ZeroDivisionError, "the derivative 1 / (2 sqrt(a)) divides by zero at a = 0"
    )
    result: Array = 0.5 / out
    return result


_EXACT_SUM: Callable[..., float] = OPS["sum"].forward  # the scalar engine's exact sum


def _sum(a: Array, axis: Any = None, keepdims: bool = False) -> Array:
    total = np.asarray(np.sum(a, axis=axis, keepdims=keepdims), dtype=np.float64)
    if np.isfinite(total).all():
        return total
    # NOTE: 1e308 + 1e308 - 1e308 overflows on the way but fits: as Value.sum, each result
    # is then the exact sum of its slice (slow, so only on this rare path), and overflows
    # only when that does.
    summed = tuple(range(a.ndim)) if axis is None else tuple(np.atleast_1d(axis).tolist())
    slices = np.moveaxis(a, summed, tuple(range(-len(summed), 0)))  # the summed axes last
    rows = slices.reshape(-1, int(np.prod(slices.shape[a.ndim - len(summed) :])))
    return np.array([_EXACT_SUM(*row) for row in rows.tolist()]).reshape(total.shape)


def _sum_vjp(g: Array, out: Array, a: Array, axis: Any = None, keepdims: bool = False) -> Array:
    # Every entry of a reached the sum with weight 1: spread g back over the summed axes.
    if axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, a.shape)


# NOTE: PyTorch clamps each log of binary cross-entropy at -100 (p = 0 or 1 costs at most
# 100) and divides the gradient (p - y) / (p (1 - p)) by at least ~1e-12; the scalar
# nn.losses copies both, and so do we, so the two engines agree at saturated outputs too.
_LOG_FLOOR = -100.0
_GRADIENT_FLOOR = 9.999999960041972e-13


def _clamped_logs(p: Array) -> tuple[Array, Array]:
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped at once
        return np.maximum(np.log(p), _LOG_FLOOR), np.maximum(np.log1p(-p), _LOG_FLOOR)


def _binary_cross_entropy(p: Array, y: Array) -> Array:
    shape = np.broadcast_shapes(p.shape, y.shape)
    _refuse(
        np.broadcast_to(~((p >= 0.0) & (p <= 1.0)), shape),
        ValueError,
        "binary cross-entropy needs probabilities in [0, 1] (is the output a sigmoid?)",
    )
    _refuse(
        np.broadcast_to(~((y >= 0.0) & (y <= 1.0)), shape),
        ValueError,
        "binary cross-entropy needs labels in [0, 1]",
    )
    log_p, log_q = _clamped_logs(p)
    result: Array = -(y * log_p + (1.0 - y) * log_q) + 0.0  # + 0.0: no -0.0 for a perfect p
    return result


def _binary_cross_entropy_vjp_p(g: Array, out: Array, p: Array, y: Array) -> Array:
    return g * (p - y) / np.maximum(p * (1.0 - p), _GRADIENT_FLOOR)


def _binary_cross_entropy_vjp_y(g: Array, out: Array, p: Array, y: Array) -> Array:
    log_p, log_q = _clamped_logs(p)
    return g * (log_q - log_p)


def _mean_squared_error(p: Array, t: Array) -> Array:
    if p.shape != t.shape:
        raise ValueError(f"mse: shapes {p.shape} and {t.shape} differ")
    difference = p - t
    return np.asarray(np.add.reduce(difference * difference, axis=None) / p.size)


def _log_softmax(a: Array, axis: int = -1) -> Array:
    # NOTE: subtract the largest entry first, so exp never overflows (log-sum-exp trick).
    shifted = a - a.max(axis=axis, keepdims=True)
    result: Array = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return result


def _softmax(a: Array, axis: int = -1) -> Array:
    exps = np.exp(a - a.max(axis=axis, keepdims=True))
    result: Array = exps / exps.sum(axis=axis, keepdims=True)
    return result


# ---- the table ------------------------------------------------------------------------------
# Each row: name, forward, one VJP per input (g, out, *inputs, **params) -> the input's gradient.
# NOTE: an entry-by-entry VJP is Local(its derivative), never written g / a: the engine
# checks the local derivative itself, so 1 / 5e-324 = inf raises even where g is 0.

TENSOR_OPS: dict[str, TensorOp] = {
    op.name: op
    for op in (
        TensorOp("+", np.add, (lambda g, out, a, b: g, lambda g, out, a, b: g)),
        TensorOp("-", np.subtract, (lambda g, out, a, b: g, lambda g, out, a, b: -g)),
        TensorOp("*", np.multiply, (Local(lambda out, a, b: b), Local(lambda out, a, b: a))),
        TensorOp("/", _divide,
                 (Local(lambda out, a, b: 1.0 / b), Local(lambda out, a, b: -out / b)),
                 domain=(0.5, 3.0)),
        TensorOp("**", _power, (Local(_d_power_d_base), Local(_d_power_d_exponent)),
                 domain=(0.5, 2.0)),
        TensorOp("@", _matmul, (_matmul_vjp_left, _matmul_vjp_right)),
        TensorOp("neg", np.negative, (lambda g, out, a: -g,), bounded=True),
        # NOTE: abs'(0) = 0 and relu'(0) = 0, the subgradients PyTorch picks.
        TensorOp("abs", np.abs, (Local(lambda out, a: np.sign(a)),), bounded=True),
        TensorOp("exp", np.exp, (Local(lambda out, a: out),)),
        TensorOp("log", _log, (Local(lambda out, a: 1.0 / a),), domain=(0.2, 5.0)),
        TensorOp("tanh", np.tanh, (Local(lambda out, a: 1.0 - out * out),), bounded=True),
        TensorOp("sigmoid", _sigmoid, (Local(lambda out, a: out * (1.0 - out)),), bounded=True),
        TensorOp("relu", _relu, (Local(lambda out, a: a > 0.0),), bounded=True),
        TensorOp("sin", np.sin, (Local(lambda out, a: np.cos(a)),), bounded=True),
        TensorOp("cos", np.cos, (Local(lambda out, a: -np.sin(a)),), bounded=True),
        TensorOp("sqrt", _sqrt, (Local(_d_sqrt),), domain=(0.2, 5.0)),
        TensorOp("sum", _sum, (_sum_vjp,)),
        TensorOp("reshape", lambda a, shape: a.reshape(shape),
                 (lambda g, out, a, shape: g.reshape(a.shape),), bounded=True),
        TensorOp("T", lambda a: a.T, (lambda g, out, a: g.T,), bounded=True),
        # d log_softmax: g minus softmax times the sum of g (softmax = exp(out)).
        TensorOp("log_softmax", _log_softmax,
                 (lambda g, out, a, axis: g - np.exp(out) * g.sum(axis=axis, keepdims=True),)),
        # d softmax: s * (g - <g, s>) along the axis.
        TensorOp("softmax", _softmax,
                 (lambda g, out, a, axis: out * (g - (g * out).sum(axis=axis, keepdims=True)),)),
        # Loss per entry -[y log p + (1 - y) log(1 - p)]; d/dp = (p - y) / (p (1 - p)).
        TensorOp("binary_cross_entropy", _binary_cross_entropy,
                 (_binary_cross_entropy_vjp_p, _binary_cross_entropy_vjp_y), domain=(0.1, 0.9)),
        # NOTE: one row for the whole mean squared error, as PyTorch has one: the same
        # numbers as (p - t)**2 summed and divided, in one node instead of five (a faster step).
        # L = mean((p - t)^2); dL/dp = 2 (p - t) / n, dL/dt = -2 (p - t) / n.
        TensorOp("mse", _mean_squared_error,
                 (lambda g, out, p, t: g * (2.0 / p.size) * (p - t),
                  lambda g, out, p, t: g * (-2.0 / p.size) * (p - t))),
    )
}  # fmt: skip
