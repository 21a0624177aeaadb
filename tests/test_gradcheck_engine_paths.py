"""gradcheck checks both engine paths: ``backward()`` (the fast path) and ``grad()``.

A bug planted in only one of them must fail the check, with a note saying which way the
two paths disagree.
"""

from __future__ import annotations

import math

import pytest

from tinygrad_edu import Value
from tinygrad_edu import engine as engine_module
from tinygrad_edu.gradcheck import gradcheck, gradgradcheck


class WrongCosine:
    """Float functions for the fast path with a sign slip in cos: sin'(a) becomes -cos(a)."""

    cos = staticmethod(lambda a: -math.cos(a))
    sin = staticmethod(math.sin)
    log = staticmethod(math.log)


class WrongValueCosine:
    """The same slip, planted in the functions only ``grad()`` calls."""

    cos = staticmethod(lambda a: -Value.cos(a))
    sin = staticmethod(Value.sin)
    log = staticmethod(Value.log)


def test_both_paths_agree_on_a_correct_engine() -> None:
    report = gradcheck(lambda x, y: x * y.sin(), [2.0, 0.5])
    assert report, str(report)
    assert all(row.note == "" for row in report.rows)


def test_a_bug_only_in_backward_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    # FLOAT_FUNCTIONS serves only the fast path (_backward_in_place), which users call.
    monkeypatch.setattr(engine_module, "FLOAT_FUNCTIONS", WrongCosine())
    x = Value(0.5)
    x.sin().backward()
    assert x.grad == pytest.approx(-math.cos(0.5)), "the planted bug must reach backward()"
    report = gradcheck(lambda x: x.sin(), [0.5])
    assert not report, str(report)
    (row,) = report.rows
    assert row.analytic == pytest.approx(-math.cos(0.5))  # the table shows backward()
    assert row.note == (
        f"the two engine paths disagree: backward() gives {-math.cos(0.5):.10g}, "
        f"grad() gives {math.cos(0.5):.10g}"
    )


def test_a_bug_only_in_grad_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "_VALUE_FUNCTIONS", WrongValueCosine())
    report = gradcheck(lambda x: x.sin() * 3.0, [0.5])
    assert not report, str(report)
    assert report.rows[0].analytic == pytest.approx(3.0 * math.cos(0.5))
    assert report.rows[0].note.startswith("the two engine paths disagree: backward() gives 2.6")


def test_a_bug_only_in_backward_is_caught_by_gradgradcheck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The numeric column differentiates backward()'s first derivatives; the analytic one
    # comes from grad(create_graph=True): a fast-path bug makes them differ.
    assert gradgradcheck(lambda x: x.sin(), [0.5])
    monkeypatch.setattr(engine_module, "FLOAT_FUNCTIONS", WrongCosine())
    report = gradgradcheck(lambda x: x.sin(), [0.5])
    assert not report, str(report)


def test_a_failure_in_one_path_only_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_backward(root: Value, seed: float) -> None:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(engine_module, "_backward_in_place", failing_backward)
    report = gradcheck(lambda x: x * x, [1.5])
    assert not report
    assert report.rows[0].note == (
        "the two engine paths disagree: backward() failed (planted) but grad() did not"
    )
