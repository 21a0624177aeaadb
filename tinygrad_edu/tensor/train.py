"""The tensor engine's side of :func:`tinygrad_edu.train.fit`: what differs from the scalar one.

``fit``, ``evaluate`` and ``predict`` are one loop for both engines (in
:mod:`tinygrad_edu.train`). For a model whose parameters are Tensors they take from here:

- the forward pass: the whole batch at once, ``model(X_batch)``, one Tensor of shape
  (batch, outputs), instead of one call per row;
- the named losses, batched (:mod:`tinygrad_edu.tensor.losses`), with the same meaning as
  the scalar ones (the table at the top of :mod:`tinygrad_edu.train`);
- the outputs as a table of numbers (one row per example), from which the loop reads the
  predicted classes;
- where a parameter, a whole array, holds a number that is not finite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu.tensor import losses
from tinygrad_edu.tensor.engine import Tensor

TensorLoss = Callable[[Tensor, Any], Tensor]


def forward(model: Callable[[Any], Tensor], X_batch: np.ndarray) -> Tensor:
    """The model's outputs for every row of ``X_batch``: one batched forward pass."""
    return model(X_batch)


def _binary_labels(targets: Any, loss: str) -> np.ndarray:
    labels = np.asarray(targets, dtype=np.float64)
    if not np.isin(labels, (0.0, 1.0)).all():
        raise ValueError(f"loss {loss!r} needs labels 0 or 1 (a binary dataset)")
    return labels


def _one_output(outputs: Tensor, loss: str) -> Tensor:
    """The (batch, 1) outputs of a one-output model as a vector of one score per example."""
    if outputs.shape[-1] != 1:
        raise ValueError(f"loss {loss!r} needs a model with one output, got {outputs.shape[-1]}")
    return outputs.reshape(outputs.shape[0])


def _hinge(outputs: Tensor, targets: Any) -> Tensor:
    signs = 2.0 * _binary_labels(targets, "hinge") - 1.0  # labels 0/1 -> -1/+1
    return losses.hinge_loss(_one_output(outputs, "hinge"), signs)


def _bce(outputs: Tensor, targets: Any) -> Tensor:
    return losses.binary_cross_entropy(_one_output(outputs, "bce"), _binary_labels(targets, "bce"))


def _ce(outputs: Tensor, targets: Any) -> Tensor:
    if outputs.shape[-1] == 1:
        raise ValueError("loss 'ce' needs a model with one output per class, got one output")
    return losses.cross_entropy(outputs, np.asarray(targets))


def _mse(outputs: Tensor, targets: Any) -> Tensor:
    if outputs.shape[-1] == 1:
        return losses.mse_loss(_one_output(outputs, "mse"), np.asarray(targets, dtype=np.float64))
    return losses.mse_loss(outputs, np.eye(outputs.shape[-1])[np.asarray(targets)])  # one-hot


NAMED_LOSSES: dict[str, TensorLoss] = {"hinge": _hinge, "ce": _ce, "bce": _bce, "mse": _mse}


def score_table(outputs: object) -> np.ndarray | None:
    """The outputs' numbers, one row per example and one column per output; else ``None``.

    A vector (a model with one score per example) is one column.
    """
    if not isinstance(outputs, Tensor) or outputs.ndim not in (1, 2):
        return None
    return outputs.data.reshape(outputs.shape[0], -1)


def first_non_finite(data: np.ndarray) -> tuple[str, float] | None:
    """``("[i, j]", value)`` for the first entry of ``data`` that is NaN or infinite, else None."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f"[{', '.join(map(str, index))}]" if index else ""  # "" for a 0-d array
    return where, float(data[index])
