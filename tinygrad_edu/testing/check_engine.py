r"""Property-test a learner's own micrograd-like engine: ``check_engine(ValueClass)``.

The class under test needs ``Value(x)``, the attributes ``data`` and ``grad``, the
operators ``+`` and ``*`` and ``backward()``. Whatever else it has (``-``, ``** 2``,
``tanh``, ``relu``, ``exp``) is found by trying it once and then tested too.

Six properties, each reported as passed or failed with the smallest failing case:

* **forward** — on random expressions (a DAG over up to three inputs, so nodes are
  reused), ``out.data`` equals the same arithmetic done on floats;
* **gradients** — after ``out.backward()`` each input's ``grad`` equals the central
  difference :math:`\frac{f(x + h) - f(x - h)}{2h}`;
* **reuse** — a node used twice receives the sum of both paths: ``a + a``, ``a * a`` and a
  diamond ``d = a * b; d * d + d``;
* **deep chain** — backward through a chain of 10,000 nodes (a recursive topological sort
  stops at Python's recursion limit, about 1,000);
* **backward twice** — a second ``backward()`` on the same graph doubles every input's
  gradient (gradients accumulate, as in PyTorch), which fails when interior nodes keep the
  first call's gradient and add to it;
* **plain numbers** — ``a + 2``, ``2 + a``, ``a * 3``, ``3 * a`` (and ``a - 1``, ``1 - a``
  when ``-`` exists) give the right value and gradient.

Random cases come from hypothesis (``find`` with a fixed seed, so a run is repeatable);
the failing case it returns is already shrunk to a small expression, printed as code the
learner can paste. The fixed cases (reuse, plain numbers) and the chain depth found by
bisection do not depend on the hypothesis version.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Verbosity, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

# Inputs of random expressions, rounded to 3 decimals so counterexamples read well.
INPUT_RANGE = 2.0
# Expressions whose intermediate values grow past this are skipped: finite differences
# there measure rounding error, not the derivative.
MAX_MAGNITUDE = 1e3
# relu inputs closer than this to its kink at 0 are skipped (no derivative to compare).
KINK_MARGIN = 1e-3
CHAIN_LENGTH = 10_000
RELATIVE_TOLERANCE = 1e-4
ABSOLUTE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class _Op:
    """One operation, as the engine spells it and as plain float arithmetic."""

    name: str
    arity: int
    on_values: Callable[..., Any]
    on_floats: Callable[..., float]
    code: str  # a format string for printing: "{0} + {1}", "{0}.tanh()"


def _relu(x: float) -> float:
    return x if x > 0 else 0.0


_CANDIDATE_OPS = (
    _Op("+", 2, lambda a, b: a + b, lambda a, b: a + b, "{0} + {1}"),
    _Op("*", 2, lambda a, b: a * b, lambda a, b: a * b, "{0} * {1}"),
    _Op("-", 2, lambda a, b: a - b, lambda a, b: a - b, "{0} - {1}"),
    _Op("** 2", 1, lambda a: a**2, lambda a: a * a, "{0} ** 2"),
    _Op("tanh", 1, lambda a: a.tanh(), math.tanh, "{0}.tanh()"),
    _Op("relu", 1, lambda a: a.relu(), _relu, "{0}.relu()"),
    _Op("exp", 1, lambda a: a.exp(), math.exp, "{0}.exp()"),
)


@dataclass
class PropertyResult:
    """Whether one property held and, if not, the smallest case found that breaks it."""

    name: str
    description: str
    passed: bool
    counterexample: str = ""  # code that reproduces the failure, when it failed
    problem: str = ""  # what went wrong on that case

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        lines = [f"{mark}  {self.name}: {self.description}"]
        if not self.passed:
            lines.append(f"      problem: {self.problem}")
            lines += [f"      | {line}" for line in self.counterexample.splitlines()]
        return "\n".join(lines)


@dataclass
class EngineReport:
    """The results of :func:`check_engine`; truthy when every property held."""

    engine: str
    ops: tuple[str, ...]
    results: list[PropertyResult] = field(default_factory=list)

    def __bool__(self) -> bool:
        return all(result.passed for result in self.results)

    def __iter__(self) -> Iterator[PropertyResult]:
        return iter(self.results)

    def __getitem__(self, name: str) -> PropertyResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no property named {name!r}; the properties are {self.names()}")

    def names(self) -> list[str]:
        """The names of all properties checked, in order."""
        return [result.name for result in self.results]

    @property
    def failed(self) -> list[str]:
        """The names of the properties that failed."""
        return [result.name for result in self.results if not result.passed]

    def _header(self) -> list[str]:
        passed = sum(result.passed for result in self.results)
        return [
            f"check_engine({self.engine}): {passed} of {len(self.results)} properties passed",
            f"ops tested: {' '.join(self.ops)}",
        ]

    def summary(self) -> str:
        """One line per property, PASS or FAIL, without the counterexamples."""
        lines = [str(result).splitlines()[0] for result in self.results]
        return "\n".join(self._header() + lines)

    def __str__(self) -> str:
        return "\n".join(self._header() + [str(result) for result in self.results])


# ---- random expressions ------------------------------------------------------------------


@dataclass(frozen=True)
class _Program:
    """A random expression as straight-line code: each step applies an op to earlier nodes."""

    inputs: tuple[float, ...]
    steps: tuple[tuple[_Op, tuple[int, ...]], ...]

    def code(self, engine: str) -> str:
        """Python lines that rebuild this expression with the engine."""
        lines = [f"x{i} = {engine}({x!r})" for i, x in enumerate(self.inputs)]
        names = [f"x{i}" for i in range(len(self.inputs))]
        for index, (op, arguments) in enumerate(self.steps):
            name = "out" if index == len(self.steps) - 1 else f"n{index}"
            lines.append(f"{name} = " + op.code.format(*(names[a] for a in arguments)))
            names.append(name)
        return "\n".join(lines)

    def on_floats(self, inputs: tuple[float, ...]) -> float | None:
        """The expression on floats, or None where it is too large or near a kink."""
        nodes = list(inputs)
        for op, arguments in self.steps:
            operands = [nodes[a] for a in arguments]
            if op.name == "relu" and abs(operands[0]) < KINK_MARGIN:
                return None
            if op.name == "exp" and operands[0] > math.log(MAX_MAGNITUDE):
                return None
            value = op.on_floats(*operands)
            if not abs(value) <= MAX_MAGNITUDE:
                return None
            nodes.append(value)
        return nodes[-1]

    def on_engine(self, engine: type) -> tuple[Any, list[Any]]:
        """The expression built from the engine's values: (output, inputs)."""
        leaves = [engine(x) for x in self.inputs]
        nodes = list(leaves)
        for op, arguments in self.steps:
            nodes.append(op.on_values(*(nodes[a] for a in arguments)))
        return nodes[-1], leaves


def _programs(ops: tuple[_Op, ...], max_steps: int = 8) -> st.SearchStrategy[_Program]:
    """Random straight-line expressions; each step may reuse any earlier node (a DAG)."""

    @st.composite
    def draw_program(draw: Any) -> _Program:
        n_inputs = draw(st.integers(1, 3))
        point = st.floats(-INPUT_RANGE, INPUT_RANGE).map(lambda x: round(x, 3))
        inputs = tuple(draw(st.lists(point, min_size=n_inputs, max_size=n_inputs)))
        steps = []
        for n_nodes in range(n_inputs, n_inputs + draw(st.integers(1, max_steps))):
            op = draw(st.sampled_from(ops))
            node = st.integers(0, n_nodes - 1)
            steps.append((op, tuple(draw(node) for _ in range(op.arity))))
        return _Program(inputs, tuple(steps))

    return draw_program()


def _close(actual: float, expected: float, relative: float = RELATIVE_TOLERANCE) -> bool:
    return abs(actual - expected) <= ABSOLUTE_TOLERANCE + relative * abs(expected)


def _central_difference(program: _Program, index: int, step: float) -> float | None:
    """(f(x + h) - f(x - h)) / 2h in input ``index``, or None if either side is skipped."""
    shifted = []
    for sign in (1, -1):
        inputs = list(program.inputs)
        inputs[index] += sign * step
        shifted.append(program.on_floats(tuple(inputs)))
    if shifted[0] is None or shifted[1] is None:
        return None
    return (shifted[0] - shifted[1]) / (2 * step)


def _forward_problem(engine: type, program: _Program) -> str | None:
    expected = program.on_floats(program.inputs)
    if expected is None:
        return None
    out, _ = program.on_engine(engine)
    if not _close(float(out.data), expected, 1e-9):
        return f"out.data is {float(out.data)!r}, float arithmetic gives {expected!r}"
    return None


def _gradient_problem(engine: type, program: _Program) -> str | None:
    if program.on_floats(program.inputs) is None:
        return None
    out, leaves = program.on_engine(engine)
    out.backward()
    for index, leaf in enumerate(leaves):
        # Two step sizes: a correct gradient matches at least one of them.
        estimates = [_central_difference(program, index, step) for step in (1e-5, 1e-6)]
        if any(estimate is None for estimate in estimates):
            return None  # a shifted point leaves the checked region
        if not any(_close(float(leaf.grad), e) for e in estimates if e is not None):
            return (
                f"x{index}.grad is {float(leaf.grad)!r}, finite differences give {estimates[0]!r}"
            )
    return None


def _backward_twice_problem(engine: type, program: _Program) -> str | None:
    if program.on_floats(program.inputs) is None:
        return None
    out, leaves = program.on_engine(engine)
    out.backward()
    once = [float(leaf.grad) for leaf in leaves]
    out.backward()
    for index, (first, leaf) in enumerate(zip(once, leaves, strict=True)):
        if not _close(float(leaf.grad), 2 * first, 1e-9):
            return (
                f"after one backward() x{index}.grad is {first!r}; after two it is "
                f"{float(leaf.grad)!r}, expected twice that: {2 * first!r}"
            )
    return None


def _with_exceptions_as_problems(
    problem: Callable[[type, _Program], str | None], engine: type
) -> Callable[[_Program], str | None]:
    """``problem`` for one engine, reporting an exception it raises as the problem."""

    def checked(program: _Program) -> str | None:
        try:
            return problem(engine, program)
        except Exception as error:  # the learner's engine may fail in any way
            return f"raised {type(error).__name__}: {error}"

    return checked


def _random_property(
    name: str,
    description: str,
    problem: Callable[[_Program], str | None],
    programs: st.SearchStrategy[_Program],
    engine_name: str,
    max_examples: int,
    backward_calls: int = 1,
) -> PropertyResult:
    """Search random expressions for one that ``problem`` objects to; shrink it; report it."""
    search_settings = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )
    try:
        smallest = find(
            programs,
            lambda program: problem(program) is not None,
            settings=search_settings,
            random=random.Random(0),  # the same cases every run
        )
    except NoSuchExample:
        return PropertyResult(name, description, passed=True)
    return PropertyResult(
        name,
        description,
        passed=False,
        counterexample=smallest.code(engine_name) + "\nout.backward()" * backward_calls,
        problem=problem(smallest) or "",
    )


# ---- fixed cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    """A small fixed expression in one input ``a`` with its known value and derivative."""

    code: str  # how it reads, e.g. "a + a"
    build: Callable[[Any], Any]
    value: Callable[[float], float]
    derivative: Callable[[float], float]


def _case_problem(engine: type, case: _Case, a: float, engine_name: str) -> str | None:
    try:
        leaf = engine(a)
        out = case.build(leaf)
        out.backward()
        data, grad = float(out.data), float(leaf.grad)
    except Exception as error:  # the learner's engine may fail in any way
        return f"raised {type(error).__name__}: {error}"
    if not _close(data, case.value(a), 1e-9):
        return f"out.data is {data!r}, expected {case.value(a)!r}"
    if not _close(grad, case.derivative(a), 1e-9):
        return f"a.grad is {grad!r}, expected {case.derivative(a)!r}"
    return None


def _fixed_cases_property(
    name: str, description: str, cases: list[_Case], engine: type, engine_name: str
) -> PropertyResult:
    """Try each case at a = 0.7; report the first one that fails."""
    a = 0.7
    for case in cases:
        problem = _case_problem(engine, case, a, engine_name)
        if problem is not None:
            code = f"a = {engine_name}({a})\nout = {case.code}\nout.backward()"
            return PropertyResult(name, description, False, code, problem)
    return PropertyResult(name, description, passed=True)


def _reuse_cases(engine: type, engine_name: str) -> list[_Case]:
    b = 1.5  # the other input of the diamond

    def diamond(a: Any) -> Any:
        d = a * engine(b)
        return d * d + d

    return [
        _Case("a + a", lambda a: a + a, lambda a: 2 * a, lambda a: 2.0),
        _Case("a * a", lambda a: a * a, lambda a: a * a, lambda a: 2 * a),
        _Case(
            f"d = a * {engine_name}({b}); out = d * d + d",
            diamond,
            lambda a: (a * b) ** 2 + a * b,
            lambda a: (2 * a * b + 1) * b,
        ),
    ]


def _number_cases(has_subtraction: bool) -> list[_Case]:
    cases = [
        _Case("a + 2", lambda a: a + 2, lambda a: a + 2, lambda a: 1.0),
        _Case("2 + a", lambda a: 2 + a, lambda a: 2 + a, lambda a: 1.0),
        _Case("a * 3", lambda a: a * 3, lambda a: a * 3, lambda a: 3.0),
        _Case("3 * a", lambda a: 3 * a, lambda a: 3 * a, lambda a: 3.0),
    ]
    if has_subtraction:
        cases += [
            _Case("a - 1", lambda a: a - 1, lambda a: a - 1, lambda a: 1.0),
            _Case("1 - a", lambda a: 1 - a, lambda a: 1 - a, lambda a: -1.0),
        ]
    return cases


def _chain_problem(engine: type, length: int) -> str | None:
    """None if backward through ``length`` additions gives x.grad == 1, else what failed."""
    try:
        x, zero = engine(0.5), engine(0.0)
        node = x
        for _ in range(length):
            node = node + zero
        node.backward()
        grad = float(x.grad)
    except Exception as error:  # RecursionError from a recursive walk, most often
        return f"raised {type(error).__name__}: {error}"
    return None if grad == 1.0 else f"x.grad is {grad!r}, expected 1.0"


def _deep_chain_property(engine: type, engine_name: str) -> PropertyResult:
    """Backward through CHAIN_LENGTH nodes; on failure, bisect for the shortest failing chain."""
    description = f"backward through a chain of {CHAIN_LENGTH:,} additions"
    problem = _chain_problem(engine, CHAIN_LENGTH)
    if problem is None:
        return PropertyResult("deep chain", description, passed=True)
    passing, failing = 0, CHAIN_LENGTH  # invariant: length `failing` fails
    while failing - passing > 1:
        middle = (passing + failing) // 2
        if _chain_problem(engine, middle) is None:
            passing = middle
        else:
            failing = middle
    code = (
        f"x, zero = {engine_name}(0.5), {engine_name}(0.0)\nnode = x\n"
        f"for _ in range({failing}):\n    node = node + zero\nnode.backward()"
    )
    problem = _chain_problem(engine, failing) or problem
    return PropertyResult(
        "deep chain",
        description,
        False,
        code,
        f"{problem} (the shortest failing chain has {failing:,} nodes)",
    )


# ---- the check ---------------------------------------------------------------------------


def _supported_ops(engine: type) -> tuple[_Op, ...]:
    """The candidate ops the engine can do: each is tried once on small values."""
    supported = []
    for op in _CANDIDATE_OPS:
        try:
            op.on_values(*(engine(0.5) for _ in range(op.arity))).data  # noqa: B018
        except Exception:  # not supported, in whatever way the engine says so
            continue
        supported.append(op)
    return tuple(supported)


def check_engine(engine: type, *, max_examples: int = 200) -> EngineReport:
    """Property-test a micrograd-like ``Value`` class; return a report of each property.

    ``max_examples`` bounds the random expressions tried per random property.
    """
    engine_name = getattr(engine, "__name__", "Value")
    ops = _supported_ops(engine)
    report = EngineReport(engine_name, tuple(op.name for op in ops))
    if not {"+", "*"} <= {op.name for op in ops}:
        report.results.append(
            PropertyResult(
                "basic ops",
                "Value(a) + Value(b) and Value(a) * Value(b) work",
                False,
                f"a, b = {engine_name}(0.5), {engine_name}(0.5)\nout = a + b\nout = a * b",
                "+ or * raised an exception or returned something without .data",
            )
        )
        return report
    programs = _programs(ops)
    random_properties = [
        # name, description, the check, backward() calls to show in the counterexample
        ("forward", "out.data matches float arithmetic on random expressions", _forward_problem, 0),
        (
            "gradients",
            "input gradients match central differences on random expressions",
            _gradient_problem,
            1,
        ),
    ]
    for name, description, problem, calls in random_properties:
        checked = _with_exceptions_as_problems(problem, engine)
        report.results.append(
            _random_property(name, description, checked, programs, engine_name, max_examples, calls)
        )
    report.results.append(
        _fixed_cases_property(
            "reuse",
            "a node used twice gets the sum of both paths (a + a, a * a, a diamond)",
            _reuse_cases(engine, engine_name),
            engine,
            engine_name,
        )
    )
    report.results.append(_deep_chain_property(engine, engine_name))
    twice = _with_exceptions_as_problems(_backward_twice_problem, engine)
    report.results.append(
        _random_property(
            "backward twice",
            "a second backward() doubles each input's gradient (they accumulate)",
            twice,
            programs,
            engine_name,
            max_examples,
            backward_calls=2,
        )
    )
    has_subtraction = "-" in report.ops
    report.results.append(
        _fixed_cases_property(
            "plain numbers",
            "numbers mix in on either side: a + 2, 2 + a, a * 3, 3 * a"
            + (", a - 1, 1 - a" if has_subtraction else ""),
            _number_cases(has_subtraction),
            engine,
            engine_name,
        )
    )
    return report
