r"""``gradcheck`` for functions of Tensors: every entry against central differences.

:func:`tinygrad_edu.gradcheck.gradcheck` hands over here when its inputs are arrays or
Tensors. ``f`` takes one Tensor per input and returns a one-entry Tensor. Entry
:math:`(i, j)` of input ``x`` passes when

.. math:: |\bar x_{ij} - \frac{f(x + h e_{ij}) - f(x - h e_{ij})}{2h}| \le atol + rtol\,|numeric|

with the scalar check's defaults. As there, the gradient comes from both engine paths,
``backward()`` and ``grad()``, which must agree. The printed table shows the worst rows
only (failures first, then the largest error against its tolerance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu.engine import no_grad
from tinygrad_edu.gradcheck import GradcheckError, GradcheckReport, GradcheckRow
from tinygrad_edu.tensor.engine import Tensor, grad

SHOWN_ROWS = 10


@dataclass(frozen=True)
class TensorGradcheckReport(GradcheckReport):
    """A ``GradcheckReport`` over every entry; prints the worst ``SHOWN_ROWS`` of them."""

    def worst_rows(self, count: int = SHOWN_ROWS) -> tuple[GradcheckRow, ...]:
        """Failures first, then the rows whose error is the largest part of its tolerance."""

        def badness(row: GradcheckRow) -> tuple[bool, float]:
            return (not row.ok, row.abs_error / (self.atol + self.rtol * abs(row.numeric)))

        return tuple(sorted(self.rows, key=badness, reverse=True)[:count])

    def __str__(self) -> str:
        shown = GradcheckReport(self.worst_rows(), self.eps, self.atol, self.rtol)
        lines = str(shown).splitlines()[:-1]  # the table of the worst rows, without its total
        if len(self.rows) > len(shown.rows):
            lines.append(f"... {len(self.rows) - len(shown.rows)} more entries, all better")
        summary = str(GradcheckReport(self.rows, self.eps, self.atol, self.rtol)).splitlines()[-1]
        return "\n".join([*lines, summary])

    __repr__ = __str__


def _scalar(output: object) -> Tensor:
    if not isinstance(output, Tensor) or output.data.size != 1:
        shape = output.shape if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(f"gradcheck needs f to return a one-entry Tensor, got {shape}")
    return output


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
    points = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in xs]
    labels = list(names) if names is not None else [f"x{k}" for k in range(len(points))]
    if len(labels) != len(points):
        raise ValueError(f"{len(labels)} names for {len(points)} inputs")
    leaves = [Tensor(point) for point in points]
    _scalar(f(*leaves)).backward()
    by_backward = [leaf.grad for leaf in leaves]
    fresh = [Tensor(point) for point in points]
    by_grad = [g.data for g in grad(_scalar(f(*fresh)), fresh)]

    def value_at(arrays: list[np.ndarray]) -> float:
        with no_grad():
            return _scalar(f(*(Tensor(a, requires_grad=False) for a in arrays))).item()

    rows = []
    for k, (label, point) in enumerate(zip(labels, points, strict=True)):
        analytic, other = by_backward[k], by_grad[k]
        for index in np.ndindex(point.shape):
            shifted = [p.copy() for p in points]
            target = shifted[k]
            target[index] = point[index] + eps
            up = value_at(shifted)
            target[index] = point[index] - eps
            numeric = (up - value_at(shifted)) / (2 * eps)
            a, b = float(analytic[index]), float(other[index])
            agree = abs(a - b) <= atol + rtol * abs(a)
            ok = agree and abs(a - numeric) <= atol + rtol * abs(numeric)
            note = "" if agree else f"the two engine paths disagree: backward() {a!r}, grad() {b!r}"
            name = f"{label}[{', '.join(map(str, index))}]" if index else label
            rows.append(GradcheckRow(name, a, numeric, ok, note))
    report = TensorGradcheckReport(tuple(rows), eps, atol, rtol)
    if raise_exception and not report:
        raise GradcheckError(report)
    return report
