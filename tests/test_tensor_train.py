"""``fit``, ``evaluate`` and ``predict`` take tensor models: the same run as the scalar one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Value, data, optim
from tinygrad_edu import nn as scalar_nn
from tinygrad_edu.tensor import nn as tensor_nn
from tinygrad_edu.train import TrainingDiverged, evaluate, fit, predict

CASES = [
    ("hinge", "moons", [8], "relu", "linear", lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9)),
    ("ce", "iris", [5], "tanh", "linear", lambda ps: optim.Adam(ps, lr=0.01)),
    ("bce", "moons", [6], "relu", "sigmoid", lambda ps: optim.RMSprop(ps, lr=0.01)),
    ("mse", "iris", [4], "sigmoid", "sigmoid", lambda ps: optim.Adagrad(ps, lr=0.1)),
    ("mse", "moons", [4], "tanh", "linear", lambda ps: optim.AdamW(ps, lr=0.01)),
]


def _dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "iris":
        X, y = data.load_iris()
        return X[::3], y[::3]
    return data.make_moons(40, noise=0.1, seed=0)


@pytest.mark.parametrize(("loss", "dataset", "hidden", "activation", "output", "make"), CASES)
def test_fit_runs_a_tensor_model_exactly_as_the_scalar_one(
    loss: str, dataset: str, hidden: list[int], activation: str, output: str, make: Any
) -> None:
    # The scalar fit's optimisers equal torch.optim (test_optim, test_train); a tensor model
    # given to the same fit ends with the same parameters and the same history.
    X, y = _dataset(dataset)
    classes = int(y.max()) + 1
    sizes = [*hidden, classes if loss == "ce" or (loss == "mse" and classes > 2) else 1]
    arguments = {"activation": activation, "output_activation": output, "seed": 0}
    scalar_model = scalar_nn.MLP(X.shape[1], sizes, **arguments)
    tensor_model = tensor_nn.MLP(X.shape[1], sizes, **arguments)
    runs = []
    for model in (scalar_model, tensor_model):
        optimiser = make(model.parameters())
        history = fit(model, X, y, loss=loss, optimizer=optimiser, epochs=4, batch_size=8,
                      progress=False, seed=1)  # fmt: skip
        runs.append((history, evaluate(model, X, y, loss=loss), predict(model, X, loss=loss)))
    (scalar_history, scalar_eval, scalar_pred), (tensor_history, tensor_eval, tensor_pred) = runs
    np.testing.assert_allclose(tensor_history.loss, scalar_history.loss, rtol=1e-12)
    assert tensor_history.accuracy == scalar_history.accuracy
    assert tensor_model.state_dict().keys() == scalar_model.state_dict().keys()
    np.testing.assert_allclose(
        list(tensor_model.state_dict().values()), list(scalar_model.state_dict().values()),
        rtol=1e-12, atol=1e-14,
    )  # fmt: skip
    assert tensor_model.state_dict() != tensor_nn.MLP(X.shape[1], sizes, **arguments).state_dict()
    np.testing.assert_allclose(tensor_eval.loss, scalar_eval.loss, rtol=1e-12)
    assert tensor_eval.accuracy == scalar_eval.accuracy and tensor_pred == scalar_pred


def test_a_custom_loss_takes_the_batch_of_outputs() -> None:
    # The tensor loss sees one (batch, 1) Tensor per step; the scalar one a list of Values.
    # Both get the same losses, and the same accuracy inferred from the 0/1 labels (by sign).
    X, y = data.make_moons(20, seed=0)
    seen: list[tuple[int, ...]] = []

    def tensor_loss(outputs: Any, targets: Any) -> Any:
        seen.append(outputs.shape)
        return (outputs * outputs).mean()

    def scalar_loss(outputs: Any, targets: Any) -> Any:
        return Value.sum([o * o for o in outputs]) / len(outputs)

    histories = []
    for model, loss in ((tensor_nn.MLP(2, [4, 1], seed=0), tensor_loss),
                        (scalar_nn.MLP(2, [4, 1], seed=0), scalar_loss)):  # fmt: skip
        histories.append(fit(model, X, y, loss=loss, optimizer=optim.SGD(model.parameters(),
                             lr=0.1), epochs=2, batch_size=5, progress=False, seed=0))  # fmt: skip
    # 4 batches in each of 2 epochs, then the loss once more after the last update.
    assert seen == [(5, 1)] * 9
    tensor_history, scalar_history = histories
    np.testing.assert_allclose(tensor_history.loss, scalar_history.loss, rtol=1e-12)
    assert tensor_history.accuracy == scalar_history.accuracy
    assert None not in tensor_history.accuracy  # inferred, not NaN and not a guess


def test_a_tensor_run_that_diverges_says_so() -> None:
    X, y = data.make_moons(20, seed=0)
    model = tensor_nn.MLP(2, [4, 1], activation="linear", seed=0)
    expected = (
        r"in epoch 1, step 1 of 1: SGD.step\(\) with lr=1e\+200 would make parameter 0 "
        r"\('layers.0.weight'\) not finite; a smaller learning rate may help$"
    )
    with pytest.raises(TrainingDiverged, match=expected):
        fit(model, X * 1e100, y, loss="mse", optimizer=optim.SGD(model.parameters(), lr=1e200),
            epochs=3, progress=False)  # fmt: skip


@pytest.mark.parametrize("dataset", ["xor", "iris"])
def test_the_command_line_trains_the_same_run_on_either_engine(dataset: str, tmp_path: Any) -> None:
    import subprocess
    import sys

    outputs = []
    for engine in ("scalar", "tensor"):
        (tmp_path / engine).mkdir()
        command = [sys.executable, "-m", "tinygrad_edu", "train", "--dataset", dataset,
                   "--epochs", "5", "--engine", engine, "--save", "model.json"]  # fmt: skip
        result = subprocess.run(
            command, capture_output=True, text=True, cwd=tmp_path / engine, check=True
        )
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]  # every epoch's loss and accuracy, and the test accuracy
    assert "test accuracy" in outputs[0]
    # Both files load in either engine; the numbers agree to rounding (1e-12).
    scalar_file, tensor_file = (tmp_path / engine / "model.json" for engine in ("scalar", "tensor"))
    from_scalar, from_tensor = scalar_nn.MLP.load(scalar_file), tensor_nn.MLP.load(tensor_file)
    assert from_scalar.state_dict().keys() == from_tensor.state_dict().keys()
    np.testing.assert_allclose(
        list(from_tensor.state_dict().values()), list(from_scalar.state_dict().values()),
        rtol=1e-12, atol=1e-14,
    )  # fmt: skip
