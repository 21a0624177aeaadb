"""``gradcheck`` on functions of Tensors: every entry checked, the worst rows shown."""

from __future__ import annotations

import numpy as np
import pytest

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
