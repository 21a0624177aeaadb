r"""Small synthetic datasets for binary classification, generated with a seeded numpy RNG.

Each returns ``(X, y)``: ``X`` a float array of shape ``(n, features)``, ``y`` an int array
of labels 0/1 (as scikit-learn does). Rows are shuffled, so any prefix mixes both classes.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _check_count(n: object, minimum: int, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or int(n) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {n!r}")
    return int(n)


def _check_noise(noise: object) -> float:
    # "not 0 <= noise < inf" also rejects NaN.
    if (
        isinstance(noise, bool)
        or not isinstance(noise, numbers.Real)
        or not 0.0 <= float(noise) < math.inf
    ):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    return float(noise)


def _finish(
    points: FloatArray, labels: IntArray, noise: float, rng: np.random.Generator
) -> tuple[FloatArray, IntArray]:
    """Add Gaussian noise of standard deviation ``noise`` and shuffle the rows."""
    points = points + rng.normal(scale=noise, size=points.shape)
    order = rng.permutation(len(labels))
    return points[order], labels[order]


def make_moons(
    n: int = 100, noise: float = 0.1, seed: int | None = None
) -> tuple[FloatArray, IntArray]:
    r"""Two interleaving half circles: label 0 on :math:`(\cos t, \sin t)`, label 1 on
    :math:`(1 - \cos t, \tfrac12 - \sin t)` for :math:`t \in [0, \pi]`, plus Gaussian noise.
    """
    n = _check_count(n, 2)
    rng = np.random.default_rng(seed)
    n_upper = n // 2
    upper = np.linspace(0.0, np.pi, n_upper)
    lower = np.linspace(0.0, np.pi, n - n_upper)
    points = np.concatenate(
        [
            np.stack([np.cos(upper), np.sin(upper)], axis=1),
            np.stack([1.0 - np.cos(lower), 0.5 - np.sin(lower)], axis=1),
        ]
    )
    labels = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n - n_upper, np.int64)])
    return _finish(points, labels, _check_noise(noise), rng)


def make_circles(
    n: int = 100, noise: float = 0.1, factor: float = 0.5, seed: int | None = None
) -> tuple[FloatArray, IntArray]:
    """Two concentric circles: label 0 on the unit circle, label 1 on radius ``factor``.

    ``factor`` defaults to 0.5 (scikit-learn uses 0.8), so that with the default noise
    the two rings stay apart.
    """
    n = _check_count(n, 2)
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor < 1:
        raise ValueError(f"factor must be a number in (0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    n_outer = n // 2
    # endpoint=False: the angle 2*pi would repeat the point at angle 0.
    outer = np.linspace(0.0, 2.0 * np.pi, n_outer, endpoint=False)
    inner = np.linspace(0.0, 2.0 * np.pi, n - n_outer, endpoint=False)
    points = np.concatenate(
        [
            np.stack([np.cos(outer), np.sin(outer)], axis=1),
            float(factor) * np.stack([np.cos(inner), np.sin(inner)], axis=1),
        ]
    )
    labels = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n - n_outer, np.int64)])
    return _finish(points, labels, _check_noise(noise), rng)


def make_xor(
    n: int = 100, noise: float = 0.1, seed: int | None = None
) -> tuple[FloatArray, IntArray]:
    r"""The XOR problem: points around the corners of the unit square, label :math:`a \oplus b`.

    Corners (0, 0) and (1, 1) are label 0, corners (0, 1) and (1, 0) label 1; the ``n``
    points are spread as evenly as possible over the four corners, plus Gaussian noise.
    No straight line separates the classes: a network needs a hidden layer.
    """
    n = _check_count(n, 4)
    rng = np.random.default_rng(seed)
    corner = np.arange(n) % 4
    bits = np.stack([corner // 2, corner % 2], axis=1)
    labels = (bits[:, 0] ^ bits[:, 1]).astype(np.int64)
    return _finish(bits.astype(np.float64), labels, _check_noise(noise), rng)


def parity_bits(n_bits: int = 10) -> tuple[FloatArray, IntArray]:
    """Every ``n_bits``-bit number once, in order, as a row of bits (most significant first).

    The label is 1 if the number is even, 0 if odd (so it is decided by the last bit alone).
    """
    n_bits = _check_count(n_bits, 1, name="n_bits")
    if n_bits > 20:
        raise ValueError(f"n_bits={n_bits} would make 2**{n_bits} rows; use at most 20")
    numbers_ = np.arange(2**n_bits)
    shifts = np.arange(n_bits - 1, -1, -1)
    X = ((numbers_[:, None] >> shifts) & 1).astype(np.float64)
    y = (numbers_ % 2 == 0).astype(np.int64)
    return X, y
