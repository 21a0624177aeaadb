"""``fit``, ``evaluate`` and ``predict`` for tensor models: one forward pass per batch.

:func:`tinygrad_edu.train.fit` hands a tensor ``MLP`` to this module, so the one ``fit``
takes both engines. The loop, the batch order (for a given ``seed``), the losses' meaning
and the reported numbers are those of the scalar ``fit`` (see the table at the top of
:mod:`tinygrad_edu.train`); only the forward pass runs on a whole batch at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from tinygrad_edu.data.splits import batches as make_batches
from tinygrad_edu.engine import no_grad
from tinygrad_edu.tensor import losses
from tinygrad_edu.tensor.engine import Tensor
from tinygrad_edu.train import History, TrainingDiverged

TensorLoss = Callable[[Tensor, Any], Tensor]
TensorAccuracy = Callable[[Tensor, Any], float]


def _binary(targets: Any, loss: str) -> np.ndarray:
    labels = np.asarray(targets, dtype=np.float64)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"loss {loss!r} needs labels 0 or 1 (a binary dataset)")
    return labels


def _one_output(outputs: Tensor, loss: str) -> Tensor:
    if outputs.shape[-1] != 1:
        raise ValueError(f"loss {loss!r} needs a model with one output, got {outputs.shape[-1]}")
    return outputs.reshape(outputs.shape[0])


def _mse(outputs: Tensor, targets: Any) -> Tensor:
    if outputs.shape[-1] == 1:
        return losses.mse_loss(_one_output(outputs, "mse"), np.asarray(targets, dtype=np.float64))
    return losses.mse_loss(outputs, np.eye(outputs.shape[-1])[np.asarray(targets)])


def _hinge(outputs: Tensor, targets: Any) -> Tensor:
    signs = 2.0 * _binary(targets, "hinge") - 1.0  # labels 0/1 -> -1/+1
    return losses.hinge_loss(_one_output(outputs, "hinge"), signs)


NAMED_LOSSES: dict[str, TensorLoss] = {
    "hinge": _hinge,
    "ce": lambda out, t: losses.cross_entropy(out, np.asarray(t)),
    "bce": lambda out, t: losses.binary_cross_entropy(_one_output(out, "bce"), _binary(t, "bce")),
    "mse": _mse,
}  # fmt: skip


def predicted_classes(outputs: Tensor, loss: str) -> np.ndarray:
    """The class of each row of ``outputs``, as the scalar ``fit`` defines it for ``loss``."""
    scores = outputs.data
    if scores.shape[-1] > 1:
        return np.asarray(scores.argmax(axis=-1))
    # NOTE: a hinge score of exactly 0 is on the margin's centre line: class 0.
    return (scores[:, 0] > 0.0 if loss == "hinge" else scores[:, 0] >= 0.5).astype(np.int64)


def _resolve(loss: Any, accuracy: Any) -> tuple[TensorLoss, TensorAccuracy | None]:
    if isinstance(loss, str):
        if loss not in NAMED_LOSSES:
            raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(NAMED_LOSSES)}")
        default = lambda out, t: float(np.mean(predicted_classes(out, loss) == np.asarray(t)))  # noqa: E731
        return NAMED_LOSSES[loss], accuracy or default
    if not callable(loss):
        raise TypeError(
            f"loss must be a name ({', '.join(NAMED_LOSSES)}) or a function, not {loss!r}"
        )
    return loss, accuracy


def fit(
    model: Any, X: np.ndarray, y: np.ndarray, *, loss: Any, optimizer: Any, epochs: int,
    batch_size: int, progress: bool, seed: int | None, accuracy: Any, on_epoch: Any,
) -> History:  # fmt: skip
    """The scalar ``fit``'s loop with one batched forward pass (arguments already checked)."""
    loss_function, accuracy_function = _resolve(loss, accuracy)
    shuffle_seeds = np.random.default_rng(seed)  # the same batch order as the scalar fit
    history = History()
    bar = tqdm(range(1, epochs + 1), desc="epoch", disable=not progress, leave=False)
    for epoch in bar:
        total_loss = total_accuracy = 0.0
        order_seed = int(shuffle_seeds.integers(2**63))
        shuffle = batch_size < len(X)
        for X_batch, y_batch in make_batches(X, y, batch_size, shuffle=shuffle, seed=order_seed):
            try:
                outputs = model(X_batch)
                batch_loss = loss_function(outputs, y_batch)
            except OverflowError as error:
                raise TrainingDiverged(f"training diverged in epoch {epoch} ({error}); "
                                       "a smaller learning rate may help") from error  # fmt: skip
            optimizer.zero_grad()
            batch_loss.backward()
            try:
                with np.errstate(over="ignore", invalid="ignore"):  # reported just below
                    optimizer.step()
            except ValueError as error:  # a parameter that would become inf or NaN
                raise TrainingDiverged(f"training diverged in epoch {epoch} ({error}); "
                                       "a smaller learning rate may help") from error  # fmt: skip
            total_loss += batch_loss.item() * len(X_batch)
            if accuracy_function is not None:
                total_accuracy += accuracy_function(outputs, y_batch) * len(X_batch)
        history.loss.append(total_loss / len(X))
        history.accuracy.append(total_accuracy / len(X) if accuracy_function else math.nan)
        bar.set_postfix(loss=f"{history.loss[-1]:.4f}", accuracy=f"{history.accuracy[-1]:.3f}")
        if on_epoch is not None:
            on_epoch(epoch, history.loss[-1], history.accuracy[-1])
    bar.close()
    return history


def evaluate(
    model: Any, X: np.ndarray, y: np.ndarray, *, loss: Any, accuracy: Any
) -> tuple[float, float]:
    """The mean loss and the accuracy on ``(X, y)``, without building a graph."""
    loss_function, accuracy_function = _resolve(loss, accuracy)
    with no_grad():
        outputs = model(X)
        value = loss_function(outputs, y).item()
        score = accuracy_function(outputs, y) if accuracy_function else math.nan
    return value, score


def predict(model: Any, X: np.ndarray, loss: str) -> list[int]:
    """The class predicted for each row of ``X``."""
    with no_grad():
        return predicted_classes(model(X), loss).tolist()  # type: ignore[no-any-return]
