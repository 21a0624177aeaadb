"""``gradcheck`` on functions of Tensors: every entry checked, the worst rows shown."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_edu.engine import no_grad
from tinygrad_edu.gradcheck import GradcheckError, gradcheck
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tensor.ops import TENSOR_OPS, TensorOp


def layer_loss(W: Tensor, x: Tensor) -> Tensor:
    return ((x @ W.T).tanh() ** 2).mean()


def test_every_entry_of_every_input_is_checked_and_passes() -> None:
    rng = np.random.default_rng(0)
    W, x = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    report = gradcheck(layer_loss, [W, Tensor(x)], names=["W", "x"])
    assert report.passed and len(report.rows) == 12 + 20
    assert [row.input for row in report.rows[:2]] == ["W[0, 0]", "W[0, 1]"]
    assert all(abs(row.numeric) > 0 for row in report.rows)
    text = str(report)
    assert text.count("\n") == 1 + 10 + 1  # header, the 10 worst rows, "... more", summary
    assert "22 more entries, all better" in text
    assert text.endswith(
        "gradcheck passed: 32 of 32 gradients match (eps=1e-06, atol=1e-05, rtol=0.001)"
    )


def test_a_planted_wrong_vjp_fails_and_its_rows_come_first(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = TensorOp("tanh", np.tanh, (lambda g, out, a: g * (1.0 - out),))  # not 1 - out**2
    monkeypatch.setitem(TENSOR_OPS, "tanh", wrong)
    rng = np.random.default_rng(1)
    report = gradcheck(layer_loss, [rng.normal(size=(2, 3)), rng.normal(size=(4, 3))])
    assert not report.passed
    assert not report.worst_rows()[0].ok  # type: ignore[attr-defined]
    assert "gradcheck FAILED" in str(report)
    with pytest.raises(GradcheckError):
        gradcheck(
            layer_loss, [rng.normal(size=(2, 3)), rng.normal(size=(4, 3))], raise_exception=True
        )


def test_f_must_return_one_number() -> None:
    with pytest.raises(ValueError, match="one-entry Tensor"):
        gradcheck(lambda x: x * 2.0, [np.ones(3)])


def test_scalar_functions_still_take_the_scalar_path() -> None:
    report = gradcheck(lambda x, y: x * y.tanh(), [2.0, 0.5])
    assert report.passed and [row.input for row in report.rows] == ["x", "y"]


# ---- the scalar check's promises, entry by entry (SPEC §5, §5.1) ---------------------------


def test_a_kink_at_an_entry_fails_and_says_there_is_no_derivative() -> None:
    report = gradcheck(lambda t: t.abs().sum(), [np.array([0.0, 1.0])])
    assert not report.passed
    at_kink, smooth = report.rows
    assert not at_kink.ok
    assert at_kink.note == "no derivative here: left slope -1, right slope 1"
    assert smooth.ok and smooth.note == ""
    relu = gradcheck(lambda t: (t.relu() * 2.0).sum(), [np.array([[0.0, 1.0], [-1.0, 2.0]])])
    assert [row.input for row in relu.failures] == ["t[0, 0]"]
    assert "no derivative here: left slope 0, right slope 2" in str(relu)


def test_zero_tolerance_is_an_exact_comparison_not_a_crash() -> None:
    # x * x: at 0 both sides are exactly 0; at 1 rounding makes the difference miss 2.
    report = gradcheck(lambda t: (t * t).sum(), [np.array([0.0, 1.0])], atol=0.0, rtol=0.0)
    text = str(report)  # sorting the worst rows divided by a zero tolerance
    assert [row.ok for row in report.rows] == [True, False]
    assert report.rows[1].note.startswith("not exactly equal (tolerance 0 asks for an exact")
    assert text.splitlines()[1].startswith("t[1]")  # the failure first
    assert text.endswith(
        "gradcheck FAILED: 1 of 2 gradients did not match (eps=1e-06, atol=0, rtol=0)"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"eps": -1.0}, "eps must be a positive finite number, got -1.0"),
        ({"eps": 0.0}, "eps must be a positive finite number"),
        ({"atol": -1e-5}, "atol must be >= 0"),
        ({"rtol": float("nan")}, "rtol must be a finite number"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gradcheck(lambda t: t.sum(), [np.array([0.5, 1.0])], **settings)  # type: ignore[arg-type]


def test_a_step_that_vanishes_at_an_entry_is_refused_never_a_silent_zero() -> None:
    with pytest.raises(ValueError, match=r"eps=4.94066e-324 vanishes at t\[0\] = 0 .*1e-06"):
        gradcheck(lambda t: t.sum(), [np.array([0.0, 1.0])], eps=5e-324)
    with pytest.raises(ValueError, match=r"vanishes at y\[1\] = 1e\+20"):
        gradcheck(lambda x, y: (x * y).sum(), [np.ones(2), np.array([1.0, 1e20])])


def test_the_quotient_divides_by_the_distance_actually_stepped() -> None:
    # Near 1e8 floats are 1.5e-8 apart: x + 1e-6 is x + 9.98e-7, 0.16% short. Over 2 * eps
    # the slope of a straight line would read 0.9984, failing rtol=1e-3.
    report = gradcheck(lambda t: (t - 1e8).sum(), [np.array([1e8, 1e8 + 1.0])])
    assert report.passed
    assert [row.numeric for row in report.rows] == [1.0, 1.0]
    # The machinery is the scalar check's: it gains the same exactness.
    assert gradcheck(lambda x: x - 1e8, [1e8]).rows[0].numeric == 1.0


def test_a_failing_backward_and_an_undefined_neighbour_are_rows_in_words() -> None:
    report = gradcheck(lambda t: t.sqrt().sum(), [np.array([0.0, 1.0])])
    assert not report.passed and len(report.failures) == 2
    at_zero = report.rows[0].note
    assert at_zero.startswith("no finite difference: f fails at t[0] - 1e-06 (sqrt needs")
    assert "backward failed: backward through 'sqrt'" in at_zero
    assert report.rows[1].note.startswith("backward failed: backward through 'sqrt'")


def test_the_graph_is_recorded_inside_the_callers_no_grad() -> None:
    with no_grad():
        report = gradcheck(lambda t: (t * t).sum(), [np.array([0.5, -2.0])])
    assert report.passed and [row.analytic for row in report.rows] == [1.0, -4.0]


def test_a_foreign_class_named_tensor_is_not_taken_for_ours() -> None:
    class Tensor:  # e.g. torch.Tensor: its name alone must not route it to the tensor check
        data = np.ones(2)

    with pytest.raises(TypeError, match=r"xs\[0\] must be a real number, not Tensor"):
        gradcheck(lambda t: t, [Tensor()])
