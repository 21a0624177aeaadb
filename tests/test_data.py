"""Datasets: shapes, labels, class counts, value ranges, geometry; splits and batches."""

from __future__ import annotations

import socket
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np
import pytest

from tinygrad_edu.data import (
    batches,
    load_digits,
    load_iris,
    make_circles,
    make_moons,
    make_xor,
    parity_bits,
    train_test_split,
)

GENERATORS: dict[str, Callable[..., tuple[Any, Any]]] = {
    "moons": make_moons,
    "circles": make_circles,
    "xor": make_xor,
}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a socket fails: the data must come from the package."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ---- shipped datasets ------------------------------------------------------------------


def test_iris(no_network: None) -> None:
    X, y = load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float64
    assert y.shape == (150,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50, 50, 50]
    assert X[0].tolist() == [5.1, 3.5, 1.4, 0.2] and y[0] == 0
    assert X[-1].tolist() == [5.9, 3.0, 5.1, 1.8] and y[-1] == 2
    # Fisher's values (the UCI file had two wrong rows, 35 and 38).
    assert X[34].tolist() == [4.9, 3.1, 1.5, 0.2]
    assert X[37].tolist() == [4.9, 3.6, 1.4, 0.1]
    np.testing.assert_allclose(X.min(axis=0), [4.3, 2.0, 1.0, 0.1])
    np.testing.assert_allclose(X.max(axis=0), [7.9, 4.4, 6.9, 2.5])
    np.testing.assert_allclose(X.mean(axis=0), [5.843, 3.057, 3.758, 1.199], atol=1e-3)


def test_digits(no_network: None) -> None:
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert X.min() == 0.0 and X.max() == 16.0
    assert np.array_equal(X, np.round(X))  # pixel counts are integers
    # The first image is a zero: a hole in the middle rows, ink on both sides of it.
    image = X[0].reshape(8, 8)
    assert y[0] == 0 and image[3:5, 3:5].sum() == 0
    assert image[3:5, 1:3].sum() > 20 and image[3:5, 5:7].sum() > 20


def test_data_files_ship_with_source_and_licence() -> None:
    folder = resources.files("tinygrad_edu.data")
    notice = folder.joinpath("README.md").read_text(encoding="utf-8")
    assert "UCI Machine Learning Repository" in notice
    assert notice.count("CC BY 4.0") >= 2
    for name in ("iris.csv", "digits.csv.gz"):
        assert folder.joinpath(name).is_file() and name in notice


# ---- synthetic datasets ----------------------------------------------------------------


@pytest.mark.parametrize("name", GENERATORS)
def test_synthetic_shapes_labels_and_seeds(name: str) -> None:
    make = GENERATORS[name]
    X, y = make(101, seed=3)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    assert abs(int(np.sum(y == 0)) - int(np.sum(y == 1))) <= 1
    X_again, y_again = make(101, seed=3)
    assert np.array_equal(X, X_again) and np.array_equal(y, y_again)
    X_other, _ = make(101, seed=4)
    assert not np.array_equal(X, X_other)
    # Shuffled: the first ten rows are not all one class.
    assert len(set(y[:10].tolist())) == 2


def test_moons_geometry_without_noise() -> None:
    X, y = make_moons(50, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    assert np.all(upper[:, 1] >= -1e-12)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)
    assert np.all(lower[:, 1] <= 0.5 + 1e-12)


def test_circles_geometry_without_noise() -> None:
    X, y = make_circles(40, noise=0.0, factor=0.3, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)


def test_xor_labels_are_xor_of_the_corner_bits() -> None:
    X, y = make_xor(40, noise=0.0, seed=0)
    assert set(map(tuple, X.tolist())) == {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}
    assert np.array_equal(y, (X[:, 0] != X[:, 1]).astype(np.int64))
    X_noisy, y_noisy = make_xor(400, noise=0.1, seed=0)
    corners = np.round(X_noisy)
    assert np.mean((corners[:, 0] != corners[:, 1]) == y_noisy) > 0.99


def test_parity_bits_lists_every_number_once_in_order() -> None:
    X, y = parity_bits(10)
    assert X.shape == (1024, 10) and y.shape == (1024,)
    numbers = X @ (2 ** np.arange(9, -1, -1))
    assert numbers.tolist() == list(range(1024))
    assert np.array_equal(y, (np.arange(1024) % 2 == 0).astype(np.int64))
    assert parity_bits(2)[0].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert parity_bits(2)[1].tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize(
    "call",
    [
        lambda: make_moons(1),
        lambda: make_moons(10, noise=-0.1),
        lambda: make_moons(10, noise=float("inf")),
        lambda: make_circles(10, noise=float("nan")),
        lambda: make_moons(10.5),
        lambda: make_circles(10, factor=1.5),
        lambda: make_xor(3),
        lambda: parity_bits(0),
        lambda: parity_bits(64),
    ],
)
def test_bad_generator_arguments(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()


def test_parity_bits_names_its_own_argument() -> None:
    with pytest.raises(ValueError, match=r"^n_bits must be an integer >= 1, got 0$"):
        parity_bits(0)


# ---- splits and batches ----------------------------------------------------------------


def test_train_test_split_partitions_the_rows() -> None:
    X = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_fraction=0.25, seed=1)
    assert len(X_test) == 3 and len(X_train) == 7  # ceil(10 * 0.25)
    assert sorted([*y_train.tolist(), *y_test.tolist()]) == list(range(10))
    assert np.array_equal(X_train[:, 0] // 2, y_train)  # rows stay with their labels
    again = train_test_split(X, y, test_fraction=0.25, seed=1)
    assert np.array_equal(again[3], y_test)
    assert not np.array_equal(train_test_split(X, y, seed=2)[3], y_test[:3])


@pytest.mark.parametrize(
    "call",
    [
        lambda: train_test_split(np.ones((4, 2)), np.ones(3)),
        lambda: train_test_split(np.ones((4, 2)), np.ones(4), test_fraction=0.0),
        lambda: train_test_split(np.ones((4, 2)), np.ones(4), test_fraction=1.0),
        lambda: train_test_split(np.ones((1, 2)), np.ones(1)),
        # No list(): a bad argument raises at the call, before the first batch is asked for.
        lambda: batches(np.ones((4, 2)), np.ones(4), 0),
        lambda: batches(np.ones((4, 2)), np.ones(4), 2.5),
        lambda: batches(np.ones((4, 2)), np.ones(5), 2),
    ],
)
def test_bad_split_and_batch_arguments(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        call()


def test_batches_cover_every_row_once() -> None:
    X = np.arange(10).reshape(10, 1) * 10
    y = np.arange(10)
    ordered = list(batches(X, y, 4, shuffle=False))
    assert [len(b[1]) for b in ordered] == [4, 4, 2]
    assert np.concatenate([b[1] for b in ordered]).tolist() == list(range(10))
    shuffled = list(batches(X, y, 3, seed=0))
    labels = np.concatenate([b[1] for b in shuffled])
    assert sorted(labels.tolist()) == list(range(10)) and labels.tolist() != list(range(10))
    assert all(np.array_equal(bx[:, 0], by * 10) for bx, by in shuffled)
    same = np.concatenate([b[1] for b in batches(X, y, 3, seed=0)])
    assert np.array_equal(labels, same)
