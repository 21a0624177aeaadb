r"""Check gradients against finite differences, and say honestly where there is no derivative.

``gradcheck(f, xs)`` compares the engine's gradient (or your own ``grad_fn``) with
central differences and returns a :class:`GradcheckReport`: truthy when every gradient
matches, printed as a table (input, analytic, numeric, abs err, rel err, ok)::

    >>> print(gradcheck(lambda x, y: x * y.tanh(), [2.0, 0.5]))   # doctest: +SKIP

**How ``f`` is called.** ``f`` takes one positional argument per input. For the analytic
gradient it gets ``Value`` leaves and must return a ``Value``. For finite differences it
gets constant ``Value`` s under ``no_grad`` (no graph is recorded): the arithmetic is exactly
the float arithmetic of the forward rules, and every function written for the engine works
unchanged. A ``Value`` also converts with ``float()``, so an ``f`` written with ``math`` or
NumPy on floats works too (then pass ``grad_fn``: such an ``f`` has no engine gradient).

**Both engine paths.** The engine computes a gradient two ways: ``Value.backward()``
writes floats into ``.grad`` (the fast path a training loop calls) and ``grad()`` returns
``Value`` s (the path ``create_graph=True`` records). Without ``grad_fn``, ``gradcheck``
runs both on fresh leaves; the analytic column shows ``backward()``'s gradient, and a row
passes only when both paths match the finite difference and each other. Otherwise the row
says ``the two engine paths disagree: backward() gives A, grad() gives B``, so a bug
planted in one path alone cannot hide behind the other.

**Step size and tolerances.** The central difference

.. math:: \frac{f(x + h) - f(x - h)}{2h} = f'(x) + \frac{h^2}{6} f'''(\xi)

has truncation error :math:`h^2 |f'''| / 6` and rounding error about
:math:`\varepsilon_{mach} |f| / h` (:math:`\varepsilon_{mach} = 2^{-52} \approx 2.2\cdot10^{-16}`).
With the default ``eps`` :math:`= h = 10^{-6}` and :math:`|f|, |f'''|` of order 1 both are
below :math:`10^{-9}` (the best step, :math:`(3 \varepsilon_{mach})^{1/3} \approx 10^{-5}`,
would gain little). A gradient passes when

.. math:: |g_{analytic} - g_{numeric}| \le atol + rtol \cdot |g_{numeric}|

with ``atol = 1e-5`` and ``rtol = 1e-3``: four orders of magnitude above the
finite-difference error, so a correct gradient never fails by noise, and far below the
:math:`O(1)` relative error of a wrong derivative rule.

**Rounding.** Let :math:`\rho(s) = \varepsilon_{mach} F / s`, with :math:`F` the largest
:math:`|f|` among :math:`f(x), f(x \pm h)`: the rounding error of a difference quotient
with step :math:`s` when each value of ``f`` is off in its last place (2e-4 for
:math:`F = 10^6`). When :math:`\rho(h)` exceeds half the tolerance
:math:`atol + rtol |g_{numeric}|` (for :math:`|f'| \lesssim 10^{-2}` that is
:math:`|f| \gtrsim 2\cdot10^4`), rounding alone could decide the verdict, so the row gives
none: it says ``rounding error too large: |f| ~ 1e+06 makes the finite difference
uncertain by ~2e-04 (tolerance 1e-05); pass a larger eps, about 0.001`` and fails. The
suggested ``eps`` is the power of ten that brings :math:`\rho` below a twentieth of the
tolerance. The estimate sees only :math:`|f|`: an ``f`` whose intermediate values dwarf
its result (``x + 1e6 - 1e6``) is noisier than it says; pass a larger ``eps`` there too.
The step itself must be one the floats near ``x`` can take: where ``(x + h) - x`` is more
than 1% off ``h`` (for ``h = 1e-6``, from about :math:`|x| = 10^8`), the row says so and
suggests an ``eps`` of about :math:`10^{-6} |x|`; below that, each quotient divides by the
distance actually stepped (``x + h`` is rounded to a float), not by ``h``. A step that
vanishes at an input (``x + h/2 == x``: ``eps=5e-324`` anywhere, ``1e-6`` at
:math:`10^{20}`) would difference equal values into a silent 0, so every check refuses it
with ``ValueError`` and that advice.

**Zero tolerance.** ``atol=0`` with ``rtol=0`` (or with a numeric gradient of exactly 0)
asks for equality itself: the rounding rule above cannot apply, and the row passes only
when the two numbers are equal (``x * x`` at 0 does; at 1 rounding makes them differ).

**Kinks.** Let :math:`L = (f(x) - f(x-h))/h` and :math:`R = (f(x+h) - f(x))/h` be the
one-sided slopes and :math:`D(h) = R - L = h f''(x) + O(h^3)`. Where ``f`` is twice
differentiable the gap :math:`D` halves when :math:`h` halves. At a kink (relu or abs at
0) it stays at the jump :math:`f'(x^+) - f'(x^-)`, whatever the step. The criterion:

* the gap is *a candidate* when :math:`|D(h)|` exceeds the tolerance
  :math:`atol + rtol \max(|L|, |R|)` and the rounding allowance :math:`20 \rho(h)`
  (rounding moves :math:`D(s)` by up to :math:`2\rho(s)` per last place of error in ``f``;
  20 leaves room for several);
* a candidate is *curvature* when :math:`D(h/2) \approx D(h)/2` and
  :math:`D(h/4) \approx D(h)/4`, each within :math:`0.1 |D(h)| + 20 \rho(s)` at its step
  :math:`s`; otherwise it is *a kink*;
* a kink whose gap keeps its size, :math:`D(h/2) \approx D(h/4) \approx D(h)` within the
  same allowance, lies at ``x`` (for relu, closer than about :math:`h/30`): the row says
  ``no derivative here: left slope L, right slope R``;
* any other kink lies within :math:`h` of ``x``, where the central difference is wrong
  even if ``f`` has a derivative at ``x`` (abs at 3e-7): the row says ``kink within
  eps=1e-06 of x: left slope L, right slope R; a smaller eps may resolve it``.

Both kinds of row fail. A kink whose jump is below the tolerance or the rounding allowance
cannot be resolved and is not reported.

**Second derivatives.** ``gradgradcheck`` differentiates the engine's first derivatives
twice: analytically through ``grad(create_graph=True)``, numerically by central
differences of the first derivatives that ``backward()`` gives, with the same step,
tolerances and kink criterion. It therefore checks the ``create_graph`` path against the
fast path.
"""

from __future__ import annotations

import inspect
import math
import numbers
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from tinygrad_edu.engine import Value, _GradMode, grad, no_grad

# The gap D(h) must shrink like h to count as curvature; this much slack is allowed.
_HALVING_SLACK = 0.1
# Spacing of floats near 1: each f value is off by about this much times |f|.
_EPS_MACH = sys.float_info.epsilon
# A gap counts only above this many rounding errors: f may be off by several last places.
_ROUNDING_SAFETY = 20.0


class GradcheckError(AssertionError):
    """A gradient check failed; the message is the report's table, ``.report`` the report.

    An ``AssertionError`` (not a ``ValueError``): the inputs were fine, a claim about the
    gradient was false. pytest shows it as a failed assertion with the table.
    """

    def __init__(self, report: GradcheckReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass(frozen=True)
class GradcheckRow:
    """One compared derivative: which input, both values, and whether they match."""

    input: str
    analytic: float
    numeric: float
    ok: bool
    note: str = ""

    @property
    def abs_error(self) -> float:
        """:math:`|analytic - numeric|`."""
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        """:math:`|analytic - numeric| / |numeric|` (0 if both are 0, inf if only numeric is)."""
        if self.numeric == 0.0:
            return 0.0 if self.analytic == 0.0 else math.inf
        return self.abs_error / abs(self.numeric)


@dataclass(frozen=True)
class GradcheckReport:
    """All compared derivatives. Truthy when every row is ok; prints as a table."""

    rows: tuple[GradcheckRow, ...]
    eps: float
    atol: float
    rtol: float
    # 1 for gradcheck, 2 for gradgradcheck (row "x,w" is d/dw of df/dx).
    order: int = 1

    def __bool__(self) -> bool:
        return self.passed

    @property
    def passed(self) -> bool:
        """True when every derivative matches."""
        return all(row.ok for row in self.rows)

    @property
    def failures(self) -> tuple[GradcheckRow, ...]:
        """The rows that do not match."""
        return tuple(row for row in self.rows if not row.ok)

    def __str__(self) -> str:
        header = ("input", "analytic", "numeric", "abs err", "rel err", "ok")
        lines = [(header, "")]
        for row in self.rows:
            cells = (
                row.input,
                f"{row.analytic:.10g}",
                f"{row.numeric:.10g}",
                f"{row.abs_error:.1e}",
                f"{row.rel_error:.1e}",
                "yes" if row.ok else "NO",
            )
            lines.append((cells, row.note))
        widths = [max(len(cells[k]) for cells, _ in lines) for k in range(len(header))]
        text = []
        for cells, note in lines:
            padded = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            text.append(f"{padded}  {note}".rstrip())
        name = "gradcheck" if self.order == 1 else "gradgradcheck"
        what = "gradient" if self.order == 1 else "second derivative"
        what += "" if len(self.rows) == 1 else "s"
        settings = f"(eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g})"
        total = len(self.rows)
        if self.passed:
            verb = "match" if total > 1 else "matches"
            text.append(f"{name} passed: {total} of {total} {what} {verb} {settings}")
        else:
            failed = len(self.failures)
            text.append(f"{name} FAILED: {failed} of {total} {what} did not match {settings}")
        return "\n".join(text)

    # A notebook or REPL shows the table, not a dataclass dump.
    __repr__ = __str__


# ---- evaluating f -----------------------------------------------------------------------


class _Undefined(Exception):
    """f could not be evaluated at a shifted point (outside its domain, or not finite)."""


def _evaluate(f: Callable[..., Any], point: Sequence[float]) -> float:
    """f at ``point`` as a float, called with constant Values and no graph recorded."""
    with no_grad():
        out = f(*[Value(x, requires_grad=False) for x in point])
    if isinstance(out, Value):
        return out.data
    if isinstance(out, numbers.Real):
        return float(out)
    raise TypeError(f"f must return a Value or a real number, not {type(out).__name__}")


def _shifted(point: Sequence[float], index: int, step: float) -> list[float]:
    moved = list(point)
    moved[index] += step
    return moved


@dataclass(frozen=True)
class _Difference:
    """Finite differences of one output along one input, and what they can tell."""

    central: float
    left: float
    right: float
    step: float
    kink: str  # "" none, "here" a kink at x, "near" a kink within the step of x
    scale: float  # the largest |output| among the values differenced
    rounding: float  # rho(h): the rounding error of a difference quotient with step h


def _rounding(scale: float, step: float) -> float:
    """rho(step): the rounding error of a difference quotient of values of size ``scale``."""
    return _EPS_MACH * scale / step


def _kink_kind(gap: float, finer_gaps: list[tuple[float, float]], eps: float, scale: float) -> str:
    """What a candidate gap is: "" curvature, "here" a kink at x, "near" one within the step.

    ``finer_gaps`` holds (D(s), s) for s = h/2, h/4; the gap D(h) is already a candidate.
    """

    def close(actual: float, expected: float, step: float) -> bool:
        allowance = _HALVING_SLACK * abs(gap) + _ROUNDING_SAFETY * _rounding(scale, step)
        return abs(actual - expected) <= allowance

    # Curvature: the gap shrinks with the step. A kink at x: it keeps its size.
    if all(close(finer_gap, gap * step / eps, step) for finer_gap, step in finer_gaps):
        return ""
    if all(close(finer_gap, gap, step) for finer_gap, step in finer_gaps):
        return "here"
    return "near"


def _differences(
    outputs_at: Callable[[float], list[float]], eps: float, atol: float, rtol: float, at: float
) -> list[_Difference]:
    """Central and one-sided differences of each output of ``t -> outputs_at(t)`` at 0.

    ``outputs_at`` raises ``_Undefined`` where it cannot be evaluated; ``at`` is the input
    it steps, so each quotient divides by the distance actually stepped (``at + t`` is
    rounded to a float). The kink test is the one the module docstring states.
    """

    def stepped(step: float) -> float:
        return abs((at + step) - at)

    center, plus, minus = outputs_at(0.0), outputs_at(eps), outputs_at(-eps)
    finer: list[tuple[list[float], list[float], float]] = []  # (plus, minus, step) at h/2, h/4
    differences = []
    for k in range(len(center)):
        left = (center[k] - minus[k]) / stepped(-eps)
        right = (plus[k] - center[k]) / stepped(eps)
        central = (plus[k] - minus[k]) / (stepped(eps) + stepped(-eps))
        gap = right - left
        scale = max(abs(center[k]), abs(plus[k]), abs(minus[k]))
        rounding = _rounding(scale, eps)
        kink = ""
        tolerance = atol + rtol * max(abs(left), abs(right))
        if abs(gap) > tolerance and abs(gap) > _ROUNDING_SAFETY * rounding:
            if not finer:  # evaluated once, only when some output needs the test
                finer = [(outputs_at(step), outputs_at(-step), step) for step in (eps / 2, eps / 4)]
            finer_gaps = [
                (
                    (finer_plus[k] - center[k]) / stepped(step)
                    - (center[k] - finer_minus[k]) / stepped(-step),
                    step,
                )
                for finer_plus, finer_minus, step in finer
            ]
            kink = _kink_kind(gap, finer_gaps, eps, scale)
        differences.append(_Difference(central, left, right, eps, kink, scale, rounding))
    return differences


def _guarded(
    outputs_at: Callable[[list[float]], list[float]], point: Sequence[float], index: int, label: str
) -> Callable[[float], list[float]]:
    """``t -> outputs_at(point + t e_index)``, raising ``_Undefined`` with a readable reason."""

    def shifted_outputs(step: float) -> list[float]:
        where = label if step == 0.0 else f"{label} {'+' if step > 0 else '-'} {abs(step):g}"
        x = point[index]
        if abs((x + step) - x - step) > 0.01 * abs(step):  # the step a float can take
            raise _Undefined(
                f"no finite difference: a step of {abs(step):g} is not exact at {label} = {x:g} "
                f"(floats there are {math.ulp(x):.1e} apart); pass eps of about "
                f"{abs(x) * 1e-6:.0e}"
            )
        try:
            values = outputs_at(_shifted(point, index, step))
        except (ArithmeticError, ValueError) as error:
            raise _Undefined(f"no finite difference: f fails at {where} ({error})") from None
        if not all(math.isfinite(v) for v in values):
            raise _Undefined(f"no finite difference: f is not finite at {where}")
        return values

    return shifted_outputs


def _compare(
    label: str,
    analytic: float,
    numeric: _Difference | str,
    analytic_failure: str,
    atol: float,
    rtol: float,
    *,
    by_grad: float | None = None,
    differenced: str = "f",
) -> GradcheckRow:
    """One row: the verdict, and in words why when there is no derivative to compare.

    ``analytic`` is the gradient shown (by ``backward()``, ``grad_fn`` or the Hessian);
    ``by_grad``, when given, is the engine's other path, ``grad()``: the row passes only
    when both match the finite difference and each other. ``differenced`` names the
    function whose finite differences were taken, for the rounding note.
    """
    if isinstance(numeric, str):  # f undefined next to the point
        # When backward failed too, say both (unless one already quotes the other's error).
        reason = analytic_failure.partition(": ")[2]
        note = f"{numeric}; {analytic_failure}" if reason and reason not in numeric else numeric
        return GradcheckRow(label, analytic, math.nan, False, note)
    if numeric.kink:
        slopes = f"left slope {numeric.left:.6g}, right slope {numeric.right:.6g}"
        if numeric.kink == "here":
            note = f"no derivative here: {slopes}"
        else:
            note = f"kink within eps={numeric.step:g} of {label}: {slopes}; "
            note += "a smaller eps may resolve it"
        return GradcheckRow(label, analytic, numeric.central, False, note)
    if analytic_failure:
        return GradcheckRow(label, math.nan, numeric.central, False, analytic_failure)
    tolerance = atol + rtol * abs(numeric.central)

    def matches(gradient: float) -> bool:
        return math.isfinite(gradient) and abs(gradient - numeric.central) <= tolerance

    if by_grad is not None and not _paths_agree(analytic, by_grad, tolerance):
        note = (
            f"the two engine paths disagree: backward() gives {analytic:.10g}, "
            f"grad() gives {by_grad:.10g}"
        )
        return GradcheckRow(label, analytic, numeric.central, False, note)
    if tolerance == 0.0:
        # NOTE: atol = 0 with rtol = 0 (or a numeric gradient of 0) asks for equality itself;
        # the rounding error cannot be brought under 0, so the verdict is plain ==.
        if matches(analytic):
            return GradcheckRow(label, analytic, numeric.central, True)
        note = (
            f"not exactly equal (tolerance 0 asks for an exact comparison); the finite "
            f"difference is uncertain by ~{numeric.rounding:.0e} from rounding alone"
        )
        return GradcheckRow(label, analytic, numeric.central, False, note)
    if numeric.rounding > tolerance / 2.0:
        # NOTE: no verdict either way: the finite difference is as uncertain as the tolerance.
        note = (
            f"rounding error too large: |{differenced}| ~ {numeric.scale:.0e} makes the finite "
            f"difference uncertain by ~{numeric.rounding:.0e} (tolerance {tolerance:.0e}); "
            + _larger_step_advice(numeric.scale, tolerance)
        )
        return GradcheckRow(label, analytic, numeric.central, False, note)
    return GradcheckRow(label, analytic, numeric.central, matches(analytic))


def check_entry(
    label: str,
    value_at: Callable[[list[float]], float],
    point: Sequence[float],
    index: int,
    analytic: float,
    eps: float,
    atol: float,
    rtol: float,
    *,
    by_grad: float | None = None,
    analytic_failure: str = "",
) -> GradcheckRow:
    """One row of a check: ``point[index]`` stepped by +-eps in ``value_at``, against ``analytic``.

    The central difference, the kink test and the verdict of the module docstring; also
    used entry by entry by the Tensor check, so both checks judge a derivative alike.
    """
    shifted = _guarded(lambda p: [value_at(p)], point, index, label)
    numeric: _Difference | str
    try:
        numeric = _differences(shifted, eps, atol, rtol, point[index])[0]
    except _Undefined as undefined:
        numeric = str(undefined)
    return _compare(label, analytic, numeric, analytic_failure, atol, rtol, by_grad=by_grad)


def engine_paths_failure(backward_error: str | None, grad_error: str | None) -> str:
    """Why the engine gave no gradient to compare: ``""`` when neither path failed."""
    if backward_error is not None and grad_error is not None:
        return f"backward failed: {backward_error}"
    if backward_error is not None:
        return (
            f"the two engine paths disagree: backward() failed ({backward_error}) "
            "but grad() did not"
        )
    if grad_error is not None:
        return f"the two engine paths disagree: grad() failed ({grad_error}) but backward() did not"
    return ""


def recording_graph() -> AbstractContextManager[None]:
    """A context in which operations record a graph, even inside the caller's ``no_grad``."""
    return _GradMode(True)


def _larger_step_advice(scale: float, tolerance: float) -> str:
    """Which eps brings the rounding error rho below a twentieth of ``tolerance``, if any."""
    # rho(s) = eps_mach * scale / s < tolerance / 20  <=>  s > 20 eps_mach scale / tolerance
    needed = 20.0 * _EPS_MACH * (scale / tolerance)
    exponent = math.ceil(math.log10(needed)) if math.isfinite(needed) else math.inf
    if exponent > sys.float_info.max_10_exp:  # a tolerance so small no float step meets it
        return "no eps can meet this tolerance: pass a larger atol or rtol"
    return f"pass a larger eps, about {10.0**exponent:g}"


def _paths_agree(by_backward: float, by_grad: float, tolerance: float) -> bool:
    if math.isnan(by_backward) or math.isnan(by_grad):
        return math.isnan(by_backward) and math.isnan(by_grad)
    return by_backward == by_grad or abs(by_backward - by_grad) <= tolerance


# ---- validation -----------------------------------------------------------------------


def _check_point(xs: Sequence[float]) -> list[float]:
    try:
        items = list(xs)
    except TypeError:
        raise TypeError(f"xs must be a sequence of real numbers, not {type(xs).__name__}") from None
    point: list[float] = []
    for k, x in enumerate(items):
        if isinstance(x, Value):
            x = x.data
        if isinstance(x, bool) or not isinstance(x, numbers.Real):
            raise TypeError(f"xs[{k}] must be a real number, not {type(x).__name__}")
        if not math.isfinite(float(x)):
            raise ValueError(f"xs[{k}] = {float(x)!r} is not finite")
        point.append(float(x))
    if not point:
        raise ValueError("xs is empty: there is nothing to check")
    return point


def check_settings(eps: float, atol: float, rtol: float) -> None:
    """Refuse a step that is not positive and finite, or a tolerance that is not finite, >= 0."""
    if not (isinstance(eps, numbers.Real) and math.isfinite(eps) and eps > 0.0):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    for name, tolerance in (("atol", atol), ("rtol", rtol)):
        if not (isinstance(tolerance, numbers.Real) and math.isfinite(tolerance)):
            raise ValueError(f"{name} must be a finite number, got {tolerance!r}")
        if tolerance < 0.0:
            raise ValueError(f"{name} must be >= 0, got {tolerance!r}")


def check_step(eps: float, point: Sequence[float], labels: Sequence[str]) -> None:
    """Refuse a step that vanishes at an input: x + eps/2 == x (or x - eps/2 == x).

    There x + h and x - h are x itself or its nearest floats: the difference quotient would
    measure rounding, or be a silent 0 when both round to x.
    """
    half = eps / 2.0
    vanished = [
        (label, x) for label, x in zip(labels, point, strict=True) if x + half == x or x - half == x
    ]
    if not vanished:
        return
    label, x = vanished[0]
    # NOTE: a relative step of 1e-6 (absolute near 0), as the default eps is at |x| <= 1.
    largest = max(max(abs(x) for x in point), 1.0)
    suggested = 10.0 ** math.ceil(math.log10(1e-6 * largest))
    raise ValueError(
        f"eps={eps:g} vanishes at {label} = {x:g} (there x + eps/2 == x in floats); "
        f"pass eps of about {suggested:.0e}"
    )


def input_names(f: Callable[..., Any], count: int, names: Sequence[str] | None) -> list[str]:
    """Names for the table: given, else f's parameter names, else x0, x1, ..."""
    if names is not None:
        labels = [str(name) for name in names]
        if len(labels) != count:
            raise ValueError(f"names has {len(labels)} entries for {count} inputs")
        return labels
    variables = getattr(f, "variables", None)  # an Expression names its own inputs
    if isinstance(variables, tuple) and len(variables) == count:
        return [str(name) for name in variables]
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if len(parameters) == count and all(p.kind in positional for p in parameters):
        return [p.name for p in parameters]
    return [f"x{k}" for k in range(count)]


def _check_center(f: Callable[..., Any], point: Sequence[float]) -> None:
    # An error at the point itself is the caller's to see, not a row of the table.
    value = _evaluate(f, point)
    if not math.isfinite(value):
        raise ValueError(f"f is not finite at the point {point}: {value!r}")


# ---- the checks ---------------------------------------------------------------------------


def numerical_grad(f: Callable[..., Any], xs: Sequence[float], eps: float = 1e-6) -> list[float]:
    r"""Central differences :math:`(f(x + h e_i) - f(x - h e_i)) / 2h` for each input i.

    ``f`` is called with constant ``Value`` s (no graph) and returns a ``Value`` or a real
    number. :math:`2h` is the distance between the two rounded points actually evaluated.
    A step that vanishes at an input (:math:`x + h/2 = x` in floats) raises ``ValueError``
    naming an ``eps`` that would do. No kink test here: :func:`gradcheck` adds it.
    """
    point = _check_point(xs)
    check_settings(eps, 0.0, 0.0)
    check_step(eps, point, [f"xs[{k}]" for k in range(len(point))])
    gradient = []
    for index in range(len(point)):
        plus_point, minus_point = _shifted(point, index, eps), _shifted(point, index, -eps)
        # NOTE: divide by the distance actually stepped: x +- h are rounded to floats, and far
        # from 0 (x = 1e10, h = 1e-6) they can be twice as far apart as 2h.
        distance = plus_point[index] - minus_point[index]
        gradient.append((_evaluate(f, plus_point) - _evaluate(f, minus_point)) / distance)
    return gradient


def _forward_on_leaves(
    f: Callable[..., Any], point: Sequence[float], labels: Sequence[str]
) -> tuple[list[Value], Value]:
    """Fresh leaves at ``point`` and ``f`` of them, checked to be a ``Value``.

    The graph is recorded even inside the caller's ``no_grad``: a gradient check needs it.
    """
    inputs = [Value(x, label=label) for x, label in zip(point, labels, strict=True)]
    with recording_graph():
        out = f(*inputs)
    if not isinstance(out, Value):
        raise TypeError(
            f"f returned {type(out).__name__} for Value inputs: the engine cannot "
            "differentiate it (build f from Value operations, or pass grad_fn)"
        )
    return inputs, out


def _backward_gradient(inputs: Sequence[Value], out: Value) -> list[float]:
    """``out.backward()`` on fresh leaves, read from their ``.grad``: the path users call."""
    if out.requires_grad:  # else no input reaches out (a detached result): all zeros
        out.backward()
    return [x.grad for x in inputs]


def _engine_gradient(
    f: Callable[..., Any], point: Sequence[float], labels: Sequence[str]
) -> list[float]:
    """The engine's gradient of ``f`` at ``point`` by ``backward()`` (the fast path)."""
    return _backward_gradient(*_forward_on_leaves(f, point, labels))


def _both_engine_gradients(
    f: Callable[..., Any], point: Sequence[float], labels: Sequence[str]
) -> tuple[list[float] | str, list[float] | str]:
    """The gradient by ``backward()`` and by ``grad()``, each a list or why it failed."""
    inputs, out = _forward_on_leaves(f, point, labels)
    by_grad: list[float] | str
    by_backward: list[float] | str
    try:  # grad() first: it leaves every .grad untouched
        by_grad = [g.data for g in grad(out, inputs)]
    except (ArithmeticError, ValueError) as error:  # e.g. sqrt'(0) divides by zero
        by_grad = str(error)
    try:
        by_backward = _backward_gradient(inputs, out)
    except (ArithmeticError, ValueError) as error:
        by_backward = str(error)
    return by_backward, by_grad


def _user_gradient(grad_fn: Callable[[list[float]], Any], point: list[float]) -> list[float]:
    result = grad_fn(list(point))
    try:
        values = list(result)
    except TypeError:
        raise TypeError(
            f"grad_fn must return a sequence of numbers, not {type(result).__name__}"
        ) from None
    if len(values) != len(point):
        raise ValueError(f"grad_fn returned {len(values)} numbers for {len(point)} inputs")
    for k, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"grad_fn()[{k}] must be a real number, not {type(value).__name__}")
    return [float(value) for value in values]


def _is_array(x: object) -> bool:
    """An array with axes, or a tinygrad_edu Tensor: the tensor check's inputs."""
    # Looked up, not imported: a scalar check never loads numpy or the tensor engine, and
    # where they are not loaded yet, no x can be one of their arrays.
    numpy, tensor_engine = sys.modules.get("numpy"), sys.modules.get("tinygrad_edu.tensor.engine")
    if tensor_engine is not None and isinstance(x, tensor_engine.Tensor):
        return True
    return numpy is not None and isinstance(x, numpy.ndarray) and x.ndim > 0


def gradcheck(
    f: Callable[..., Any],
    xs: Sequence[float],
    *,
    grad_fn: Callable[[list[float]], Sequence[float]] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = False,
    names: Sequence[str] | None = None,
) -> GradcheckReport:
    r"""Compare the gradient of ``f`` at ``xs`` with central differences.

    The analytic gradient comes from the engine (``f`` on ``Value`` s, then both
    ``backward()`` and ``grad()``, which must agree) or, when given, from
    ``grad_fn(xs) -> list[float]`` (your own hand-written backprop).
    Row i passes when :math:`|g_i - \hat g_i| \le atol + rtol |\hat g_i|`; a kink or a
    domain edge next to ``x`` fails with the reason in words (see the module docstring for
    the step, the tolerances and the kink criterion). ``names`` label the rows (default:
    ``f``'s parameter names). With ``raise_exception=True`` a failure raises
    :class:`GradcheckError` carrying the table.
    """
    if grad_fn is None and any(map(_is_array, xs)):  # a function of Tensors (SPEC §11)
        from tinygrad_edu.tensor.gradcheck import tensor_gradcheck

        return tensor_gradcheck(f, xs, eps=eps, atol=atol, rtol=rtol,
                                raise_exception=raise_exception, names=names)  # fmt: skip
    point = _check_point(xs)
    check_settings(eps, atol, rtol)
    labels = input_names(f, len(point), names)
    _check_center(f, point)  # first: no eps helps an f that fails at the point itself
    check_step(eps, point, labels)
    analytic_failure = ""
    analytic = [math.nan] * len(point)
    by_grad: list[float] | None = None  # the engine's second path, checked alongside
    if grad_fn is not None:
        analytic = _user_gradient(grad_fn, point)
    else:
        by_backward, by_grad_or_error = _both_engine_gradients(f, point, labels)
        analytic_failure = engine_paths_failure(
            by_backward if isinstance(by_backward, str) else None,
            by_grad_or_error if isinstance(by_grad_or_error, str) else None,
        )
        if not isinstance(by_backward, str) and not isinstance(by_grad_or_error, str):
            analytic, by_grad = by_backward, by_grad_or_error
    rows = []
    for index, label in enumerate(labels):
        other = None if by_grad is None else by_grad[index]
        rows.append(
            check_entry(
                label,
                lambda p: _evaluate(f, p),
                point,
                index,
                analytic[index],
                eps,
                atol,
                rtol,
                by_grad=other,
                analytic_failure=analytic_failure,
            )
        )
    report = GradcheckReport(tuple(rows), eps, atol, rtol, order=1)
    if raise_exception and not report:
        raise GradcheckError(report)
    return report


def gradgradcheck(
    f: Callable[..., Any],
    xs: Sequence[float],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = False,
    names: Sequence[str] | None = None,
) -> GradcheckReport:
    r"""Compare the engine's second derivatives of ``f`` at ``xs`` with finite differences.

    Analytic: :math:`H_{ij} = \partial_j (\partial_i f)` by ``grad`` of the
    ``grad(create_graph=True)`` results. Numeric: central differences along :math:`e_j` of
    the first derivative :math:`\partial_i f` that ``backward()`` gives. One row per pair, labelled
    ``"x_i,x_j"``; kinks of :math:`\partial_i f` are reported as in :func:`gradcheck`.
    """
    point = _check_point(xs)
    check_settings(eps, atol, rtol)
    labels = input_names(f, len(point), names)
    _check_center(f, point)  # first: no eps helps an f that fails at the point itself
    check_step(eps, point, labels)
    analytic_failure = ""
    hessian = [[math.nan] * len(point) for _ in point]
    try:
        inputs, out = _forward_on_leaves(f, point, labels)
        first = grad(out, inputs, create_graph=True)
        hessian = [[g.data for g in grad(derivative, inputs)] for derivative in first]
    except (ArithmeticError, ValueError) as error:
        analytic_failure = f"backward failed: {error}"

    def first_derivatives(p: list[float]) -> list[float]:
        return _engine_gradient(f, p, labels)

    columns: list[list[_Difference] | str] = []
    for j, label in enumerate(labels):
        try:
            columns.append(
                _differences(
                    _guarded(first_derivatives, point, j, label), eps, atol, rtol, point[j]
                )
            )
        except _Undefined as undefined:
            columns.append(str(undefined))
    rows = []
    for i, label_i in enumerate(labels):
        for j, label_j in enumerate(labels):
            column = columns[j]
            numeric = column if isinstance(column, str) else column[i]
            label = f"{label_i},{label_j}"
            rows.append(
                _compare(
                    label,
                    hessian[i][j],
                    numeric,
                    analytic_failure,
                    atol,
                    rtol,
                    differenced=f"df/d{label_i}",
                )
            )
    report = GradcheckReport(tuple(rows), eps, atol, rtol, order=2)
    if raise_exception and not report:
        raise GradcheckError(report)
    return report
