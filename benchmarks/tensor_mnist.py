r"""One MNIST training epoch three ways, side by side: the Tensor engine, the same math
written by hand in numpy (the floor for any numpy engine), and PyTorch in float64.
Then the scalar engine on a few images, per example.
Run: ``python benchmarks/tensor_mnist.py`` (prints one JSON object).

The network is the seeds' MLP(784, [32, 10]), sigmoid everywhere, mean squared error,
plain SGD, batch 32, 4,000 images. The hand version is the matrix δ rule:

.. math:: \delta^{(2)} = \tfrac{2}{n}(a^{(2)} - y) \odot \sigma'(z^{(2)}), \quad
          \delta^{(1)} = \delta^{(2)} W^{(2)} \odot \sigma'(z^{(1)}), \\
          \bar W^{(l)} = \delta^{(l)\top} a^{(l-1)}, \quad
          \bar b^{(l)} = \textstyle\sum_{rows} \delta^{(l)}
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from tinygrad_edu import optim
from tinygrad_edu.data import mnist_train_test
from tinygrad_edu.tensor import losses
from tinygrad_edu.tensor.nn import MLP

BATCH, LR, SEED = 32, 10.0, 0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def numpy_epoch(params: list[np.ndarray], X: np.ndarray, Y: np.ndarray, order: np.ndarray) -> None:
    """One epoch of SGD by hand: forward, the δ rule backward, the update, in place."""
    W1, b1, W2, b2 = params
    for start in range(0, len(X), BATCH):
        rows = order[start : start + BATCH]
        x, y = X[rows], Y[rows]
        a1 = _sigmoid(x @ W1.T + b1)
        a2 = _sigmoid(a1 @ W2.T + b2)
        delta2 = (2.0 / a2.size) * (a2 - y) * a2 * (1.0 - a2)
        delta1 = (delta2 @ W2) * a1 * (1.0 - a1)
        W2 -= LR * (delta2.T @ a1)
        b2 -= LR * delta2.sum(axis=0)
        W1 -= LR * (delta1.T @ x)
        b1 -= LR * delta1.sum(axis=0)


def tensor_epoch(
    model: MLP, optimiser: optim.SGD, X: np.ndarray, Y: np.ndarray, order: np.ndarray
) -> None:
    """The same epoch with the Tensor engine: build the graph, backward, optimiser step."""
    for start in range(0, len(X), BATCH):
        rows = order[start : start + BATCH]
        optimiser.zero_grad()
        losses.mse_loss(model(X[rows]), Y[rows]).backward()
        optimiser.step()


def torch_epoch(X: np.ndarray, Y: np.ndarray, order: np.ndarray, model: MLP) -> Callable[[], None]:
    import torch

    torch.set_num_threads(1)  # as numpy's BLAS below: one thread each
    layers = [torch.tensor(p.data.copy(), requires_grad=True) for p in model.parameters()]
    optimiser = torch.optim.SGD(layers, lr=LR)
    X_t, Y_t = torch.tensor(X), torch.tensor(Y)

    def epoch() -> None:
        for start in range(0, len(X), BATCH):
            rows = torch.as_tensor(order[start : start + BATCH])
            x = X_t[rows]
            a1 = torch.sigmoid(x @ layers[0].T + layers[1])
            a2 = torch.sigmoid(a1 @ layers[2].T + layers[3])
            optimiser.zero_grad()
            torch.nn.functional.mse_loss(a2, Y_t[rows]).backward()
            optimiser.step()

    return epoch


def best_of(repeats: int, run: Callable[[], None]) -> float:
    """The fastest of ``repeats`` runs, in seconds (the least disturbed by other processes)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def scalar_seconds_per_example(X: np.ndarray, Y: np.ndarray, images: int) -> float:
    """Forward, backward and update of the scalar engine's MLP, one image at a time."""
    from tinygrad_edu import nn as scalar_nn
    from tinygrad_edu.nn import losses as scalar_losses

    model = scalar_nn.MLP(
        784, [32, 10], activation="sigmoid", output_activation="sigmoid", seed=SEED
    )
    optimiser = optim.SGD(model.parameters(), lr=LR)
    start = time.perf_counter()
    for x, y in zip(X[:images], Y[:images], strict=True):
        optimiser.zero_grad()
        scalar_losses.mse_loss(model(x), y.tolist()).backward()
        optimiser.step()
    return (time.perf_counter() - start) / images


def main() -> dict[str, Any]:
    global BATCH  # the epoch functions above read it; one setting per run
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scalar-images", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=BATCH, help="32: the target's")
    args = parser.parse_args()
    BATCH = args.batch_size
    X, _, y, _ = mnist_train_test()
    X, Y = X / 255.0, np.eye(10)[y]
    order = np.random.default_rng(SEED).permutation(len(X))
    results: dict[str, Any] = {"batch_size": BATCH}
    # One BLAS thread for all three: 32 x 784 products are too small to split, and on a
    # shared machine extra threads mostly wait for each other.
    with threadpool_limits(limits=1, user_api="blas"):
        model = MLP(784, [32, 10], activation="sigmoid", output_activation="sigmoid", seed=SEED)
        hand = [p.data.copy() for p in model.parameters()]
        # First, the same epoch must give the same weights both ways: a check, not a timing.
        numpy_epoch(hand, X, Y, order)
        optimiser = optim.SGD(model.parameters(), lr=LR)
        tensor_epoch(model, optimiser, X, Y, order)
        for mine, theirs in zip(model.parameters(), hand, strict=True):
            np.testing.assert_allclose(mine.data, theirs, rtol=1e-12, atol=1e-14)
        results["numpy_epoch_s"] = best_of(args.repeats, lambda: numpy_epoch(hand, X, Y, order))
        results["tensor_epoch_s"] = best_of(
            args.repeats, lambda: tensor_epoch(model, optimiser, X, Y, order)
        )
        try:
            results["torch_epoch_s"] = best_of(args.repeats, torch_epoch(X, Y, order, model))
        except ImportError:
            results["torch_epoch_s"] = None
        scalar = scalar_seconds_per_example(X, Y, args.scalar_images)
    results["tensor_over_numpy"] = results["tensor_epoch_s"] / results["numpy_epoch_s"]
    results["scalar_per_example_s"] = scalar
    results["tensor_per_example_s"] = results["tensor_epoch_s"] / len(X)
    results["tensor_speedup_per_example"] = scalar / results["tensor_per_example_s"]
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
