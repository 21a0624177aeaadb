r"""``gradcheck`` for functions of Tensors: every entry judged as the scalar check judges an input.

:func:`tinygrad_edu.gradcheck.gradcheck` hands over here when its inputs are arrays or
Tensors. ``f`` takes one Tensor per input and returns a one-entry Tensor. Each entry
:math:`x_{ij}` of each input is one row of the scalar check: its central difference

.. math:: \frac{f(x + h e_{ij}) - f(x - h e_{ij})}{\text{the distance actually stepped}}

is compared with :math:`\bar x_{ij}` by :func:`tinygrad_edu.gradcheck.check_entry`, with the
same settings checks, the same refusal of a step that vanishes, the same kink test (abs or
relu at 0 fails with "no derivative here") and the same tolerances, ``atol=0, rtol=0``
asking for equality. As there, the gradient comes from both engine paths, ``backward()``
and ``grad()``, which must agree. The printed table shows the worst rows only (failures
first, then the largest error against its tolerance).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu.engine import no_grad
from tinygrad_edu.gradcheck import (
    GradcheckError,
    GradcheckReport,
    GradcheckRow,
    check_entry,
    check_settings,
    check_step,
    engine_paths_failure,
    input_names,
    recording_graph,
)
from tinygrad_edu.tensor.engine import Tensor, grad
from tinygrad_edu.tensor.ops import Array

SHOWN_ROWS = 10


@dataclass(frozen=True)
class TensorGradcheckReport(GradcheckReport):
    """A ``GradcheckReport`` over every entry; prints the worst ``SHOWN_ROWS`` of them."""

    def worst_rows(self, count: int = SHOWN_ROWS) -> tuple[GradcheckRow, ...]:
        """Failures first, then the rows whose error is the largest part of its tolerance."""

        def badness(row: GradcheckRow) -> tuple[bool, float]:
            tolerance = self.atol + self.rtol * abs(row.numeric)
            error = row.abs_error
            if math.isnan(error):  # no number to compare (f undefined, backward failed)
                share = math.inf
            elif tolerance > 0.0:
                share = error / tolerance
            else:  # atol = rtol = 0 asks for equality: any error is infinitely too large
                share = 0.0 if error == 0.0 else math.inf
            return (not row.ok, share)

        return tuple(sorted(self.rows, key=badness, reverse=True)[:count])

    def __str__(self) -> str:
        shown = GradcheckReport(self.worst_rows(), self.eps, self.atol, self.rtol)
        lines = str(shown).splitlines()[:-1]  # the table of the worst rows, without its total
        if len(self.rows) > len(shown.rows):
            lines.append(f"... {len(self.rows) - len(shown.rows)} more entries, all better")
        summary = str(GradcheckReport(self.rows, self.eps, self.atol, self.rtol)).splitlines()[-1]
        return "\n".join([*lines, summary])

    __repr__ = __str__


def _check_arrays(xs: Sequence[Any]) -> list[Array]:
    """Each input as a new float64 array: Tensors, arrays, nested lists or numbers."""
    try:
        items = list(xs)
    except TypeError:
        raise TypeError(f"xs must be a sequence of arrays, not {type(xs).__name__}") from None
    if not items:
        raise ValueError("xs is empty: there is nothing to check")
    arrays = []
    for k, x in enumerate(items):
        raw = np.asarray(x.data if isinstance(x, Tensor) else x)
        if raw.dtype.kind not in "iuf":  # bool, complex, object and strings are no points
            raise TypeError(f"xs[{k}] must hold real numbers, not {raw.dtype}")
        array = np.array(raw, dtype=np.float64)
        if not np.isfinite(array).all():
            raise ValueError(f"xs[{k}] has an entry that is not finite")
        arrays.append(array)
    return arrays


def _scalar(output: object) -> Tensor:
    if not isinstance(output, Tensor):
        raise TypeError(
            f"gradcheck needs f to return a one-entry Tensor, not {type(output).__name__}"
        )
    if output.data.size != 1:
        raise ValueError(
            f"gradcheck needs f to return a one-entry Tensor, got shape {output.shape}"
        )
    return output


def _entry_label(label: str, index: tuple[int, ...]) -> str:
    return f"{label}[{', '.join(map(str, index))}]" if index else label


def _engine_gradients(
    f: Callable[..., Any], points: list[Array], labels: list[str]
) -> tuple[list[float], list[float] | None, str]:
    """The gradient by ``backward()``, by ``grad()`` (flat), and why they failed ("" if not)."""
    leaves = [Tensor(point, label=label) for point, label in zip(points, labels, strict=True)]
    with recording_graph():  # a check needs the graph even inside the caller's no_grad
        out = _scalar(f(*leaves))
    if not out.requires_grad:  # no input reaches f's value: every derivative is 0
        zeros = [0.0] * sum(point.size for point in points)
        return zeros, zeros, ""
    by_grad: list[float] | None = None
    grad_error = backward_error = None
    try:  # grad() first: it leaves every .grad untouched
        by_grad = _flat([g.data for g in grad(out, leaves)])
    except (ArithmeticError, ValueError) as error:  # e.g. sqrt'(0) divides by zero
        grad_error = str(error)
    by_backward = [math.nan] * sum(point.size for point in points)
    try:
        out.backward()
        by_backward = _flat([leaf.grad for leaf in leaves])
    except (ArithmeticError, ValueError) as error:
        backward_error = str(error)
    failure = engine_paths_failure(backward_error, grad_error)
    if failure:  # no gradient to show, as in the scalar check
        return [math.nan] * len(by_backward), None, failure
    return by_backward, by_grad, ""


def _flat(arrays: Sequence[Array]) -> list[float]:
    """Every entry of every array, input after input, each in row-major order."""
    return [float(x) for array in arrays for x in array.ravel()]


def tensor_gradcheck(
    f: Callable[..., Any],
    xs: Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = False,
    names: Sequence[str] | None = None,
) -> TensorGradcheckReport:
    """Compare ``f``'s gradient with central differences at every entry of every input."""
    points = _check_arrays(xs)
    check_settings(eps, atol, rtol)
    labels = input_names(f, len(points), names)
    shapes = [point.shape for point in points]
    # The scalar check's machinery works on one flat list of numbers: every entry of every
    # input, so each entry is stepped, checked and labelled as a scalar input would be.
    entry_labels = [
        _entry_label(label, index)
        for label, point in zip(labels, points, strict=True)
        for index in np.ndindex(point.shape)
    ]
    if not entry_labels:
        raise ValueError("xs has no entries: there is nothing to check")
    flat_point = _flat(points)

    def value_at(entries: list[float]) -> float:
        arrays, start = [], 0
        for shape in shapes:
            size = math.prod(shape)
            arrays.append(np.array(entries[start : start + size]).reshape(shape))
            start += size
        with no_grad():
            return _scalar(f(*(Tensor(a, requires_grad=False) for a in arrays))).item()

    value_at(flat_point)  # first: no eps helps an f that fails at the point itself
    check_step(eps, flat_point, entry_labels)
    analytic, by_grad, failure = _engine_gradients(f, points, labels)
    rows = [
        check_entry(
            label,
            value_at,
            flat_point,
            k,
            analytic[k],
            eps,
            atol,
            rtol,
            by_grad=None if by_grad is None else by_grad[k],
            analytic_failure=failure,
        )
        for k, label in enumerate(entry_labels)
    ]
    report = TensorGradcheckReport(tuple(rows), eps, atol, rtol)
    if raise_exception and not report:
        raise GradcheckError(report)
    return report
