r"""Hypothesis strategies for property-testing gradients: numbers and random expressions.

``values()`` draws finite floats in a sane range. ``expressions(n_vars, max_ops, ops)``
draws ``(expression, xs)``: a random DAG of primitives over ``x0 ... x{n-1}`` and a point
``xs`` to check it at. The expression (a :class:`tinygrad_edu.expr.Expression`) is a
callable that works on ``Value`` s and on floats, prints as a formula such as
``tanh(x0 * x1) + log(x0 * x0 + 0.2)``, and holds its graph (``.root``, ``.nodes``) so a
second backend (PyTorch in our tests) can evaluate the same structure. Failing examples
shrink to few ops over ``x0``.

How the draws stay meaningful:

* **Shared sub-expressions.** Each new op picks its operands among all earlier nodes, so
  a node can feed several later ones (a DAG); the nodes nothing else uses are added up
  at the end (one ``sum``).
* **Domains for any input**, with guard constants taken from the op's domain in
  :data:`tinygrad_edu.ops.OPS`: ``log(u*u + 0.2)``, ``sqrt(u*u + 0.2)``,
  ``a / (b*b + 0.5)``, ``(a*a + 0.5) ** b``. They hold for every real ``u``, not only at
  the drawn point, so finite differences around it stay inside the domain too.
* **Order-one magnitudes.** Every node carries interval bounds on its value and on
  :math:`\sum_i |\partial node / \partial x_i|` over inputs in :math:`[-2, 2]`. When
  either exceeds 4 the node is scaled by a power of two (``(...) * 0.25``: exact in
  binary), and the arguments of ``exp`` and of a ``Value`` exponent are scaled into
  ``[-2, 2]``. So there is no ``exp(exp(...))`` blow-up and derivatives stay of order one,
  where the default gradcheck tolerances are meaningful.
* **No kinks at the point.** The drawn point keeps every ``relu`` and ``abs`` argument at
  least ``KINK_MARGIN`` away from 0 (other points are rejected), so a correct gradient
  always has a derivative to compare with.

The guard and scaling nodes use ``+`` and ``*`` even when ``ops`` leaves them out;
``ops`` restricts the ops drawn, not the glue around them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from tinygrad_edu.expr import Apply, Constant, Expression, Node, Variable
from tinygrad_edu.ops import OPS

# Inputs of drawn expressions lie in [-INPUT_RANGE, INPUT_RANGE].
INPUT_RANGE = 2.0
# Bounds every node is scaled back under: |value| and the sum of |partial derivatives|.
MAX_MAGNITUDE = 4.0
MAX_SLOPE = 4.0
# relu/abs arguments at the drawn point stay this far from their kink at 0.
KINK_MARGIN = 1e-3
# Constant exponents drawn for **, inside its domain (-2, 2) in ops.OPS.
EXPONENTS = (2.0, -1.0, 0.5, 1.5, -0.5)

_UNARY = ("neg", "abs", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt")
_BINARY = ("+", "-", "*", "/", "**")


def values(min_value: float = -3.0, max_value: float = 3.0) -> st.SearchStrategy[float]:
    """Finite floats in ``[min_value, max_value]`` (no NaN, no infinities, no subnormals)."""
    if not (math.isfinite(min_value) and math.isfinite(max_value) and min_value <= max_value):
        raise ValueError(f"need finite min_value <= max_value, got {min_value!r}, {max_value!r}")
    return st.floats(
        min_value, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False
    )


def expressions(
    n_vars: int = 3, max_ops: int = 20, ops: Iterable[str] | None = None
) -> st.SearchStrategy[tuple[Expression, list[float]]]:
    """Random expressions over ``x0 ... x{n_vars-1}`` with at most ``max_ops`` drawn ops.

    Draws ``(expression, xs)``: ``expression(*xs)`` works on Values and on floats, and
    ``expression.formula`` reads like Python. ``ops`` names the primitives to draw from
    (keys of ``ops.OPS``; default all of them).
    """
    if isinstance(n_vars, bool) or not isinstance(n_vars, int) or n_vars < 1:
        raise ValueError(f"n_vars must be an int >= 1, got {n_vars!r}")
    if isinstance(max_ops, bool) or not isinstance(max_ops, int) or max_ops < 1:
        raise ValueError(f"max_ops must be an int >= 1, got {max_ops!r}")
    chosen = tuple(OPS) if ops is None else tuple(ops)
    unknown = [name for name in chosen if name not in OPS]
    if unknown or not chosen:
        raise ValueError(
            f"ops must name primitives of ops.OPS ({', '.join(OPS)}); got {list(chosen)!r}"
        )
    return _expressions(n_vars, max_ops, chosen)


@dataclass(frozen=True)
class _Bounded:
    """A node with bounds valid for all inputs in the input box."""

    node: Node
    low: float
    high: float
    # An upper bound on sum_i |d node / d x_i|.
    slope: float

    @property
    def magnitude(self) -> float:
        return max(abs(self.low), abs(self.high))


def _constant(value: float) -> _Bounded:
    return _Bounded(Constant(value), value, value, 0.0)


def _apply(op: str, *args: _Bounded) -> _Bounded:
    """The node ``op(*args)`` with its bounds (interval arithmetic, per primitive)."""
    node = Apply(op, tuple(arg.node for arg in args))
    low, high, slope = _BOUNDS[op](*args)
    return _Bounded(node, low, high, slope)


def _product(a: _Bounded, b: _Bounded) -> tuple[float, float, float]:
    if a.node is b.node:  # a square is never negative
        top = a.magnitude**2
        bottom = 0.0 if a.low <= 0.0 <= a.high else min(a.low**2, a.high**2)
        return bottom, top, 2.0 * a.magnitude * a.slope
    corners = (a.low * b.low, a.low * b.high, a.high * b.low, a.high * b.high)
    return min(corners), max(corners), a.slope * b.magnitude + a.magnitude * b.slope


def _quotient(a: _Bounded, b: _Bounded) -> tuple[float, float, float]:
    # Only ever called with b.low > 0 (the guard b*b + 0.5).
    corners = (a.low / b.low, a.low / b.high, a.high / b.low, a.high / b.high)
    slope = a.slope / b.low + a.magnitude * b.slope / b.low**2
    return min(corners), max(corners), slope


def _power(base: _Bounded, exponent: _Bounded) -> tuple[float, float, float]:
    # base.low > 0 (the guard a*a + 0.5); base**e is monotone in each argument.
    bases, exponents = (base.low, base.high), (exponent.low, exponent.high)
    powers = [b**e for b in bases for e in exponents]
    lower_powers = [b ** (e - 1.0) for b in bases for e in exponents]
    log_size = max(abs(math.log(b)) for b in bases)
    d_base = exponent.magnitude * max(lower_powers)
    d_exponent = max(powers) * log_size
    return min(powers), max(powers), d_base * base.slope + d_exponent * exponent.slope


def _absolute(a: _Bounded) -> tuple[float, float, float]:
    bottom = 0.0 if a.low <= 0.0 <= a.high else min(abs(a.low), abs(a.high))
    return bottom, a.magnitude, a.slope


_BOUNDS: dict[str, Callable[..., tuple[float, float, float]]] = {
    "+": lambda a, b: (a.low + b.low, a.high + b.high, a.slope + b.slope),
    "-": lambda a, b: (a.low - b.high, a.high - b.low, a.slope + b.slope),
    "*": _product,
    "/": _quotient,
    "**": _power,
    "sum": lambda *xs: (sum(x.low for x in xs), sum(x.high for x in xs), sum(x.slope for x in xs)),
    "neg": lambda a: (-a.high, -a.low, a.slope),
    "abs": _absolute,
    "exp": lambda a: (math.exp(a.low), math.exp(a.high), math.exp(a.high) * a.slope),
    "log": lambda a: (math.log(a.low), math.log(a.high), a.slope / a.low),
    "tanh": lambda a: (math.tanh(a.low), math.tanh(a.high), a.slope),
    "sigmoid": lambda a: (OPS["sigmoid"].forward(a.low), OPS["sigmoid"].forward(a.high),
                          a.slope / 4.0),
    "relu": lambda a: (max(a.low, 0.0), max(a.high, 0.0), a.slope),
    "sin": lambda a: (-1.0, 1.0, a.slope),
    "cos": lambda a: (-1.0, 1.0, a.slope),
    "sqrt": lambda a: (math.sqrt(a.low), math.sqrt(a.high), a.slope / (2.0 * math.sqrt(a.low))),
}  # fmt: skip


def _scaled(a: _Bounded, magnitude: float, slope: float = math.inf) -> _Bounded:
    """``a`` times the largest power of two that brings it under both limits."""
    ratio = max(a.magnitude / magnitude, a.slope / slope)
    if ratio <= 1.0:
        return a
    return _apply("*", a, _constant(2.0 ** -math.ceil(math.log2(ratio))))


def _squared_plus(a: _Bounded, floor: float) -> _Bounded:
    """``a*a + floor``: at least ``floor`` for every input."""
    return _apply("+", _apply("*", a, a), _constant(floor))


def _lower_end(op: str, argument: int) -> float:
    return OPS[op].domain[argument][0]


def _build(op: str, operands: list[_Bounded], exponent: float | None) -> _Bounded:
    """Apply ``op`` to ``operands`` with the guards that keep it inside its domain."""
    if op == "/":
        return _apply("/", operands[0], _squared_plus(operands[1], _lower_end("/", 1)))
    if op == "**":
        base = _squared_plus(operands[0], _lower_end("**", 0))
        if exponent is not None:
            return _apply("**", base, _constant(exponent))
        return _apply("**", base, _scaled(operands[1], OPS["**"].domain[1][1]))
    if op in ("log", "sqrt"):
        return _apply(op, _squared_plus(operands[0], _lower_end(op, 0)))
    if op == "exp":
        return _apply("exp", _scaled(operands[0], OPS["exp"].domain[0][1]))
    return _apply(op, *operands)


_Step = tuple[str, list[int], "float | None"]


@st.composite
def _step(draw: st.DrawFn, ops: tuple[str, ...]) -> _Step:
    """One op of the recipe with raw operand picks (reduced modulo the pool size later)."""
    op = draw(st.sampled_from(ops))
    arity = draw(st.integers(2, 4)) if op == "sum" else (1 if op in _UNARY else 2)
    picks = [draw(st.integers(0, 2**16)) for _ in range(arity)]
    exponent = draw(st.one_of(st.none(), st.sampled_from(EXPONENTS))) if op == "**" else None
    return op, picks, exponent


@st.composite
def _expressions(
    draw: st.DrawFn, n_vars: int, max_ops: int, ops: tuple[str, ...]
) -> tuple[Expression, list[float]]:
    names = [f"x{k}" for k in range(n_vars)]
    pool = [_Bounded(Variable(name), -INPUT_RANGE, INPUT_RANGE, 1.0) for name in names]
    used: set[int] = set()
    # A list of steps: hypothesis shrinks a failing example by deleting steps.
    for op, picks, exponent in draw(st.lists(_step(ops), min_size=1, max_size=max_ops)):
        # Any earlier node may be an operand: this is where sub-expressions get shared.
        chosen = [pick % len(pool) for pick in picks]
        used.update(chosen)
        node = _build(op, [pool[k] for k in chosen], exponent)
        pool.append(_scaled(node, MAX_MAGNITUDE, MAX_SLOPE))
    sinks = [bounded for k, bounded in enumerate(pool) if k >= n_vars and k not in used]
    total = sinks[0]
    if len(sinks) > 1:
        total = _scaled(_apply("sum", *sinks), MAX_MAGNITUDE, MAX_SLOPE)
    expression = Expression(total.node, names)
    xs = [draw(values(-INPUT_RANGE, INPUT_RANGE)) for _ in names]
    assume(kink_distance(expression, xs) >= KINK_MARGIN)
    return expression, xs


def kink_distance(expression: Expression, xs: list[float]) -> float:
    """How far the nearest ``relu``/``abs`` argument is from its kink at 0 (inf if none)."""
    env = dict(zip(expression.variables, xs, strict=True))
    results: dict[int, float] = {}
    distance = math.inf
    for node in expression.nodes:
        if isinstance(node, Constant):
            results[id(node)] = node.value
        elif isinstance(node, Variable):
            results[id(node)] = env[node.name]
        else:
            args = [results[id(arg)] for arg in node.args]
            if node.op in ("relu", "abs"):
                distance = min(distance, abs(args[0]))
            results[id(node)] = OPS[node.op].forward(*args)
    return distance
