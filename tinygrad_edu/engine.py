r"""The ``Value`` node and the chain rule: graph recording, backward, ``grad``, ``no_grad``.

Every arithmetic operation on a ``Value`` makes a new node that remembers its ``inputs``
and its primitive op from :mod:`tinygrad_edu.ops`. ``backward()`` visits the nodes in
reverse topological order and applies the chain rule once per edge:

.. math:: \frac{\partial L}{\partial x_i} \mathrel{+}= \frac{\partial out}{\partial x_i}
          \cdot \frac{\partial L}{\partial out}

Design choices a PyTorch user would expect:

* a plain number mixed into an expression becomes a *constant* leaf (``requires_grad``
  false); it is part of the graph (it is drawn) but receives no gradient. All uses of a
  number share one read-only leaf (:class:`SharedConstant`);
* leaves accumulate ``grad`` across ``backward()`` calls; every other node holds the
  gradient of the latest call only;
* ``no_grad`` and ``detect_anomaly`` are per thread.
"""

from __future__ import annotations

import math
import numbers
import operator
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import ContextDecorator, contextmanager
from itertools import repeat
from operator import attrgetter
from typing import Any, Union, cast

from tinygrad_edu.ops import FLOAT_FUNCTIONS, OPS, Op

Operand = Union["Value", float, int]


class _ThreadState(threading.local):
    # Class attributes are the defaults every new thread starts from.
    grad_enabled = True
    detect_anomaly = False

    def __init__(self) -> None:
        self.saved_modes: list[bool] = []  # grad modes to restore, one per open no_grad


_state = _ThreadState()
_requires_grad = attrgetter("requires_grad")


def _as_float(data: object) -> float:
    """Convert a real number (int, float, bool, numpy real scalar) to a Python float."""
    if type(data) is float:  # the common case, without the slower ABC check below
        return data
    if isinstance(data, numbers.Real):
        return float(data)
    # numpy.bool_ is not registered as numbers.Real; accept numpy's real scalar kinds.
    kind = getattr(getattr(data, "dtype", None), "kind", "")
    if type(data).__module__ == "numpy" and getattr(data, "ndim", None) == 0 and kind in "biuf":
        return float(data)  # type: ignore[arg-type]
    raise TypeError(
        "Value data must be a real number (int, float, bool or numpy real scalar), "
        f"not {type(data).__name__}"
    )


class Value:
    """A scalar node of the computation graph: ``data``, ``grad`` and how it was made."""

    __slots__ = ("_op", "data", "grad", "inputs", "label", "requires_grad")

    data: float
    grad: float
    label: str
    inputs: tuple[Value, ...]
    requires_grad: bool
    _op: Op | None

    def __init__(self, data: object, label: str = "", *, requires_grad: bool = True) -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, not {type(label).__name__}")
        self.data = _as_float(data)
        self.grad = 0.0
        self.label = label
        self.inputs = ()
        self.requires_grad = bool(requires_grad)
        self._op = None

    @property
    def op(self) -> str:
        """The primitive that made this node (``"+"``, ``"tanh"`` ...); ``""`` for a leaf."""
        return "" if self._op is None else self._op.name

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{label})"

    def __float__(self) -> float:
        return self.data

    # Ordering compares data (handy for relu-style branches and max()). There is
    # deliberately no __eq__: Values are graph nodes, equal only to themselves.
    def __lt__(self, other: Operand) -> bool:
        return _compare(operator.lt, self, other)

    def __le__(self, other: Operand) -> bool:
        return _compare(operator.le, self, other)

    def __gt__(self, other: Operand) -> bool:
        return _compare(operator.gt, self, other)

    def __ge__(self, other: Operand) -> bool:
        return _compare(operator.ge, self, other)

    __hash__ = object.__hash__

    # ---- operators: each is one primitive of ops.OPS --------------------------------

    def __add__(self, other: Operand) -> Value:
        return _binary(OPS["+"], self, other)

    def __radd__(self, other: Operand) -> Value:
        return _binary(OPS["+"], other, self)

    def __sub__(self, other: Operand) -> Value:
        return _binary(OPS["-"], self, other)

    def __rsub__(self, other: Operand) -> Value:
        return _binary(OPS["-"], other, self)

    def __mul__(self, other: Operand) -> Value:
        return _binary(OPS["*"], self, other)

    def __rmul__(self, other: Operand) -> Value:
        return _binary(OPS["*"], other, self)

    def __truediv__(self, other: Operand) -> Value:
        return _binary(OPS["/"], self, other)

    def __rtruediv__(self, other: Operand) -> Value:
        return _binary(OPS["/"], other, self)

    def __pow__(self, other: Operand) -> Value:
        r"""``a ** b``; with a ``Value`` exponent, :math:`\partial/\partial b = a^b \ln a`."""
        return _binary(OPS["**"], self, other)

    def __rpow__(self, other: Operand) -> Value:
        return _binary(OPS["**"], other, self)

    def __neg__(self) -> Value:
        return _unary(OPS["neg"], self)

    def __abs__(self) -> Value:
        return _unary(OPS["abs"], self)

    # ---- elementary functions ----------------------------------------------------------

    def exp(self) -> Value:
        r""":math:`e^x`; ``OverflowError`` above about 709.78."""
        return _unary(OPS["exp"], self)

    def log(self) -> Value:
        r"""Natural logarithm :math:`\ln x`; ``ValueError`` for :math:`x \le 0`."""
        return _unary(OPS["log"], self)

    def tanh(self) -> Value:
        r""":math:`\tanh x`, with derivative :math:`1 - \tanh^2 x`."""
        return _unary(OPS["tanh"], self)

    def sigmoid(self) -> Value:
        r""":math:`\sigma(x) = 1 / (1 + e^{-x})`, stable for any finite x."""
        return _unary(OPS["sigmoid"], self)

    def relu(self) -> Value:
        r""":math:`\max(0, x)`; its derivative at 0 is taken as 0."""
        return _unary(OPS["relu"], self)

    def sin(self) -> Value:
        r""":math:`\sin x`."""
        return _unary(OPS["sin"], self)

    def cos(self) -> Value:
        r""":math:`\cos x`."""
        return _unary(OPS["cos"], self)

    def sqrt(self) -> Value:
        r""":math:`\sqrt{x}`; ``ValueError`` for :math:`x < 0`."""
        return _unary(OPS["sqrt"], self)

    @staticmethod
    def sum(terms: Iterable[Operand]) -> Value:
        r""":math:`\sum_i x_i` as one node with n inputs (not a chain of n - 1 additions).

        Each input's local derivative is 1. An empty sum is the constant 0.
        """
        inputs = _lift_all(terms)
        data = OPS["sum"].forward(*[x.data for x in inputs])
        # any(map(attrgetter)) runs in C: a third of the cost of a generator expression.
        if _state.grad_enabled and any(map(_requires_grad, inputs)):
            return _new_node(data, inputs, OPS["sum"], True)
        return _new_node(data, (), None, False)

    # ---- backward ------------------------------------------------------------------------

    def backward(self, gradient: float = 1.0) -> None:
        r"""Fill ``.grad`` of every node below this one with :math:`\partial self/\partial node`.

        ``gradient`` is the seed :math:`\partial L / \partial self`. Leaves accumulate across
        calls (as in PyTorch); every other node holds the gradient of this call only.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a Value that does not require grad "
                "(it was made under no_grad or from constants only)"
            )
        _backward_in_place(self, _as_float(gradient))


def _new_node(data: float, inputs: tuple[Value, ...], op: Op | None, requires_grad: bool) -> Value:
    # Bypasses __init__'s checks: data is already a float made by an op's forward rule.
    node = object.__new__(Value)
    node.data = data
    node.grad = 0.0
    node.label = ""
    node.inputs = inputs
    node.requires_grad = requires_grad
    node._op = op
    return node


def _lift(x: object) -> Value | None:
    """A Value as is, a real number as a constant leaf, anything else None."""
    if isinstance(x, Value):
        return x
    if type(x) is float:  # x * 2.0: skipping two calls saves ~8% of the whole op
        leaf = _shared_constants.get(x)
        if leaf is not None:
            return leaf
    try:
        return _constant(x)
    except TypeError:
        return None


def _compare(relation: Callable[[float, float], bool], a: Value, b: object) -> bool:
    """``relation`` on the data; other types (a str, None) get Python's TypeError."""
    if isinstance(b, Value):
        return relation(a.data, b.data)
    try:
        return relation(a.data, _as_float(b))
    except TypeError:
        return NotImplemented  # type: ignore[no-any-return]


def _lift_all(terms: Iterable[object]) -> tuple[Value, ...]:
    """The terms as Values: plain numbers become constant leaves, other types TypeError."""
    inputs = tuple(terms)
    for term in inputs:  # a scan first: rebuilding only when needed made Value.sum 30% faster
        if not isinstance(term, Value):
            return tuple([t if isinstance(t, Value) else _constant(t) for t in inputs])
    return cast(tuple[Value, ...], inputs)


class SharedConstant(Value):
    """The constant leaf for a plain number in an expression, shared by all its uses.

    Every ``x * 2.0`` points at the same ``2.0`` leaf: a chain ``x * 1.0001 + 0.5`` then
    keeps two GC-tracked objects per node, not three (1e6-node chain forward 2.9 -> 2.0 s).
    It is read-only, since a change would reach every expression that uses the number.
    PyTorch records no node for such numbers; micrograd makes a new one for every use.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(
            f"the constant {self.data!r} is shared by every expression that uses it, so it "
            "is read-only; make your own with Value(x, requires_grad=False)"
        )


_shared_constants: dict[float, SharedConstant] = {}
_MAX_SHARED_CONSTANTS = 4096  # a bound, so x * random() in a loop cannot grow it forever


def _constant(x: object) -> SharedConstant:
    """The shared constant leaf (no gradient, read-only) holding the real number ``x``."""
    value = _as_float(x)
    leaf = _shared_constants.get(value)
    if leaf is None:
        leaf = cast(SharedConstant, _new_node(value, (), None, False))
        leaf.__class__ = SharedConstant  # made as a plain leaf, read-only from here on
        # NOTE: zeros are never shared: 0.0 and -0.0 are one dict key but two numbers.
        if value != 0.0 and not math.isnan(value):
            if len(_shared_constants) >= _MAX_SHARED_CONSTANTS:
                _shared_constants.clear()
            _shared_constants[value] = leaf
    return leaf


def _binary(op: Op, a: object, b: object) -> Value:
    # isinstance first: skipping the _lift call for Values makes forward 10% faster.
    left = a if isinstance(a, Value) else _lift(a)
    right = b if isinstance(b, Value) else _lift(b)
    if left is None or right is None:
        # Lets Python try the other operand, then raise its TypeError naming both types.
        return NotImplemented  # type: ignore[no-any-return]
    # _new_node inlined: this is the hottest function of a forward pass (20% faster).
    data = op.forward(left.data, right.data)
    if data - data != 0.0:  # inf or NaN; the subtraction is the cheapest test of both
        _check_overflow(op, left.data, right.data, data)
    node = object.__new__(Value)
    node.data = data
    node.grad = 0.0
    node.label = ""
    if (left.requires_grad or right.requires_grad) and _state.grad_enabled:
        node.inputs, node.requires_grad, node._op = (left, right), True, op
    else:
        node.inputs, node.requires_grad, node._op = (), False, None
    return node


def _check_overflow(op: Op, a: float, b: float, out: float) -> None:
    """Finite inputs with a non-finite result: a float overflowed. Say so, never a silent inf.

    Non-finite inputs (a ``Value(math.inf)`` the user made) pass through, as in PyTorch.
    """
    if math.isfinite(a) and math.isfinite(b):
        raise OverflowError(f"{a!r} {op.name} {b!r} overflows a float (result {out!r})")


def _unary(op: Op, a: Value) -> Value:
    data = op.forward(a.data)
    if a.requires_grad and _state.grad_enabled:
        return _new_node(data, (a,), op, True)
    return _new_node(data, (), None, False)


# ---- the chain rule ---------------------------------------------------------------------


def topological_order(root: Value) -> list[Value]:
    """Nodes below ``root`` that need a gradient, every node after all of its inputs.

    Iterative depth-first search, so a million-node chain needs no recursion. Entering a
    node pushes it back with a ``None`` marker above it, then its inputs; when the marker
    comes off the stack, everything above it is placed, so the node is placed too. The
    stack holds only nodes and markers: a tuple or iterator per pending node made the
    garbage collector rescan them, and backward ns/node grew 3x from 1e4 to 1e6 nodes.
    """
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Value | None] = [root]
    while stack:
        node = stack.pop()
        if node is None:  # the marker: all inputs of the node below it are placed
            order.append(cast(Value, stack.pop()))
        elif node not in visited:
            visited.add(node)
            stack.append(node)
            stack.append(None)
            # Pushed first-to-last, so the last input is placed first and backward (which
            # runs this order in reverse) handles the first argument's branch first.
            for x in node.inputs:
                if x.requires_grad and x not in visited:
                    stack.append(x)
    return order


_MULTIPLY = OPS["*"]  # most nodes of a network are products w * x; backward inlines them


def _backward_in_place(root: Value, seed: float) -> None:
    """The chain rule on floats, written straight into ``.grad``: the fast path.

    Unrolled by arity (many, two or one inputs): three times faster than the generic
    ``zip(inputs, partials)`` loop of ``_backpropagate_values`` (measured on an MLP step).
    Products, most of a network's nodes, are written out in full; a test holds every
    branch to the table's partials, bit for bit.
    """
    order = topological_order(root)
    for node in order:
        if node.inputs:  # non-leaves hold this call's gradient only; leaves accumulate
            node.grad = 0.0
    root.grad += seed
    check_finite = _state.detect_anomaly
    fn = FLOAT_FUNCTIONS
    for node in reversed(order):
        op = node._op
        if op is None:
            continue
        g, out, inputs = node.grad, node.data, node.inputs  # g is d root / d node
        # Each partial da, db is a constant float or a function of (inputs, out).
        try:
            if op is _MULTIPLY:  # d(ab)/da = b, d(ab)/db = a, no call: MLP backward -15%
                a, b = inputs
                if a.requires_grad:
                    a.grad += g * b.data
                if b.requires_grad:
                    b.grad += g * a.data
            elif op.variadic:  # a sum: one constant partial for every input
                contribution = g * op.partials[0]  # type: ignore[operator]
                for x in inputs:
                    if x.requires_grad:
                        x.grad += contribution
            elif len(inputs) == 2:
                a, b = inputs
                da, db = op.partials
                if a.requires_grad:
                    a.grad += g * (da if isinstance(da, float) else da(fn, a.data, b.data, out))
                if b.requires_grad:
                    b.grad += g * (db if isinstance(db, float) else db(fn, a.data, b.data, out))
            else:
                (a,) = inputs
                (da,) = op.partials
                if a.requires_grad:
                    a.grad += g * (da if isinstance(da, float) else da(fn, a.data, out))
        except (ArithmeticError, ValueError) as error:
            raise _backward_error(error, node) from error
        if check_finite:
            for x in inputs:
                _check_finite(x.grad, node)


class _ValueFunctions:
    """The functions a partial may call, on Values (the ``grad()`` path)."""

    cos = staticmethod(Value.cos)
    sin = staticmethod(Value.sin)
    log = staticmethod(Value.log)


_VALUE_FUNCTIONS = _ValueFunctions()


def _local_derivative(partial: Any, functions: Any, args: Any, out: Any) -> Any:
    # A partial is a number when the derivative is constant (d(a+b)/da = 1).
    return partial if isinstance(partial, float) else partial(functions, *args, out)


def _backpropagate_values(root: Value, seed: Value) -> dict[Value, Value]:
    """The same chain rule with Values, kept in a dict so no ``.grad`` changes.

    Under grad mode the gradients are recorded in the graph (differentiable again);
    under ``no_grad`` they are plain constant Values.
    """
    check_finite = _state.detect_anomaly
    grads: dict[Value, Value] = {root: seed}
    for node in reversed(topological_order(root)):
        op = node._op
        if op is None:
            continue
        out_grad = grads[node]
        partials = repeat(op.partials[0]) if op.variadic else op.partials
        for x, partial in zip(node.inputs, partials, strict=False):
            if x.requires_grad:
                try:
                    local = _local_derivative(partial, _VALUE_FUNCTIONS, node.inputs, node)
                except (ArithmeticError, ValueError) as error:
                    raise _backward_error(error, node) from error
                contribution = local * out_grad
                if check_finite:
                    _check_finite(contribution.data, node)
                grads[x] = grads[x] + contribution if x in grads else contribution
    return grads


def _backward_error(error: Exception, node: Value) -> Exception:
    """The same exception type, saying which node's backward failed.

    Under ``detect_anomaly`` an infinite local derivative (``sqrt`` at 0 divides by zero,
    where PyTorch makes ``inf``) is the non-finite gradient it promises to report.
    """
    if _state.detect_anomaly and isinstance(error, ZeroDivisionError | OverflowError):
        return FloatingPointError(
            f"non-finite gradient from the backward of {_describe(node)}: {error}"
        )
    return type(error)(f"backward through {_describe(node)}: {error}")


def local_derivatives(node: Value) -> list[float | None]:
    r"""The local derivatives :math:`\partial node / \partial x_i`, one per input, as floats.

    These are the numbers the chain rule multiplies by ``node.grad``; the renderer and the
    backward step-through show them. An input that needs no gradient (a constant) gets
    None: ``backward()`` computes nothing for it, so neither does this (``c ** 2`` at a
    negative ``c`` has no derivative with respect to the exponent, and needs none).
    A leaf has none. A derivative that ``backward()`` cannot compute raises as it does.
    """
    op = node._op
    if op is None:
        return []
    args = [x.data for x in node.inputs]
    partials = repeat(op.partials[0]) if op.variadic else op.partials
    try:
        return [
            _local_derivative(partial, FLOAT_FUNCTIONS, args, node.data)
            if x.requires_grad
            else None
            for x, partial in zip(node.inputs, partials, strict=False)
        ]
    except (ArithmeticError, ValueError) as error:
        raise _backward_error(error, node) from error


def _check_finite(gradient: float, node: Value) -> None:
    if not math.isfinite(gradient):
        raise FloatingPointError(
            f"non-finite gradient {gradient!r} from the backward of {_describe(node)}"
        )


def _describe(node: Value) -> str:
    name = f"node {node.label!r}" if node.label else "an unlabelled node"
    data = ", ".join(repr(x.data) for x in node.inputs)
    return f"{node.op!r} ({name}, inputs {data})"


def grad(output: Value, inputs: Iterable[Value], create_graph: bool = False) -> list[Value]:
    r"""Return :math:`\partial output / \partial x` for each ``x`` in ``inputs``.

    Leaves every ``.grad`` untouched. With ``create_graph=True`` the results are Values
    recorded in the graph, so they can be differentiated again (second derivatives,
    Hessian-vector products). An input that does not reach ``output`` gets ``Value(0.0)``.
    """
    inputs = list(inputs)
    for x in inputs:
        if not isinstance(x, Value):
            raise TypeError(f"grad() inputs must be Values, not {type(x).__name__}")
    if not isinstance(output, Value):
        raise TypeError(f"grad() output must be a Value, not {type(output).__name__}")
    seed = Value(1.0, requires_grad=False)
    with _GradMode(create_graph):
        grads = _backpropagate_values(output, seed)
    result = []
    for x in inputs:
        g = grads.get(x)
        if g is None:
            result.append(Value(0.0))
        elif create_graph:
            result.append(g)
        else:
            result.append(Value(g.data))
    return result


class _GradMode(ContextDecorator):
    """Record a graph or not inside the block; the previous mode comes back at its end."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        # A per-thread stack, not an attribute of self: one object may be entered again.
        _state.saved_modes.append(_state.grad_enabled)
        _state.grad_enabled = self.enabled

    def __exit__(self, *exc_info: object) -> None:
        _state.grad_enabled = _state.saved_modes.pop()


class no_grad(_GradMode):  # lower case, as PyTorch spells it
    """Context manager: operations inside record no graph (results have no inputs).

    Nests, is per thread, and one object may be entered again and again; ``@no_grad()``
    also works as a decorator. All as in PyTorch.
    """

    def __init__(self) -> None:
        super().__init__(False)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Context manager: a backward step that makes a non-finite gradient raises.

    The ``FloatingPointError`` names the op and the node's label.
    """
    previous = _state.detect_anomaly
    _state.detect_anomaly = True
    try:
        yield
    finally:
        _state.detect_anomaly = previous
