"""Tensor MLPs and losses: the scalar network's numbers, names, files and optimisers."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value, optim
from tinygrad_edu import nn as scalar_nn
from tinygrad_edu.nn import losses as scalar_losses
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tensor import losses as tensor_losses
from tinygrad_edu.tensor.nn import MLP, Linear

ACTIVATIONS = ["relu", "tanh", "sigmoid", "linear"]


def assert_close(actual: Any, expected: Any) -> None:
    expected = np.asarray(expected, dtype=float)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12 * scale)


def scalar_grads(model: scalar_nn.MLP) -> dict[str, float]:
    return {name: p.grad for name, p in model.named_parameters()}


def tensor_grads(model: MLP) -> dict[str, float]:
    """The tensor model's gradients under the scalar names (a state dict of grads)."""
    twin = MLP(**model.architecture(), seed=0)
    for p, q in zip(twin.parameters(), model.parameters(), strict=True):
        p.data = q.grad
    return twin.state_dict()


@given(
    st.integers(1, 5),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.sampled_from(ACTIVATIONS),
    st.sampled_from(ACTIVATIONS),
    st.integers(0, 2**32),
)
def test_state_dict_equals_the_scalar_mlps_for_the_same_seed(
    nin: int, nouts: list[int], activation: str, output_activation: str, seed: int
) -> None:
    arguments = {"activation": activation, "output_activation": output_activation, "seed": seed}
    tensor_model = MLP(nin, nouts, **arguments)
    scalar_model = scalar_nn.MLP(nin, nouts, **arguments)
    assert tensor_model.state_dict() == scalar_model.state_dict()  # names, order and values
    assert list(tensor_model.state_dict()) == list(scalar_model.state_dict())
    assert [p.shape for p in tensor_model.parameters()] == [
        shape
        for n_in, n_out in itertools.pairwise([nin, *nouts])
        for shape in ((n_out, n_in), (n_out,))
    ]


def test_a_shared_random_generator_draws_the_same_numbers() -> None:
    assert (
        MLP(3, [2, 2], seed=random.Random(7)).state_dict()
        == scalar_nn.MLP(3, [2, 2], seed=random.Random(7)).state_dict()
    )


@given(
    st.integers(1, 4),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.sampled_from(ACTIVATIONS),
    st.integers(0, 2**16),
)
def test_outputs_and_gradients_equal_the_scalar_mlps(
    nin: int, nouts: list[int], activation: str, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    batch = rng.uniform(-2.0, 2.0, size=(4, nin))
    targets = rng.uniform(-1.0, 1.0, size=(4, nouts[-1]))
    tensor_model = MLP(nin, nouts, activation=activation, seed=seed)
    scalar_model = scalar_nn.MLP(nin, nouts, activation=activation, seed=seed)
    outputs = tensor_model(batch)
    scalar_outputs = [scalar_model(row) for row in batch]
    rows = [[o] if isinstance(o, Value) else o for o in scalar_outputs]
    assert_close(outputs.data, [[v.data for v in row] for row in rows])
    tensor_losses.mse_loss(outputs, targets).backward()
    scalar_losses.mse_loss(rows, targets.tolist()).backward()
    tensor_named, scalar_named = tensor_grads(tensor_model), scalar_grads(scalar_model)
    assert list(tensor_named) == list(scalar_named)
    assert_close(list(tensor_named.values()), list(scalar_named.values()))


def test_a_one_row_input_gives_a_one_row_output_always_a_tensor() -> None:
    model = MLP(3, [2, 1], seed=0)
    out = model(np.array([0.5, -1.0, 2.0]))
    assert isinstance(out, Tensor) and out.shape == (1,)
    assert model(np.ones((5, 3))).shape == (5, 1)
    with pytest.raises(ValueError, match=r"length 3, got shape \(5, 4\)"):
        model(np.ones((5, 4)))


def test_state_dicts_load_across_engines() -> None:
    scalar_model = scalar_nn.MLP(3, [4, 2], seed=1)
    tensor_model = MLP(3, [4, 2], seed=2)
    assert tensor_model.state_dict() != scalar_model.state_dict()
    tensor_model.load_state_dict(scalar_model.state_dict())
    assert tensor_model.state_dict() == scalar_model.state_dict()
    other = scalar_nn.MLP(3, [4, 2], seed=3)
    tensor_model.layers[0].weight.data = tensor_model.layers[0].weight.data * 2.0
    other.load_state_dict(tensor_model.state_dict())
    assert other.state_dict() == tensor_model.state_dict()
    assert MLP.from_scalar(other).state_dict() == other.state_dict()
    assert tensor_model.to_scalar().state_dict() == tensor_model.state_dict()


def test_a_bad_state_dict_is_refused_as_the_scalar_model_refuses_it() -> None:
    model = MLP(2, [1], seed=0)
    before = model.state_dict()
    bad = {**before, "layers.0.neurons.0.b": float("nan"), "extra": 1.0}
    del bad["layers.0.neurons.0.w.1"]
    with pytest.raises(ValueError) as tensor_error:
        model.load_state_dict(bad)
    with pytest.raises(ValueError) as scalar_error:
        scalar_nn.MLP(2, [1], seed=0).load_state_dict(bad)
    assert str(tensor_error.value) == str(scalar_error.value)
    assert "missing: layers.0.neurons.0.w.1" in str(tensor_error.value)
    assert model.state_dict() == before


def test_one_file_format_for_both_engines(tmp_path: Path) -> None:
    tensor_model = MLP(3, [4, 2], activation="tanh", output_activation="sigmoid", seed=5)
    scalar_model = scalar_nn.MLP(3, [4, 2], activation="tanh", output_activation="sigmoid", seed=5)
    tensor_model.save(tmp_path / "tensor.json")
    scalar_model.save(tmp_path / "scalar.json")
    assert (tmp_path / "tensor.json").read_bytes() == (tmp_path / "scalar.json").read_bytes()
    assert MLP.load(tmp_path / "scalar.json").state_dict() == scalar_model.state_dict()
    assert scalar_nn.MLP.load(tmp_path / "tensor.json").state_dict() == tensor_model.state_dict()
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match=r"broken\.json"):
        MLP.load(tmp_path / "broken.json")


OPTIMISERS: list[Callable[[list[Any]], optim.Optimizer]] = [
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.01),
    lambda ps: optim.AdamW(ps, lr=0.01),
    lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, weight_decay=0.01),
    lambda ps: optim.Adagrad(ps, lr=0.1, weight_decay=0.01),
]


@pytest.mark.parametrize("make_optimiser", OPTIMISERS)
def test_the_optimisers_take_tensor_models_unchanged(make_optimiser: Any) -> None:
    # The scalar optimisers equal torch.optim (tests/test_optim.py); here the same optimiser
    # on the tensor model equals it on the scalar model, step after step.
    rng = np.random.default_rng(0)
    batch, labels = rng.normal(size=(6, 3)), rng.integers(0, 2, size=6)
    tensor_model, scalar_model = MLP(3, [4, 2], seed=0), scalar_nn.MLP(3, [4, 2], seed=0)
    tensor_optimiser = make_optimiser(tensor_model.parameters())
    scalar_optimiser = make_optimiser(scalar_model.parameters())
    parameters = tensor_model.parameters()
    for _ in range(20):
        tensor_optimiser.zero_grad()
        tensor_losses.cross_entropy(tensor_model(batch), labels).backward()
        tensor_optimiser.step()
        scalar_optimiser.zero_grad()
        scalar_losses.cross_entropy(
            [scalar_model(row) for row in batch], labels.tolist()
        ).backward()
        scalar_optimiser.step()
    assert tensor_model.parameters() == parameters  # updated in place: the same Tensors
    assert tensor_model.state_dict() != MLP(3, [4, 2], seed=0).state_dict()
    assert_close(list(tensor_model.state_dict().values()), list(scalar_model.state_dict().values()))


LOSSES = [
    ("mse", lambda rng: (rng.normal(size=(4, 3)), rng.normal(size=(4, 3)))),
    ("cross_entropy", lambda rng: (rng.normal(size=(4, 3)), rng.integers(0, 3, size=4))),
    ("binary_cross_entropy", lambda rng: (rng.uniform(0.05, 0.95, 5), rng.uniform(0, 1, 5))),
    ("binary_cross_entropy", lambda rng: (np.array([0.0, 1.0, 0.3]), np.array([1.0, 0.0, 1.0]))),
    ("hinge", lambda rng: (rng.normal(size=6), rng.choice([-1.0, 1.0], size=6))),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make"), LOSSES)
def test_batched_losses_equal_the_scalar_batch_means(name: str, make: Any) -> None:
    pred, target = make(np.random.default_rng(3))
    tensor_pred, scalar_pred = Tensor(pred), np.vectorize(Value, otypes=[object])(pred)
    tensor_loss = {
        "mse": tensor_losses.mse_loss,
        "cross_entropy": tensor_losses.cross_entropy,
        "binary_cross_entropy": tensor_losses.binary_cross_entropy,
        "hinge": tensor_losses.hinge_loss,
    }[name](tensor_pred, target)
    scalar_loss = {
        "mse": scalar_losses.mse_loss,
        "cross_entropy": scalar_losses.cross_entropy,
        "binary_cross_entropy": scalar_losses.binary_cross_entropy,
        "hinge": scalar_losses.hinge_loss,
    }[name](scalar_pred.tolist(), target.tolist())
    tensor_loss.backward()
    scalar_loss.backward()
    assert_close(tensor_loss.item(), scalar_loss.data)
    assert_close(tensor_pred.grad, np.vectorize(lambda v: v.grad, otypes=[float])(scalar_pred))
    assert np.abs(tensor_pred.grad).max() > 1e-3


def test_cross_entropy_is_stable_and_checks_its_indices() -> None:
    loss = tensor_losses.cross_entropy(Tensor([[1000.0, 0.0]]), [1])
    assert loss.item() == 1000.0
    with pytest.raises(ValueError, match="out of range for 2 classes"):
        tensor_losses.cross_entropy(Tensor([[1.0, 0.0]]), [2])
    with pytest.raises(TypeError, match="integers"):
        tensor_losses.cross_entropy(Tensor([[1.0, 0.0]]), [0.5])
    with pytest.raises(ValueError, match="shape"):
        tensor_losses.mse_loss(Tensor(np.ones((3, 1))), np.ones(3))


def test_linear_is_phi_of_x_w_transpose_plus_b() -> None:
    layer = Linear(3, 2, activation="tanh", seed=0)
    x = np.array([[1.0, 2.0, 3.0]])
    expected = np.tanh(x @ layer.weight.data.T + layer.bias.data)
    np.testing.assert_array_equal(layer(Tensor(x)).data, expected)
