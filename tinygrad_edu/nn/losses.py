r"""Loss functions on ``Value`` nodes, and softmax.

Each loss takes one example or a batch. A batch is a list of examples and the loss is the
mean over the batch, as PyTorch's default ``reduction="mean"`` does. Numbers given as
predictions are lifted to constant Values, so a loss is always a ``Value``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from tinygrad_edu.engine import Value

Scalar = Value | float
Logits = Sequence[Scalar]


def _value(x: object, what: str) -> Value:
    """``x`` as is if a Value, else a constant: anything ``Value()`` takes (numpy scalars too)."""
    if isinstance(x, Value):
        return x
    try:
        return Value(x, requires_grad=False)
    except TypeError:
        kind = type(x).__name__
        raise TypeError(f"{what} must be a Value or a real number, not {kind}") from None


def _is_sequence(x: object) -> bool:
    if hasattr(x, "ndim"):  # numpy: an array is a sequence, a numpy scalar is not
        return bool(x.ndim >= 1)
    return isinstance(x, Sequence) and not isinstance(x, str)


def _mean(terms: list[Value]) -> Value:
    return Value.sum(terms) / len(terms)


def _check_batch(predictions: Sequence[Any], targets: Sequence[Any], loss: str) -> None:
    if len(predictions) == 0:
        raise ValueError(f"{loss}: empty batch")
    if len(predictions) != len(targets):
        raise ValueError(f"{loss}: {len(predictions)} predictions but {len(targets)} targets")


def _paired_elements(pred: object, target: object, where: str = "") -> list[tuple[Any, Any]]:
    """The (prediction, target) scalar pairs of two nested lists (or arrays) of one shape.

    A shape mismatch is a ``ValueError`` naming where it is, rather than a silent pairing
    of whatever elements happen to line up after flattening.
    """
    pred_is_sequence, target_is_sequence = _is_sequence(pred), _is_sequence(target)
    if not pred_is_sequence and not target_is_sequence:
        return [(pred, target)]
    if pred_is_sequence != target_is_sequence:
        inner, outer = ("pred", "target") if pred_is_sequence else ("target", "pred")
        raise ValueError(f"mse_loss: {inner}{where} is a sequence but {outer}{where} is not")
    preds, targets = list(pred), list(target)  # type: ignore[call-overload]
    if len(preds) != len(targets):
        raise ValueError(
            f"mse_loss: pred{where} has {len(preds)} elements but target{where} has {len(targets)}"
        )
    return [
        pair
        for i, (p, t) in enumerate(zip(preds, targets, strict=True))
        for pair in _paired_elements(p, t, f"{where}[{i}]")
    ]


def mse_loss(pred: Any, target: Any) -> Value:
    r"""Mean squared error :math:`\frac{1}{n}\sum_i (p_i - t_i)^2` over all elements.

    ``pred`` and ``target`` are a scalar each, or (nested) lists of the same shape.
    """
    pairs = _paired_elements(pred, target)
    if not pairs:
        raise ValueError("mse_loss: empty batch")
    squares = []
    for p, t in pairs:
        difference = _value(p, "prediction") - _value(t, "target")
        squares.append(difference * difference)
    return _mean(squares)


def _logits(logits: Any) -> list[Value]:
    """One example's logits: a flat sequence of Values or numbers (a 1-D numpy array too).

    A nested list is refused, not flattened: a batch passed to ``softmax`` (or one example
    wrapped in an extra list) would otherwise be read as one example with more classes.
    """
    if not _is_sequence(logits):
        raise TypeError(f"logits must be a sequence of Values or numbers, not {logits!r}")
    if hasattr(logits, "tolist"):
        logits = logits.tolist()  # numpy scalars -> Python floats; a 2-D array stays nested
    for i, z in enumerate(logits):
        if _is_sequence(z):
            raise TypeError(
                "logits must be a flat sequence of Values or numbers (one example); "
                f"element {i} is a {type(z).__name__}"
            )
    values = [_value(z, "a logit") for z in logits]
    if not values:
        raise ValueError("logits must not be empty")
    return values


def log_softmax(logits: Logits) -> list[Value]:
    r"""Log-softmax :math:`z_i - m - \log\sum_j e^{z_j - m}` with :math:`m = \max_j z_j`.

    NOTE: subtracting the largest logit (a constant) keeps every exponent <= 0, so it never
    overflows; the result is unchanged because softmax is shift invariant.
    """
    z = _logits(logits)
    m = max(v.data for v in z)
    log_total = Value.sum([(v - m).exp() for v in z]).log()
    return [v - m - log_total for v in z]


def softmax(logits: Logits) -> list[Value]:
    r""":math:`\mathrm{softmax}(z)_i = e^{z_i - m} / \sum_j e^{z_j - m}`, :math:`m = \max_j z_j`."""
    z = _logits(logits)
    m = max(v.data for v in z)
    exps = [(v - m).exp() for v in z]
    total = Value.sum(exps)
    return [e / total for e in exps]


def _class_index(target: object, classes: int) -> int:
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise TypeError(f"a class index must be an integer, not {target!r}")
    if not 0 <= int(target) < classes:
        raise ValueError(f"class index {target} is out of range for {classes} classes")
    return int(target)


def _cross_entropy_one(logits: Logits, target: object) -> Value:
    # -log softmax(z)_t = logsumexp(z) - z_t, built directly (fewer nodes than log_softmax).
    z = _logits(logits)
    t = _class_index(target, len(z))
    m = max(v.data for v in z)
    return Value.sum([(v - m).exp() for v in z]).log() + m - z[t]


def cross_entropy(logits: Any, target_index: Any) -> Value:
    r"""Softmax cross-entropy :math:`-\log \mathrm{softmax}(z)_t = \log\sum_j e^{z_j} - z_t`.

    One example: ``logits`` a list of Values, ``target_index`` an int. A batch: a list of
    such lists and a list of ints; the mean over the batch. Stable for large logits
    (log-sum-exp with the maximum subtracted).
    """
    if _is_sequence(target_index):
        _check_batch(logits, target_index, "cross_entropy")
        return _mean([_cross_entropy_one(z, t) for z, t in zip(logits, target_index, strict=True)])
    return _cross_entropy_one(logits, target_index)


# NOTE: PyTorch clamps each log term of binary cross-entropy at -100 so that p = 0 or 1
# gives a finite loss, and divides its gradient (p - y) / (p (1 - p)) by at least 1e-12
# (stored as a float32, hence this exact value). We copy both, so the two agree to the bit.
_LOG_FLOOR = -100.0
_GRADIENT_FLOOR = 9.999999960041972e-13


def _saturated_binary_cross_entropy(probability: Value, label: float) -> Value:
    r"""Binary cross-entropy where PyTorch's clamps act: :math:`p (1 - p) < 10^{-12}`.

    The loss is :math:`-[y \max(\log p, -100) + (1 - y) \max(\log(1 - p), -100)]`, finite
    even at p = 0 or 1. Its gradient is PyTorch's :math:`(p - y) / 10^{-12}`, not the
    derivative of the clamped (flat) function, so a saturated wrong answer still gets
    pushed towards its label. The node is the tangent line
    :math:`loss + slope \cdot (p - p_0)`: first derivatives only (a second derivative
    through it is 0, where PyTorch gives :math:`10^{24}`).
    """
    p = probability.data
    log_p = max(math.log(p), _LOG_FLOOR) if p > 0.0 else _LOG_FLOOR
    log_q = max(math.log1p(-p), _LOG_FLOOR) if p < 1.0 else _LOG_FLOOR
    # NOTE: + 0.0 turns -0.0 (a perfect answer, -(1 * 0.0)) into 0.0.
    loss = -(label * log_p + (1.0 - label) * log_q) + 0.0
    slope = (p - label) / _GRADIENT_FLOOR
    # probability - p is exactly 0.0 but keeps p in the graph, so backward reaches it.
    return (probability - p) * slope + loss


def _binary_cross_entropy_one(p: object, y: object) -> Value:
    probability = _value(p, "a probability")
    if not 0.0 <= probability.data <= 1.0:
        raise ValueError(
            f"binary_cross_entropy needs probabilities in [0, 1], got {probability.data!r} "
            "(is the output activation a sigmoid?)"
        )
    label = float(_value(y, "a label").data)
    if not 0.0 <= label <= 1.0:
        raise ValueError(f"binary_cross_entropy needs labels in [0, 1], got {label!r}")
    if probability.data * (1.0 - probability.data) < _GRADIENT_FLOOR:
        return _saturated_binary_cross_entropy(probability, label)
    # Here 1e-12 < p < 1 - 1e-12, so neither log is near -100 and the plain graph is exact.
    terms = []
    if label != 0.0:
        terms.append(label * probability.log())
    if label != 1.0:
        terms.append((1.0 - label) * (1.0 - probability).log())
    return -Value.sum(terms)


def binary_cross_entropy(p: Any, y: Any) -> Value:
    r"""Binary cross-entropy :math:`-[y \log p + (1 - y) \log(1 - p)]` for :math:`p \in [0, 1]`.

    One example (a Value and a label in [0, 1]) or a batch (two lists): the batch mean.
    As in PyTorch, each log is clamped at -100 (p = 0 or 1 costs at most 100, never
    infinity) and the gradient is :math:`(p - y) / \max(p (1 - p), 10^{-12})`, so
    ``backward()`` works for every p in [0, 1], saturated ones included.
    """
    if _is_sequence(p):
        _check_batch(p, y, "binary_cross_entropy")
        return _mean([_binary_cross_entropy_one(pi, yi) for pi, yi in zip(p, y, strict=True)])
    return _binary_cross_entropy_one(p, y)


def _hinge_one(score: object, label: object) -> Value:
    y = _value(label, "a label").data
    if y not in (-1.0, 1.0):
        raise ValueError(f"hinge_loss needs labels -1 or +1, got {y!r}")
    return (1.0 - y * _value(score, "a score")).relu()


def hinge_loss(scores: Any, labels: Any) -> Value:
    r"""The SVM max-margin loss :math:`\max(0, 1 - y s)` for labels :math:`y = \pm 1`.

    One example (a score and a label) or a batch (two lists): the batch mean.
    """
    if _is_sequence(scores):
        _check_batch(scores, labels, "hinge_loss")
        return _mean([_hinge_one(s, y) for s, y in zip(scores, labels, strict=True)])
    return _hinge_one(scores, labels)
