"""Splitting a dataset into train and test sets, and iterating over mini-batches."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]


def _check_pair(X: Any, y: Any) -> tuple[Array, Array]:
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError("X and y must be arrays with one row or label per example")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
    return X, y


def train_test_split(
    X: Any, y: Any, test_fraction: float = 0.25, seed: int | None = None
) -> tuple[Array, Array, Array, Array]:
    """Shuffle and split into ``(X_train, X_test, y_train, y_test)``.

    The test set has ``ceil(n * test_fraction)`` rows, as in scikit-learn; both parts must
    be non-empty.
    """
    X, y = _check_pair(X, y)
    if (
        isinstance(test_fraction, bool)
        or not isinstance(test_fraction, numbers.Real)
        or not 0.0 < test_fraction < 1.0
    ):
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    n_test = math.ceil(len(X) * float(test_fraction))
    if n_test >= len(X):
        raise ValueError(f"cannot split {len(X)} rows with test_fraction={test_fraction}")
    order = np.random.default_rng(seed).permutation(len(X))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def batches(
    X: Any, y: Any, batch_size: int, shuffle: bool = True, seed: int | None = None
) -> Iterator[tuple[Array, Array]]:
    """Yield ``(X_batch, y_batch)`` pairs covering every row once; the last may be smaller.

    Bad arguments raise at the call, not at the first ``next()``.
    """
    X, y = _check_pair(X, y)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    order = np.random.default_rng(seed).permutation(len(X)) if shuffle else np.arange(len(X))
    return _batches_in_order(X, y, order, int(batch_size))


def _batches_in_order(
    X: Array, y: Array, order: Array, batch_size: int
) -> Iterator[tuple[Array, Array]]:
    for start in range(0, len(X), batch_size):
        rows = order[start : start + batch_size]
        yield X[rows], y[rows]
