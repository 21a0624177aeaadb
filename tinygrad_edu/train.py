r"""Training loops: ``fit`` a model to ``(X, y)``, then ``evaluate`` it on a test set.

One loop serves both engines. A scalar model (``tinygrad_edu.nn.MLP``) is called once per
row and gives a list of outputs; a tensor model (its parameters Tensors, such as
``tinygrad_edu.tensor.nn.MLP``) is called once per batch and gives one Tensor, a row per
example. Only that and the few things listed in :class:`Engine` differ; the batches, the
checks, the progress bar and the numbers reported are the same.

How the model's outputs become a loss and a predicted class depends on the loss:

====== ===================== ==================================== ============================
loss   model output          target used by the loss              predicted class
====== ===================== ==================================== ============================
hinge  one score             labels 0/1 mapped to -1/+1           1 if score > 0
ce     one logit per class   the class index                      argmax of the logits
bce    one probability       the label 0/1                        1 if probability >= 0.5
mse    one value             the label as a number                1 if value >= 0.5
mse    one value per class   one-hot of the class index           argmax of the outputs
====== ===================== ==================================== ============================

A custom ``loss`` is a function ``(outputs, targets) -> Value`` over a batch (for a tensor
model, ``outputs`` is the batch's Tensor and the loss a one-entry Tensor). Pass
``accuracy=`` (a function of the same arguments returning a float) to say how to score it;
without it the accuracy is inferred where the labels and outputs allow:

======================== ======================= ============================================
model output             labels                  predicted class
======================== ======================= ============================================
one value per example    0/1, or -1/+1           by the sign: positive is 1, else 0 (or -1)
one value per class      class indices 0..k-1    argmax of the outputs
======================== ======================= ============================================

Anything else (regression targets, one-hot rows, ...) gives accuracy ``None``: not guessed,
and not shown on the progress bar.
"""

from __future__ import annotations

import io
import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tqdm.auto import tqdm

from tinygrad_edu.data.splits import batches as make_batches
from tinygrad_edu.engine import Value, no_grad
from tinygrad_edu.files import write_atomically
from tinygrad_edu.nn.losses import binary_cross_entropy, cross_entropy, hinge_loss, mse_loss
from tinygrad_edu.optim import Optimizer
from tinygrad_edu.tensor import train as tensor_train
from tinygrad_edu.tensor.engine import Tensor

Output = Value | list[Value]
# A batch's outputs: one Output per row (scalar engine) or one Tensor (tensor engine).
Outputs = Any
LossFunction = Callable[[Outputs, Any], Any]  # returns the loss: a Value or a one-entry Tensor
AccuracyFunction = Callable[[Outputs, Any], float]
# An inferred accuracy says None for outputs it cannot score.
_MaybeAccuracy = Callable[[Outputs, Any], float | None]
Model = Callable[[Any], Any]
LOSSES = ("hinge", "ce", "bce", "mse")


@dataclass
class History:
    """Per-epoch training loss and accuracy, ``None`` where no accuracy can be inferred.

    Both are running figures when an epoch has several batches: the mean over the epoch's
    batches, each measured on the forward pass that trained (before its update), as Keras
    reports them. They describe a model that changed during the epoch, not the final one.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)


class Evaluation(NamedTuple):
    """The mean loss and the accuracy (``None`` where none can be inferred) on a dataset."""

    loss: float
    accuracy: float | None


# ---- the scalar engine's side: one forward call per row, losses on lists of Values -----


def _forward_rows(model: Model, X_batch: np.ndarray) -> list[Output]:
    """The model's outputs for every row of ``X_batch``, one graph per row."""
    return [model(row) for row in X_batch]


def _scores(outputs: list[Output], loss: str) -> list[Value]:
    for output in outputs:
        if not isinstance(output, Value):
            raise ValueError(f"loss {loss!r} needs a model with one output, got {len(output)}")
    return outputs  # type: ignore[return-value]


def _binary_labels(targets: Any, loss: str) -> list[float]:
    labels = np.asarray(targets, dtype=np.float64).tolist()
    if any(label not in (0.0, 1.0) for label in labels):
        raise ValueError(f"loss {loss!r} needs labels 0 or 1 (a binary dataset)")
    return labels  # type: ignore[no-any-return]


def _hinge(outputs: list[Output], targets: Any) -> Value:
    labels = [2.0 * label - 1.0 for label in _binary_labels(targets, "hinge")]
    return hinge_loss(_scores(outputs, "hinge"), labels)


def _bce(outputs: list[Output], targets: Any) -> Value:
    return binary_cross_entropy(_scores(outputs, "bce"), _binary_labels(targets, "bce"))


def _ce(outputs: list[Output], targets: Any) -> Value:
    for output in outputs:
        if isinstance(output, Value):
            raise ValueError("loss 'ce' needs a model with one output per class, got one output")
    return cross_entropy(outputs, np.asarray(targets).tolist())


def _mse(outputs: list[Output], targets: Any) -> Value:
    if isinstance(outputs[0], Value):
        return mse_loss(outputs, np.asarray(targets, dtype=np.float64).tolist())
    classes = len(outputs[0])
    one_hot = [[1.0 if c == label else 0.0 for c in range(classes)] for label in targets]
    return mse_loss(outputs, one_hot)


def _score_table(outputs: list[Any]) -> np.ndarray | None:
    """The outputs' numbers, one row per example and one column per output; else ``None``.

    A one-output model's Value is a row of one; anything but Values, or rows of different
    lengths, is not a table.
    """
    rows = [[output] if isinstance(output, Value) else output for output in outputs]
    if not all(isinstance(row, list | tuple) for row in rows) or len(set(map(len, rows))) != 1:
        return None
    if not all(isinstance(value, Value) for row in rows for value in row):
        return None
    return np.array([[value.data for value in row] for row in rows], dtype=np.float64)


def _first_non_finite(data: float) -> tuple[str, float] | None:
    """``("", data)`` if a Value's number is NaN or infinite, else None."""
    return None if math.isfinite(data) else ("", data)


# ---- the seam: what fit asks of an engine -----------------------------------------------


@dataclass(frozen=True)
class Engine:
    """What differs between the scalar and the tensor engine; the training loop is one.

    ``forward(model, X_batch)`` gives a batch's outputs (a list, or one Tensor); ``losses``
    are the named losses on those outputs; ``score_table(outputs)`` reads their numbers as
    an array, one row per example (``None`` if they are not such a table); and
    ``first_non_finite(parameter.data)`` says where a parameter is NaN or infinite
    (``("[i, j]", value)`` for a Tensor's entry, ``("", value)`` for a Value).
    """

    forward: Callable[[Model, np.ndarray], Outputs]
    losses: Mapping[str, LossFunction]
    score_table: Callable[[Outputs], np.ndarray | None]
    first_non_finite: Callable[[Any], tuple[str, float] | None]


SCALAR = Engine(
    forward=_forward_rows,
    losses={"hinge": _hinge, "ce": _ce, "bce": _bce, "mse": _mse},
    score_table=_score_table,
    first_non_finite=_first_non_finite,
)
TENSOR = Engine(
    forward=tensor_train.forward,
    losses=tensor_train.NAMED_LOSSES,
    score_table=tensor_train.score_table,
    first_non_finite=tensor_train.first_non_finite,
)


def engine_for(model: Model) -> Engine:
    """The tensor engine for a model whose parameters are Tensors, else the scalar one."""
    parameters = getattr(model, "parameters", None)
    if callable(parameters) and any(isinstance(p, Tensor) for p in parameters()):
        return TENSOR
    return SCALAR


# ---- predicted classes and accuracy, on the table of output numbers (both engines) ------


def _predicted_classes(scores: np.ndarray | None, loss: str) -> np.ndarray:
    """The class of each row of ``scores``, as the table at the top of this module says."""
    if scores is None:
        raise ValueError("the model's outputs are not one list of numbers per example")
    if scores.shape[1] > 1:
        return np.asarray(scores.argmax(axis=1))
    # NOTE: a hinge score of exactly 0 is on the margin's centre line: class 0.
    positive = scores[:, 0] > 0.0 if loss == "hinge" else scores[:, 0] >= 0.5
    return positive.astype(np.int64)


def _fraction_right(predicted: np.ndarray, targets: Any) -> float:
    return float(np.mean(predicted == np.asarray(targets)))


def _accuracy_for(loss: str, engine: Engine) -> AccuracyFunction:
    def accuracy(outputs: Outputs, targets: Any) -> float:
        predicted = _predicted_classes(engine.score_table(outputs), loss)
        return _fraction_right(predicted, targets)

    return accuracy


def _inferred_accuracy(y: Any, engine: Engine) -> _MaybeAccuracy:
    """An accuracy for a custom loss, from the labels' kind (see the module docstring)."""
    numeric = y.ndim == 1 and y.dtype.kind in "biuf"
    labels: set[float] = set(np.unique(y).tolist()) if numeric else set()
    # The class a non-positive score predicts: 0 for 0/1 labels, -1 for -1/+1 labels.
    negative_class = 0 if labels <= {0, 1} else -1 if labels <= {-1, 1} else None
    indices = all(float(label).is_integer() and label >= 0 for label in labels)
    classes_needed = int(max(labels)) + 1 if labels and indices else None

    def accuracy(outputs: Outputs, targets: Any) -> float | None:
        scores = engine.score_table(outputs) if labels else None
        if scores is None:
            return None
        if scores.shape[1] == 1 and negative_class is not None:
            # NOTE: the sign, as for a logit or a margin score; a probability in (0, 1)
            # needs its own accuracy= (threshold 0.5), which the labels cannot reveal.
            predicted = np.where(scores[:, 0] > 0.0, 1, negative_class)
        elif classes_needed is not None and scores.shape[1] >= max(classes_needed, 2):
            predicted = scores.argmax(axis=1)
        else:
            return None
        return _fraction_right(predicted, targets)

    return accuracy


def _resolve(
    loss: str | LossFunction, accuracy: AccuracyFunction | None, y: Any, engine: Engine
) -> tuple[LossFunction, _MaybeAccuracy]:
    if isinstance(loss, str):
        _check_loss_name(loss)
        return engine.losses[loss], accuracy or _accuracy_for(loss, engine)
    if not callable(loss):
        raise TypeError(f"loss must be a name ({', '.join(LOSSES)}) or a function, not {loss!r}")
    return loss, accuracy or _inferred_accuracy(y, engine)


def _check_loss_name(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")


def _check_data(X: Any, y: Any) -> tuple[Any, Any]:
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (one row per example), got shape {X.shape}")
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X has {len(X)} rows and y has {len(y)} labels; need equal, non-zero")
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values")
    return X, y


# ---- the training loop ------------------------------------------------------------------


class TrainingDiverged(ValueError):
    """Training produced a non-finite loss or parameter: the run cannot go on."""


# After the last update, the loss is measured once more on this many rows of the last
# batch: enough to meet an overflowing parameter, a fraction of an epoch's cost.
_FINAL_CHECK_ROWS = 32


def _diverged(where: str, why: str, optimizer: Optimizer) -> TrainingDiverged:
    # The data are finite (checked above), so a non-finite number came from the updates.
    return TrainingDiverged(
        f"training diverged in {where}: {why} with lr={optimizer.lr:g}; "
        "a smaller learning rate may help"
    )


def _check_positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _parameter_name(model: Model, parameter: Any, optimizer: Optimizer) -> str:
    """The parameter's dotted name when the model has names, else its optimizer index."""
    named = getattr(model, "named_parameters", None)
    if callable(named):
        for name, candidate in named():
            if candidate is parameter:
                return str(name)
    return f"#{optimizer.params.index(parameter)}"


def _train_step(
    engine: Engine,
    model: Model,
    X_batch: Any,
    y_batch: Any,
    loss_function: LossFunction,
    optimizer: Optimizer,
    where: str,
) -> tuple[Outputs, float]:
    """One update: forward, loss, backward, step. Its outputs and loss, or TrainingDiverged."""
    try:
        outputs = engine.forward(model, X_batch)
        batch_loss = loss_function(outputs, y_batch)
        loss_value = float(batch_loss.data)
        if not math.isfinite(loss_value):
            raise _diverged(where, f"the loss is {loss_value}", optimizer)
        optimizer.zero_grad()
        batch_loss.backward()
        _update(optimizer, where)
    except OverflowError as error:  # in the forward, the backward or the update
        raise _diverged(where, f"a number overflowed ({error})", optimizer) from error
    # Python's float arithmetic gives inf silently: look at what the update wrote.
    for parameter in optimizer.params:
        bad = engine.first_non_finite(parameter.data)
        if bad is not None:
            entry, value = bad
            name = _parameter_name(model, parameter, optimizer) + entry
            raise _diverged(where, f"parameter {name} is {value} after the update", optimizer)
    return outputs, loss_value


def _update(optimizer: Optimizer, where: str) -> None:
    """``optimizer.step()``; an update it refuses to store (not finite) is a divergence."""
    try:
        # numpy would warn about an overflowing Tensor update; it is reported below instead.
        with np.errstate(over="ignore", invalid="ignore"):
            optimizer.step()
    except OverflowError as error:  # its message names the parameter, the lr and the remedy
        raise TrainingDiverged(f"training diverged in {where}: {error}") from error
    except ValueError as error:  # a Tensor refuses inf or NaN written by other means
        raise _diverged(where, f"the update was refused ({error})", optimizer) from error


def _check_final_loss(
    engine: Engine,
    model: Model,
    X_batch: Any,
    y_batch: Any,
    loss_function: LossFunction,
    optimizer: Optimizer,
    where: str,
) -> None:
    """The loss after the last update, on the last batch's first rows, must be finite.

    No later step would look: a parameter so large that any forward pass overflows
    (finite, about 1e305, after one step with lr=1e308) stops the run here, not in the
    user's next call.
    """
    rows = slice(0, _FINAL_CHECK_ROWS)
    try:
        with no_grad():
            outputs = engine.forward(model, X_batch[rows])
            final_loss = float(loss_function(outputs, y_batch[rows]).data)
    except OverflowError as error:
        raise _diverged(
            where, f"after the update the loss overflows ({error})", optimizer
        ) from error
    if not math.isfinite(final_loss):
        raise _diverged(where, f"after the update the loss is {final_loss}", optimizer)


def _running_figures(loss: float, accuracy: float | None, running: bool) -> str:
    """The progress bar's text; "running mean" when the epoch's batches saw a changing model."""
    text = f"loss {loss:.4f}" + ("" if accuracy is None else f", accuracy {accuracy:.3f}")
    return f"running mean: {text}" if running else text


def fit(
    model: Model,
    X: Any,
    y: Any,
    *,
    loss: str | LossFunction,
    optimizer: Optimizer,
    epochs: int,
    batch_size: int | None = None,
    progress: bool = True,
    seed: int | None = None,
    accuracy: AccuracyFunction | None = None,
    on_epoch: Callable[[int, float, float | None], None] | None = None,
) -> History:
    r"""Train ``model`` by mini-batch gradient descent; return the per-epoch ``History``.

    Each step: forward the batch, :math:`L = ` ``loss(outputs, targets)``,
    ``optimizer.zero_grad()``, ``L.backward()``, ``optimizer.step()``. A scalar model is
    called once per row (``outputs`` a list); a tensor model (its parameters Tensors) once
    per batch (``outputs`` one Tensor, a row per example): the same loop, the same numbers.
    ``batch_size=None`` uses the whole set as one batch; batches are reshuffled each epoch
    (``seed`` fixes the order). An epoch's loss and accuracy are averaged over its batches,
    weighted by batch size, as measured on the forward passes that trained (as Keras
    reports them); the accuracy is ``None`` where it cannot be inferred (see the module
    docstring). The progress bar counts batches over the whole run (epochs x batches), so
    a long epoch shows its progress. A non-finite loss or parameter after any step, the
    last included, raises :class:`TrainingDiverged` naming the epoch and the step.
    ``on_epoch(epoch, loss, accuracy)`` is called after each epoch (epochs count from 1).
    """
    X, y = _check_data(X, y)
    engine = engine_for(model)
    loss_function, accuracy_function = _resolve(loss, accuracy, y, engine)
    epochs = _check_positive("epochs", epochs)
    size = len(X) if batch_size is None else _check_positive("batch_size", batch_size)
    steps = math.ceil(len(X) / size)  # batches per epoch; the last may be smaller
    shuffle_seeds = np.random.default_rng(seed)
    history = History()
    # The with-block clears the bar on every exit: an error starts on a clean line.
    with tqdm(
        total=epochs * steps,
        desc=f"epoch 1/{epochs}",
        unit="batch",
        disable=not progress,
        leave=False,
    ) as bar:
        for epoch in range(1, epochs + 1):
            bar.set_description_str(f"epoch {epoch}/{epochs}", refresh=False)
            total_loss, seen = 0.0, 0
            total_accuracy: float | None = 0.0  # None once a batch's accuracy cannot be inferred
            order_seed = int(shuffle_seeds.integers(2**63))
            batches = make_batches(X, y, size, shuffle=size < len(X), seed=order_seed)
            for step, (X_batch, y_batch) in enumerate(batches, start=1):
                where = f"epoch {epoch}, step {step} of {steps}"
                outputs, batch_loss = _train_step(
                    engine, model, X_batch, y_batch, loss_function, optimizer, where
                )
                seen += len(X_batch)
                total_loss += batch_loss * len(X_batch)
                if total_accuracy is not None:
                    batch_accuracy = accuracy_function(outputs, y_batch)
                    if batch_accuracy is None:  # one unscored batch leaves the epoch unscored
                        total_accuracy = None
                    else:
                        total_accuracy += batch_accuracy * len(X_batch)
                running_accuracy = None if total_accuracy is None else total_accuracy / seen
                figures = _running_figures(total_loss / seen, running_accuracy, running=steps > 1)
                bar.set_postfix_str(figures, refresh=False)
                bar.update()
            epoch_loss = total_loss / len(X)
            epoch_accuracy = None if total_accuracy is None else total_accuracy / len(X)
            history.loss.append(epoch_loss)
            history.accuracy.append(epoch_accuracy)
            if on_epoch is not None:
                on_epoch(epoch, epoch_loss, epoch_accuracy)
    _check_final_loss(engine, model, X_batch, y_batch, loss_function, optimizer, where)
    return history


def evaluate(
    model: Model,
    X: Any,
    y: Any,
    *,
    loss: str | LossFunction,
    accuracy: AccuracyFunction | None = None,
) -> Evaluation:
    """The mean loss and the accuracy of ``model`` on ``(X, y)``, without building a graph."""
    X, y = _check_data(X, y)
    engine = engine_for(model)
    loss_function, accuracy_function = _resolve(loss, accuracy, y, engine)
    with no_grad():
        outputs = engine.forward(model, X)
        value = float(loss_function(outputs, y).data)
        score = accuracy_function(outputs, y)
    return Evaluation(loss=value, accuracy=score)


def accuracy(model: Model, X: Any, y: Any, *, loss: str = "hinge") -> float:
    """The fraction of ``(X, y)`` that ``model`` classifies right, as ``fit`` defines it
    for ``loss`` (see the table at the top of this module)."""
    score = evaluate(model, X, y, loss=loss).accuracy
    if score is None:  # a named loss always defines its classes; this only narrows the type
        raise TypeError(f"loss {loss!r} gave no accuracy")
    return score


def predict(model: Model, X: Any, *, loss: str = "hinge") -> list[int]:
    """The class ``model`` predicts for each row of ``X``, as ``fit`` defines it for ``loss``."""
    _check_loss_name(loss)
    X = np.asarray(X, dtype=np.float64)
    engine = engine_for(model)
    with no_grad():
        scores = engine.score_table(engine.forward(model, X))
    return _predicted_classes(scores, loss).tolist()  # type: ignore[no-any-return]


def plot_training(
    path: str | os.PathLike[str],
    history: History,
    *,
    model: Model | None = None,
    X: Any = None,
    y: Any = None,
    loss: str = "hinge",
    resolution: int = 60,
) -> None:
    """Write the loss curve to ``path`` (png, svg or pdf), atomically.

    Given a ``model`` and 2-D data ``X, y``, a second panel shows the data over the
    model's decision regions (its predicted class on a ``resolution`` x ``resolution``
    grid, as ``fit`` defines it for ``loss``).
    """
    # A bare Figure, not pyplot: it needs no display and leaves the user's (notebook)
    # plotting backend alone.
    from matplotlib.figure import Figure

    path = Path(path)
    file_format = path.suffix.lower().lstrip(".")
    if file_format not in ("png", "svg", "pdf"):
        raise ValueError(f"{path}: the plot's file name must end in .png, .svg or .pdf")
    show_boundary = model is not None
    if show_boundary:
        X, y = _check_data(X, y)
        if X.shape[1] != 2:
            raise ValueError(f"a decision boundary needs 2-D data, got {X.shape[1]} features")
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots(1, 2 if show_boundary else 1, squeeze=False)
    curve = axes[0][0]
    curve.plot(range(1, len(history.loss) + 1), history.loss, marker=".")
    curve.set(xlabel="epoch", ylabel="training loss", title="loss")
    if model is not None:
        _draw_decision_regions(axes[0][1], model, X, y, loss, resolution)
    figure.tight_layout()
    picture = io.BytesIO()
    figure.savefig(picture, format=file_format)
    write_atomically(path, picture.getvalue())


def _draw_decision_regions(
    axes: Any, model: Model, X: Any, y: Any, loss: str, resolution: int
) -> None:
    margin = 0.5
    xs = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    ys = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    classes = np.array(predict(model, grid, loss=loss)).reshape(grid_x.shape)
    levels = np.arange(int(max(classes.max(), np.max(y))) + 2) - 0.5
    axes.contourf(grid_x, grid_y, classes, levels=levels, cmap="coolwarm", alpha=0.35)
    axes.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="black", s=20)
    axes.set(xlabel="$x_1$", ylabel="$x_2$", title="decision boundary")


__all__ = ["Evaluation", "History", "accuracy", "evaluate", "fit", "plot_training", "predict"]
