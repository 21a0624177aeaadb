"""The safe expression parser: what it accepts, how it evaluates, what it refuses."""

from __future__ import annotations

import ast
import builtins
import math
import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.expr import (
    MAX_DEPTH,
    MAX_LENGTH,
    Apply,
    Constant,
    Expression,
    Variable,
    parse_assignments,
    parse_expression,
)
from tinygrad_edu.testing.strategies import expressions

# (text, environment, expected value computed by hand with math)
VALID = [
    ("tanh(x*w + b)", {"x": 2.0, "w": -3.0, "b": 6.88}, math.tanh(2.0 * -3.0 + 6.88)),
    ("a - (b - c)", {"a": 1.0, "b": 2.0, "c": 3.0}, 2.0),
    ("a - b - c", {"a": 1.0, "b": 2.0, "c": 3.0}, -4.0),
    ("a / b / c", {"a": 12.0, "b": 2.0, "c": 3.0}, 2.0),
    ("-x ** 2", {"x": 3.0}, -9.0),
    ("(-x) ** 2", {"x": 3.0}, 9.0),
    ("x ** y ** z", {"x": 2.0, "y": 3.0, "z": 2.0}, 512.0),
    ("2 ** -x", {"x": 1.0}, 0.5),
    ("-(-x)", {"x": 4.0}, 4.0),
    ("abs(x) + relu(y) + sigmoid(0)", {"x": -1.5, "y": -2.0}, 2.0),
    ("sqrt(x) * log(x) + exp(0) - sin(0) + cos(0)", {"x": 4.0}, 2.0 * math.log(4.0) + 2.0),
    ("1e-3 * x", {"x": 1000.0}, 1.0),
]


@pytest.mark.parametrize(("text", "env", "expected"), VALID)
def test_valid_expressions_evaluate_on_floats_and_values(
    text: str, env: dict[str, float], expected: float
) -> None:
    expression = parse_expression(text)
    assert expression.variables == tuple(sorted(env))
    assert expression.evaluate(env) == pytest.approx(expected, rel=1e-12)
    as_values = expression.evaluate({name: Value(x) for name, x in env.items()})
    assert isinstance(as_values, Value)
    assert as_values.data == pytest.approx(expected, rel=1e-12)
    # The printed formula reads back as the same expression.
    assert parse_expression(expression.formula).evaluate(env) == expression.evaluate(env)


def test_a_variable_used_twice_is_one_node_and_gets_both_gradients() -> None:
    expression = parse_expression("x * x + x")
    x = Value(3.0)
    out = expression.evaluate({"x": x})
    assert isinstance(out, Value)
    out.backward()
    assert x.grad == 7.0  # 2x + 1


def test_calling_binds_positional_arguments_in_variable_order() -> None:
    expression = parse_expression("b - a")
    assert expression(1.0, 5.0) == 4.0  # a=1, b=5
    with pytest.raises(TypeError, match="takes 2 arguments"):
        expression(1.0)


def test_missing_variable_and_bad_value_types() -> None:
    expression = parse_expression("x + y")
    with pytest.raises(ValueError, match="no value for variable 'y'"):
        expression.evaluate({"x": 1.0})
    with pytest.raises(TypeError, match="'y' must be a Value or a real number, not str"):
        expression.evaluate({"x": 1.0, "y": "2"})


def test_evaluate_with_another_backend_keeps_shared_nodes_shared() -> None:
    x = Variable("x")
    shared = Apply("*", (x, x))
    expression = Expression(Apply("+", (shared, shared)))
    calls: list[str] = []

    def apply(op: str, args: list[float]) -> float:
        calls.append(op)
        return args[0] * args[1] if op == "*" else args[0] + args[1]

    assert expression.evaluate_with({"x": 3.0}, apply, float) == 18.0
    assert calls == ["*", "+"]  # the shared product is computed once
    assert expression.formula == "t0 + t0 where t0 = x * x"


def test_domain_errors_surface_from_the_op_table() -> None:
    with pytest.raises(ValueError, match="log"):
        parse_expression("log(x)").evaluate({"x": -1.0})
    with pytest.raises(ZeroDivisionError):
        parse_expression("1 / x").evaluate({"x": 0.0})


def test_declared_variables_must_cover_the_used_ones() -> None:
    with pytest.raises(ValueError, match="used but not declared"):
        Expression(Apply("neg", (Variable("y"),)), ["x"])
    assert Expression(Constant(2.0), ["x"]).variables == ("x",)


HOSTILE = [
    ("__import__('os')", "unknown function '__import__'"),
    ("__import__('os').system('true')", "calling attribute access (.system)"),
    ("x.__class__", "attribute access"),
    ("().__class__.__bases__", "attribute access"),
    ("exp.__globals__", "attribute access"),
    ("eval('1')", "unknown function 'eval'"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("exp(x).real", "attribute access"),
    ("(lambda: 1)()", "calling lambda"),
    ("lambda x: x", "lambda"),
    ("x[0]", "subscripts"),
    ("[x for x in y]", "comprehensions"),
    ("(x for x in y)", "comprehensions"),
    ("exp(x=1)", "exactly one argument"),
    ("exp(x, y)", "exactly one argument"),
    ("exp(*x)", "exactly one argument"),
    ("exp()", "exactly one argument"),
    ("9**9**9", "exponent too large"),
    ("x ** 1e300", "exponent too large"),
    ("2 ** (3 ** 100)", "exponent too large"),
    ("1e999", "number too large"),
    ("'a string'", "the constant 'a string'"),
    ("True + x", "the constant True"),
    ("1j * x", "the constant 1j"),
    ("None", "the constant None"),
    ("x // y", "operator //"),
    ("x % y", "operator %"),
    ("x ^ 2", "use ** for powers"),
    ("+x", "unary +"),
    ("not x", "operator not"),
    ("x < y", "comparisons"),
    ("x and y", "and/or"),
    ("x if y else z", "if/else"),
    ("(y := 2)", "assignment"),
    ("f'{x}'", "f-strings"),
    ("_x + 1", "bad variable name '_x'"),
    ("__builtins__", "bad variable name"),
    ("exp + 1", "exp is a function"),
    ("x = 1", "syntax error"),
    ("import os", "syntax error"),
    ("x; y", "syntax error"),
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("x" + " + x" * 200, "too long"),
    ("(" * 210 + "x" + ")" * 210, "too many nested parentheses"),
    ("-" * 150 + "x", "nested too deeply"),
    ("exp(" * 80 + "-" * 30 + "x" + ")" * 80, "nested too deeply"),
]


@pytest.mark.parametrize(("text", "message"), HOSTILE)
def test_hostile_input_is_refused_with_one_line(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        parse_expression(text)
    assert "\n" not in str(error.value)
    assert len(str(error.value)) < 150


def test_parsing_never_runs_code(monkeypatch: pytest.MonkeyPatch) -> None:
    real_compile = builtins.compile

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec must not be called")

    def syntax_tree_only(
        source: str, filename: str, mode: str, flags: int = 0, *args: Any, **kwargs: Any
    ) -> Any:
        # ast.parse compiles to a syntax tree only; compiling to code is what we forbid.
        if not flags & ast.PyCF_ONLY_AST:
            raise AssertionError("compile() to code must not be called")
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    monkeypatch.setattr(builtins, "compile", syntax_tree_only)
    assert parse_expression("tanh(x*w + b)").evaluate({"x": 1.0, "w": 1.0, "b": 0.0}) == (
        math.tanh(1.0)
    )
    with pytest.raises(ValueError):
        parse_expression("__import__('os')")


def test_limits_are_generous_enough_for_real_formulas() -> None:
    nested = "sin(" * 80 + "x" + ")" * 80
    assert len(nested) < MAX_LENGTH
    assert parse_expression(nested).variables == ("x",)
    long_sum = "x" + " + x" * (MAX_DEPTH - 1)
    assert len(long_sum) < MAX_LENGTH
    assert parse_expression(long_sum).evaluate({"x": 1.0}) == MAX_DEPTH


def test_parse_expression_wants_a_string() -> None:
    with pytest.raises(TypeError, match="must be a str, not int"):
        parse_expression(3)  # type: ignore[arg-type]


def test_parse_assignments() -> None:
    assert parse_assignments("x=2,w=-3,b=6.88") == {"x": 2.0, "w": -3.0, "b": 6.88}
    assert parse_assignments(" x = 1e-3 , y=+2 ") == {"x": 0.001, "y": 2.0}
    assert parse_assignments("") == {}


BAD_ASSIGNMENTS = [
    ("x", "expected name=number"),
    ("x=", "expected name=number"),
    ("=2", "expected name=number"),
    ("x=1,,y=2", "expected name=number"),
    ("x=abc", "bad number for x: 'abc'"),
    ("x=nan", "not finite"),
    ("x=inf", "not finite"),
    ("x=1,x=2", "'x' is given twice"),
    ("_x=1", "bad variable name '_x'"),
    ("exp=1", "bad variable name 'exp'"),
    ("x.y=1", "bad variable name"),
    ("x=" + "1" * 600, "too long"),
    ("pi=3", "pi is a constant (3.141592653589793), not a variable"),
    ("x=1,e=2", "e is a constant (2.718281828459045), not a variable"),
]


@pytest.mark.parametrize(("text", "message"), BAD_ASSIGNMENTS)
def test_bad_assignments_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_assignments(text)


@given(expressions(n_vars=2, max_ops=6))
def test_generated_formulas_without_sharing_read_back_as_the_same_function(
    drawn: tuple[Expression, list[float]],
) -> None:
    expression, xs = drawn
    if " where " in expression.formula:  # named shared nodes are not expression syntax
        return
    again = parse_expression(expression.formula)
    env = dict(zip(expression.variables, xs, strict=True))
    used = {name: env[name] for name in again.variables}
    assert again.evaluate(used) == pytest.approx(expression.evaluate(env), rel=1e-12, abs=1e-12)


def test_pi_and_e_are_constants_not_variables() -> None:
    expression = parse_expression("2*pi*r + e**x")
    assert expression.variables == ("r", "x")
    assert expression.formula == "2 * pi * r + e ** x"  # printed by name, read back the same
    assert parse_expression(expression.formula).variables == ("r", "x")
    assert expression.evaluate({"r": 1.0, "x": 1.0}) == 2 * math.pi + math.e
    assert parse_expression("1e2 * x").evaluate({"x": 1.0}) == 100.0  # not the constant e


# Inputs where floats overflow, underflow and cancel: where two code paths would part ways.
EXTREME_INPUTS = st.one_of(
    st.sampled_from([1e200, -1e200, 1e308, -1e308, 5e-324, -5e-324, 0.0, -0.0, 1e-300, 710.0,
                     -746.0, 1.0, -1.0]),
    st.floats(allow_nan=False, allow_infinity=False),
)  # fmt: skip


def outcome(compute: Any) -> tuple[str, object]:
    """``("value", repr(result))`` or ``("error", (type, message))``, to compare two paths."""
    try:
        return "value", repr(float(compute()))
    except (ArithmeticError, ValueError, TypeError) as error:
        return "error", (type(error), str(error))


@example((parse_expression("x*y - x*y"), [0.0, 0.0]), [1e200, 1e200])  # nan on floats, once
@example((parse_expression("exp(x) - exp(y)"), [0.0, 0.0]), [1000.0, 1000.0])
@given(expressions(n_vars=2, max_ops=8), st.lists(EXTREME_INPUTS, min_size=2, max_size=2))
def test_floats_give_exactly_the_results_and_errors_of_values(
    drawn: tuple[Expression, list[float]], xs: list[float]
) -> None:
    # SPEC 7.1: Expression on floats raises exactly what the Value path raises.
    expression = drawn[0]
    names = expression.variables
    on_floats = outcome(lambda: expression(*xs))
    on_values = outcome(
        lambda: expression(*[Value(x, label=name) for name, x in zip(names, xs, strict=True)])
    )
    assert on_floats == on_values
