"""SPEC §1.1: no silent non-finite number, anywhere.

Every way a NaN or an inf could enter or arise is refused loudly: building a Value, a plain
number in an expression, a forward op, a local derivative, the product with the gradient,
the sum into a gradient. ``backward()`` and ``grad()`` raise the same error on the same
graph, and under ``detect_anomaly`` the error shows where the user's code made the node.
"""

from __future__ import annotations

import inspect
import math
import re
import sys
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from tinygrad_edu import Value, detect_anomaly, engine, grad
from tinygrad_edu.nn import MLP
from tinygrad_edu.ops import OPS

# ---- nothing non-finite gets in ------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "shown"),
    [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf"), (np.float64("nan"), "nan"),
     (np.float32("-inf"), "-inf"), (np.longdouble("1e400"), "1e+400")],
)  # fmt: skip
def test_value_refuses_nan_and_inf_naming_the_value(data: object, shown: str) -> None:
    with pytest.raises(ValueError, match="must be a finite number") as raised:
        Value(data)
    assert shown in str(raised.value)


def test_a_number_too_large_for_a_float_is_a_value_error() -> None:
    for data in (10**400, Fraction(10**400, 3)):
        with pytest.raises(ValueError, match=r"too large for a float"):
            Value(data)


@pytest.mark.parametrize(
    "make",
    [lambda x: x + math.nan, lambda x: math.inf * x, lambda x: x ** float("inf"),
     lambda x: Value.sum([x, -math.inf]), lambda x: x / np.float64("nan")],
)  # fmt: skip
def test_a_non_finite_number_in_an_expression_is_refused(make: Callable[[Value], Value]) -> None:
    with pytest.raises(ValueError, match="a number in an expression must be a finite number"):
        make(Value(2.0))


def test_a_non_finite_backward_seed_is_refused() -> None:
    y = Value(2.0) * 3.0
    for seed in (math.nan, math.inf):
        with pytest.raises(ValueError, match=r"gradient must be a finite number, not (nan|inf)"):
            y.backward(seed)


def test_comparisons_with_infinity_still_work() -> None:
    assert Value(1e308) < math.inf and Value(-1e308) > -math.inf


def _make_node(name: str, inputs: list[Value]) -> Value:
    op = OPS[name]
    if op.variadic:
        return Value.sum(inputs)
    if len(inputs) == 2:
        return engine._binary(op, *inputs)
    return engine._unary(op, inputs[0])


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_every_op_refuses_an_input_whose_data_was_set_to_a_non_finite_number(
    name: str, bad: float
) -> None:
    # Value() refuses them, so only an assignment to .data can bring them in. Some ops
    # would hide them (5 / inf is 0, relu(nan) is 0, x ** 0 is 1): every op must refuse.
    op = OPS[name]
    for position in range(len(op.domain)):
        inputs = [Value(low + 0.25 * (high - low)) for low, high in op.domain]
        inputs[position].data = bad
        inputs[position].label = "hand-set"
        with pytest.raises(ValueError) as raised:
            _make_node(name, inputs)
        message = str(raised.value)
        assert f"{name!r} of" in message and f"input {position + 1} ('hand-set')" in message
        assert repr(bad) in message and "not a finite number" in message


# ---- Value.sum overflows only when the exact sum does -----------------------------------------


def test_sum_of_terms_whose_partial_sum_overflows_is_exact() -> None:
    assert Value.sum([1e308, 1e308, -1e308]).data == 1e308
    assert Value.sum([-1.7e308, -1.7e308, 1.7e308, 1.0]).data == -1.7e308
    with pytest.raises(OverflowError, match="sum of 3 terms overflows a float"):
        Value.sum([1e308, 1e308, -1e307])


@given(st.lists(st.sampled_from([1.7e308, -1.7e308, 1e308, -1e308, 1e292, 5e-324]), max_size=8))
def test_sum_is_the_exact_sum_rounded_or_overflows_only_when_that_does(terms: list[float]) -> None:
    exact = sum(map(Fraction, terms), start=Fraction(0))
    try:
        expected = float(exact)  # the exact sum, rounded once
    except OverflowError:
        with pytest.raises(OverflowError, match="overflows a float"):
            Value.sum(terms)
        return
    assert Value.sum(terms).data == expected


# ---- backward() and grad() raise the same error on the same graph --------------------------------


def _outcome(run: Callable[[], list[float]]) -> list[float] | tuple[type[Exception], str]:
    """The gradients, or the error as (type, message)."""
    try:
        return run()
    except (ArithmeticError, ValueError) as error:
        return type(error), str(error)


def _outcomes(root: Value, leaves: list[Value]) -> list[object]:
    """What backward(), grad() and grad(create_graph=True) give for ``leaves``, in that order."""
    by_grad = [
        _outcome(lambda c=create_graph: [g.data for g in grad(root, leaves, create_graph=c)])
        for create_graph in (False, True)
    ]
    for leaf in leaves:  # grad() leaves .grad alone: backward() starts from zero as well
        assert leaf.grad == 0.0

    def by_backward() -> list[float]:
        root.backward()
        return [leaf.grad for leaf in leaves]

    return [_outcome(by_backward), *by_grad]


def _log_of_tiny_times_zero() -> tuple[Value, list[Value]]:
    x = Value(5e-324, label="x")
    return x.log() * 0.0, [x]


def _constant_over_tiny() -> tuple[Value, list[Value]]:
    x = Value(1e-10, label="x")
    return Value(1e290, requires_grad=False) / x, [x]


def _power_whose_derivative_overflows() -> tuple[Value, list[Value]]:
    a, b = Value(1e-320, label="a"), Value(1e-300, label="b")
    return a**b, [a, b]


def _product_of_finite_factors_overflows() -> tuple[Value, list[Value]]:
    x = Value(1e-300, label="x")
    return (x * 1e300) * 1e300, [x]


def _sum_of_finite_contributions_overflows() -> tuple[Value, list[Value]]:
    x = Value(1e-300, label="x")
    return x * 1e308 + x * 1e308, [x]


def _sqrt_at_zero() -> tuple[Value, list[Value]]:
    x = Value(0.0, label="x")
    return x.sqrt(), [x]


@pytest.mark.parametrize(
    ("build", "error", "words"),
    [
        (_log_of_tiny_times_zero, OverflowError,
         ["'log'", "inputs 5e-324", "input 1 ('x')", "is inf"]),
        (_constant_over_tiny, OverflowError,
         ["'/'", "inputs 1e+290, 1e-10", "input 2 ('x')", "is -inf"]),
        (_power_whose_derivative_overflows, OverflowError,
         ["'**'", "input 1 ('a')", "overflows a float"]),
        (_product_of_finite_factors_overflows, OverflowError,
         ["'*'", "1e+300 times the gradient 1e+300 overflows"]),
        (_sum_of_finite_contributions_overflows, OverflowError,
         ["added to 1e+308, overflows"]),
        (_sqrt_at_zero, ZeroDivisionError, ["'sqrt'", "inputs 0.0", "divides by zero"]),
    ],
)  # fmt: skip
def test_a_non_finite_step_raises_the_same_error_in_backward_and_grad(
    build: Callable[[], tuple[Value, list[Value]]], error: type[Exception], words: list[str]
) -> None:
    root, leaves = build()
    outcomes = _outcomes(root, leaves)
    assert outcomes[0] == outcomes[1] == outcomes[2], outcomes
    kind, message = outcomes[0]  # type: ignore[misc]
    assert kind is error
    assert message.startswith("backward through ")
    for word in words:
        assert word in message
    assert "Numerical result out of range" not in message  # never the bare errno text


def test_a_leaf_whose_gradient_overflows_across_calls_says_so() -> None:
    x = Value(1.0, label="x")
    y = x * 1e308
    y.backward()
    with pytest.raises(OverflowError, match=r"\.grad of leaf 'x' \(data 1\.0\) became inf"):
        y.backward()


def test_a_failed_backward_changes_no_gradient() -> None:
    x, w = Value(1e-300, label="x"), Value(2.0, label="w")
    y = (x * 1e300) * 1e300 + w * 3.0
    (w * 5.0).backward()  # earlier gradients, which the failed call must keep
    x.grad = 0.25
    with pytest.raises(OverflowError):
        y.backward()
    assert (x.grad, w.grad) == (0.25, 5.0)
    assert all(node.grad == 0.0 for node in engine.topological_order(y) if node.inputs)


def test_a_failure_the_float_rerun_cannot_explain_is_raised_as_it_came(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Failures are explained by re-running the arithmetic on floats. A bug planted in the
    # functions only grad() calls is not in that arithmetic: it must come out unchanged.
    class Failing:
        cos = sin = log = staticmethod(lambda a: 1.0 / Value(0.0))

    x = Value(0.5)
    monkeypatch.setattr(engine, "_VALUE_FUNCTIONS", Failing())
    with pytest.raises(ZeroDivisionError, match=r"^division by zero: 1\.0 / 0\.0$"):
        grad(x.sin(), [x])


# Magnitudes from the smallest subnormal to the largest float, both signs: where overflow,
# underflow and division by tiny numbers happen.
MAGNITUDES = st.sampled_from(
    [5e-324, 1e-308, 1e-300, 1e-160, 1e-10, 0.5, 1.0, 3.0, 1e10, 1e160, 1e300, 1.7e308]
).flatmap(lambda m: st.sampled_from([m, -m]))
EXTREME = st.one_of(MAGNITUDES, MAGNITUDES, st.floats(allow_nan=False, allow_infinity=False))
# Every op, and more often those whose derivatives grow large: 1/b, 1/a, 0.5/sqrt, a**b.
OP_NAMES = st.one_of(st.sampled_from(sorted(OPS)), st.sampled_from(["*", "/", "**", "log", "sqrt"]))


@st.composite
def extreme_graphs(draw: st.DrawFn) -> tuple[Value, list[Value]]:
    """A random graph over three leaves of extreme magnitude; forward errors are skipped."""
    leaves = [Value(draw(EXTREME), label=f"x{i}") for i in range(3)]
    pool: list[Value] = list(leaves)
    root = None
    for _ in range(draw(st.integers(1, 8))):
        op = OPS[draw(OP_NAMES)]
        arity = len(op.domain)
        # Mostly nodes of the graph, sometimes a constant (which gets no gradient).
        inputs = [
            draw(st.sampled_from(pool))
            if draw(st.integers(0, 3))
            else Value(draw(EXTREME), requires_grad=False)
            for _ in range(arity)
        ]
        if not any(x.requires_grad for x in inputs):
            continue
        try:
            root = _make_node(op.name, inputs)
        except (ArithmeticError, ValueError):
            continue  # the forward refused it, loudly: tested above
        pool.append(root)
    assume(root is not None)
    assert root is not None
    return root, leaves


@given(extreme_graphs())
def test_backward_and_grad_agree_on_any_graph_finite_result_or_the_same_error(
    graph: tuple[Value, list[Value]],
) -> None:
    root, leaves = graph
    by_backward, by_grad, by_grad_with_graph = _outcomes(root, leaves)
    # About one graph in ten fails: see them with --hypothesis-show-statistics.
    event("finite" if isinstance(by_backward, list) else by_backward[0].__name__)
    assert by_backward == by_grad == by_grad_with_graph
    if isinstance(by_backward, list):  # no error: then every gradient is a finite number
        assert all(math.isfinite(g) for g in by_backward)
        assert all(math.isfinite(node.grad) for node in engine.topological_order(root))


# ---- detect_anomaly shows where the user's code made the failing node ------------------------


def _line_of_next_statement() -> int:
    return sys._getframe(1).f_lineno + 1


def test_outside_detect_anomaly_no_creation_site_is_recorded() -> None:
    x = Value(1.0)
    y = (x * 2.0).tanh()
    assert x.created_at is None and y.created_at is None and y.inputs[0].created_at is None


def test_under_detect_anomaly_every_node_records_the_users_file_and_line() -> None:
    with detect_anomaly():
        line = _line_of_next_statement()
        x = Value(2.0)
        y = Value.sum([x * 3.0, x.exp()])
        model = MLP(2, [1], seed=0)
        line_of_call = _line_of_next_statement()
        score = model([x, 1.0])
    assert isinstance(score, Value)
    here = __file__
    assert x.created_at == f"{here}:{line}"
    for node in (y, *y.inputs):
        assert node.created_at == f"{here}:{line + 1}"
    # Made inside the package (a neuron's w * x): the site is the user's call, not nn code.
    assert score.created_at == f"{here}:{line_of_call}"
    products = [node for node in score.inputs if node.op == "*"]
    assert products and all(node.created_at == f"{here}:{line_of_call}" for node in products)
    assert all(p.created_at == f"{here}:{line + 2}" for p in model.parameters())


def test_no_grad_inside_detect_anomaly_records_nothing_and_the_mode_comes_back() -> None:
    from tinygrad_edu import no_grad

    with detect_anomaly():
        with no_grad():
            constant = Value(1.0) * 2.0
        after = Value(1.0) * 2.0
    outside = Value(1.0) * 2.0
    assert constant.created_at is None and constant.inputs == ()
    assert after.created_at is not None and outside.created_at is None


@pytest.mark.parametrize(
    "build", [_log_of_tiny_times_zero, _product_of_finite_factors_overflows, _sqrt_at_zero]
)
def test_under_detect_anomaly_both_paths_raise_floating_point_error_showing_the_site(
    build: Callable[[], tuple[Value, list[Value]]],
) -> None:
    with detect_anomaly():
        root, leaves = build()
        errors = []
        for run in (
            root.backward,
            lambda: grad(root, leaves),
            lambda: grad(root, leaves, create_graph=True),
        ):
            with pytest.raises(FloatingPointError) as raised:
                run()
            errors.append(raised.value)
    messages = {str(error) for error in errors}
    assert len(messages) == 1, messages
    (message,) = messages
    assert message.startswith("non-finite gradient: backward through ")
    # The failing node was made by a line of build(), a function of this file: shown.
    source, first = inspect.getsourcelines(build)
    lines_of_build = range(first, first + len(source))
    sites = [int(line) for line in re.findall(rf"made at {re.escape(__file__)}:(\d+)", message)]
    assert len(sites) == 1 and sites[0] in lines_of_build, (message, lines_of_build)
    notes = errors[0].__notes__
    assert len(notes) == 1 and "The forward call that made this node:" in notes[0]
    assert f'File "{__file__}", line {sites[0]}, in {build.__name__}' in notes[0]


def test_under_detect_anomaly_a_value_error_also_shows_the_site() -> None:
    with detect_anomaly():
        line = _line_of_next_statement()
        y = Value(-2.0) ** Value(2.0)
        with pytest.raises(ValueError, match=r"exponent") as raised:
            y.backward()
    assert f"made at {__file__}:{line}" in str(raised.value)
    assert "y = Value(-2.0) ** Value(2.0)" in raised.value.__notes__[0]
