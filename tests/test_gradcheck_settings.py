"""SPEC §5.1: zero tolerances compare exactly, a vanished step is refused, constants are fine.

Also: gradcheck describes whatever ``backward()`` can do, a constant base or exponent
included (the derivative a constant needs is never asked for).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tinygrad_edu import Value
from tinygrad_edu.gradcheck import gradcheck, gradgradcheck, numerical_grad

# Every zero / non-zero combination of the two tolerances.
TOLERANCES = [(0.0, 0.0), (0.0, 1e-3), (1e-5, 0.0), (1e-5, 1e-3)]
# eps = 2**-20 makes x +- eps exact at x = 1, so 2x has the exact finite difference 2.0.
EXACT_STEP = 2.0**-20


# ---- atol = 0, rtol = 0: an exact comparison, never a crash ---------------------------------


@pytest.mark.parametrize(("atol", "rtol"), TOLERANCES)
def test_zero_on_both_sides_passes_under_any_tolerance(atol: float, rtol: float) -> None:
    # x * x at 0: analytic 0, and f(h) - f(-h) = 0 exactly.
    report = gradcheck(lambda x: x * x, [0.0], atol=atol, rtol=rtol)
    assert report, str(report)
    assert report.rows[0].numeric == 0.0 == report.rows[0].analytic


@pytest.mark.parametrize(("atol", "rtol"), TOLERANCES)
def test_an_exactly_equal_non_zero_gradient_passes_under_any_tolerance(
    atol: float, rtol: float
) -> None:
    report = gradcheck(lambda x: x * 2.0, [1.0], eps=EXACT_STEP, atol=atol, rtol=rtol)
    assert report, str(report)
    assert report.rows[0].numeric == 2.0


@pytest.mark.parametrize(("atol", "rtol"), TOLERANCES)
@pytest.mark.parametrize(
    ("f", "x", "wrong"),
    [
        (lambda x: x * 2.0, 1.0, 0.0),  # analytic 0, numeric 2
        (lambda x: x * x, 0.0, 1.0),  # analytic 1, numeric 0
        (lambda x: x * 2.0, 1.0, 2.5),  # both non-zero
    ],
)
def test_a_wrong_gradient_fails_under_any_tolerance(
    f: Callable[[Any], Any], x: float, wrong: float, atol: float, rtol: float
) -> None:
    report = gradcheck(f, [x], grad_fn=lambda xs: [wrong], eps=EXACT_STEP, atol=atol, rtol=rtol)
    assert not report
    assert report.rows[0].analytic == wrong


def test_zero_tolerance_is_an_exact_comparison_and_says_why_rounding_fails_it() -> None:
    # ((1 + h)^2 - (1 - h)^2) / 2h is 2 only up to rounding: an exact comparison fails,
    # and the row says so instead of crashing on the tolerance 0 (ZeroDivisionError before).
    report = gradcheck(lambda x: x * x, [1.0], atol=0, rtol=0)
    (row,) = report.rows
    assert not report and row.numeric != 2.0
    assert row.note.startswith("not exactly equal (tolerance 0 asks for an exact comparison)")
    assert gradcheck(lambda x: x * x, [1.0], atol=1e-9, rtol=0), "a small tolerance passes"


@pytest.mark.parametrize(("atol", "rtol"), [(0.0, 0.0), (0.0, 1e-3)])
def test_gradgradcheck_with_zero_tolerance_reports_instead_of_crashing(
    atol: float, rtol: float
) -> None:
    assert gradgradcheck(lambda x: x * x * x, [0.0], atol=atol, rtol=rtol)  # 6x: 0 both sides
    (row,) = gradgradcheck(lambda x: x * x * x, [1.0], atol=0, rtol=0).rows
    assert row.ok == (row.analytic == row.numeric)
    assert row.ok or row.note.startswith("not exactly equal")


def test_a_tolerance_no_step_can_meet_asks_for_a_larger_tolerance() -> None:
    # 5e-324 is the smallest float: the eps it would need overflows a float.
    report = gradcheck(lambda x: x * x, [1.0], atol=5e-324, rtol=0)
    assert not report
    assert report.rows[0].note.endswith(
        "no eps can meet this tolerance: pass a larger atol or rtol"
    )


# ---- a step that vanishes at an input is refused -------------------------------------------


VANISHING = [(5e-324, 0.0), (5e-324, 1.0), (1e-6, 1e20), (1e-6, -1e20), (1e-300, 3.0)]
CHECKS: list[Callable[..., Any]] = [numerical_grad, gradcheck, gradgradcheck]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize(("eps", "x"), VANISHING)
def test_a_vanishing_step_raises_and_names_an_eps_that_works(
    check: Callable[..., Any], eps: float, x: float
) -> None:
    assert x + eps / 2 == x
    with pytest.raises(ValueError, match=r"vanishes at .* pass eps of about") as raised:
        check(lambda x: x * x, [x], eps=eps)
    suggested = float(re.findall(r"pass eps of about (\S+)", str(raised.value))[0])
    assert gradcheck(lambda x: x * x, [x], eps=suggested)


def test_the_vanishing_input_is_named_among_several() -> None:
    with pytest.raises(ValueError, match=r"vanishes at y = 1e\+20 .* about 1e\+14"):
        gradcheck(lambda x, y: x * y, [0.5, 1e20])


def test_numerical_grad_divides_by_the_distance_actually_stepped() -> None:
    # At 1e9 the floats are 1.2e-7 apart: x +- 1e-6 are rounded, 2h is not their distance.
    # (Doubling is exact, so any error would come from the step alone.)
    assert numerical_grad(lambda x: x * 2.0, [1e9]) == [2.0]
    assert numerical_grad(lambda x: x * 2.0, [-3e8]) == [2.0]


# ---- constants need no derivative: gradcheck describes what backward() does -----------------


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x**2,
        lambda x: x**3.0,
        lambda x: x**-1,
        lambda x: x ** Value(2.0, requires_grad=False),
        lambda x: Value(2.0, requires_grad=False) ** x,
        lambda x: 2.0**x,
    ],
)
def test_a_constant_exponent_or_base_checks_at_a_negative_input(f: Callable[[Any], Any]) -> None:
    # backward() needs no derivative for the constant (ln of a negative base is never asked).
    x = Value(-2.0)
    f(x).backward()
    assert gradcheck(f, [-2.0]), str(gradcheck(f, [-2.0]))
    assert gradgradcheck(f, [-2.0]), str(gradgradcheck(f, [-2.0]))
    assert gradcheck(f, [-2.0]).rows[0].analytic == x.grad


def test_a_negative_constant_base_says_what_backward_and_the_differences_hit() -> None:
    # (-2) ** x is defined at integers only: backward() has no d/dx and neither has f.
    def f(x: Value) -> Value:
        return Value(-2.0, requires_grad=False) ** x

    with pytest.raises(ValueError, match="no derivative with respect to the exponent"):
        f(Value(-2.0)).backward()
    (row,) = gradcheck(f, [-2.0]).rows
    assert not row.ok
    assert row.note.startswith("no finite difference: f fails at x + 1e-06")
    assert "backward failed:" in row.note
    assert "no derivative with respect to the exponent" in row.note


def test_gradgradcheck_names_the_point_where_backward_fails_without_a_zero_step() -> None:
    # The first derivatives fail at the point itself: the note says "at x", not "at x + 0".
    (row,) = gradgradcheck(lambda x: Value(-2.0, requires_grad=False) ** x, [-2.0]).rows
    assert not row.ok
    assert row.note.startswith("no finite difference: f fails at x (backward through '**'")
