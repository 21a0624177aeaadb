"""``tinygrad-edu train`` run as a subprocess, the way a user runs it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pytest

from tinygrad_edu.nn import MLP

ROOT = Path(__file__).resolve().parent.parent


def run(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_edu", *arguments],
        capture_output=True, text=True, env=environment, cwd=cwd, timeout=300,
    )  # fmt: skip


def epoch_lines(stdout: str) -> list[tuple[float, float]]:
    running = r"(?:  \(running means over the epoch's batches\))?"
    pattern = rf"^epoch +\d+/\d+ +loss ([\d.]+) +accuracy ([\d.]+){running}$"
    return [(float(a), float(b)) for a, b in re.findall(pattern, stdout, flags=re.MULTILINE)]


def test_no_arguments_trains_on_moons_with_plot_and_save(tmp_path: Path) -> None:
    # The README's first command: with no options besides the outputs, moons by default.
    result = run("train", "--plot", "moons.png", "--save", "model.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("moons: 75 training and 25 test examples; MLP(2, [16, 16, 1])")
    epochs = epoch_lines(result.stdout)
    assert len(epochs) == 50
    assert epochs[-1][1] >= 0.97  # final training accuracy
    assert epochs[-1][0] < epochs[0][0]
    test_accuracy = float(re.search(r"test accuracy ([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert test_accuracy >= 0.9
    assert "epoch" in result.stderr  # the progress bar
    image = matplotlib.image.imread(tmp_path / "moons.png")
    assert image.shape[1] > image.shape[0]  # loss curve and decision boundary
    model = MLP.load(tmp_path / "model.json")
    assert model.architecture()["nouts"] == [16, 16, 1]
    assert sorted(os.listdir(tmp_path)) == ["model.json", "moons.png"]


def test_bare_command_is_the_default_train() -> None:
    result = run("train", "--help")
    assert result.returncode == 0 and "--dataset" in result.stdout
    for option in ("--hidden", "--activation", "--loss", "--optimizer", "--lr", "--epochs",
                   "--batch-size", "--seed", "--save", "--plot"):  # fmt: skip
        assert option in result.stdout


@pytest.mark.parametrize(
    "arguments",
    [
        ("--dataset", "parity"),
        ("--dataset", "iris", "--epochs", "30", "--optimizer", "rmsprop"),
        ("--dataset", "xor", "--loss", "bce", "--optimizer", "adam", "--hidden", "8"),
        ("--dataset", "circles", "--loss", "mse", "--optimizer", "momentum", "--epochs", "5"),
        ("--dataset", "moons", "--optimizer", "adagrad", "--epochs", "3", "--activation", "tanh"),
    ],
)
def test_other_datasets_losses_and_optimizers(arguments: tuple[str, ...]) -> None:
    result = run("train", *arguments)
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout and epoch_lines(result.stdout)
    if arguments[1] == "parity":
        assert "test accuracy 1.000" in result.stdout


def test_plot_for_non_2d_data_is_the_loss_curve_only(tmp_path: Path) -> None:
    result = run("train", "--dataset", "iris", "--epochs", "2", "--plot", "loss.svg", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "loss.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    "arguments",
    [
        ("--hidden", "16,x"),
        ("--hidden", "0"),
        ("--lr", "-1"),
        ("--lr", "abc"),
        ("--lr", "nan"),
        ("--epochs", "0"),
        ("--batch-size", "-3"),
        ("--optimizer", "lbfgs"),
        ("--activation", "gelu"),
        ("--loss", "hinge", "--dataset", "iris"),
        ("--loss", "bce", "--dataset", "digits"),
        ("--plot", "loss.txt"),
        ("--save", "model.pkl"),
        ("--seed", "one"),
        ("--bogus",),
    ],
)
def test_bad_options_exit_2_with_one_line(arguments: tuple[str, ...], tmp_path: Path) -> None:
    result = run("train", *arguments, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinygrad-edu: error:")
    assert "Traceback" not in result.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("seed", ["-1", "1.5", "one"])
def test_a_seed_that_is_not_a_non_negative_integer_exits_2_saying_so(
    seed: str, tmp_path: Path
) -> None:
    result = run("train", "--seed", seed, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"tinygrad-edu: error: argument --seed: {seed!r} is not a non-negative integer "
        "(see 'tinygrad-edu train --help')"
    ]


def test_save_into_a_missing_directory_exits_2(tmp_path: Path) -> None:
    result = run("train", "--dataset", "parity", "--epochs", "1", "--save", "no/such/m.json",
                 cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2 and result.stdout == ""  # refused before training
    assert result.stderr.strip().splitlines() == [
        "tinygrad-edu: error: --save cannot write no/such/m.json: folder does not exist"
    ]


@pytest.mark.parametrize(("option", "name"), [("--save", "model.json"), ("--plot", "loss.png")])
def test_an_output_that_is_a_folder_exits_2_before_training(
    option: str, name: str, tmp_path: Path
) -> None:
    (tmp_path / name).mkdir()
    result = run("train", "--epochs", "1", option, name, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""  # refused before training
    assert result.stderr.strip().splitlines() == [
        f"tinygrad-edu: error: {option} cannot write {name}: it is a folder, not a regular file"
    ]
    assert os.listdir(tmp_path) == [name] and os.listdir(tmp_path / name) == []


def test_an_output_name_that_is_only_a_suffix_exits_2(tmp_path: Path) -> None:
    result = run("train", "--epochs", "1", "--save", ".json", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "tinygrad-edu: error: --save '.json': give the file a name before .json"
    ]


def test_a_model_too_big_for_a_scalar_engine_exits_2_before_building_it(tmp_path: Path) -> None:
    # 2 -> 100000000 -> 1 would be 400 million Values: memory runs out long before training.
    result = run("train", "--hidden", "100000000", cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "tinygrad-edu: error: --hidden 100000000: 400000001 parameters, more than the limit of "
        "1000000 (a scalar engine would take hours per epoch)"
    ]
