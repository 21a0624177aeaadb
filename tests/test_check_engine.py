"""check_engine finds the known faults of real and planted engines, and passes correct ones.

The engines below are the ~30-line engine a learner writes in notebook 03, correct and
with one planted bug each; micrograd 0.1.0 is the real engine with known faults.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from tinygrad_edu import Value
from tinygrad_edu.testing import EngineReport, check_engine

ALL_PROPERTIES = [
    "forward",
    "gradients",
    "reuse",
    "deep chain",
    "backward twice",
    "plain numbers",
]
# Fewer random expressions than the default keep the suite quick; every planted bug
# below is still found (the tests prove it).
EXAMPLES = 100


def make_engine(
    *,
    accumulate: bool = True,
    tanh_derivative: Callable[[float], float] = lambda t: 1 - t * t,
    recursive: bool = False,
    reset_interior: bool = True,
    numbers: bool = True,
) -> type:
    """A small learner's engine (+, *, tanh, backward); the flags plant one bug each."""

    class Tiny:
        def __init__(self, data: float, inputs: tuple[Any, ...] = ()) -> None:
            self.data, self.grad, self.inputs = data, 0.0, inputs
            self.local: tuple[float, ...] = ()  # d self / d input, per input

        def _wrap(self, other: Any) -> Any:
            if isinstance(other, Tiny):
                return other
            if not numbers:
                raise TypeError("only Tiny values")
            return Tiny(other)

        def __add__(self, other: Any) -> Any:
            other = self._wrap(other)
            out = Tiny(self.data + other.data, (self, other))
            out.local = (1.0, 1.0)
            return out

        def __mul__(self, other: Any) -> Any:
            other = self._wrap(other)
            out = Tiny(self.data * other.data, (self, other))
            out.local = (other.data, self.data)
            return out

        __radd__ = __add__
        __rmul__ = __mul__

        def tanh(self) -> Any:
            out = Tiny(math.tanh(self.data), (self,))
            out.local = (tanh_derivative(out.data),)
            return out

        def backward(self) -> None:
            order: list[Any] = []
            seen: set[int] = set()
            if recursive:

                def visit(node: Any) -> None:
                    if id(node) not in seen:
                        seen.add(id(node))
                        for child in node.inputs:
                            visit(child)
                        order.append(node)

                visit(self)
            else:
                stack = [(self, False)]
                while stack:
                    node, expanded = stack.pop()
                    if expanded:
                        order.append(node)
                    elif id(node) not in seen:
                        seen.add(id(node))
                        stack.append((node, True))
                        stack.extend((child, False) for child in node.inputs)
            if reset_interior:
                for node in order:
                    if node.inputs:
                        node.grad = 0.0
            self.grad = 1.0
            for node in reversed(order):
                for child, local in zip(node.inputs, node.local, strict=True):
                    if accumulate:
                        child.grad += local * node.grad
                    else:
                        child.grad = local * node.grad  # the planted `=` bug

    return Tiny


def failed(report: EngineReport) -> set[str]:
    return set(report.failed)


def test_tinygrad_edu_value_passes_every_property() -> None:
    report = check_engine(Value, max_examples=EXAMPLES)
    assert report.names() == ALL_PROPERTIES
    assert bool(report), str(report)
    assert set(report.ops) >= {"+", "*", "-", "tanh", "relu", "exp"}


def test_a_correct_learner_engine_passes_every_property() -> None:
    report = check_engine(make_engine(), max_examples=EXAMPLES)
    assert report, str(report)
    assert report.ops == ("+", "*", "tanh")


def test_micrograd_fails_exactly_on_recursion_depth_and_repeated_backward() -> None:
    engine = pytest.importorskip("micrograd.engine").Value
    report = check_engine(engine, max_examples=EXAMPLES)
    assert failed(report) == {"deep chain", "backward twice"}, str(report)
    assert "RecursionError" in report["deep chain"].problem
    twice = report["backward twice"]
    assert twice.counterexample.count("out.backward()") == 2
    assert "expected twice that" in twice.problem


def test_assigning_instead_of_accumulating_is_caught_with_a_small_counterexample() -> None:
    report = check_engine(make_engine(accumulate=False), max_examples=EXAMPLES)
    assert {"gradients", "reuse"} <= failed(report)
    assert "forward" not in failed(report)
    reuse = report["reuse"]
    assert "out = a + a" in reuse.counterexample
    assert reuse.problem == "a.grad is 1.0, expected 2.0"
    # hypothesis shrinks the random expression to a few lines
    assert len(report["gradients"].counterexample.splitlines()) <= 6


def test_a_wrong_tanh_derivative_is_caught_only_by_the_gradient_property() -> None:
    report = check_engine(make_engine(tanh_derivative=lambda t: 1 - t), max_examples=EXAMPLES)
    assert failed(report) == {"gradients"}, str(report)
    assert ".tanh()" in report["gradients"].counterexample
    assert "finite differences give" in report["gradients"].problem


def test_a_recursive_topological_sort_fails_the_deep_chain_and_says_where() -> None:
    report = check_engine(make_engine(recursive=True), max_examples=EXAMPLES)
    assert failed(report) == {"deep chain"}
    result = report["deep chain"]
    shortest = int(result.problem.split("has ")[1].split(" nodes")[0].replace(",", ""))
    assert 100 < shortest < 10_000  # near the recursion limit, found by bisection
    assert f"range({shortest})" in result.counterexample


def test_interior_gradients_kept_between_calls_fail_backward_twice() -> None:
    report = check_engine(make_engine(reset_interior=False), max_examples=EXAMPLES)
    assert failed(report) == {"backward twice"}


def test_an_engine_refusing_plain_numbers_fails_that_property_only() -> None:
    report = check_engine(make_engine(numbers=False), max_examples=EXAMPLES)
    # the deep chain and the random expressions use Values only, so they still pass
    assert failed(report) == {"plain numbers"}
    assert "raised TypeError" in report["plain numbers"].problem
    assert "out = a + 2" in report["plain numbers"].counterexample


def test_an_engine_without_multiplication_gets_one_clear_failure() -> None:
    class AddOnly:
        def __init__(self, data: float) -> None:
            self.data, self.grad = data, 0.0

        def __add__(self, other: Any) -> Any:
            return AddOnly(self.data + other.data)

    report = check_engine(AddOnly)
    assert report.names() == ["basic ops"]
    assert not report


def test_the_report_reads_well_and_is_the_same_every_run() -> None:
    engine = make_engine(accumulate=False)
    first = str(check_engine(engine, max_examples=EXAMPLES))
    assert first == str(check_engine(engine, max_examples=EXAMPLES))
    lines = first.splitlines()
    assert lines[0] == "check_engine(Tiny): 3 of 6 properties passed"
    assert lines[1] == "ops tested: + * tanh"
    assert "FAIL  reuse: a node used twice gets the sum of both paths" in first
    assert "      | out = a + a" in first
    summary = check_engine(engine, max_examples=EXAMPLES).summary().splitlines()
    assert summary == [line for line in lines if not line.startswith("      ")]
    with pytest.raises(KeyError, match="no property named 'speed'"):
        check_engine(make_engine(), max_examples=10)["speed"]
