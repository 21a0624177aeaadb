r"""Training loops: ``fit`` a model to ``(X, y)``, then ``evaluate`` it on a test set.

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

A custom ``loss`` is a function ``(outputs, targets) -> Value`` over a batch. Pass
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
from collections.abc import Callable
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

Output = Value | list[Value]
LossFunction = Callable[[list[Output], Any], Value]
AccuracyFunction = Callable[[list[Output], Any], float]
# An inferred accuracy says None for outputs it cannot score.
_MaybeAccuracy = Callable[[list[Output], Any], float | None]
Model = Callable[[Any], Output]
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


def _predicted_classes(outputs: list[Output], loss: str) -> list[int]:
    predictions = []
    for output in outputs:
        if isinstance(output, Value):
            # NOTE: a hinge score of exactly 0 is on the margin's centre line: class 0.
            positive = output.data > 0.0 if loss == "hinge" else output.data >= 0.5
            predictions.append(int(positive))
        else:
            scores = [v.data for v in output]
            predictions.append(scores.index(max(scores)))
    return predictions


def _accuracy_for(loss: str) -> AccuracyFunction:
    def accuracy(outputs: list[Output], targets: Any) -> float:
        predicted = _predicted_classes(outputs, loss)
        labels = np.asarray(targets).tolist()
        correct: int = sum(p == t for p, t in zip(predicted, labels, strict=True))
        return correct / len(labels)

    return accuracy


_NAMED_LOSSES: dict[str, LossFunction] = {"hinge": _hinge, "ce": _ce, "bce": _bce, "mse": _mse}


def _inferred_accuracy(y: Any) -> _MaybeAccuracy:
    """An accuracy for a custom loss, from the labels' kind (see the module docstring)."""
    numeric = y.ndim == 1 and y.dtype.kind in "biuf"
    labels: set[float] = set(np.unique(y).tolist()) if numeric else set()
    # The class a non-positive score predicts: 0 for 0/1 labels, -1 for -1/+1 labels.
    negative_class = 0 if labels <= {0, 1} else -1 if labels <= {-1, 1} else None
    indices = all(float(label).is_integer() and label >= 0 for label in labels)
    classes_needed = int(max(labels)) + 1 if labels and indices else None

    def accuracy(outputs: list[Output], targets: Any) -> float | None:
        if not labels:
            return None
        scores = [score for score in map(_single_value, outputs) if score is not None]
        if len(scores) == len(outputs) and negative_class is not None:
            # NOTE: the sign, as for a logit or a margin score; a probability in (0, 1)
            # needs its own accuracy= (threshold 0.5), which the labels cannot reveal.
            predicted = [1 if score.data > 0.0 else negative_class for score in scores]
        elif classes_needed is not None and _all_class_scores(outputs, classes_needed):
            predicted = [_argmax(output) for output in outputs]  # type: ignore[arg-type]
        else:
            return None
        correct: int = sum(
            p == t for p, t in zip(predicted, np.asarray(targets).tolist(), strict=True)
        )
        return correct / len(outputs)

    return accuracy


def _all_class_scores(outputs: list[Output], classes_needed: int) -> bool:
    """Whether every output is a list of one score per class, enough for every label."""
    sizes = {len(output) if isinstance(output, list | tuple) else 0 for output in outputs}
    return len(sizes) == 1 and sizes.pop() >= max(classes_needed, 2)


def _single_value(output: Any) -> Value | None:
    """The one Value of a one-output model (a Value, or a list of one), else None."""
    if isinstance(output, Value):
        return output
    if isinstance(output, list | tuple) and len(output) == 1 and isinstance(output[0], Value):
        return output[0]
    return None


def _argmax(output: list[Value]) -> int:
    scores = [v.data for v in output]
    return scores.index(max(scores))


def _resolve(
    loss: str | LossFunction, accuracy: AccuracyFunction | None, y: Any
) -> tuple[LossFunction, _MaybeAccuracy]:
    if isinstance(loss, str):
        if loss not in _NAMED_LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
        return _NAMED_LOSSES[loss], accuracy or _accuracy_for(loss)
    if not callable(loss):
        raise TypeError(f"loss must be a name ({', '.join(LOSSES)}) or a function, not {loss!r}")
    return loss, accuracy or _inferred_accuracy(y)


def _check_data(X: Any, y: Any) -> tuple[Any, Any]:
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (one row per example), got shape {X.shape}")
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X has {len(X)} rows and y has {len(y)} labels; need equal, non-zero")
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values")
    return X, y


def _is_tensor_model(model: object) -> bool:
    # By module name, so that a scalar-only run never imports the tensor package.
    return type(model).__module__ == "tinygrad_edu.tensor.nn"


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


def _parameter_name(model: Model, parameter: Value, optimizer: Optimizer) -> str:
    """The parameter's dotted name when the model has names, else its optimizer index."""
    named = getattr(model, "named_parameters", None)
    if callable(named):
        for name, candidate in named():
            if candidate is parameter:
                return str(name)
    return f"#{optimizer.params.index(parameter)}"


def _train_step(
    model: Model,
    X_batch: Any,
    y_batch: Any,
    loss_function: LossFunction,
    optimizer: Optimizer,
    where: str,
) -> tuple[list[Output], float]:
    """One update: forward, loss, backward, step. Its outputs and loss, or TrainingDiverged."""
    try:
        outputs = [model(row) for row in X_batch]
        batch_loss = loss_function(outputs, y_batch)
        if not math.isfinite(batch_loss.data):
            raise _diverged(where, f"the loss is {batch_loss.data}", optimizer)
        optimizer.zero_grad()
        batch_loss.backward()
        optimizer.step()
    except OverflowError as error:  # in the forward, the backward or the update
        raise _diverged(where, f"a number overflowed ({error})", optimizer) from error
    # Python's float arithmetic gives inf silently: look at what the update wrote.
    for parameter in optimizer.params:
        if not math.isfinite(parameter.data):
            name = _parameter_name(model, parameter, optimizer)
            why = f"parameter {name} is {parameter.data} after the update"
            raise _diverged(where, why, optimizer)
    return outputs, batch_loss.data


def _check_final_loss(
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
            final_loss = loss_function([model(row) for row in X_batch[rows]], y_batch[rows]).data
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

    Each step: forward every row of the batch, :math:`L = ` ``loss(outputs, targets)``,
    ``optimizer.zero_grad()``, ``L.backward()``, ``optimizer.step()``. ``batch_size=None``
    uses the whole set as one batch; batches are reshuffled each epoch (``seed`` fixes the
    order). An epoch's loss and accuracy are averaged over its batches, weighted by batch
    size, as measured on the forward passes that trained (as Keras reports them); the
    accuracy is ``None`` where it cannot be inferred (see the module docstring).
    The progress bar counts batches over the whole run (epochs x batches), so a long epoch
    shows its progress. A non-finite loss or parameter after any step, the last included,
    raises :class:`TrainingDiverged` naming the epoch and the step.
    ``on_epoch(epoch, loss, accuracy)`` is called after each epoch (epochs count from 1).
    """
    X, y = _check_data(X, y)
    loss_function, accuracy_function = _resolve(loss, accuracy, y)
    epochs = _check_positive("epochs", epochs)
    size = len(X) if batch_size is None else _check_positive("batch_size", batch_size)
    if _is_tensor_model(model):  # one forward pass per batch (SPEC §11)
        from tinygrad_edu.tensor import train as tensor_train

        return tensor_train.fit(
            model, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=size,
            progress=progress, seed=seed, accuracy=accuracy, on_epoch=on_epoch,
        )  # fmt: skip
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
                    model, X_batch, y_batch, loss_function, optimizer, where
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
    _check_final_loss(model, X_batch, y_batch, loss_function, optimizer, where)
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
    if _is_tensor_model(model):
        from tinygrad_edu.tensor import train as tensor_train

        return Evaluation(*tensor_train.evaluate(model, X, y, loss=loss, accuracy=accuracy))
    loss_function, accuracy_function = _resolve(loss, accuracy, y)
    with no_grad():
        outputs = [model(row) for row in X]
        value = loss_function(outputs, y).data
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
    if loss not in _NAMED_LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    X = np.asarray(X, dtype=np.float64)
    if _is_tensor_model(model):
        from tinygrad_edu.tensor import train as tensor_train

        return tensor_train.predict(model, X, loss)
    with no_grad():
        return _predicted_classes([model(row) for row in X], loss)


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
