"""Losses and softmax: hand-checked values, central differences, torch.nn.functional."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Value
from tinygrad_edu.nn import (
    binary_cross_entropy,
    cross_entropy,
    hinge_loss,
    log_softmax,
    mse_loss,
    softmax,
)


def central_differences(f: Callable[[list[float]], float], xs: list[float]) -> list[float]:
    eps = 1e-6
    result = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += eps
        down[i] -= eps
        result.append((f(up) - f(down)) / (2 * eps))
    return result


def values_and_grads(
    f: Callable[[list[Value]], Value], xs: list[float]
) -> tuple[float, list[float]]:
    inputs = [Value(x) for x in xs]
    out = f(inputs)
    out.backward()
    return out.data, [x.grad for x in inputs]


# ---- hand-checked values ----------------------------------------------------------------


def test_hand_checked_values() -> None:
    assert mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data == 2.5  # (1 + 4) / 2
    assert mse_loss(Value(2.0), 0.5).data == 2.25
    assert cross_entropy([0.0, 0.0], 1).data == pytest.approx(math.log(2.0), rel=1e-15)
    assert hinge_loss(Value(0.25), 1.0).data == 0.75
    assert hinge_loss(Value(3.0), 1.0).data == 0.0
    assert hinge_loss([Value(0.5), Value(0.5)], [1, -1]).data == 1.0  # (0.5 + 1.5) / 2
    assert binary_cross_entropy(Value(0.5), 1.0).data == pytest.approx(math.log(2.0))
    probabilities = softmax([Value(0.0), Value(math.log(3.0))])
    assert [p.data for p in probabilities] == pytest.approx([0.25, 0.75], rel=1e-15)


def test_mse_is_the_mean_over_all_elements_of_nested_lists() -> None:
    pred = [[Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]]
    assert mse_loss(pred, np.array([[0.0, 0.0], [0.0, 0.0]])).data == (1 + 4 + 9 + 16) / 4
    # Targets may be anything Value() takes: numpy bools, a 0-d array.
    assert mse_loss([Value(1.0), Value(0.0)], np.array([True, False])).data == 0.0
    assert mse_loss(Value(1.0), np.array(2.0)).data == 1.0


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = [Value(1000.0), Value(0.0), Value(-1000.0)]
    loss = cross_entropy(logits, 1)
    loss.backward()
    assert loss.data == pytest.approx(1000.0, rel=1e-15)
    assert [z.grad for z in logits] == pytest.approx([1.0, -1.0, 0.0])
    assert math.isfinite(cross_entropy([1000.0, 1000.0], 0).data)
    assert [v.data for v in log_softmax([1000.0, 1000.0])] == pytest.approx([-math.log(2)] * 2)
    assert [p.data for p in softmax([1000.0, 0.0])] == [1.0, 0.0]


def test_binary_cross_entropy_clamps_the_log_like_torch() -> None:
    # log(0) is clamped to -100, so a certain wrong answer costs 100, not infinity.
    assert binary_cross_entropy(Value(0.0), 1.0).data == 100.0
    assert binary_cross_entropy(Value(1.0), 0.0).data == 100.0
    assert binary_cross_entropy(Value(1.0), 1.0).data == 0.0


def test_binary_cross_entropy_of_a_perfect_answer_is_plus_zero() -> None:
    # -0.0 == 0.0, so compare the printed form: a learner should never see "-0.0".
    assert str(binary_cross_entropy(Value(1.0), 1).data) == "0.0"
    assert str(binary_cross_entropy(Value(0.0), 0).data) == "0.0"
    assert str(binary_cross_entropy([Value(1.0), Value(0.0)], [1, 0]).data) == "0.0"


SATURATED = [0.0, 1e-300, 1e-50, 1e-13, 1.0 - 1e-13, 1.0]


@pytest.mark.parametrize("label", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("p", SATURATED)
def test_binary_cross_entropy_keeps_saturated_probabilities_in_the_graph(
    p: float, label: float
) -> None:
    probability = Value(p)
    loss = binary_cross_entropy(probability, label)
    loss.backward()  # must not raise "does not require grad"
    assert math.isfinite(loss.data) and math.isfinite(probability.grad)
    if label != p:  # a wrong answer must push p towards the label
        assert probability.grad != 0.0 and (probability.grad > 0.0) == (p > label)


def test_binary_cross_entropy_gradient_at_zero_is_torchs_clamped_slope() -> None:
    # PyTorch: (p - y) / max(p (1 - p), 1e-12), its 1e-12 rounded to float32.
    probability = Value(0.0)
    binary_cross_entropy(probability, 1.0).backward()
    assert probability.grad == pytest.approx(-1e12, rel=1e-8)
    x = Value(-800.0)  # sigmoid(-800) is exactly 0.0: the loss still reaches x
    loss = binary_cross_entropy(x.sigmoid(), 1.0)
    loss.backward()
    assert loss.data == 100.0 and x.grad == 0.0


@pytest.mark.parametrize("label", [0.0, 0.3, 1.0])
def test_binary_cross_entropy_matches_torch_at_and_near_saturation(label: float) -> None:
    torch = pytest.importorskip("torch")
    near = [1e-12, 2e-12, 1e-10, 1.0 - 1e-10, 1.0 - 2e-12]
    for p in [*SATURATED, *near]:
        probability = Value(p)
        loss = binary_cross_entropy(probability, label)
        loss.backward()
        tensor = torch.tensor(p, dtype=torch.float64, requires_grad=True)
        expected = torch.nn.functional.binary_cross_entropy(
            tensor, torch.tensor(label, dtype=torch.float64)
        )
        expected.backward()
        # log(1 - p) where torch has log1p(-p): loose only where the loss itself is ~p.
        assert loss.data == pytest.approx(expected.item(), rel=1e-12, abs=1e-15), p
        assert probability.grad == pytest.approx(tensor.grad.item(), rel=1e-12), p


# ---- gradients against central differences (no torch needed) --------------------------

SCALAR_LOSSES: dict[str, tuple[Callable[[list[Value]], Value], list[float]]] = {
    "mse": (lambda v: mse_loss(v[:2], [0.3, -1.0]), [1.2, 0.4]),
    "cross_entropy": (lambda v: cross_entropy(v, 2), [0.5, -1.0, 2.0]),
    "cross_entropy batch": (lambda v: cross_entropy([v[:2], v[2:]], [0, 1]), [0.5, -1.0, 2.0, 0.1]),
    "log_softmax": (lambda v: log_softmax(v)[1] * 2.0 + log_softmax(v)[0], [0.5, -1.0, 2.0]),
    "softmax": (lambda v: softmax(v)[0] - 3.0 * softmax(v)[2], [0.5, -1.0, 2.0]),
    "bce": (lambda v: binary_cross_entropy(v[0].sigmoid(), 0.7), [0.4]),
    "bce batch": (lambda v: binary_cross_entropy([x.sigmoid() for x in v], [1, 0]), [0.4, -0.3]),
    "hinge": (lambda v: hinge_loss(v, [1, -1, 1]), [0.5, 0.2, -0.4]),
}


@pytest.mark.parametrize("name", SCALAR_LOSSES)
def test_gradients_match_central_differences(name: str) -> None:
    f, xs = SCALAR_LOSSES[name]
    _, grads = values_and_grads(f, xs)

    def numeric(point: list[float]) -> float:
        return f([Value(x) for x in point]).data

    assert grads == pytest.approx(central_differences(numeric, xs), rel=1e-6, abs=1e-8)
    assert any(abs(g) > 0.05 for g in grads)  # not a vacuous all-zero comparison


# ---- against torch.nn.functional --------------------------------------------------------


def test_against_torch_values_and_gradients() -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 3)) * 3.0
    targets = [2, 0, 1, 1]
    scores = rng.normal(size=5)
    labels = [1.0, -1.0, -1.0, 1.0, 1.0]
    probabilities = rng.uniform(0.05, 0.95, size=4)
    bce_labels = [1.0, 0.0, 0.3, 1.0]

    def tensor(xs: list[float]) -> Any:
        return torch.tensor(xs, dtype=torch.float64)

    cases = [
        (
            lambda v: mse_loss(v, [0.5] * 5),
            lambda t: functional.mse_loss(t, tensor([0.5] * 5)),
            scores,
        ),
        (
            lambda v: cross_entropy([v[i * 3 : i * 3 + 3] for i in range(4)], targets),
            lambda t: functional.cross_entropy(t.reshape(4, 3), torch.tensor(targets)),
            logits.ravel(),
        ),
        (
            lambda v: log_softmax(v[:3])[2],
            lambda t: functional.log_softmax(t[:3], dim=0)[2],
            logits.ravel(),
        ),
        (
            lambda v: softmax(v[:3])[1],
            lambda t: functional.softmax(t[:3], dim=0)[1],
            logits.ravel(),
        ),
        (
            lambda v: binary_cross_entropy(v, bce_labels),
            lambda t: functional.binary_cross_entropy(t, tensor(bce_labels)),
            probabilities,
        ),
        (
            lambda v: hinge_loss(v, labels),
            lambda t: torch.clamp(1 - tensor(labels) * t, min=0).mean(),
            scores,
        ),
    ]
    for ours, theirs, xs in cases:
        value, grads = values_and_grads(ours, list(xs))
        inputs = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
        expected = theirs(inputs)
        expected.backward()
        assert value == pytest.approx(expected.item(), rel=1e-12)
        assert grads == pytest.approx(inputs.grad.tolist(), rel=1e-10, abs=1e-15)


# ---- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: mse_loss([Value(1.0)], [1.0, 2.0]),
        lambda: mse_loss([], []),
        lambda: mse_loss([[], []], [[], []]),
        # Same number of elements, different shapes: flattening would pair them silently.
        lambda: mse_loss([[Value(1.0), Value(2.0)], [Value(3.0)]], [[1.0], [2.0, 3.0]]),
        lambda: mse_loss([Value(1.0), Value(2.0)], [[1.0, 2.0]]),
        lambda: mse_loss([[Value(1.0)], Value(2.0)], [1.0, [2.0]]),
        lambda: cross_entropy([1.0, 2.0], 2),
        lambda: cross_entropy([1.0, 2.0], -1),
        lambda: cross_entropy([[1.0, 2.0]], [0, 1]),
        lambda: cross_entropy([], 0),
        lambda: binary_cross_entropy(Value(1.5), 1.0),
        lambda: binary_cross_entropy(Value(0.5), 2.0),
        lambda: hinge_loss(Value(0.5), 0.0),
        lambda: hinge_loss([Value(0.5)], [1, -1]),
    ],
)
def test_bad_input_raises_value_error(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()


NESTED_LOGITS = {
    "softmax of a nested list": lambda: softmax([[1.0, 2.0], [3.0, 4.0]]),
    "log_softmax of a nested list": lambda: log_softmax([[Value(1.0)], [Value(2.0)]]),
    "softmax of a 2-D array": lambda: softmax(np.zeros((2, 2))),
    "one example, nested": lambda: cross_entropy([[1.0, 2.0], [3.0, 4.0]], 3),
    "a batch, nested twice": lambda: cross_entropy([[[1.0, 2.0]], [[3.0, 4.0]]], [0, 0]),
}


@pytest.mark.parametrize("call", NESTED_LOGITS.values(), ids=NESTED_LOGITS.keys())
def test_nested_logits_are_refused_not_flattened(call: Callable[[], object]) -> None:
    with pytest.raises(TypeError, match=r"flat sequence.*element 0 is a"):
        call()


def test_flat_logits_may_be_numpy_rows() -> None:
    batch = np.array([[0.0, 0.0], [0.0, 0.0]])
    assert cross_entropy(batch, [0, 1]).data == pytest.approx(math.log(2.0), rel=1e-15)
    assert [p.data for p in softmax(np.array([0.0, 0.0]))] == [0.5, 0.5]


def test_bad_types_raise_type_error() -> None:
    with pytest.raises(TypeError):
        cross_entropy([1.0, 2.0], 1.0)
    with pytest.raises(TypeError):
        mse_loss("a", 1.0)
    with pytest.raises(TypeError):
        softmax(3.0)  # type: ignore[arg-type]
