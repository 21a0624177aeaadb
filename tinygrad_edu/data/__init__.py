"""Datasets (synthetic and shipped real ones) as numpy arrays, splits and mini-batches."""

from tinygrad_edu.data.mnist import load_mnist, mnist_train_test
from tinygrad_edu.data.real import load_digits, load_iris
from tinygrad_edu.data.splits import batches, train_test_split
from tinygrad_edu.data.synthetic import make_circles, make_moons, make_xor, parity_bits

__all__ = [
    "batches",
    "load_digits",
    "load_iris",
    "load_mnist",
    "make_circles",
    "make_moons",
    "make_xor",
    "mnist_train_test",
    "parity_bits",
    "train_test_split",
]
