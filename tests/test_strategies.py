"""The hypothesis strategies: domains, bounds, sharing, readability, and a second backend."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from tinygrad_edu import Value, grad
from tinygrad_edu.expr import Apply, Expression
from tinygrad_edu.ops import OPS
from tinygrad_edu.testing import expressions, values
from tinygrad_edu.testing.strategies import (
    INPUT_RANGE,
    KINK_MARGIN,
    MAX_MAGNITUDE,
    MAX_SLOPE,
    kink_distance,
)

Drawn = tuple[Expression, list[float]]
ROOT = Path(__file__).resolve().parents[1]


def ops_used(expression: Expression) -> set[str]:
    return {node.op for node in expression.nodes if isinstance(node, Apply)}


def operands_at(expression: Expression, xs: list[float]) -> list[tuple[str, list[float]]]:
    """Every primitive applied while evaluating at xs, with its float arguments."""
    seen: list[tuple[str, list[float]]] = []

    def apply(op: str, args: list[float]) -> float:
        seen.append((op, args))
        return OPS[op].forward(*args)

    expression.evaluate_with(dict(zip(expression.variables, xs, strict=True)), apply, float)
    return seen


# ---- values() ---------------------------------------------------------------------------


@given(values())
def test_values_are_finite_and_in_range(x: float) -> None:
    assert math.isfinite(x) and -3.0 <= x <= 3.0


def test_values_rejects_a_bad_range() -> None:
    with pytest.raises(ValueError, match="min_value <= max_value"):
        values(1.0, -1.0)
    with pytest.raises(ValueError, match="finite"):
        values(-math.inf, 0.0)


# ---- expressions(): arguments -----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_vars": 0}, "n_vars must be an int >= 1"),
        ({"max_ops": 0}, "max_ops must be an int >= 1"),
        ({"ops": ["tanh", "softmax"]}, "ops must name primitives"),
        ({"ops": []}, "ops must name primitives"),
    ],
)
def test_expressions_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expressions(**kwargs)


# ---- expressions(): what a draw guarantees ----------------------------------------------


@given(expressions())
def test_the_callable_works_on_values_and_floats_alike(drawn: Drawn) -> None:
    expression, xs = drawn
    on_floats = expression(*xs)
    on_values = expression(*[Value(x) for x in xs])
    assert isinstance(on_floats, float)
    assert isinstance(on_values, Value)
    assert on_values.data == on_floats  # the same forward rules, bit for bit
    assert repr(expression) == f"Expression({expression.formula!r})"
    assert len(xs) == len(expression.variables) == 3


def assert_inside_domains(expression: Expression, xs: list[float]) -> None:
    for op, args in operands_at(expression, xs):
        if op in ("log", "sqrt"):
            assert args[0] >= OPS[op].domain[0][0]
        elif op == "/":
            assert args[1] >= OPS["/"].domain[1][0]
        elif op == "**":
            assert args[0] >= OPS["**"].domain[0][0]
            assert abs(args[1]) <= OPS["**"].domain[1][1]
        elif op == "exp":
            assert abs(args[0]) <= OPS["exp"].domain[0][1]


@given(expressions(), st.lists(values(-INPUT_RANGE, INPUT_RANGE), min_size=3, max_size=3))
def test_guards_hold_at_the_drawn_point_and_anywhere_in_the_box(
    drawn: Drawn, elsewhere: list[float]
) -> None:
    expression, xs = drawn
    assert_inside_domains(expression, xs)
    assert_inside_domains(expression, elsewhere)


@given(expressions(), st.lists(values(-INPUT_RANGE, INPUT_RANGE), min_size=3, max_size=3))
def test_value_and_gradient_stay_of_order_one_in_the_whole_box(
    drawn: Drawn, elsewhere: list[float]
) -> None:
    expression, _ = drawn
    inputs = [Value(x) for x in elsewhere]
    out = expression(*inputs)
    assert isinstance(out, Value)
    assert abs(out.data) <= MAX_MAGNITUDE
    assert sum(abs(g.data) for g in grad(out, inputs)) <= MAX_SLOPE


@given(expressions())
def test_the_drawn_point_keeps_away_from_kinks(drawn: Drawn) -> None:
    expression, xs = drawn
    for op, args in operands_at(expression, xs):
        if op in ("relu", "abs"):
            assert abs(args[0]) >= KINK_MARGIN
    assert kink_distance(expression, xs) >= KINK_MARGIN


@given(expressions(ops=("tanh", "sin")))
def test_ops_restricts_the_drawn_ops_but_not_the_glue(drawn: Drawn) -> None:
    expression, _ = drawn
    assert ops_used(expression) <= {"tanh", "sin", "*", "+", "sum"}


# ---- existence and shrinking ------------------------------------------------------------

FIND = settings(database=None, max_examples=2000, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_is_drawn_and_shrinks_to_a_short_formula(name: str) -> None:
    expression, _ = find(expressions(), lambda drawn: name in ops_used(drawn[0]), settings=FIND)
    assert len(expression.formula) <= 40, expression.formula


def test_a_failing_example_shrinks_to_a_small_readable_one() -> None:
    expression, xs = find(expressions(), lambda drawn: "tanh" in ops_used(drawn[0]), settings=FIND)
    assert expression.formula == "tanh(x0)"
    assert xs == [0.0, 0.0, 0.0]


def shares_a_sub_expression(drawn: Drawn) -> bool:
    expression = drawn[0]
    parents: dict[int, int] = {}
    for node in expression.nodes:
        if isinstance(node, Apply):
            for arg in set(map(id, node.args)):
                parents[arg] = parents.get(arg, 0) + 1
    return any(
        parents.get(id(node), 0) > 1 and isinstance(node, Apply) for node in expression.nodes
    )


def test_drawn_expressions_share_sub_expressions() -> None:
    expression, xs = find(expressions(), shares_a_sub_expression, settings=FIND)
    assert " where t0 = " in expression.formula
    # The shared node is one Value in the engine graph: its gradient sums both paths.
    inputs = [Value(x) for x in xs]
    out = expression(*inputs)
    assert isinstance(out, Value)
    counted = _count_value_nodes(out)
    assert counted < _count_tree_nodes(expression)


def _count_value_nodes(root: Value) -> int:
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            stack.extend(node.inputs)
    return len(seen)


def _count_tree_nodes(expression: Expression) -> int:
    """Nodes the expression would have with every shared node copied (a tree)."""
    sizes: dict[int, int] = {}
    for node in expression.nodes:
        args = node.args if isinstance(node, Apply) else ()
        sizes[id(node)] = 1 + sum(sizes[id(arg)] for arg in args)
    return sizes[id(expression.root)]


# ---- a second backend: PyTorch ------------------------------------------------------------


def torch_ops(torch: Any) -> dict[str, Callable[..., Any]]:
    return {
        "+": torch.add,
        "-": torch.sub,
        "*": torch.mul,
        "/": torch.div,
        "**": torch.pow,
        "sum": lambda *terms: torch.stack(terms).sum(),
        "neg": torch.neg,
        "abs": torch.abs,
        "exp": torch.exp,
        "log": torch.log,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": torch.relu,
        "sin": torch.sin,
        "cos": torch.cos,
        "sqrt": torch.sqrt,
    }


@given(expressions())
def test_values_and_gradients_agree_with_torch_autograd(drawn: Drawn) -> None:
    torch = pytest.importorskip("torch")
    expression, xs = drawn
    table = torch_ops(torch)
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    torch_out = expression.evaluate_with(
        dict(zip(expression.variables, tensors, strict=True)),
        lambda op, args: table[op](*args),
        lambda c: torch.tensor(c, dtype=torch.float64),
    )
    torch_grads = torch.autograd.grad(torch_out, tensors, allow_unused=True)
    inputs = [Value(x) for x in xs]
    out = expression(*inputs)
    assert isinstance(out, Value)
    ours = [g.data for g in grad(out, inputs)]
    assert out.data == pytest.approx(torch_out.item(), rel=1e-12, abs=1e-12)
    for mine, theirs in zip(ours, torch_grads, strict=True):
        expected = 0.0 if theirs is None else theirs.item()
        assert mine == pytest.approx(expected, rel=1e-9, abs=1e-12), expression.formula


# ---- the README example ---------------------------------------------------------------------


def test_readme_example_is_the_tested_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    heading = "## Property-testing your own gradients"
    if heading not in readme:
        pytest.skip("the README section has not been added yet")
    section = readme.split(heading, 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the README section needs a python code block"
    example = (ROOT / "tests" / "test_readme_property_example.py").read_text(encoding="utf-8")
    snippet = example.split('"""', 2)[2].lstrip("\n")
    assert block.group(1) == snippet
