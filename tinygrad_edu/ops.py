r"""The primitive operations: one table row per op, its forward rule beside its derivatives.

Everything here is plain float math; the graph bookkeeping lives in ``engine.py``. Each
row states, for an op ``out = f(x_1, ..., x_n)``:

* ``forward``: computes ``out`` from floats and raises a clear error outside the domain;
* ``partials``: one function per input giving the local derivative
  :math:`\partial out / \partial x_i`, written from the inputs and the output (``tanh``
  reuses ``out``). The engine multiplies it by ``out.grad`` (the chain rule).

A partial is called as ``partial(fn, *inputs, out)``. On the fast path the inputs are floats
and ``fn`` is :data:`FLOAT_FUNCTIONS`; for ``grad(create_graph=True)`` they are ``Value``
nodes and ``fn`` holds the matching ``Value`` methods, so one definition serves both.

``domain`` (one interval per input) and ``pinned`` cases exist for the tests: the generic
test samples every op inside its domain and checks its pinned values.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

# A partial is a function (fn, *inputs, out) -> derivative, or a float when it is constant.
Partial = Callable[..., Any] | float


@dataclass(frozen=True)
class Op:
    """A primitive: its name, forward rule, one local derivative per input, test domain."""

    name: str
    forward: Callable[..., float]
    partials: tuple[Partial, ...]
    domain: tuple[tuple[float, float], ...]
    # (inputs, expected output, expected partials) checked exactly by the tests.
    pinned: tuple[tuple[tuple[float, ...], float, tuple[float, ...]], ...] = ()
    # A variadic op takes any number of inputs and has one constant partial shared by all.
    variadic: bool = False

    def __post_init__(self) -> None:
        if self.variadic and not (len(self.partials) == 1 and isinstance(self.partials[0], float)):
            raise ValueError(f"variadic op {self.name!r} needs exactly one constant partial")


class FloatFunctions:
    """The functions a partial may call, on floats (the fast path)."""

    cos = staticmethod(math.cos)
    sin = staticmethod(math.sin)
    log = staticmethod(math.log)


FLOAT_FUNCTIONS = FloatFunctions()


# ---- forward rules with their domain checks ------------------------------------------


def _not_finite(a: float, b: float) -> bool:
    return (a - a) + (b - b) != 0.0  # inf - inf and NaN - NaN are NaN


def _divide(a: float, b: float) -> float:
    # NOTE: a NaN or inf input gives NaN, so that the engine, which checks every result,
    # reports it: 5 / inf = 0 would hide it.
    if _not_finite(a, b):
        return math.nan
    if b == 0.0:
        raise ZeroDivisionError(f"division by zero: {a!r} / {b!r}")
    return a / b


def _power(a: float, b: float) -> float:
    if _not_finite(a, b):  # as for _divide: inf ** 0 and 1 ** NaN would be 1.0
        return math.nan
    if a == 0.0 and b < 0.0:
        raise ZeroDivisionError(f"0.0 ** {b!r}: zero cannot be raised to a negative power")
    if a < 0.0 and not b.is_integer():
        raise ValueError(f"{a!r} ** {b!r}: a negative base needs an integer exponent")
    try:
        return float(a**b)
    except OverflowError:
        raise OverflowError(f"{a!r} ** {b!r} overflows a float") from None


def _exp(a: float) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        raise OverflowError(f"exp({a!r}) overflows a float (the limit is about 709.78)") from None


def _log(a: float) -> float:
    if not a > 0.0:  # written so that NaN fails too
        raise ValueError(f"log({a!r}): the logarithm needs a positive number")
    return math.log(a)


def _sqrt(a: float) -> float:
    if not a >= 0.0:  # written so that NaN fails too
        raise ValueError(f"sqrt({a!r}): the square root needs a number >= 0")
    return math.sqrt(a)


def _sum(*terms: float) -> float:
    try:
        return math.fsum(terms)  # exactly rounded: the order of the terms does not matter
    except ValueError:  # inf + -inf: NaN, as a + b gives it
        return math.nan
    except OverflowError:  # a partial sum overflowed, but the exact sum may fit
        if not all(map(math.isfinite, terms)):  # or an inf term came after the overflow
            return sum(terms)
    # NOTE: 1e308 + 1e308 - 1e308 fits: Fractions add exactly; slow, so only on this path.
    exact = sum(map(Fraction, terms), start=Fraction(0))
    try:
        return float(exact)
    except OverflowError:
        largest = max(terms, key=abs)
        raise OverflowError(
            f"sum of {len(terms)} terms overflows a float (largest term {largest!r})"
        ) from None


def _sigmoid(a: float) -> float:
    # NOTE: two branches so that exp never overflows: sigmoid(-1000) is 0.0, not an error.
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _relu(a: float) -> float:
    return a if a > 0.0 else 0.0


def _d_power_d_base(fn: Any, a: Any, b: Any, out: Any) -> Any:
    # NOTE: d/da a**0 is 0 everywhere, also at a = 0 where a**-1 would divide by zero.
    # Only there a constant: elsewhere b * a**(b-1) keeps its d/db = 1/a at b = 0.
    # float(): on the create_graph path a, b are Values, which compare equal by identity.
    if float(b) == 0.0 and float(a) == 0.0:
        return 0.0
    return b * a ** (b - 1.0)


def _d_power_d_exponent(fn: Any, a: Any, b: Any, out: Any) -> Any:
    # NOTE: at a = 0 (b >= 0) we take 0, as PyTorch does: the limit a**b * ln a -> 0 for
    # b > 0, and at b = 0 (where 0**b jumps from 1 to 0) the one-sided value from b > 0.
    if a > 0.0:
        return out * fn.log(a)
    if float(a) == 0.0 and b >= 0.0:
        return 0.0
    raise ValueError(
        f"{float(a)!r} ** {float(b)!r}: no derivative with respect to the exponent "
        "(a**b * ln a needs a positive base)"
    )


# ---- the table ------------------------------------------------------------------------
# Each row: name, forward, one partial per input (fn, *inputs, out) -> d out / d input.

OPS: dict[str, Op] = {
    op.name: op
    for op in (
        Op("+", operator.add,
           (1.0, 1.0),
           domain=((-3.0, 3.0), (-3.0, 3.0)), pinned=(((2.0, -3.0), -1.0, (1.0, 1.0)),)),
        Op("-", operator.sub,
           (1.0, -1.0),
           domain=((-3.0, 3.0), (-3.0, 3.0)), pinned=(((2.0, -3.0), 5.0, (1.0, -1.0)),)),
        # NOTE: engine._backward_in_place writes these two partials out inline (speed).
        Op("*", operator.mul,
           (lambda fn, a, b, out: b, lambda fn, a, b, out: a),
           domain=((-3.0, 3.0), (-3.0, 3.0)), pinned=(((2.0, -3.0), -6.0, (-3.0, 2.0)),)),
        Op("/", _divide,
           (lambda fn, a, b, out: 1.0 / b, lambda fn, a, b, out: -out / b),
           domain=((-3.0, 3.0), (0.5, 3.0)), pinned=(((1.0, 4.0), 0.25, (0.25, -0.0625)),)),
        Op("**", _power,
           (_d_power_d_base, _d_power_d_exponent),
           domain=((0.5, 3.0), (-2.0, 2.0)),
           pinned=(((2.0, 3.0), 8.0, (12.0, 8.0 * math.log(2.0))), ((0.0, 2.0), 0.0, (0.0, 0.0)),
                   ((0.0, 0.0), 1.0, (0.0, 0.0)))),
        Op("sum", _sum,
           (1.0,), variadic=True,
           domain=((-3.0, 3.0),) * 3, pinned=(((1.0, 2.0, 3.5), 6.5, (1.0, 1.0, 1.0)),)),
        Op("neg", operator.neg,
           (-1.0,),
           domain=((-3.0, 3.0),), pinned=(((2.0,), -2.0, (-1.0,)),)),
        # NOTE: abs'(0) = 0 (the subgradient PyTorch picks); gradcheck reports the kink.
        Op("abs", math.fabs,
           (lambda fn, a, out: 1.0 if a > 0.0 else (-1.0 if a < 0.0 else 0.0),),
           domain=((-3.0, 3.0),), pinned=(((-2.0,), 2.0, (-1.0,)), ((0.0,), 0.0, (0.0,)))),
        Op("exp", _exp,
           (lambda fn, a, out: out,),
           domain=((-2.0, 2.0),), pinned=(((0.0,), 1.0, (1.0,)),)),
        Op("log", _log,
           (lambda fn, a, out: 1.0 / a,),
           domain=((0.2, 5.0),), pinned=(((1.0,), 0.0, (1.0,)),)),
        Op("tanh", math.tanh,
           (lambda fn, a, out: 1.0 - out * out,),
           domain=((-2.0, 2.0),), pinned=(((0.0,), 0.0, (1.0,)), ((-1000.0,), -1.0, (0.0,)))),
        Op("sigmoid", _sigmoid,
           (lambda fn, a, out: out * (1.0 - out),),
           domain=((-3.0, 3.0),),
           pinned=(((0.0,), 0.5, (0.25,)), ((-1000.0,), 0.0, (0.0,)), ((1000.0,), 1.0, (0.0,)))),
        # NOTE: relu'(0) = 0, as in PyTorch; gradcheck reports the kink.
        Op("relu", _relu,
           (lambda fn, a, out: 1.0 if a > 0.0 else 0.0,),
           domain=((-3.0, 3.0),), pinned=(((-2.0,), 0.0, (0.0,)), ((3.0,), 3.0, (1.0,)))),
        Op("sin", math.sin,
           (lambda fn, a, out: fn.cos(a),),
           domain=((-3.0, 3.0),), pinned=(((0.0,), 0.0, (1.0,)),)),
        Op("cos", math.cos,
           (lambda fn, a, out: -fn.sin(a),),
           domain=((-3.0, 3.0),), pinned=(((0.0,), 1.0, (-0.0,)),)),
        Op("sqrt", _sqrt,
           (lambda fn, a, out: 0.5 / out,),
           domain=((0.2, 5.0),), pinned=(((4.0,), 2.0, (0.25,)),)),
    )
}  # fmt: skip
