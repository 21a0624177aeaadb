"""The bridge out: scalar and tensor MLPs as float64 torch.nn.Sequential, and back."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import nn as scalar_nn
from tinygrad_edu.tensor import nn as tensor_nn

ARCHITECTURES = [
    {"nin": 3, "nouts": [4, 2], "activation": "relu", "output_activation": "linear"},
    {"nin": 2, "nouts": [5, 5, 1], "activation": "tanh", "output_activation": "sigmoid"},
    {"nin": 4, "nouts": [3], "activation": "sigmoid", "output_activation": "tanh"},
    {"nin": 2, "nouts": [3, 2], "activation": "linear", "output_activation": "relu"},
]


def scalar_outputs(model: scalar_nn.MLP, batch: np.ndarray) -> np.ndarray:
    rows = [model(row) for row in batch]
    return np.array([[o.data] if not isinstance(o, list) else [v.data for v in o] for o in rows])


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("engine", ["scalar", "tensor"])
def test_to_torch_gives_the_same_outputs_in_float64(
    architecture: dict[str, Any], engine: str
) -> None:
    torch = pytest.importorskip("torch")
    cls = scalar_nn.MLP if engine == "scalar" else tensor_nn.MLP
    model = cls(**architecture, seed=3)
    sequential = model.to_torch()
    assert isinstance(sequential, torch.nn.Sequential)
    assert all(p.dtype == torch.float64 for p in sequential.parameters())
    batch = np.random.default_rng(0).uniform(-2.0, 2.0, size=(6, architecture["nin"]))
    expected = model(batch).data if engine == "tensor" else scalar_outputs(model, batch)
    actual = sequential(torch.from_numpy(batch)).detach().numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)
    back = cls.from_torch(sequential)
    assert type(back) is cls
    expected_architecture = model.architecture()
    if len(architecture["nouts"]) == 1:  # no hidden layer: its activation is not in torch
        expected_architecture["activation"] = "relu"
    assert back.architecture() == expected_architecture
    assert back.state_dict() == model.state_dict()


def test_from_torch_reads_a_sequential_built_in_torch() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    sequential = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2), torch.nn.Sigmoid()
    )  # float32, as torch makes it by default
    model = tensor_nn.MLP.from_torch(sequential)
    assert model.architecture() == {
        "nin": 3, "nouts": [4, 2], "activation": "tanh", "output_activation": "sigmoid",
    }  # fmt: skip
    batch = np.random.default_rng(1).normal(size=(5, 3))
    expected = sequential.double()(torch.from_numpy(batch)).detach().numpy()
    np.testing.assert_allclose(model(batch).data, expected, rtol=1e-12)
    scalar = scalar_nn.MLP.from_torch(sequential)
    assert scalar.state_dict() == model.state_dict()


@pytest.mark.parametrize(
    ("modules", "pattern"),
    [
        (lambda nn: [nn.Linear(2, 3), nn.Conv1d(1, 1, 1)], "module 1 .Conv1d. is not a Linear"),
        (lambda nn: [nn.ReLU(), nn.Linear(2, 3)], "module 0 .ReLU."),
        (lambda nn: [nn.Linear(2, 3), nn.Linear(4, 1)], "takes 4 inputs but the layer before"),
        (lambda nn: [nn.Linear(2, 3), nn.ReLU(), nn.Tanh()], "module 2 .Tanh."),
        (lambda nn: [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1)],
         "share one activation"),
        (lambda nn: [nn.Linear(2, 3, bias=False)], "without bias"),
        (lambda nn: [], "no Linear layer"),
    ],
)  # fmt: skip
def test_from_torch_refuses_what_no_mlp_can_hold(modules: Any, pattern: str) -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match=pattern):
        tensor_nn.MLP.from_torch(torch.nn.Sequential(*modules(torch.nn)))


@pytest.mark.parametrize("cls", [scalar_nn.MLP, tensor_nn.MLP])
def test_without_torch_the_error_says_how_to_install_it(
    cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(ImportError, match="pip install torch"):
        cls(2, [1], seed=0).to_torch()
    with pytest.raises(ImportError, match="pip install torch"):
        cls.from_torch(object())
