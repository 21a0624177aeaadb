"""The primitive table, op by op: forward against ``math``, partials against finite differences.

One generic test per property runs over every row of ``ops.OPS``, so adding an op adds its
tests. The domains come from the table; each is chosen so that |f'| is of order 1 there.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu.ops import FLOAT_FUNCTIONS, OPS, Op

# Independent reference forward rules, written from the definitions.
REFERENCE: dict[str, Callable[..., float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: math.pow(a, b),
    "sum": lambda *xs: math.fsum(xs),
    "neg": lambda a: -a,
    "abs": abs,
    "exp": math.exp,
    "log": math.log,
    "tanh": lambda a: (math.exp(2 * a) - 1) / (math.exp(2 * a) + 1),
    "sigmoid": lambda a: 1 / (1 + math.exp(-a)),
    "relu": lambda a: max(a, 0.0),
    "sin": math.sin,
    "cos": math.cos,
    "sqrt": lambda a: a**0.5,
}

STEP = 1e-6


def local_derivatives(op: Op, args: tuple[float, ...]) -> list[float]:
    out = op.forward(*args)
    partials = [op.partials[0]] * len(args) if op.variadic else list(op.partials)
    return [p if isinstance(p, float) else p(FLOAT_FUNCTIONS, *args, out) for p in partials]


def central_difference(op: Op, args: tuple[float, ...], index: int) -> float:
    up, down = list(args), list(args)
    up[index] += STEP
    down[index] -= STEP
    return (op.forward(*up) - op.forward(*down)) / (2 * STEP)


def check_partials(op: Op, args: tuple[float, ...]) -> None:
    """Assert every local derivative of ``op`` at ``args`` matches central differences."""
    for index, analytic in enumerate(local_derivatives(op, args)):
        numeric = central_difference(op, args, index)
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-6), (op.name, args, index)


def inputs_in_domain(op: Op) -> st.SearchStrategy[tuple[float, ...]]:
    # Stay a few steps away from the domain's edges and from relu's and abs's kink at 0.
    def one(low: float, high: float) -> st.SearchStrategy[float]:
        values = st.floats(low, high, allow_nan=False)
        return values.filter(lambda x: abs(x) > 1e-3) if op.name in ("relu", "abs") else values

    return st.tuples(*(one(low, high) for low, high in op.domain))


def test_the_table_covers_every_op_the_value_class_uses() -> None:
    assert set(OPS) == set(REFERENCE)


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_forward_matches_math(name: str, data: st.DataObject) -> None:
    op = OPS[name]
    args = data.draw(inputs_in_domain(op))
    assert op.forward(*args) == pytest.approx(REFERENCE[name](*args), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_partials_match_central_differences(name: str, data: st.DataObject) -> None:
    op = OPS[name]
    check_partials(op, data.draw(inputs_in_domain(op)))


@pytest.mark.parametrize("name", sorted(OPS))
def test_pinned_cases(name: str) -> None:
    op = OPS[name]
    assert op.pinned, f"{name} has no pinned case"
    for args, expected_out, expected_partials in op.pinned:
        assert op.forward(*args) == expected_out
        assert local_derivatives(op, args) == pytest.approx(list(expected_partials), abs=1e-15)


@pytest.mark.parametrize(
    ("name", "wrong_partials"),
    [
        ("tanh", (lambda fn, a, out: 1.0 - out,)),
        ("*", (lambda fn, a, b, out: a, lambda fn, a, b, out: b)),
        ("sigmoid", (lambda fn, a, out: out,)),
        ("-", (1.0, 1.0)),
        ("**", (lambda fn, a, b, out: b * a**b, OPS["**"].partials[1])),
        ("log", (lambda fn, a, out: a,)),
    ],
)
def test_a_planted_wrong_derivative_is_caught(name: str, wrong_partials: tuple[object]) -> None:
    wrong = dataclasses.replace(OPS[name], partials=wrong_partials)
    # A different point per input, so that swapped partials (b, a) <-> (a, b) differ.
    args = tuple(
        low + (0.37 + 0.2 * i) * (high - low) for i, (low, high) in enumerate(wrong.domain)
    )
    with pytest.raises(AssertionError):
        check_partials(wrong, args)


# ---- non-finite numbers (SPEC 1.1): the engine checks every result, so none may hide ----


@pytest.mark.parametrize("name", ["/", "**"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_input_to_divide_or_power_gives_nan_not_a_finite_number(
    name: str, bad: float
) -> None:
    # IEEE would give 5 / inf = 0, inf ** 0 = 1 and 1 ** nan = 1, hiding the bad input.
    forward = OPS[name].forward
    for args in [(bad, 1.0), (5.0, bad), (bad, 0.0), (1.0, bad)]:
        assert math.isnan(forward(*args)), args


def test_sum_is_exact_when_only_a_partial_sum_overflows() -> None:
    forward = OPS["sum"].forward
    assert forward(1e308, 1e308, -1e308) == 1e308  # math.fsum raises on this
    assert forward(1.7e308, 1.7e308, -1.7e308, 5e-324) == 1.7e308
    with pytest.raises(OverflowError, match=r"sum of 2 terms overflows a float"):
        forward(1e308, 1e308)


def test_sum_with_non_finite_terms_is_non_finite_as_plain_addition_is() -> None:
    forward = OPS["sum"].forward
    assert forward(1.0, math.inf) == math.inf
    assert math.isnan(forward(math.inf, -math.inf))  # math.fsum raises ValueError here
    assert forward(1e308, 1e308, math.inf) == math.inf  # overflow first, then an inf
