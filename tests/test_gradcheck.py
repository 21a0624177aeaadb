"""gradcheck: every op and random compositions pass, kinks are named, planted bugs are caught."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from tinygrad_edu import Value, grad, no_grad
from tinygrad_edu import ops as ops_module
from tinygrad_edu.expr import Apply, Expression, Variable
from tinygrad_edu.gradcheck import (
    GradcheckError,
    GradcheckReport,
    gradcheck,
    gradgradcheck,
    numerical_grad,
)
from tinygrad_edu.ops import OPS
from tinygrad_edu.testing.strategies import expressions


def op_function(name: str) -> Expression:
    """The primitive ``name`` applied to fresh variables x0, x1, ... (one per domain entry)."""
    names = [f"x{k}" for k in range(len(OPS[name].domain))]
    return Expression(Apply(name, tuple(Variable(n) for n in names)), names)


def point_in_domain(name: str) -> st.SearchStrategy[list[float]]:
    return st.tuples(*(st.floats(low, high) for low, high in OPS[name].domain)).map(list)


# ---- numerical_grad ---------------------------------------------------------------------


def test_numerical_grad_matches_hand_derivatives() -> None:
    # d/dx x*tanh(y) = tanh(y); d/dy = x (1 - tanh(y)^2)
    gradient = numerical_grad(lambda x, y: x * y.tanh(), [2.0, 0.5])
    assert gradient[0] == pytest.approx(math.tanh(0.5), abs=1e-9)
    assert gradient[1] == pytest.approx(2.0 * (1.0 - math.tanh(0.5) ** 2), abs=1e-9)


def test_numerical_grad_accepts_float_functions_and_float_results() -> None:
    # A Value converts with float(), so math-based code works; the result may be a float.
    gradient = numerical_grad(lambda x: math.sin(float(x)), [0.3])
    assert gradient[0] == pytest.approx(math.cos(0.3), abs=1e-9)


def test_numerical_grad_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="eps must be a positive"):
        numerical_grad(lambda x: x, [1.0], eps=0.0)
    with pytest.raises(TypeError, match="f must return a Value or a real number, not str"):
        numerical_grad(lambda x: "no", [1.0])
    with pytest.raises(TypeError, match=r"xs\[1\] must be a real number, not str"):
        numerical_grad(lambda x, y: x, [1.0, "2"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="not finite"):
        numerical_grad(lambda x: x, [math.nan])


# ---- every op, on its own ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_every_op_passes_gradcheck_inside_its_domain(name: str, data: st.DataObject) -> None:
    xs = data.draw(point_in_domain(name))
    if name in ("relu", "abs"):
        assume(abs(xs[0]) > 1e-3)  # the kink at 0 has its own tests
    report = gradcheck(op_function(name), xs)
    assert report, str(report)


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_every_op_passes_gradgradcheck_inside_its_domain(name: str, data: st.DataObject) -> None:
    xs = data.draw(point_in_domain(name))
    if name in ("relu", "abs"):
        assume(abs(xs[0]) > 1e-3)
    report = gradgradcheck(op_function(name), xs)
    assert report, str(report)


def test_second_derivative_of_power_at_exponent_zero() -> None:
    # d/db (d/da a**b) = 1/a at b = 0; a constant shortcut there once made it 0.
    assert gradgradcheck(lambda a, b: a**b, [2.0, 0.0])


# ---- random compositions ----------------------------------------------------------------


@given(expressions())
def test_random_compositions_of_every_op_pass_gradcheck(
    drawn: tuple[Expression, list[float]],
) -> None:
    expression, xs = drawn
    report = gradcheck(expression, xs)
    assert report, f"{expression.formula}\n{report}"


@given(expressions(max_ops=10))
def test_random_compositions_pass_gradgradcheck(drawn: tuple[Expression, list[float]]) -> None:
    expression, xs = drawn
    report = gradgradcheck(expression, xs)
    assert report, f"{expression.formula}\n{report}"


# ---- kinks and domain edges -------------------------------------------------------------


def test_relu_at_zero_says_there_is_no_derivative() -> None:
    report = gradcheck(lambda x: x.relu(), [0.0])
    assert not report
    (row,) = report.rows
    assert row.note == "no derivative here: left slope 0, right slope 1"
    assert "no derivative here: left slope 0, right slope 1" in str(report)


def test_abs_at_zero_says_there_is_no_derivative() -> None:
    report = gradcheck(lambda x: abs(x), [0.0])
    assert not report
    assert report.rows[0].note == "no derivative here: left slope -1, right slope 1"
    # The central difference (0) equals the engine's convention abs'(0) = 0: without the
    # one-sided test this would be a silent pass.
    assert report.rows[0].numeric == 0.0 == report.rows[0].analytic


@pytest.mark.parametrize(
    ("f", "x"),
    [
        (lambda x: (x - 1.0).relu(), 1.0),
        (lambda x: abs(x) + x, 0.0),
        (lambda x: abs(x) + x * x * 1e3, 0.0),  # curvature on top of the kink
    ],
)
def test_kinks_at_the_point_fail_in_words(f: Callable[[Value], Value], x: float) -> None:
    report = gradcheck(f, [x])
    assert not report
    assert report.rows[0].note.startswith("no derivative here: left slope")


@pytest.mark.parametrize(
    ("f", "x"),
    [
        # A kink inside the step, not at x: f has a derivative at x, but the central
        # difference straddles the kink and lies. The row says the kink is near, not here.
        (lambda x: x.relu(), 3e-7),
        (lambda x: x.relu(), -7e-7),
        (lambda x: (x * 3.0).relu() * 2.0, 1e-7),
    ],
)
def test_kinks_within_a_step_fail_in_words(f: Callable[[Value], Value], x: float) -> None:
    report = gradcheck(f, [x])
    assert not report
    assert report.rows[0].note.startswith("kink within eps=1e-06 of x: left slope")
    assert gradcheck(f, [x], eps=abs(x) / 100.0), "a smaller step resolves it"


def test_a_point_just_beyond_the_step_from_a_kink_passes() -> None:
    assert gradcheck(lambda x: x.relu(), [3e-6])
    assert gradcheck(lambda x: x.relu(), [-3e-6])


@pytest.mark.parametrize("x", [0.0, 0.3, -1.7])
def test_strong_curvature_is_not_mistaken_for_a_kink(x: float) -> None:
    # One-sided slopes differ by h f'' = 2e-3 here, far above atol, yet f is smooth.
    assert gradcheck(lambda v: 1000.0 * v * v, [x])
    assert gradcheck(lambda v: (v * 5.0).exp(), [x / 3.0])


@given(st.floats(-2.0, 2.0), st.floats(0.5, 20.0))
def test_smooth_functions_never_report_a_kink(x: float, curvature: float) -> None:
    report = gradcheck(lambda v: (v * curvature).sin() + v * v * curvature, [x])
    assert report, str(report)


def test_a_domain_edge_next_to_the_point_fails_with_the_reason() -> None:
    report = gradcheck(lambda x: x.sqrt(), [0.0])
    assert not report
    assert report.rows[0].note.startswith("no finite difference: f fails at x - 1e-06")
    assert "square root" in report.rows[0].note


def test_an_error_at_the_point_itself_is_raised() -> None:
    with pytest.raises(ValueError, match="log"):
        gradcheck(lambda x: x.log(), [-1.0])


# ---- the report -------------------------------------------------------------------------


def test_report_is_a_readable_table() -> None:
    report = gradcheck(lambda x, y: x * y.tanh(), [2.0, 0.5])
    assert isinstance(report, GradcheckReport)
    assert report and report.passed and report.failures == ()
    lines = str(report).splitlines()
    assert lines[0].split() == ["input", "analytic", "numeric", "abs", "err", "rel", "err", "ok"]
    assert lines[1].split()[0] == "x" and lines[1].split()[-1] == "yes"
    assert lines[2].split()[0] == "y"
    assert float(lines[1].split()[1]) == pytest.approx(math.tanh(0.5), rel=1e-9)
    assert lines[-1].startswith("gradcheck passed: 2 of 2 gradients match")
    assert repr(report) == str(report)
    assert [row.input for row in report.rows] == ["x", "y"]


def test_rows_are_named_by_names_or_by_position() -> None:
    report = gradcheck(lambda *v: v[0] * v[1], [1.0, 2.0])
    assert [row.input for row in report.rows] == ["x0", "x1"]
    report = gradcheck(lambda *v: v[0] * v[1], [1.0, 2.0], names=["a", "b"])
    assert [row.input for row in report.rows] == ["a", "b"]
    with pytest.raises(ValueError, match="names has 1 entries for 2 inputs"):
        gradcheck(lambda *v: v[0] * v[1], [1.0, 2.0], names=["a"])


def test_raise_exception_carries_the_table() -> None:
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda x: x.relu(), [0.0], raise_exception=True)
    assert isinstance(error.value, AssertionError)
    assert "no derivative here" in str(error.value)
    assert str(error.value) == str(error.value.report)
    assert gradcheck(lambda x: x.tanh(), [0.5], raise_exception=True)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="atol must be >= 0"):
        gradcheck(lambda x: x, [1.0], atol=-1.0)
    with pytest.raises(ValueError, match="rtol must be a finite number"):
        gradcheck(lambda x: x, [1.0], rtol=math.inf)
    with pytest.raises(ValueError, match="xs is empty"):
        gradcheck(lambda: Value(1.0), [])


def test_a_function_the_engine_cannot_differentiate_is_refused() -> None:
    with pytest.raises(TypeError, match="pass grad_fn"):
        gradcheck(lambda x: math.sin(float(x)), [0.3])
    # With its own gradient it is checked like any other.
    assert gradcheck(lambda x: math.sin(float(x)), [0.3], grad_fn=lambda xs: [math.cos(xs[0])])


def test_a_detached_result_is_caught_not_passed() -> None:
    report = gradcheck(lambda x: Value(x.data * 2.0), [1.0])
    assert not report
    assert report.rows[0].analytic == 0.0 and report.rows[0].numeric == pytest.approx(2.0)


def test_grad_fn_results_are_validated() -> None:
    with pytest.raises(ValueError, match="grad_fn returned 1 numbers for 2 inputs"):
        gradcheck(lambda x, y: x * y, [1.0, 2.0], grad_fn=lambda xs: [1.0])
    with pytest.raises(TypeError, match="must be a real number, not str"):
        gradcheck(lambda x: x, [1.0], grad_fn=lambda xs: ["1"])


# ---- planted bug: the textbook matrix backprop ------------------------------------------

# 8 samples with 2 features, 0/1 targets: gradients of order 0.01-1, well above atol.
RNG = np.random.default_rng(1)
INPUTS = RNG.normal(size=(8, 2)) * 2.0
TARGETS = RNG.integers(0, 2, size=(8, 1)).astype(float)
SHAPES = {"W1": (3, 2), "b1": (3,), "W2": (1, 3), "b2": (1,)}
PARAMETER_NAMES = [
    f"{name}{list(index)}" for name, shape in SHAPES.items() for index in np.ndindex(*shape)
]
PARAMETERS = [float(x) for x in RNG.normal(size=len(PARAMETER_NAMES))]


def unpack(flat: Sequence[float]) -> dict[str, np.ndarray]:
    arrays, start = {}, 0
    for name, shape in SHAPES.items():
        size = int(np.prod(shape))
        arrays[name] = np.asarray(flat[start : start + size], dtype=float).reshape(shape)
        start += size
    return arrays


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    return sigmoid(z) * (1.0 - sigmoid(z))


def network_loss(*parameters: Any) -> float:
    """Half the squared error of a 2-3-1 sigmoid network, in NumPy on floats."""
    p = unpack([float(x) for x in parameters])
    hidden = sigmoid(INPUTS @ p["W1"].T + p["b1"])
    output = sigmoid(hidden @ p["W2"].T + p["b2"])
    return float(0.5 * np.sum((output - TARGETS) ** 2))


def textbook_backprop(flat: list[float], *, mistake: bool) -> list[float]:
    """The matrix-form backprop; ``mistake`` applies sigma' to the activation a = sigma(z)."""
    p = unpack(flat)
    z1 = INPUTS @ p["W1"].T + p["b1"]
    a1 = sigmoid(z1)
    z2 = a1 @ p["W2"].T + p["b2"]
    a2 = sigmoid(z2)
    delta2 = (a2 - TARGETS) * sigmoid_prime(a2 if mistake else z2)
    delta1 = (delta2 @ p["W2"]) * sigmoid_prime(a1 if mistake else z1)
    grads = {"W1": delta1.T @ INPUTS, "b1": delta1.sum(0), "W2": delta2.T @ a1, "b2": delta2.sum(0)}
    return [float(g) for name in SHAPES for g in grads[name].ravel()]


def test_textbook_backprop_with_sigma_prime_of_the_activation_is_caught() -> None:
    flat = PARAMETERS
    wrong = gradcheck(
        network_loss,
        flat,
        grad_fn=lambda xs: textbook_backprop(xs, mistake=True),
        names=PARAMETER_NAMES,
    )
    assert not wrong
    assert len(wrong.failures) == len(PARAMETER_NAMES)  # every parameter is off
    right = gradcheck(
        network_loss,
        flat,
        grad_fn=lambda xs: textbook_backprop(xs, mistake=False),
        names=PARAMETER_NAMES,
    )
    assert right, str(right)


# ---- planted bugs in the engine's op table ----------------------------------------------

PLANTED = {
    # op: (wrong partials, point). Each wrong rule is a mistake a learner makes.
    "tanh": ((lambda fn, a, out: 1.0 - out,), [0.7]),  # forgot the square
    "*": ((lambda fn, a, b, out: a, lambda fn, a, b, out: a), [2.0, -3.0]),  # partials swapped
    "**": ((lambda fn, a, b, out: b * a**b, OPS["**"].partials[1]), [1.5, 2.0]),  # a**(b-1)
    "**exponent": ((OPS["**"].partials[0], lambda fn, a, b, out: out / a), [1.5, 2.0]),
    "sigmoid": ((lambda fn, a, out: a * (1.0 - a),), [0.5]),  # sigma' of the input
    "log": ((lambda fn, a, out: 1.0 / out,), [2.0]),
    "/": ((OPS["/"].partials[0], lambda fn, a, b, out: out / b), [1.0, 4.0]),  # sign
    "exp": ((lambda fn, a, out: a,), [1.5]),
    "sqrt": ((lambda fn, a, out: 0.5 / a,), [4.0]),
    "sin": ((lambda fn, a, out: -fn.cos(a),), [0.5]),
    "cos": ((lambda fn, a, out: fn.sin(a),), [0.5]),
    "relu": ((lambda fn, a, out: 1.0,), [-1.0]),
    "abs": ((lambda fn, a, out: 1.0,), [-1.0]),
    "-": ((1.0, 1.0), [1.0, 2.0]),
    "sum": ((2.0,), [1.0, 2.0, 3.0]),
}


@pytest.mark.parametrize("planted", sorted(PLANTED))
def test_a_wrong_local_derivative_in_the_op_table_is_caught(
    planted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = planted.removesuffix("exponent")
    partials, xs = PLANTED[planted]
    assert gradcheck(op_function(name), xs), "the correct rule must pass first"
    monkeypatch.setitem(ops_module.OPS, name, dataclasses.replace(OPS[name], partials=partials))
    report = gradcheck(op_function(name), xs)
    assert not report, str(report)
    assert all(row.note == "" for row in report.rows)  # a plain mismatch, not a kink


def test_a_planted_tanh_bug_is_caught_inside_a_neuron(monkeypatch: pytest.MonkeyPatch) -> None:
    def neuron(x: Value, w: Value, b: Value) -> Value:
        return (x * w + b).tanh()

    assert gradcheck(neuron, [2.0, -3.0, 6.88])
    wrong = dataclasses.replace(OPS["tanh"], partials=(lambda fn, a, out: 1.0 - out,))
    monkeypatch.setitem(ops_module.OPS, "tanh", wrong)
    report = gradcheck(neuron, [2.0, -3.0, 6.88])
    assert [row.ok for row in report.rows] == [False, False, False]


SECOND_ORDER_PLANTED = {
    # Right first derivatives, but computed on floats: the create_graph path gets a constant.
    "tanh": ((lambda fn, a, out: 1.0 - float(out) ** 2,), [0.7]),
    "sin": ((lambda fn, a, out: math.cos(a),), [0.5]),
    "sqrt": ((lambda fn, a, out: 0.5 / float(out),), [2.0]),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER_PLANTED))
def test_a_derivative_detached_from_the_graph_is_caught_by_gradgradcheck(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    partials, xs = SECOND_ORDER_PLANTED[name]
    assert gradgradcheck(op_function(name), xs)
    monkeypatch.setitem(ops_module.OPS, name, dataclasses.replace(OPS[name], partials=partials))
    assert gradcheck(op_function(name), xs)  # first derivatives are still right
    report = gradgradcheck(op_function(name), xs)
    assert not report, str(report)


# ---- second derivatives -----------------------------------------------------------------


def test_gradgradcheck_table_and_hand_values() -> None:
    report = gradgradcheck(lambda x, y: x * y.tanh(), [2.0, 0.5])
    assert report
    assert [row.input for row in report.rows] == ["x,x", "x,y", "y,x", "y,y"]
    sech2 = 1.0 - math.tanh(0.5) ** 2
    assert report.rows[1].analytic == pytest.approx(sech2, rel=1e-12)
    assert report.rows[3].analytic == pytest.approx(-4.0 * math.tanh(0.5) * sech2, rel=1e-12)
    assert str(report).splitlines()[-1].startswith("gradgradcheck passed: 4 of 4")


def test_gradgradcheck_names_a_kink_of_the_first_derivative() -> None:
    # x * relu(x) has a derivative at 0 (it is 0) but no second derivative there.
    assert gradcheck(lambda x: x * x.relu(), [0.0])
    report = gradgradcheck(lambda x: x * x.relu(), [0.0])
    assert not report
    assert report.rows[0].note == "no derivative here: left slope 0, right slope 2"


@pytest.mark.parametrize("planted", sorted(PLANTED))
@given(data=st.data())
def test_a_planted_bug_is_caught_in_random_expressions_wherever_it_matters(
    planted: str, data: st.DataObject
) -> None:
    name = planted.removesuffix("exponent")
    expression, xs = data.draw(expressions(max_ops=8, ops=(name, "+", "*", "sin")))
    assume(name in {node.op for node in expression.nodes if isinstance(node, Apply)})

    def engine_gradient() -> list[float]:
        inputs = [Value(x) for x in xs]
        out = expression(*inputs)
        assert isinstance(out, Value)
        return [g.data for g in grad(out, inputs)]

    right = engine_gradient()
    original = OPS[name]
    # Not the monkeypatch fixture: it would be shared by all examples of this test.
    ops_module.OPS[name] = dataclasses.replace(original, partials=PLANTED[planted][0])
    try:
        wrong = engine_gradient()
        report = gradcheck(expression, xs)
    finally:
        ops_module.OPS[name] = original
    # At some points a wrong rule gives the right number (x * x with swapped partials);
    # wherever it changes the gradient clearly, the check must fail.
    if any(abs(w - r) > 2 * (1e-5 + 1e-3 * abs(r)) for w, r in zip(wrong, right, strict=True)):
        event("the wrong rule changes the gradient")  # --hypothesis-show-statistics
        assert not report, f"{expression.formula}\n{report}"


def test_gradcheck_records_its_graph_even_inside_no_grad() -> None:
    with no_grad():
        assert gradcheck(lambda x, y: x * y.tanh(), [2.0, 0.5])
        assert gradgradcheck(lambda x, y: x * y.tanh(), [2.0, 0.5])
