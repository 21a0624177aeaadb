"""Two small real datasets shipped inside the package (see ``README.md`` in this folder).

Both are from the UCI Machine Learning Repository under CC BY 4.0; nothing is downloaded.
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _read_table(name: str) -> npt.NDArray[np.float64]:
    resource = resources.files("tinygrad_edu.data").joinpath(name)
    raw = resource.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    lines = raw.decode("ascii").splitlines()
    if name == "iris.csv":
        lines = lines[1:]  # header: rows, features, class names
    return np.loadtxt(lines, delimiter=",", dtype=np.float64, ndmin=2)


def load_iris() -> tuple[FloatArray, IntArray]:
    """Fisher's iris: ``X`` 150x4 (sepal length, sepal width, petal length, petal width,
    in cm), ``y`` the species 0 setosa, 1 versicolor, 2 virginica (50 each)."""
    table = _read_table("iris.csv")
    return table[:, :4].copy(), table[:, 4].astype(np.int64)


def load_digits() -> tuple[FloatArray, IntArray]:
    """Handwritten digits: ``X`` 1797x64 (8x8 images row by row, pixel values 0-16),
    ``y`` the digit 0-9. The UCI optical recognition of handwritten digits test set."""
    table = _read_table("digits.csv.gz")
    return table[:, :64].copy(), table[:, 64].astype(np.int64)
