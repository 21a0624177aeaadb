r"""Losses on Tensors, batched with the mean over the batch (PyTorch's ``reduction="mean"``).

Each is the scalar :mod:`tinygrad_edu.nn.losses` formula applied to a whole batch at once;
the tests check that both give the same numbers and gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.tensor.engine import Tensor, apply


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x, requires_grad=False)


def _same_shape(pred: Tensor, target: Tensor, loss: str) -> None:
    # Broadcasting (N, 1) against (N,) would silently make an N x N loss: refuse it.
    if pred.shape != target.shape:
        raise ValueError(f"{loss}: pred has shape {pred.shape} but target {target.shape}")
    if pred.data.size == 0:
        raise ValueError(f"{loss}: empty batch")


def mse_loss(pred: Tensor, target: Any) -> Tensor:
    r"""Mean squared error :math:`\frac{1}{n}\sum_i (p_i - t_i)^2` over all entries."""
    target_tensor = _as_tensor(target)
    _same_shape(pred, target_tensor, "mse_loss")
    return apply("mse", pred, target_tensor)  # one row of the op table


def cross_entropy(logits: Tensor, target_index: Any) -> Tensor:
    r"""Softmax cross-entropy :math:`-\log \mathrm{softmax}(z)_t`, averaged over the batch.

    ``logits`` is (batch, classes) with ``target_index`` one class index per row, or one
    row of logits with one index. Stable for huge logits (log-softmax subtracts the max).
    """
    targets = np.asarray(target_index)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"class indices must be integers, not {targets.dtype}")
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"cross_entropy: logits of shape {logits.shape} need class indices of shape "
            f"{logits.shape[:-1]}, got shape {targets.shape}"
        )
    classes = logits.shape[-1]
    if targets.size and not ((targets >= 0) & (targets < classes)).all():
        raise ValueError(f"class index out of range for {classes} classes: {targets.tolist()}")
    # The one-hot mask picks log softmax(z)_t from each row: -sum(mask * log_softmax) / rows.
    one_hot = np.eye(classes)[targets]
    picked: Tensor = (logits.log_softmax(axis=-1) * one_hot).sum()
    return -picked / max(targets.size, 1)


def binary_cross_entropy(p: Tensor, y: Any) -> Tensor:
    r""":math:`-[y \log p + (1 - y) \log(1 - p)]`, averaged; PyTorch's clamps at p = 0, 1."""
    y = _as_tensor(y)
    _same_shape(p, y, "binary_cross_entropy")
    return apply("binary_cross_entropy", p, y).mean()


def hinge_loss(scores: Tensor, labels: Any) -> Tensor:
    r"""The SVM max-margin loss :math:`\max(0, 1 - y s)` for labels :math:`\pm 1`, averaged."""
    signs = _as_tensor(labels)
    _same_shape(scores, signs, "hinge_loss")
    if not np.isin(signs.data, (-1.0, 1.0)).all():
        raise ValueError("hinge_loss needs labels -1 or +1")
    return (1.0 - signs * scores).relu().mean()


def softmax(logits: Tensor) -> Tensor:
    r""":math:`e^{z_i} / \sum_j e^{z_j}` along the last axis."""
    return logits.softmax(axis=-1)


def log_softmax(logits: Tensor) -> Tensor:
    r""":math:`z_i - \log \sum_j e^{z_j}` along the last axis."""
    return logits.log_softmax(axis=-1)
