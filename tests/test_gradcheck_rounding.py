"""Rounding error is not a kink: large |f| makes finite differences noisy, and says so.

Each f value is off by about eps_mach |f|, so a difference quotient with step h is off by
about eps_mach |f| / h: 2.2e-4 for |f| ~ 1e6 and h = 1e-6, far above atol = 1e-5.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.gradcheck import gradcheck, gradgradcheck


def says_no_kink(note: str) -> bool:
    return "no derivative" not in note and "kink" not in note


# ---- linear functions with large offsets: pass, or say rounding -------------------------


def test_a_large_offset_is_reported_as_rounding_not_as_a_kink() -> None:
    report = gradcheck(lambda x: x * 1e-3 + 1e6, [0.3])
    assert not report
    (row,) = report.rows
    assert row.note.startswith("rounding error too large: |f| ~ 1e+06 makes the finite")
    assert row.note.endswith("pass a larger eps, about 0.001")
    # The suggested step works.
    assert gradcheck(lambda x: x * 1e-3 + 1e6, [0.3], eps=1e-3)


@pytest.mark.parametrize("offset", [1e2, 1e3, 1e4, -1e4])
def test_moderate_offsets_still_pass(offset: float) -> None:
    report = gradcheck(lambda x: x * 1e-3 + offset, [0.3])
    assert report, str(report)


@given(
    st.floats(-2.0, 2.0),
    st.floats(1e-4, 10.0),
    st.sampled_from([-1.0, 1.0]),
    st.floats(0.0, 12.0),
)
def test_linear_functions_with_large_offsets_pass_or_say_rounding(
    x: float, slope: float, sign: float, offset_exponent: float
) -> None:
    offset = sign * 10.0**offset_exponent
    report = gradcheck(lambda v: v * slope + offset, [x])
    (row,) = report.rows
    assert report or row.note.startswith("rounding error too large"), str(report)


# ---- real kinks are still named, even on top of a large value ---------------------------


@pytest.mark.parametrize("offset", [0.0, 1e3, 1e6])
@pytest.mark.parametrize(
    ("f", "note"),
    [
        (lambda x: x.relu(), "no derivative here: left slope 0, right slope 1"),
        (lambda x: abs(x), "no derivative here: left slope -1, right slope 1"),
    ],
)
def test_relu_and_abs_at_zero_have_no_derivative_whatever_the_offset(
    f: Callable[[Value], Value], note: str, offset: float
) -> None:
    report = gradcheck(lambda x: f(x) + offset, [0.0])
    assert not report
    # Rounding moves the slopes in their fifth digit at 1e6: compare the words.
    assert report.rows[0].note.split(":")[0] == note.split(":")[0], str(report)
    if offset < 1e6:
        assert report.rows[0].note == note


def test_a_small_kink_on_a_moderate_value_is_named_not_a_bare_mismatch() -> None:
    report = gradcheck(lambda x: x.relu() * 1e-3 + 1e4, [0.0])
    assert not report
    assert report.rows[0].note.startswith("no derivative here"), str(report)


# ---- a kink within the step, not at the point -------------------------------------------


def test_a_kink_within_the_step_is_named_as_such() -> None:
    # abs has the derivative 1 at 3e-7; the kink at 0 lies inside the step h = 1e-6.
    report = gradcheck(lambda x: abs(x), [3e-7])
    assert not report
    assert report.rows[0].note == (
        "kink within eps=1e-06 of x: left slope -0.4, right slope 1; a smaller eps may resolve it"
    )
    assert gradcheck(lambda x: abs(x), [3e-7], eps=1e-7)


# ---- smooth functions near large values -------------------------------------------------


@pytest.mark.parametrize(
    ("f", "x"),
    [
        (lambda x: x * x, 1e3),
        (lambda x: x * x * x, -50.0),
        (lambda x: x.exp(), 12.0),
        (lambda x: x.sin() + 1e4, 0.3),
        (lambda x: (x * 1e3).tanh() * 1e4, 1e-4),
    ],
)
def test_smooth_functions_near_large_values_pass(f: Callable[[Value], Value], x: float) -> None:
    report = gradcheck(f, [x])
    assert report, str(report)


@given(st.floats(-2.0, 2.0), st.floats(0.0, 10.0))
def test_smooth_functions_with_large_offsets_never_report_a_kink(
    x: float, offset_exponent: float
) -> None:
    offset = 10.0**offset_exponent
    report = gradcheck(lambda v: v.sin() * 1e-2 + v * v * 1e-3 + offset, [x])
    (row,) = report.rows
    assert says_no_kink(row.note), str(report)
    assert report or row.note.startswith("rounding error too large"), str(report)


def test_gradgradcheck_reports_rounding_of_large_first_derivatives() -> None:
    # f' = 1e6 + 2e-3 x: its finite differences are rounding, not a kink of f'.
    report = gradgradcheck(lambda x: x * 1e6 + x * x * 1e-3, [0.3])
    assert not report
    assert report.rows[0].note.startswith("rounding error too large: |df/dx| ~ 1e+06")


# ---- a step the float at x cannot take ----------------------------------------------------


@pytest.mark.parametrize(("x", "spacing", "suggestion"), [(1e9, "1.2e-07", "1e+03"),
                                                          (-3e8, "6.0e-08", "3e+02")])  # fmt: skip
def test_a_step_the_floats_at_x_round_is_refused_with_a_usable_eps(
    x: float, spacing: str, suggestion: str
) -> None:
    # At 1e9, x + 1e-6 lands 8 or 9 float spacings away: the step taken is not 1e-6.
    # (A step that vanishes altogether raises: tests/test_gradcheck_settings.py.)
    report = gradcheck(lambda x: x * x, [x])
    (row,) = report.rows
    assert not report
    assert row.note == (
        f"no finite difference: a step of 1e-06 is not exact at x = {x:g} "
        f"(floats there are {spacing} apart); pass eps of about {suggestion}"
    )
    assert gradcheck(lambda x: x * x, [x], eps=float(suggestion))
    assert not gradgradcheck(lambda x: x * x, [x])
