"""Datasets (synthetic and shipped real ones) as numpy arrays, splits and mini-batches."""

from tinygrad_edu.data.real import load_digits, load_iris
from tinygrad_edu.data.splits import batches, train_test_split
from tinygrad_edu.data.synthetic import make_circles, make_moons, make_xor, parity_bits

__all__ = [
    "batches",
    "load_digits",
    "load_iris",
    "make_circles",
    "make_moons",
    "make_xor",
    "parity_bits",
    "train_test_split",
]
