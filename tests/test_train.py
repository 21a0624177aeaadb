"""fit / evaluate / plot_training, and the training results the project promises."""

from __future__ import annotations

import functools
import math
import os
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import matplotlib.image
import numpy as np
import pytest
from tqdm.auto import tqdm

import tinygrad_edu.train as train_module
from tinygrad_edu import Value
from tinygrad_edu.data import (
    load_digits,
    load_iris,
    make_moons,
    make_xor,
    parity_bits,
    train_test_split,
)
from tinygrad_edu.nn import MLP, mse_loss
from tinygrad_edu.nn.losses import cross_entropy
from tinygrad_edu.optim import SGD, Adam
from tinygrad_edu.tensor import losses as tensor_losses
from tinygrad_edu.tensor import nn as tensor_nn
from tinygrad_edu.tensor.engine import Tensor
from tinygrad_edu.train import (
    History,
    TrainingDiverged,
    accuracy,
    evaluate,
    fit,
    plot_training,
    predict,
)


def _timed(label: str, started: float, accuracy: float) -> None:
    # Printed for the record (pytest -s shows it); the figures are in the report.
    print(f"\n{label}: accuracy {accuracy:.3f} in {time.perf_counter() - started:.1f} s")


# ---- the promised results (seeds fixed) ------------------------------------------------


def test_moons_hinge_reaches_97_percent_train_accuracy() -> None:
    started = time.perf_counter()
    X, y = make_moons(100, seed=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
    model = MLP(2, [16, 16, 1], seed=0)
    history = fit(
        model, X_train, y_train, loss="hinge", optimizer=SGD(model.parameters(), lr=0.3),
        epochs=50, batch_size=10, progress=False, seed=0,
    )  # fmt: skip
    assert history.loss[-1] < history.loss[0] / 10
    train_accuracy = accuracy(model, X_train, y_train, loss="hinge")
    assert train_accuracy >= 0.97
    assert accuracy(model, X_test, y_test, loss="hinge") >= 0.9
    _timed("moons (train)", started, train_accuracy)


def test_parity_10_3_2_sigmoid_network_generalises_perfectly() -> None:
    started = time.perf_counter()
    X, y = parity_bits(10)
    model = MLP(10, [3, 2], activation="sigmoid", seed=0)
    fit(
        model, X[:700], y[:700], loss="ce", optimizer=Adam(model.parameters(), lr=0.1),
        epochs=5, batch_size=16, progress=False, seed=0,
    )  # fmt: skip
    assert len(X[700:]) == 324
    test_accuracy = accuracy(model, X[700:], y[700:], loss="ce")
    assert test_accuracy == 1.0
    _timed("parity (test)", started, test_accuracy)


def test_iris_4_8_9_3_relu_cross_entropy_adam() -> None:
    started = time.perf_counter()
    X, y = load_iris()
    X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
    model = MLP(4, [8, 9, 3], seed=0)
    history = fit(
        model, X_train, y_train, loss="ce", optimizer=Adam(model.parameters(), lr=0.01),
        epochs=100, progress=False,
    )  # fmt: skip
    assert len(history.loss) == 100 and history.loss[-1] < history.loss[0]
    test_accuracy = accuracy(model, X_test, y_test, loss="ce")
    assert test_accuracy >= 0.93
    _timed("iris (test)", started, test_accuracy)


@pytest.mark.slow
def test_digits_64_32_10_reaches_90_percent_test_accuracy() -> None:
    started = time.perf_counter()
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, seed=0)
    model = MLP(64, [32, 10], seed=0)
    # One epoch of mini-batches is enough here (measured: 0.913 on the 450 test images).
    fit(
        model, X_train, y_train, loss="ce", optimizer=Adam(model.parameters(), lr=0.01),
        epochs=1, batch_size=16, progress=False, seed=0,
    )  # fmt: skip
    test_accuracy = accuracy(model, X_test, y_test, loss="ce")
    assert test_accuracy >= 0.90
    _timed("digits (test)", started, test_accuracy)


# ---- fit, on either engine -------------------------------------------------------------
# The loop is one for both engines; every test here runs on the scalar MLP and on the tensor
# MLP built with the same arguments and seed (the same numbers, SPEC §11).

ENGINES = ["scalar", "tensor"]


def _mlp(engine: str, nin: int, nouts: list[int], **arguments: Any) -> Any:
    """The scalar or the tensor ``MLP(nin, nouts, **arguments)``."""
    return (MLP if engine == "scalar" else tensor_nn.MLP)(nin, nouts, **arguments)


def _xor_model(engine: str = "scalar") -> tuple[Any, Any, Any]:
    X, y = make_xor(40, seed=0)
    return _mlp(engine, 2, [8, 1], seed=0), X, y


def _output_numbers(model: Any, X: Any) -> Any:
    """The model's outputs on ``X`` as an array, one row per example (computed directly)."""
    if isinstance(model, tensor_nn.MLP):
        return model(X).data
    return np.array([[o.data for o in model(row)] if model.nouts[-1] > 1 else [model(row).data]
                     for row in X])  # fmt: skip


def _squared_error(outputs: Any, targets: Any) -> Any:
    """A custom loss on either engine's outputs: the sum of (output - target)^2."""
    targets = np.asarray(targets, dtype=np.float64)
    if isinstance(outputs, Tensor):
        return ((outputs.reshape(len(targets)) - targets) ** 2).sum()
    return Value.sum([(o - t) ** 2 for o, t in zip(outputs, targets.tolist(), strict=True)])


def _summed_cross_entropy(outputs: Any, targets: Any) -> Any:
    """A custom loss on either engine's outputs: cross-entropy summed over the batch."""
    if isinstance(outputs, Tensor):
        return tensor_losses.cross_entropy(outputs, np.asarray(targets)) * len(targets)
    return Value.sum([cross_entropy(o, int(t)) for o, t in zip(outputs, targets, strict=True)])


def _squared_sum(outputs: Any, targets: Any) -> Any:
    """A custom loss with no class in it: (sum of every output)^2."""
    if isinstance(outputs, Tensor):
        return outputs.sum() ** 2
    return Value.sum([Value.sum(o) if isinstance(o, list) else o for o in outputs]) ** 2


def test_the_engine_is_chosen_by_the_kind_of_parameters() -> None:
    # Tensors: one forward pass per batch; Values, or a model without parameters: per row.
    assert train_module.engine_for(tensor_nn.MLP(2, [3], seed=0)) is train_module.TENSOR
    assert train_module.engine_for(MLP(2, [3], seed=0)) is train_module.SCALAR
    assert train_module.engine_for(lambda row: Value(float(row[0]))) is train_module.SCALAR


@pytest.mark.parametrize("engine", ENGINES)
def test_history_has_one_entry_per_epoch_and_progress_false_is_silent(
    engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model, X, y = _xor_model(engine)
    seen: list[tuple[int, float, float]] = []
    history = fit(
        model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=3,
        progress=False, on_epoch=lambda *row: seen.append(row),
    )  # fmt: skip
    assert isinstance(history, History)
    assert len(history.loss) == len(history.accuracy) == 3
    assert [row[0] for row in seen] == [1, 2, 3]
    assert [row[1] for row in seen] == history.loss
    assert all(0.0 <= a <= 1.0 for a in history.accuracy)
    assert capsys.readouterr() == ("", "")


@pytest.fixture
def bar_draws_every_update(monkeypatch: pytest.MonkeyPatch) -> None:
    """tqdm redraws at most every 0.1 s; drawing at every update lets a test read every
    state the bar passes through, without a slow or timed run."""
    monkeypatch.setattr(train_module, "tqdm", functools.partial(tqdm, mininterval=0, miniters=1))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.usefixtures("bar_draws_every_update")
def test_progress_bar_shows_epoch_loss_and_accuracy(
    engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model, X, y = _xor_model(engine)
    fit(model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=2)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "loss 0." in err and "accuracy 0." in err


@pytest.mark.parametrize("engine", ENGINES)
def test_epoch_loss_is_the_mean_over_the_data(engine: str) -> None:
    # With lr = 0 nothing changes, so each epoch's loss is the full-data loss.
    model, X, y = _xor_model(engine)
    expected = evaluate(model, X, y, loss="mse")
    history = fit(
        model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.0), epochs=2,
        batch_size=7, progress=False,
    )  # fmt: skip
    assert history.loss == pytest.approx([expected.loss] * 2, rel=1e-12)
    assert history.accuracy == pytest.approx([expected.accuracy] * 2)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("loss", ["hinge", "bce", "mse"])
def test_binary_losses_train_xor(engine: str, loss: str) -> None:
    X, y = make_xor(40, seed=1)
    output = "sigmoid" if loss == "bce" else "linear"
    model = _mlp(engine, 2, [8, 1], activation="tanh", output_activation=output, seed=1)
    fit(
        model, X, y, loss=loss, optimizer=Adam(model.parameters(), lr=0.05), epochs=40,
        batch_size=8, progress=False, seed=1,
    )  # fmt: skip
    assert accuracy(model, X, y, loss=loss) == 1.0


def test_multi_output_mse_uses_one_hot_targets_and_argmax() -> None:
    X, y = load_iris()
    model = MLP(4, [3], activation="linear", seed=0)
    outputs = [model(row) for row in X[:5]]
    one_hot = [[1.0 if c == label else 0.0 for c in range(3)] for label in y[:5]]
    assert evaluate(model, X[:5], y[:5], loss="mse").loss == pytest.approx(
        mse_loss(outputs, one_hot).data
    )
    predicted = [max(range(3), key=lambda c, o=o: o[c].data) for o in outputs]  # type: ignore[index]
    assert predict(model, X[:5], loss="mse") == predicted


@pytest.mark.parametrize("engine", ENGINES)
def test_custom_loss_function_and_accuracy(engine: str) -> None:
    model, X, y = _xor_model(engine)
    history = fit(
        model, X, y, loss=_squared_error, optimizer=SGD(model.parameters(), lr=0.01), epochs=2,
        progress=False,
    )  # fmt: skip
    assert all(0.0 <= a <= 1.0 for a in history.accuracy if a is not None)  # inferred: 0/1 labels
    assert len(history.accuracy) == 2 and None not in history.accuracy
    history = fit(
        model, X, y, loss=_squared_error, optimizer=SGD(model.parameters(), lr=0.01), epochs=1,
        progress=False, accuracy=lambda outputs, targets: 0.25,
    )  # fmt: skip
    assert history.accuracy == [0.25]


@pytest.mark.parametrize("engine", ENGINES)
def test_evaluate_builds_no_graph_and_touches_no_gradient(engine: str) -> None:
    model, X, y = _xor_model(engine)
    for p in model.parameters():
        p.grad = 1.5
    result = evaluate(model, X, y, loss="hinge")
    assert 0.0 <= result.accuracy <= 1.0 and result.loss >= 0.0
    assert all(np.all(p.grad == 1.5) for p in model.parameters())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"loss": "nll"}, ValueError),
        ({"loss": 3}, TypeError),
        ({"epochs": 0}, ValueError),
        ({"batch_size": 0}, ValueError),
        ({"loss": "ce"}, ValueError),  # one output cannot be a class distribution
    ],
)
def test_bad_fit_arguments(engine: str, settings: dict[str, Any], error: type[Exception]) -> None:
    model, X, y = _xor_model(engine)
    arguments: dict[str, Any] = {"loss": "hinge", "epochs": 1, "progress": False, **settings}
    with pytest.raises(error):
        fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.1), **arguments)


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_data_for_fit(engine: str) -> None:
    model, X, y = _xor_model(engine)
    optimizer = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="rows"):
        fit(model, X, y[:-1], loss="hinge", optimizer=optimizer, epochs=1, progress=False)
    with pytest.raises(ValueError, match="binary"):
        fit(model, X, y + 1, loss="hinge", optimizer=optimizer, epochs=1, progress=False)
    multi = _mlp(engine, 2, [3], seed=0)
    with pytest.raises(ValueError, match="one output"):
        evaluate(multi, X, y, loss="hinge")
    with pytest.raises(ValueError, match="NaN or infinite"):
        fit(model, np.where(X > 0.5, np.nan, X), y, loss="hinge", optimizer=optimizer, epochs=1)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_diverging_run_stops_with_an_error_that_says_so(engine: str) -> None:
    model, X, y = _xor_model(engine)
    huge_steps = SGD(model.parameters(), lr=1e3)
    with pytest.raises(TrainingDiverged, match=r"training diverged in epoch \d+, step \d+ of 4: "):
        fit(model, X, y, loss="mse", optimizer=huge_steps, epochs=20, batch_size=10, progress=False)


def test_an_infinite_parameter_is_caught_by_the_first_forward_op() -> None:
    # SPEC 1.1: no op computes with a non-finite number; the first one to read the weight
    # a callback set to inf by hand refuses it, naming the parameter.
    model, X, y = _xor_model()

    def break_a_weight(epoch: int, loss: float, accuracy: float | None) -> None:
        model.parameters()[0].data = math.inf

    with pytest.raises(ValueError, match=r"\('layers\.0\.neurons\.0\.w\.0'\) is inf, not a finite"):
        fit(
            model, X, y, loss="mse", optimizer=SGD(model.parameters(), lr=0.01),
            epochs=3, progress=False, on_epoch=break_a_weight,
        )  # fmt: skip


# ---- plots -----------------------------------------------------------------------------


def test_plot_training_writes_png_with_decision_boundary(tmp_path: Path) -> None:
    model, X, y = _xor_model()
    path = tmp_path / "training.png"
    plot_training(path, History(loss=[1.0, 0.5, 0.2], accuracy=[0.5, 0.7, 0.9]),
                  model=model, X=X, y=y, loss="hinge", resolution=20)  # fmt: skip
    image = matplotlib.image.imread(path)
    assert image.shape[1] > image.shape[0] > 100  # two panels side by side
    assert os.listdir(tmp_path) == ["training.png"]


def test_plot_training_svg_parses(tmp_path: Path) -> None:
    path = tmp_path / "loss.svg"
    plot_training(path, History(loss=[1.0, 0.5], accuracy=[0.5, 0.7]))
    root = ElementTree.parse(path).getroot()
    assert root.tag.endswith("svg")


def test_plot_training_rejects_unknown_formats_and_non_2d_boundaries(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="png"):
        plot_training(tmp_path / "loss.txt", History(loss=[1.0], accuracy=[0.5]))
    model = MLP(4, [3], seed=0)
    X, y = load_iris()
    with pytest.raises(ValueError, match="2-D"):
        plot_training(tmp_path / "a.png", History(), model=model, X=X, y=y, loss="ce")
    assert os.listdir(tmp_path) == []
    assert np.isfinite(X).all()


def test_plot_training_leaves_the_plotting_backend_alone(tmp_path: Path) -> None:
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # stands in for a notebook's inline backend
    try:
        plot_training(tmp_path / "loss.png", History(loss=[1.0, 0.5], accuracy=[0.5, 0.9]))
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


# ---- §4.1: divergence after any step, inferred accuracy, progress within an epoch -------


class _BreakingSGD(SGD):
    """SGD that sets ``bad`` into the first parameter's ``data`` at its ``at``-th step.

    A Value takes it; a Tensor refuses an array with a bad first entry. (Writing into a
    Tensor's array in place is impossible: its arrays are read-only.)
    """

    def __init__(self, params: list[Any], at: int, bad: float) -> None:
        super().__init__(params, lr=0.01)
        self.at, self.bad, self.steps = at, bad, 0

    def step(self) -> None:
        super().step()
        self.steps += 1
        if self.steps == self.at:
            parameter = self.params[0]
            if isinstance(parameter, Value):
                parameter.data = self.bad
            else:
                changed = parameter.data.copy()
                changed[0, 0] = self.bad
                parameter.data = changed


BREAKS = [
    # engine, what the error says about the parameter the optimizer broke
    ("scalar", r"parameter layers\.0\.neurons\.0\.w\.0 is {bad} after the update"),
    ("tensor", r"the update was refused \(data must be finite: 1 of 16 entries NaN "
               r"or inf \(first at index \(0, 0\)\)\)"),
]  # fmt: skip


@pytest.mark.parametrize(("engine", "says"), BREAKS)
@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(("at", "epoch", "step"), [(1, 1, 1), (3, 1, 3), (5, 2, 2), (6, 2, 3)])
def test_a_non_finite_parameter_after_any_step_stops_training_there(
    engine: str, says: str, bad: float, at: int, epoch: int, step: int
) -> None:
    # 30 rows in batches of 10: 3 steps per epoch, 6 in all; step 6 is the very last.
    model, X, y = _xor_model(engine)
    optimizer = _BreakingSGD(model.parameters(), at=at, bad=bad)
    expected = (
        rf"training diverged in epoch {epoch}, step {step} of 3: {says.format(bad=bad)} "
        r"with lr=0\.01; a smaller learning rate may help$"
    )
    with pytest.raises(TrainingDiverged, match=expected):
        fit(model, X[:30], y[:30], loss="mse", optimizer=optimizer, epochs=2, batch_size=10,
            progress=False)  # fmt: skip
    assert optimizer.steps == at, "stopped at the step that diverged"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_huge_learning_rate_diverges_on_the_last_step_instead_of_returning(engine: str) -> None:
    # One full-batch step with lr=1e308: the parameters stay finite (about 1e305) but any
    # forward pass after it overflows. fit must say so, not hand back the model.
    X, y = make_moons(40, seed=0)
    model = _mlp(engine, 2, [16, 16, 1], seed=0)
    with pytest.raises(TrainingDiverged, match=r"in epoch 1, step 1 of 1: after the update") as e:
        fit(model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=1e308), epochs=1,
            progress=False)  # fmt: skip
    assert str(e.value).endswith("with lr=1e+308; a smaller learning rate may help")
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("negative", [0, -1])
def test_a_loss_function_infers_accuracy_by_sign_for_binary_labels(
    engine: str, negative: int
) -> None:
    # lr = 0: the model never changes, so every epoch's accuracy is the model's own.
    X, y01 = make_moons(40, seed=3)
    y = np.where(y01 == 1, 1, negative)
    model = _mlp(engine, 2, [4, 1], seed=3)
    predicted = np.where(_output_numbers(model, X)[:, 0] > 0.0, 1, negative)
    expected = float(np.mean(predicted == y))
    assert 0.0 < expected < 1.0, "a model that gets some right and some wrong"
    history = fit(
        model, X, y, loss=_squared_error, optimizer=SGD(model.parameters(), lr=0.0), epochs=2,
        batch_size=15, progress=False,
    )  # fmt: skip
    assert history.accuracy == pytest.approx([expected, expected], rel=1e-12)
    assert evaluate(model, X, y, loss=_squared_error).accuracy == pytest.approx(expected)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_loss_function_infers_accuracy_by_argmax_for_class_indices(engine: str) -> None:
    X, y = load_iris()
    model = _mlp(engine, 4, [3], activation="linear", seed=0)
    expected = float(np.mean(_output_numbers(model, X).argmax(axis=1) == y))
    assert 0.0 < expected < 1.0
    history = fit(
        model, X, y, loss=_summed_cross_entropy, optimizer=SGD(model.parameters(), lr=0.0),
        epochs=1, batch_size=50, progress=False,
    )  # fmt: skip
    assert history.accuracy == pytest.approx([expected], rel=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("labels", "outputs"),
    [
        ([0.25, 1.5, -0.75, 3.0], 1),  # regression targets
        ([0, 1, 2, 1], 1),  # three classes, one output
        ([0, 1, 5, 1], 3),  # a class index beyond the outputs
        ([-1, 0, 1, 0], 3),  # a negative class index
    ],
)
@pytest.mark.usefixtures("bar_draws_every_update")
def test_accuracy_that_cannot_be_inferred_is_none_and_not_shown(
    engine: str, labels: list[float], outputs: int, capsys: pytest.CaptureFixture[str]
) -> None:
    X = np.array([[0.1, 0.2], [0.3, -0.4], [-0.5, 0.6], [0.7, 0.8]])
    y = np.array(labels)
    model = _mlp(engine, 2, [outputs], seed=0)
    seen: list[float | None] = []
    history = fit(
        model, X, y, loss=_squared_sum, optimizer=SGD(model.parameters(), lr=0.0), epochs=2,
        batch_size=2, on_epoch=lambda epoch, loss, accuracy: seen.append(accuracy),
    )  # fmt: skip
    assert history.accuracy == [None, None] == seen
    assert evaluate(model, X, y, loss=_squared_sum).accuracy is None
    err = capsys.readouterr().err
    assert "loss " in err and "accuracy" not in err and "nan" not in err


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.usefixtures("bar_draws_every_update")
def test_a_long_epoch_shows_batches_done_within_it(
    engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model, X, y = _xor_model(engine)
    fit(model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
        batch_size=10)  # fmt: skip
    err = capsys.readouterr().err
    assert all(f"{done}/4 " in err for done in range(5)), err  # 40 rows: 4 batches
    fit(model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=2,
        batch_size=20)  # fmt: skip
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err
    assert all(f"{done}/4 " in err for done in range(5)), err  # 2 epochs x 2 batches


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.usefixtures("bar_draws_every_update")
def test_the_bar_labels_a_running_mean_only_when_the_epoch_has_several_batches(
    engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model, X, y = _xor_model(engine)
    fit(model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=1,
        batch_size=10)  # fmt: skip
    assert "running mean: loss " in capsys.readouterr().err
    fit(model, X, y, loss="hinge", optimizer=SGD(model.parameters(), lr=0.1), epochs=1)
    err = capsys.readouterr().err
    assert "loss " in err and "running" not in err  # one batch: the model before its update
