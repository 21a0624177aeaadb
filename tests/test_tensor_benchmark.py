"""The benchmark's hand-written numpy epoch computes exactly what the Tensor engine does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from tinygrad_edu import optim
from tinygrad_edu.tensor.nn import MLP

BENCHMARK = Path(__file__).resolve().parent.parent / "benchmarks" / "tensor_mnist.py"


def _load_benchmark():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("tensor_mnist", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["tensor_mnist"] = module
    spec.loader.exec_module(module)
    return module


def test_the_hand_written_epoch_equals_the_tensor_engines() -> None:
    bench = _load_benchmark()
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(0.0, 1.0, size=(96, 784)), np.eye(10)[rng.integers(0, 10, size=96)]
    order = rng.permutation(96)
    model = MLP(784, [32, 10], activation="sigmoid", output_activation="sigmoid", seed=0)
    hand = [p.data.copy() for p in model.parameters()]
    bench.numpy_epoch(hand, X, Y, order)
    bench.tensor_epoch(model, optim.SGD(model.parameters(), lr=bench.LR), X, Y, order)
    for mine, theirs, start in zip(
        model.parameters(), hand, MLP(784, [32, 10], seed=0).parameters(), strict=True
    ):
        assert not np.allclose(theirs, start.data)  # both moved
        np.testing.assert_allclose(mine.data, theirs, rtol=1e-12, atol=1e-14)
