r"""Checked exercises for the notebooks: ``check(id, answer)`` and ``solution(id)``.

Every exercise in ``notebooks/`` has an id ``"NN.K"`` (notebook NN, exercise K) and a
checker here. ``check`` answers "right", or gives a hint that does not give the answer
away: a number is "too large", "too small" or has the wrong sign; a function is shown the
smallest input where it goes wrong (and which way); an engine is run through
:func:`tinygrad_edu.testing.check_engine`. ``solution`` shows the worked answer.

>>> check("01.1", 0.3)
✗ 01.1: not yet — too large.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_edu.testing.check_engine import check_engine


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: truthy when right; prints as one line."""

    exercise: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        if self.correct:
            return f"✓ {self.exercise}: right. {self.message}".rstrip()
        return f"✗ {self.exercise}: not yet — {self.message}"

    __repr__ = __str__


@dataclass(frozen=True)
class Solution:
    """The worked answer to one exercise: ``answer`` passes ``check``; prints as prose."""

    exercise: str
    answer: Any
    text: str

    def __str__(self) -> str:
        return f"Solution {self.exercise}\n{self.text}"

    __repr__ = __str__


# ---- kinds of exercise -------------------------------------------------------------------


def _is_number(answer: object) -> bool:
    return isinstance(answer, numbers.Real) and not isinstance(answer, bool)


def _direction(answer: float, expected: float) -> str:
    """A hint that says which way a number is off, never by how much."""
    if not math.isfinite(answer):  # NaN has no direction, and inf is not "too large"
        return f"{answer!r} is not a finite number"
    if expected != 0 and answer != 0 and (answer > 0) != (expected > 0):
        return "check the sign"
    return "too large" if answer > expected else "too small"


@dataclass(frozen=True)
class _Exercise:
    """One exercise: its id, a one-line question, and how its answer is explained."""

    id: str
    question: str
    explanation: str

    def verdict(self, answer: Any) -> str | None:
        """None when ``answer`` is right, else a hint."""
        raise NotImplementedError

    @property
    def answer(self) -> Any:
        """The worked answer (it passes :meth:`verdict`)."""
        raise NotImplementedError

    def solution_text(self) -> str:
        """The explanation, with the answer shown the way this kind of exercise needs."""
        return self.explanation


@dataclass(frozen=True)
class _Number(_Exercise):
    """An exercise whose answer is one number, right within ``tolerance``."""

    expected: float
    tolerance: float = 1e-6

    def verdict(self, answer: Any) -> str | None:
        if not _is_number(answer):
            return f"give a number (int or float), not {type(answer).__name__}."
        if abs(float(answer) - self.expected) <= self.tolerance:
            return None
        return _direction(float(answer), self.expected) + "."

    @property
    def answer(self) -> float:
        return self.expected

    def solution_text(self) -> str:
        return f"{self.explanation}\nAnswer: {self.expected:g}"


@dataclass(frozen=True)
class _Numbers(_Exercise):
    """An exercise whose answer is several named numbers (a tuple, in order)."""

    names: tuple[str, ...]
    expected: tuple[float, ...]
    tolerance: float = 1e-6

    def verdict(self, answer: Any) -> str | None:
        count = len(self.expected)
        if isinstance(answer, dict):
            answer = tuple(answer.get(name) for name in self.names)
        if not isinstance(answer, Sequence) or isinstance(answer, str) or len(answer) != count:
            return f"give {count} numbers in a tuple: ({', '.join(self.names)})."
        hints = []
        for name, given, expected in zip(self.names, answer, self.expected, strict=True):
            if not _is_number(given):
                hints.append(f"{name} is not a number")
            elif abs(float(given) - expected) > self.tolerance:
                hints.append(f"{name}: {_direction(float(given), expected)}")
        return "; ".join(hints) + "." if hints else None

    @property
    def answer(self) -> tuple[float, ...]:
        return self.expected

    def solution_text(self) -> str:
        shown = ", ".join(f"{n} = {v:.6g}" for n, v in zip(self.names, self.expected, strict=True))
        return f"{self.explanation}\nAnswer: {shown}"


@dataclass(frozen=True)
class _Choice(_Exercise):
    """An exercise whose answer is a word; ``accepted`` lists its spellings (lower case)."""

    accepted: tuple[str, ...]
    hint: str

    def verdict(self, answer: Any) -> str | None:
        if not isinstance(answer, str):
            return f"give your answer as a string, not {type(answer).__name__}."
        if answer.strip().lower() in self.accepted:
            return None
        return self.hint

    @property
    def answer(self) -> str:
        return self.accepted[0]

    def solution_text(self) -> str:
        return f"{self.explanation}\nAnswer: {self.accepted[0]!r}"


@dataclass(frozen=True)
class _Function(_Exercise):
    """An exercise whose answer is a function of floats, compared with ``reference``.

    The inputs are tried from the smallest (in absolute value) up, so the hint names the
    smallest input where the learner's function goes wrong.
    """

    reference: Callable[..., float]
    inputs: tuple[tuple[float, ...], ...]

    def verdict(self, answer: Any) -> str | None:
        if not callable(answer):
            return f"give a function, not {type(answer).__name__}."
        for point in sorted(self.inputs, key=lambda xs: (max(map(abs, xs)), xs)):
            shown = ", ".join(f"{x!r}" for x in point)
            try:
                got = float(answer(*point))
            except Exception as error:  # the learner's function may fail in any way
                return f"at ({shown}) your function raised {type(error).__name__}: {error}"
            expected = self.reference(*point)
            if not math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):
                return f"at ({shown}) your function returns {got:.6g}: {_direction(got, expected)}."
        return None

    @property
    def answer(self) -> Callable[..., float]:
        return self.reference

    def solution_text(self) -> str:
        return f"{self.explanation}\n\n{inspect.getsource(self.reference)}"


@dataclass(frozen=True)
class _Engine(_Exercise):
    """An exercise whose answer is a learner's Value class with some ops; check_engine judges."""

    needed_ops: tuple[str, ...]
    reference: type

    def verdict(self, answer: Any) -> str | None:
        if not isinstance(answer, type):
            return f"give your Value class itself, not {type(answer).__name__}."
        report = check_engine(answer, max_examples=100)
        missing = [op for op in self.needed_ops if op not in report.ops]
        if missing:
            return f"your class cannot do {', '.join(missing)} yet (tried on Value(0.5))."
        if not report:
            return (
                f"check_engine finds problems in: {', '.join(report.failed)}. "
                f"Print check_engine({answer.__name__}) to see the smallest failing case."
            )
        return None

    @property
    def answer(self) -> type:
        return self.reference

    def solution_text(self) -> str:
        return f"{self.explanation}\n\n{inspect.getsource(self.reference)}"


# ---- worked answers that are code ----------------------------------------------------------


class SolutionValue:
    """A complete small engine: +, *, -, numbers on either side, tanh, exp, iterative backward."""

    def __init__(self, data: float, inputs: tuple[SolutionValue, ...] = ()) -> None:
        self.data, self.grad, self.inputs = float(data), 0.0, inputs
        self.local_derivatives: tuple[float, ...] = ()  # d self / d each input

    @staticmethod
    def lift(other: SolutionValue | float) -> SolutionValue:
        """``other`` as a Value: a plain number becomes a leaf."""
        return other if isinstance(other, SolutionValue) else SolutionValue(other)

    def __add__(self, other: SolutionValue | float) -> SolutionValue:
        other = self.lift(other)
        out = SolutionValue(self.data + other.data, (self, other))
        out.local_derivatives = (1.0, 1.0)
        return out

    def __mul__(self, other: SolutionValue | float) -> SolutionValue:
        other = self.lift(other)
        out = SolutionValue(self.data * other.data, (self, other))
        out.local_derivatives = (other.data, self.data)
        return out

    def tanh(self) -> SolutionValue:
        """tanh(x), with local derivative 1 - tanh(x)^2."""
        out = SolutionValue(math.tanh(self.data), (self,))
        out.local_derivatives = (1 - out.data**2,)  # reuses the output
        return out

    def exp(self) -> SolutionValue:
        """e^x, with local derivative e^x."""
        out = SolutionValue(math.exp(self.data), (self,))
        out.local_derivatives = (out.data,)  # d e^x / dx = e^x, the output itself
        return out

    # Built from the ops above, one line each: no new derivative to get wrong.
    def __neg__(self) -> SolutionValue:
        return self * -1.0

    def __sub__(self, other: SolutionValue | float) -> SolutionValue:
        return self + (-self.lift(other))

    def __rsub__(self, other: float) -> SolutionValue:
        return self.lift(other) + (-self)

    __radd__ = __add__
    __rmul__ = __mul__

    def backward(self) -> None:
        """Fill every node's grad with d self / d node; leaves accumulate across calls."""
        # Topological order without recursion: an explicit stack of (node, inputs done?).
        order: list[SolutionValue] = []
        visited: set[int] = set()
        stack = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node.inputs)
        for node in order:
            if node.inputs:
                node.grad = 0.0  # interior nodes hold this call's gradient only
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node.inputs, node.local_derivatives, strict=True):
                child.grad += local * node.grad  # += : a node used twice sums its paths


def softplus_of_3x_derivative(x: float) -> float:
    """d/dx ln(1 + e^{3x}) = 3 e^{3x} / (1 + e^{3x}) = 3 sigmoid(3x), stable for any x."""
    if x >= 0:
        return 3 / (1 + math.exp(-3 * x))
    return 3 * math.exp(3 * x) / (1 + math.exp(3 * x))


def softplus_gradient(x: float) -> float:
    """d/dx ln(1 + e^x) = sigmoid(x), written so neither branch overflows."""
    if x >= 0:
        return 1 / (1 + math.exp(-x))
    return math.exp(x) / (1 + math.exp(x))


def squared_sigmoid_error_gradient(w: float, x: float, t: float) -> float:
    """d/dw (sigmoid(w x) - t)^2 = 2 (s - t) s (1 - s) x with s = sigmoid(w x)."""
    s = 1 / (1 + math.exp(-w * x))
    return 2 * (s - t) * s * (1 - s) * x


def tanh_second_derivative(x: float) -> float:
    """d²/dx² tanh x = -2 tanh x (1 - tanh² x)."""
    t = math.tanh(x)
    return -2 * t * (1 - t * t)


def tanh_derivative_from_output(a: float) -> float:
    """tanh'(z) written with the neuron's output a = tanh(z): 1 - a²."""
    return 1.0 - a * a


def _hidden_deltas(activation: str) -> tuple[float, float]:
    """delta^(1) of notebook 05's 2-2-2 network when its hidden layer uses ``activation``."""
    x, y = np.array([1.0, 2.0]), np.array([1.0, 0.0])
    W1, b1 = np.array([[0.5, -0.2], [0.1, 0.4]]), np.array([0.1, -0.1])
    W2, b2 = np.array([[0.3, 0.6], [-0.5, 0.2]]), np.array([0.0, 0.1])
    z1 = W1 @ x + b1
    if activation == "sigmoid":
        h = 1 / (1 + np.exp(-z1))
        slope = h * (1 - h)
    else:
        h = np.tanh(z1)
        slope = 1 - h**2
    delta2 = (W2 @ h + b2) - y
    delta1 = (W2.T @ delta2) * slope
    return float(delta1[0]), float(delta1[1])


def _steps_until_beyond(limit: float) -> int:
    """Gradient descent on x³ - 4x² + 6 from -0.5, lr 0.05: the first step with |x| > limit."""
    x, step = -0.5, 0
    while abs(x) <= limit:
        x -= 0.05 * (3 * x * x - 8 * x)
        step += 1
    return step


def _neuron_gradients(x2: float, activation: str) -> tuple[float, ...]:
    """Leaf gradients (x1, w1, x2, w2, b) of notebook 04's neuron, derived by hand."""
    x1, w1, w2, b = 2.0, -3.0, 1.0, 6.8813735870195432
    n = x1 * w1 + x2 * w2 + b
    if activation == "tanh":
        slope = 1 - math.tanh(n) ** 2
    else:
        s = 1 / (1 + math.exp(-n))
        slope = s * (1 - s)
    return (w1 * slope, x1 * slope, w2 * slope, x2 * slope, slope)


_NEURON_LEAVES = ("x1", "w1", "x2", "w2", "b")
_INPUTS = tuple((x,) for x in (-30.0, -3.0, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 30.0))
_THREE_INPUTS = tuple(
    (w, x, t) for w in (-2.0, 0.0, 0.5, 1.5) for x in (-1.0, 0.5, 2.0) for t in (0.0, 1.0)
)

# ---- the exercises, notebook by notebook -------------------------------------------------

_EXERCISES: list[_Exercise] = [
    _Number(
        "01.1",
        "the largest learning rate for which descent from 0.5 converges to 8/3",
        "Near 8/3 one step multiplies the error by 1 - 8η (f''(8/3) = 8). It shrinks only\n"
        "while |1 - 8η| < 1, that is for η < 2/8. At η = 0.3 the factor is -1.4: the path\n"
        "leaves 8/3 but does not diverge; it settles into a cycle between about 1.7 and 3.2.",
        expected=0.25,
        tolerance=0.005,
    ),
    _Number(
        "01.2",
        "from x0 = -0.5: the first step at which |x| exceeds a million",
        "Left of 0, f'(x) = 3x² - 8x is positive, so each step moves x further left, and\n"
        "the steps grow with x² — a run-away. |x| passes 1e6 at step 10; at step 16 the\n"
        "cube overflows (OverflowError).",
        expected=_steps_until_beyond(1e6),
        tolerance=0,
    ),
    _Numbers(
        "01.3",
        "the bowl a² + b²: the range of η where the path oscillates but converges",
        "One step multiplies a by 1 - 2η. Signs flip when 1 - 2η < 0 (η > 0.5); the path\n"
        "still converges while 1 - 2η > -1 (η < 1); from η = 1 on it does not.",
        names=("lowest η", "highest η"),
        expected=(0.5, 1.0),
        tolerance=1e-3,
    ),
    _Function(
        "02.1",
        "the derivative of y = ln(1 + e^{3x}), as a function",
        "Pieces u = 3x, v = e^u, y = ln(1 + v): dy/dx = 1/(1 + v) · e^u · 3 = 3 sigmoid(3x).",
        reference=softplus_of_3x_derivative,
        inputs=_INPUTS,
    ),
    _Choice(
        "02.2",
        "which of the three pieces' derivatives reuses the piece's own output",
        "d e^s / ds = e^s = y: the exponential's derivative is its output, which the\n"
        "forward pass already computed, so the backward pass needs no new work for it.",
        accepted=("exp", "y", "e^s", "exponential", "y = e^s"),
        hint="that piece's derivative needs its input; look for the one equal to its output.",
    ),
    _Numbers(
        "02.3",
        "(x * x + x).tanh() at 0.5: arrows leaving x, and x.grad",
        "x feeds * twice and + once: 3 arrows. x.grad = (1 - tanh²(0.75)) · (2x + 1)\n"
        "= (1 - tanh²(0.75)) · 2, the sum over the three paths.",
        names=("arrows", "x.grad"),
        expected=(3.0, (1 - math.tanh(0.75) ** 2) * 2),
    ),
    _Engine(
        "03.1",
        "your engine with exp added, passing check_engine",
        "exp's local derivative is its own output, like tanh's. The whole engine:",
        needed_ops=("exp",),
        reference=SolutionValue,
    ),
    _Engine(
        "03.2",
        "your engine with - and plain numbers on either side, passing check_engine",
        "-, and numbers on the left (__radd__, __rmul__, __rsub__), are one line each,\n"
        "built from + and *, so they need no derivative of their own:",
        needed_ops=("-",),
        reference=SolutionValue,
    ),
    _Number(
        "03.3",
        "with `=` instead of `+=`: a.grad after (a * a).backward() at a = 3",
        "Both arrows of a * a write a.grad = 3 · 1; the second overwrites the first, so\n"
        "the answer is 3 where the true derivative 2a is 6.",
        expected=3.0,
    ),
    _Numbers(
        "04.1",
        "the tanh neuron with x2 = 1.0: the five leaf gradients (x1, w1, x2, w2, b)",
        "n = 2·(-3) + 1·1 + 6.8814 = 1.8814, so every gradient gets the new factor\n"
        "1 - tanh²(n); x1: w1·f, w1: x1·f, x2: w2·f, w2: x2·f (no longer 0), b: f.",
        names=_NEURON_LEAVES,
        expected=_neuron_gradients(1.0, "tanh"),
    ),
    _Numbers(
        "04.2",
        "the neuron with sigmoid instead of tanh: the five leaf gradients",
        "sigmoid'(n) = sigmoid(n)(1 - sigmoid(n)) at n = 0.8814 replaces 1 - tanh²(n);\n"
        "the rest is the same.",
        names=_NEURON_LEAVES,
        expected=_neuron_gradients(0.0, "sigmoid"),
    ),
    _Numbers(
        "04.3",
        "e = (a + b)(a - b): the paths from a to e, and de/da at a = 3, b = 2",
        "a reaches e through a + b and through a - b: 2 paths. de/da = (a - b) + (a + b)\n= 2a.",
        names=("paths", "de/da"),
        expected=(2.0, 6.0),
    ),
    _Number(
        "05.1",
        "target = current output: how many of the 12 gradients become 0",
        "δ⁽²⁾ = o - y = 0, and every other gradient is a multiple of δ⁽²⁾: all 12 vanish.",
        expected=12,
        tolerance=0,
    ),
    _Numbers(
        "05.2",
        "sigmoid hidden layer: δ⁽¹⁾ of the 2-2-2 network",
        "h = sigmoid(z⁽¹⁾) with z⁽¹⁾ = (0.2, 0.8); o = W⁽²⁾h + b⁽²⁾; δ⁽²⁾ = o - y;\n"
        "δ⁽¹⁾ = (W⁽²⁾)ᵀδ⁽²⁾ ⊙ sigmoid(z⁽¹⁾)(1 - sigmoid(z⁽¹⁾)).",
        names=("δ1[0]", "δ1[1]"),
        expected=_hidden_deltas("sigmoid"),
    ),
    _Numbers(
        "05.3",
        "tanh hidden layer: δ⁽¹⁾ of the 2-2-2 network",
        "As with the sigmoid, with sigmoid' replaced by 1 - tanh²(z⁽¹⁾).",
        names=("δ1[0]", "δ1[1]"),
        expected=_hidden_deltas("tanh"),
    ),
    _Choice(
        "06.1",
        "moons with lr 0.03 for 50 epochs: final loss higher or lower than with 0.3",
        "Ten times smaller steps cover a tenth of the way in the same 50 epochs: the loss\n"
        "is still falling when training stops, so it ends higher.",
        accepted=("higher", "larger", "greater"),
        hint="think about how far 50 epochs of smaller steps get.",
    ),
    _Number(
        "06.2",
        "parity with one hidden neuron: the index of the input bit with the largest weight",
        "A number is even when its last bit (index 9) is 0: one neuron can read that one bit,\n"
        "so a single hidden neuron is enough, and its largest weight is on bit 9.",
        expected=9,
        tolerance=0,
    ),
    _Number(
        "06.3",
        "the number of parameters of the 64-32-10 digits network",
        "64·32 weights + 32 biases, then 32·10 weights + 10 biases: 2080 + 330.",
        expected=64 * 32 + 32 + 32 * 10 + 10,
        tolerance=0,
    ),
    _Number(
        "07.1",
        "momentum β = 0.9 on a steady slope: how many times SGD's step it takes",
        "The velocity v ← βv + g settles where v = βv + g, at v = g/(1 - β) = 10g.",
        expected=10.0,
        tolerance=1e-6,
    ),
    _Number(
        "07.2",
        "Adam's first step (lr 0.01) on a parameter whose gradient is 1000",
        "Adam's first step is lr · m̂ / (√v̂ + ε) = lr · g / |g| = lr, whatever the gradient's\n"
        "size: that is why unequal input scales hurt Adam less than SGD.",
        expected=0.01,
        tolerance=1e-6,
    ),
    _Number(
        "07.3",
        "the valley: the largest learning rate for which plain SGD converges",
        "Across the valley one step multiplies b by 1 - 4η; |1 - 4η| < 1 needs η < 0.5.",
        expected=0.5,
        tolerance=0.005,
    ),
    _Function(
        "08.1",
        "the fixed softplus gradient, as a function",
        "softplus'(x) = sigmoid(x); for x < 0 write it as e^x / (1 + e^x), so that\n"
        "e^{-x} never overflows.",
        reference=softplus_gradient,
        inputs=(*_INPUTS, (-800.0,), (800.0,)),
    ),
    _Function(
        "08.2",
        "the hand gradient of L(w) = (sigmoid(wx) - t)² with respect to w",
        "The chain rule through the square, the sigmoid and the product wx.",
        reference=squared_sigmoid_error_gradient,
        inputs=_THREE_INPUTS,
    ),
    _Number(
        "08.3",
        "what numerical_grad(abs, [1e-7]) returns (step 1e-6)",
        "(|1e-7 + 1e-6| - |1e-7 - 1e-6|) / 2e-6 = (1.1e-6 - 0.9e-6) / 2e-6 = 0.1: the two\n"
        "points straddle the kink, so the estimate is neither slope, 1 or -1.",
        expected=0.1,
        tolerance=1e-6,
    ),
    _Number(
        "09.1",
        "Newton's method on f: the smallest start below 8/3 from which it converges to 8/3",
        "Newton's step for f' is x ← 3x²/(6x - 8). For every x in (4/3, 8/3) it lands at or\n"
        "right of 8/3 (since (3x - 8)² ≥ 0) and then falls to 8/3; below f''(x) = 0, at\n"
        "x = 4/3, it goes to the local maximum 0.",
        expected=4 / 3,
        tolerance=1e-3,
    ),
    _Number(
        "09.2",
        "Newton's method on a² + 10b²: the number of steps to the minimum",
        "For a quadratic the second-order model is exact, so one Newton step lands on (0, 0).",
        expected=1,
        tolerance=0,
    ),
    _Function(
        "09.3",
        "f''(x) for f = tanh, as a function",
        "tanh' = 1 - tanh², so tanh'' = -2 tanh · tanh' = -2 tanh (1 - tanh²).",
        reference=tanh_second_derivative,
        inputs=_INPUTS,
    ),
    _Number(
        "10.1",
        "the number of parameters of the seeds' 784-32-10 MNIST network",
        "Layer 0: a 32 by 784 weight matrix and 32 biases; layer 1: 10 by 32 and 10 biases:\n"
        "784·32 + 32 + 32·10 + 10.",
        expected=784 * 32 + 32 + 32 * 10 + 10,
        tolerance=0,
    ),
    _Numbers(
        "10.2",
        "the shape of W1.grad (the first layer's weights) after a batch of 32 images",
        "A gradient has the shape of what it is the gradient of: W1 is 32 by 784 (one row per\n"
        "hidden neuron). The batch is summed away in the product gW = δᵀX.",
        names=("rows", "columns"),
        expected=(32, 784),
        tolerance=0,
    ),
    _Function(
        "10.3",
        "tanh's derivative written with the layer's output a = tanh(z), as a function of a",
        "tanh' = 1 - tanh², and tanh(z) is the output a the forward pass kept: 1 - a².",
        reference=tanh_derivative_from_output,
        inputs=tuple((a,) for a in (-0.99, -0.5, -0.1, 0.0, 0.2, 0.5, 0.9)),
    ),
]

EXERCISES: dict[str, str] = {exercise.id: exercise.question for exercise in _EXERCISES}
_BY_ID = {exercise.id: exercise for exercise in _EXERCISES}


def _exercise(exercise_id: str) -> _Exercise:
    if exercise_id not in _BY_ID:
        raise KeyError(f"no exercise {exercise_id!r}; ids look like '03.2' (notebook 03, number 2)")
    return _BY_ID[exercise_id]


def check(exercise_id: str, answer: Any) -> Feedback:
    """Check ``answer`` to exercise ``exercise_id``: right, or a hint that keeps the answer back."""
    hint = _exercise(exercise_id).verdict(answer)
    return Feedback(exercise_id, correct=hint is None, message=hint or "")


def solution(exercise_id: str) -> Solution:
    """The worked answer to exercise ``exercise_id``, with the reasoning."""
    exercise = _exercise(exercise_id)
    return Solution(exercise_id, exercise.answer, exercise.solution_text())
