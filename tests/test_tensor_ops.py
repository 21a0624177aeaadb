"""Every tensor primitive against central differences, numpy, and PyTorch (if installed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tensor.engine import apply
from tinygrad_edu.tensor.ops import TENSOR_OPS, TensorOp

# Per op, the calls to test: (input shapes, params). Broadcast shapes test unbroadcast too.
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1), (1, 3)), ((), (2, 3))]
CASES: dict[str, list[tuple[tuple[tuple[int, ...], ...], dict[str, Any]]]] = {
    **{name: [(shapes, {}) for shapes in BINARY_SHAPES] for name in ("+", "-", "*", "/", "**")},
    "@": [(((3, 4), (4, 2)), {}), (((4,), (4, 2)), {}), (((3, 4), (4,)), {}), (((4,), (4,)), {})],
    **{
        name: [(((3, 4),), {}), (((5,),), {})]
        for name in ("neg", "abs", "exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt")
    },
    "sum": [
        (((3, 4),), {"axis": None, "keepdims": False}),
        (((3, 4),), {"axis": 0, "keepdims": False}),
        (((3, 4),), {"axis": 1, "keepdims": True}),
        (((2, 3, 4),), {"axis": (0, 2), "keepdims": False}),
    ],
    "reshape": [(((3, 4),), {"shape": (2, 6)}), (((6,),), {"shape": (3, 2)})],
    "T": [(((3, 4),), {}), (((5,),), {})],
    "log_softmax": [(((3, 4),), {"axis": -1}), (((3, 4),), {"axis": 0})],
    "softmax": [(((3, 4),), {"axis": -1}), (((3, 4),), {"axis": 0})],
    "binary_cross_entropy": [(((3, 4), (3, 4)), {}), (((5,), ()), {})],
    "mse": [(((3, 4), (3, 4)), {}), (((5,), (5,)), {})],
}
KINKED = {"abs", "relu"}  # sampled away from 0, where central differences straddle the kink
ALL_CASES = [(name, shapes, params) for name, cases in CASES.items() for shapes, params in cases]


def _inputs(
    op: TensorOp, shapes: tuple[tuple[int, ...], ...], rng: np.random.Generator
) -> list[np.ndarray]:
    low, high = op.domain
    arrays = [rng.uniform(low, high, size=shape) for shape in shapes]
    if op.name in KINKED:
        arrays = [np.where(np.abs(a) < 0.1, a + 0.5, a) for a in arrays]
    return arrays


def central_differences(
    f: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray], h: float = 1e-6
) -> list[np.ndarray]:
    """d f / d entry for every entry of every array, by (f(x + h) - f(x - h)) / 2h."""
    gradients = []
    for array in arrays:
        gradient = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + h
            up = f(arrays)
            array[index] = saved - h
            down = f(arrays)
            array[index] = saved
            gradient[index] = (up - down) / (2 * h)
        gradients.append(gradient)
    return gradients


def test_every_op_in_the_table_has_test_cases() -> None:
    assert set(CASES) == set(TENSOR_OPS)


def _weighted_sum(
    name: str, params: dict[str, Any], weights: np.ndarray
) -> Callable[[list[np.ndarray]], float]:
    # A random weighting of the outputs: the seed gradient differs entry by entry.
    def f(arrays: list[np.ndarray]) -> float:
        return float((TENSOR_OPS[name].forward(*arrays, **params) * weights).sum())

    return f


@pytest.mark.parametrize(("name", "shapes", "params"), ALL_CASES)
def test_vjps_match_central_differences(name: str, shapes: Any, params: dict[str, Any]) -> None:
    rng = np.random.default_rng(1)
    op = TENSOR_OPS[name]
    arrays = _inputs(op, shapes, rng)
    leaves = [Tensor(a) for a in arrays]
    out = apply(name, *leaves, **params)
    weights = rng.uniform(-1.0, 1.0, size=out.shape)
    (out * weights).sum().backward()
    expected = central_differences(_weighted_sum(name, params, weights), arrays)
    for leaf, numeric in zip(leaves, expected, strict=True):
        assert leaf.grad.shape == leaf.shape
        np.testing.assert_allclose(leaf.grad, numeric, rtol=1e-6, atol=1e-8)
        assert np.abs(numeric).max() > 1e-3  # the check is not vacuous: the gradient is not ~0


def test_a_wrong_vjp_is_caught_by_the_same_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # Plant d tanh = 1 - out (instead of 1 - out**2): the finite-difference check must fail.
    wrong = TensorOp("tanh", np.tanh, (lambda g, out, a: g * (1.0 - out),))
    monkeypatch.setitem(TENSOR_OPS, "tanh", wrong)
    rng = np.random.default_rng(1)
    (a,) = _inputs(wrong, ((3, 4),), rng)
    leaf = Tensor(a)
    weights = rng.uniform(-1.0, 1.0, size=a.shape)
    (leaf.tanh() * weights).sum().backward()
    numeric = central_differences(_weighted_sum("tanh", {}, weights), [a])[0]
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(leaf.grad, numeric, rtol=1e-6, atol=1e-8)


def _torch_sum(a: Any, axis: Any, keepdims: bool) -> Any:
    return a.sum() if axis is None else a.sum(dim=axis, keepdim=keepdims)


@pytest.mark.parametrize(("name", "shapes", "params"), ALL_CASES)
def test_ops_match_torch_float64(name: str, shapes: Any, params: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    op = TENSOR_OPS[name]
    arrays = _inputs(op, shapes, rng)
    leaves = [Tensor(a) for a in arrays]
    twins = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = apply(name, *leaves, **params)
    torch_calls: dict[str, Callable[..., Any]] = {
        "+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div, "**": torch.pow,
        "@": torch.matmul, "neg": torch.neg, "abs": torch.abs, "exp": torch.exp,
        "log": torch.log, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
        "sin": torch.sin, "cos": torch.cos, "sqrt": torch.sqrt,
        "sum": _torch_sum,
        "reshape": lambda a, shape: a.reshape(shape),
        "T": lambda a: a.permute(*reversed(range(a.dim()))),
        "log_softmax": lambda a, axis: torch.log_softmax(a, dim=axis),
        "softmax": lambda a, axis: torch.softmax(a, dim=axis),
        "mse": torch.nn.functional.mse_loss,
        "binary_cross_entropy": lambda p, y: torch.nn.functional.binary_cross_entropy(
            p, y.expand_as(p), reduction="none"),
    }  # fmt: skip
    twin_out = torch_calls[name](*twins, **params)
    np.testing.assert_allclose(out.data, twin_out.detach().numpy(), rtol=1e-12, atol=1e-14)
    weights = rng.uniform(-1.0, 1.0, size=out.shape)
    (out * weights).sum().backward()
    (twin_out * torch.tensor(weights)).sum().backward()
    for leaf, twin in zip(leaves, twins, strict=True):
        np.testing.assert_allclose(leaf.grad, twin.grad.numpy(), rtol=1e-12, atol=1e-14)
