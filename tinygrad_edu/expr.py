r"""Safe arithmetic expressions: parse text like ``"tanh(x*w + b)"`` without ever running it.

The parser reads Python's syntax tree (:mod:`ast`) and accepts only a whitelist: numbers,
the constants ``pi`` and ``e``, variable names, ``+ - * / **``, unary minus, parentheses
and calls of one argument to ``exp log tanh sigmoid relu sin cos sqrt abs``. Anything
else (attribute access, other names called, lambda, subscripts, keyword arguments,
strings ...) raises ``ValueError`` with a one-line message. Nothing is ever passed to
``eval``, ``exec`` or ``compile``.

The result is an :class:`Expression`: a small graph of :class:`Constant`,
:class:`Variable` and :class:`Apply` nodes, where every ``Apply`` is one primitive of
:data:`tinygrad_edu.ops.OPS` (``"+"``, ``"neg"``, ``"tanh"`` ...). A node may be shared by
several parents, so an expression can be a DAG (the random expressions of
:mod:`tinygrad_edu.testing.strategies` are). The same graph can be evaluated

* on ``Value`` inputs (builds an engine graph you can ``backward()`` through),
* on floats (through Values, with the graph dropped: one code path, so floats give exactly
  the results and the errors that Values give),
* by any other backend through :meth:`Expression.evaluate_with` (the tests use PyTorch).

API::

    expression = parse_expression("tanh(x*w + b)")
    expression.variables                   # ('b', 'w', 'x'), sorted
    expression.evaluate({"x": 2.0, "w": -3.0, "b": 6.88})   # a float
    parse_assignments("x=2,w=-3,b=6.88")   # {'x': 2.0, 'w': -3.0, 'b': 6.88}
"""

from __future__ import annotations

import ast
import math
import numbers
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from tinygrad_edu.engine import Value

# The functions an expression may call: the SPEC §1 methods plus abs().
FUNCTIONS = ("exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "sqrt", "abs")
# Names that stand for numbers, as in math; they cannot be variables (--at pi=3 is refused).
CONSTANTS = {"pi": math.pi, "e": math.e}

# Limits that keep hostile input cheap: it is rejected before any arithmetic happens.
MAX_LENGTH = 500
# A sum of n terms nests n - 1 deep, so this also caps chains of + and *.
MAX_DEPTH = 100
# A constant exponent larger than this is rejected (9**9**9 would overflow any float).
MAX_CONSTANT_EXPONENT = 1024.0

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_BINARY_OPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
}
_OPERATOR_SPELLING: dict[type[ast.AST], str] = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.BitXor: "^ (use ** for powers)",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.UAdd: "unary +",
    ast.Not: "not",
    ast.Invert: "~",
}


# ---- the expression graph ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Constant:
    """A number in the expression; never receives a gradient. ``name``: "pi", "e" or ""."""

    value: float
    name: str = ""


@dataclass(frozen=True, eq=False)
class Variable:
    """A named input."""

    name: str


@dataclass(frozen=True, eq=False)
class Apply:
    """One primitive of ``ops.OPS`` (by name) applied to its argument nodes, in order."""

    op: str
    args: tuple[Node, ...]


Node: TypeAlias = Constant | Variable | Apply
T = TypeVar("T")

# How each primitive is spelled on Values (operators and methods of the engine).
_VALUE_OPS: dict[str, Callable[..., Value]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
    "sum": lambda *terms: Value.sum(terms),
    "neg": operator.neg,
    "abs": operator.abs,
    "exp": Value.exp,
    "log": Value.log,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "relu": Value.relu,
    "sin": Value.sin,
    "cos": Value.cos,
    "sqrt": Value.sqrt,
}


def topological_nodes(root: Node) -> list[Node]:
    """Every node below ``root`` once, each after all of its arguments (iterative DFS)."""
    order: list[Node] = []
    entered: set[int] = set()
    finished: set[int] = set()
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in finished:
            continue
        if id(node) in entered:
            finished.add(id(node))
            order.append(node)
            continue
        entered.add(id(node))
        stack.append(node)
        if isinstance(node, Apply):
            stack.extend(arg for arg in reversed(node.args) if id(arg) not in entered)
    return order


class Expression:
    """A parsed (or generated) expression: a DAG of primitives over named variables.

    Calling it with positional arguments binds them to :attr:`variables` in order, so
    ``Expression`` objects can be handed straight to ``gradcheck``.
    """

    def __init__(self, root: Node, variables: Sequence[str] | None = None) -> None:
        self.root = root
        self.nodes: tuple[Node, ...] = tuple(topological_nodes(root))
        used = sorted({node.name for node in self.nodes if isinstance(node, Variable)})
        # Generated expressions fix their own variable order (x0, x1, ... even if unused).
        self.variables: tuple[str, ...] = tuple(used if variables is None else variables)
        missing = set(used) - set(self.variables)
        if missing:
            raise ValueError(f"variables {sorted(missing)} are used but not declared")
        self.formula = format_formula(root)

    def __repr__(self) -> str:
        return f"Expression({self.formula!r})"

    def __str__(self) -> str:
        return self.formula

    def __call__(self, *args: Value | float) -> Value | float:
        """Evaluate with the arguments bound to :attr:`variables` in order."""
        if len(args) != len(self.variables):
            raise TypeError(
                f"this expression takes {len(self.variables)} arguments "
                f"({', '.join(self.variables)}), got {len(args)}"
            )
        return self.evaluate(dict(zip(self.variables, args, strict=True)))

    def evaluate(self, env: Mapping[str, Value | float]) -> Value | float:
        """The value at ``env``: a ``Value`` if any input is a ``Value``, else a float.

        On Values it builds an engine graph (shared nodes stay shared: a DAG). On floats it
        takes the same path, from leaves labelled with the variables' names, and returns
        the result's ``data``: every result and every error is the one Values give.
        """
        for name in self.variables:
            if name not in env:
                raise ValueError(f"no value for variable {name!r}")
            if not isinstance(env[name], Value | numbers.Real):
                raise TypeError(
                    f"variable {name!r} must be a Value or a real number, "
                    f"not {type(env[name]).__name__}"
                )
        if any(isinstance(env[name], Value) for name in self.variables):
            values = {
                name: x if isinstance(x, Value) else Value(x, requires_grad=False)
                for name, x in ((name, env[name]) for name in self.variables)
            }
            return self._on_values(values)
        # NOTE: floats go through Values too (the graph is then dropped). Two code paths
        # disagreed: x*y - x*y at x = y = 1e200 gave nan on floats, OverflowError on Values.
        leaves = {name: Value(env[name], label=name) for name in self.variables}
        return self._on_values(leaves).data

    def _on_values(self, values: Mapping[str, Value]) -> Value:
        return self.evaluate_with(
            values,
            lambda op, args: _VALUE_OPS[op](*args),
            lambda c: Value(c, requires_grad=False),
        )

    def evaluate_with(
        self,
        env: Mapping[str, T],
        apply: Callable[[str, list[T]], T],
        constant: Callable[[float], T],
    ) -> T:
        """Evaluate with any backend: ``apply(op_name, argument_values)`` per primitive.

        Each node is computed once, in topological order, so shared nodes stay shared.
        """
        results: dict[int, T] = {}
        for node in self.nodes:
            if isinstance(node, Constant):
                results[id(node)] = constant(node.value)
            elif isinstance(node, Variable):
                results[id(node)] = env[node.name]
            else:
                results[id(node)] = apply(node.op, [results[id(arg)] for arg in node.args])
        return results[id(self.root)]


# ---- printing -------------------------------------------------------------------------

# Precedence for printing with as few parentheses as Python needs to read it back.
_PRECEDENCE = {"+": 1, "-": 1, "sum": 1, "*": 2, "/": 2, "neg": 3, "**": 4}
_ATOM = 5


def _format_number(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def format_formula(root: Node) -> str:
    """The expression as Python-like text; sub-expressions used twice get a name.

    ``tanh(t0) + t0 * t0 where t0 = x0 * x1``: the text grows linearly with the graph,
    even when sharing would make the expanded formula exponentially long.
    """
    nodes = topological_nodes(root)
    uses: dict[int, int] = {}
    for node in nodes:
        if isinstance(node, Apply):
            for arg in node.args:
                uses[id(arg)] = uses.get(id(arg), 0) + 1
    texts: dict[int, tuple[str, int]] = {}  # node -> (text, precedence)
    definitions: list[str] = []
    for node in nodes:
        if isinstance(node, Constant):
            text = node.name or _format_number(node.value)
            texts[id(node)] = (text, 3 if node.value < 0 else _ATOM)
        elif isinstance(node, Variable):
            texts[id(node)] = (node.name, _ATOM)
        else:
            text, precedence = _format_apply(node, texts)
            if uses.get(id(node), 0) > 1:
                name = f"t{len(definitions)}"
                definitions.append(f"{name} = {text}")
                text, precedence = name, _ATOM
            texts[id(node)] = (text, precedence)
    formula = texts[id(root)][0]
    return f"{formula} where {', '.join(definitions)}" if definitions else formula


def _format_apply(node: Apply, texts: Mapping[int, tuple[str, int]]) -> tuple[str, int]:
    args = [texts[id(arg)] for arg in node.args]
    if node.op in FUNCTIONS:
        return f"{node.op}({args[0][0]})", _ATOM
    precedence = _PRECEDENCE[node.op]

    def wrap(arg: tuple[str, int], minimum: int) -> str:
        return arg[0] if arg[1] >= minimum else f"({arg[0]})"

    if node.op == "neg":
        # -(-x) rather than --x, which reads like a typo.
        return f"-{wrap(args[0], precedence + 1)}", precedence
    if node.op == "sum":
        return " + ".join(wrap(arg, precedence) for arg in args), precedence
    if node.op == "**":  # right-associative: the base needs more, the exponent less
        return f"{wrap(args[0], _ATOM)} ** {wrap(args[1], 3)}", precedence
    # + - * / are left-associative: a right operand of equal precedence needs parentheses.
    return f"{wrap(args[0], precedence)} {node.op} {wrap(args[1], precedence + 1)}", precedence


# ---- parsing --------------------------------------------------------------------------


def parse_expression(text: str) -> Expression:
    """Parse ``text`` into an :class:`Expression`, accepting only the whitelist.

    Raises ``ValueError`` with a one-line message for anything else, and for input longer
    than ``MAX_LENGTH`` characters or nested deeper than ``MAX_DEPTH``.
    """
    if not isinstance(text, str):
        raise TypeError(f"an expression must be a str, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"expression too long ({len(text)} characters, at most {MAX_LENGTH})")
    if not text.strip():
        raise ValueError("empty expression")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ValueError(f"syntax error in expression: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise ValueError(f"expression nested too deeply (at most {MAX_DEPTH} levels)") from None
    return Expression(_Converter().convert(tree.body, depth=0))


class _Converter:
    """Turns a whitelisted ``ast`` tree into expression nodes; one node per variable name."""

    def __init__(self) -> None:
        self.variables: dict[str, Variable] = {}

    def convert(self, node: ast.AST, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ValueError(f"expression nested too deeply (at most {MAX_DEPTH} levels)")
        if isinstance(node, ast.Constant):
            return self._number(node.value)
        if isinstance(node, ast.Name):
            return self._variable(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return Apply("neg", (self.convert(node.operand, depth + 1),))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPS:
            op = _BINARY_OPS[type(node.op)]
            left = self.convert(node.left, depth + 1)
            right = self.convert(node.right, depth + 1)
            if op == "**":
                _check_constant_exponent(right)
            return Apply(op, (left, right))
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise ValueError(f"not allowed in an expression: {_describe(node)}")

    def _number(self, value: object) -> Constant:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"not allowed in an expression: the constant {_short(repr(value))}")
        try:
            number = float(value)
        except OverflowError:
            raise ValueError(f"number too large: {_short(str(value))}") from None
        if not math.isfinite(number):
            raise ValueError(f"number too large: {_short(repr(value))}")
        return Constant(number)

    def _variable(self, name: str) -> Variable | Constant:
        if name in CONSTANTS:
            return Constant(CONSTANTS[name], name)
        if name in FUNCTIONS:
            raise ValueError(f"{name} is a function: call it as {name}(...)")
        if not _NAME.match(name):
            raise ValueError(
                f"bad variable name {_short(name)!r}: use letters, digits and _, "
                "starting with a letter"
            )
        return self.variables.setdefault(name, Variable(name))

    def _call(self, node: ast.Call, depth: int) -> Apply:
        if not isinstance(node.func, ast.Name):
            raise ValueError(f"not allowed in an expression: calling {_describe(node.func)}")
        name = node.func.id
        if name not in FUNCTIONS:
            raise ValueError(f"unknown function {_short(name)!r} (allowed: {', '.join(FUNCTIONS)})")
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise ValueError(f"{name}() takes exactly one argument, without keywords")
        return Apply(name, (self.convert(node.args[0], depth + 1),))


def _check_constant_exponent(exponent: Node) -> None:
    """Reject a huge exponent made of numbers only (``9**9**9``) before any evaluation."""
    nodes = topological_nodes(exponent)
    if any(isinstance(node, Variable) for node in nodes):
        return
    try:
        value = Expression(exponent).evaluate({})
    except (ArithmeticError, ValueError):
        raise ValueError("the exponent cannot be computed (too large or undefined)") from None
    if abs(float(value)) > MAX_CONSTANT_EXPONENT:
        raise ValueError(
            f"exponent too large: {float(value):g} (at most {MAX_CONSTANT_EXPONENT:g} in size)"
        )


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access (.{_short(node.attr)})"
    if isinstance(node, ast.BinOp | ast.UnaryOp) and type(node.op) in _OPERATOR_SPELLING:
        return f"the operator {_OPERATOR_SPELLING[type(node.op)]}"
    kinds = {
        ast.Subscript: "subscripts",
        ast.Lambda: "lambda",
        ast.Compare: "comparisons",
        ast.BoolOp: "and/or",
        ast.IfExp: "if/else",
        ast.NamedExpr: "assignment (:=)",
        ast.JoinedStr: "f-strings",
        ast.Starred: "* unpacking",
    }
    for kind, words in kinds.items():
        if isinstance(node, kind):
            return words
    if isinstance(node, ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return "comprehensions"
    return type(node).__name__


def _short(text: str, limit: int = 40) -> str:
    """User text quoted in a message: one line, bounded length."""
    text = text.replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---- assignments ----------------------------------------------------------------------


def parse_assignments(text: str) -> dict[str, float]:
    """Parse ``"x=2,w=-3,b=6.88"`` into ``{"x": 2.0, "w": -3.0, "b": 6.88}``.

    Names follow the expression rules (``pi`` and ``e`` are constants, not names);
    numbers must be finite. An empty string gives ``{}``. Raises ``ValueError`` naming the bad part.
    """
    if not isinstance(text, str):
        raise TypeError(f"assignments must be a str, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"assignments too long ({len(text)} characters, at most {MAX_LENGTH})")
    result: dict[str, float] = {}
    if not text.strip():
        return result
    for part in text.split(","):
        name, equals, number = part.partition("=")
        name, number = name.strip(), number.strip()
        if not equals or not name or not number:
            raise ValueError(f"expected name=number, got {_short(part.strip())!r}")
        if not _NAME.match(name) or name in FUNCTIONS:
            raise ValueError(f"bad variable name {_short(name)!r}")
        if name in CONSTANTS:
            raise ValueError(f"{name} is a constant ({CONSTANTS[name]!r}), not a variable")
        if name in result:
            raise ValueError(f"{name!r} is given twice")
        try:
            value = float(number)
        except ValueError:
            raise ValueError(f"bad number for {name}: {_short(number)!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"bad number for {name}: {_short(number)!r} is not finite")
        result[name] = value
    return result
