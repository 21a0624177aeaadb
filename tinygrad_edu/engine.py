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
* no silent non-finite number (SPEC §1.1): ``Value(nan)`` is refused, and a forward op, a
  local derivative or a gradient that is not finite raises, naming the op, the node's label
  and the inputs. ``backward()`` and ``grad()`` raise the same error on the same graph;
* ``no_grad`` and ``detect_anomaly`` are per thread.
"""

from __future__ import annotations

import math
import numbers
import operator
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import ContextDecorator, contextmanager
from itertools import repeat
from operator import attrgetter
from types import FrameType
from typing import Any, Union, cast

from tinygrad_edu.ops import FLOAT_FUNCTIONS, OPS, Op

Operand = Union["Value", float, int]


class _RecordSites:
    """The recording mode of ``detect_anomaly``: the graph, and where each node was made."""

    def __bool__(self) -> bool:  # it records the graph, like True
        return True


_RECORD_SITES = _RecordSites()


class _ThreadState(threading.local):
    # Class attributes are the defaults every new thread starts from.
    # What ops record: True (the graph), False (nothing: no_grad) or _RECORD_SITES. One
    # attribute, so an op reads one thread-local value (each read costs ~70 ns), not two.
    recording: bool | _RecordSites = True
    detect_anomaly = False

    def __init__(self) -> None:
        self.saved_modes: list[bool | _RecordSites] = []  # to restore, one per open no_grad


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


def _as_finite_float(data: object, what: str) -> float:
    """``data`` as a Python float; ``ValueError`` naming it if it is NaN or infinite."""
    try:
        number = _as_float(data)
    except OverflowError:  # an int or Fraction past 1.8e308; its repr may be huge
        kind = type(data).__name__
        raise ValueError(
            f"{what} must be a finite number; this {kind} is too large for a float"
        ) from None
    if not math.isfinite(number):
        converted = "" if repr(number) == repr(data) else f", {number!r} as a float"
        raise ValueError(f"{what} must be a finite number, not {data!r}{converted}")
    return number


class Value:
    """A scalar node of the computation graph: ``data``, ``grad`` and how it was made."""

    # _created_at stays unset (and costs no time) outside detect_anomaly.
    __slots__ = ("_created_at", "_op", "data", "grad", "inputs", "label", "requires_grad")

    data: float
    grad: float
    label: str
    inputs: tuple[Value, ...]
    requires_grad: bool
    _op: Op | None

    def __init__(self, data: object, label: str = "", *, requires_grad: bool = True) -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, not {type(label).__name__}")
        self.data = _as_finite_float(data, "Value data")
        self.grad = 0.0
        self.label = label
        self.inputs = ()
        self.requires_grad = bool(requires_grad)
        self._op = None
        if _state.recording is _RECORD_SITES:
            self._created_at = _creation_site()

    @property
    def op(self) -> str:
        """The primitive that made this node (``"+"``, ``"tanh"`` ...); ``""`` for a leaf."""
        return "" if self._op is None else self._op.name

    @property
    def created_at(self) -> str | None:
        """Where the user's code made this node, ``"file:line"``; noted under ``detect_anomaly``."""
        site: traceback.FrameSummary | None = getattr(self, "_created_at", None)
        return None if site is None else f"{site.filename}:{site.lineno}"

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
        if data - data != 0.0:  # an input that is not finite makes the sum inf or NaN
            raise _forward_error(OPS["sum"], inputs, data)
        # any(map(attrgetter)) runs in C: a third of the cost of a generator expression.
        if (recording := _state.recording) and any(map(_requires_grad, inputs)):
            return _graph_node(data, inputs, OPS["sum"], recording)
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
        _backward_in_place(self, _as_finite_float(gradient, "the backward() gradient"))


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


def _graph_node(
    data: float, inputs: tuple[Value, ...], op: Op, recording: bool | _RecordSites
) -> Value:
    """A node recorded in the graph; under ``detect_anomaly`` it also notes its creation site."""
    node = _new_node(data, inputs, op, True)
    if recording is _RECORD_SITES:
        node._created_at = _creation_site()
    return node


_PACKAGE_DIRECTORY = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _creation_site() -> traceback.FrameSummary | None:
    """The innermost frame of the user's code on the stack: frames of this package skipped."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIRECTORY):
            return traceback.FrameSummary(filename, frame.f_lineno, frame.f_code.co_name)
        frame = frame.f_back
    return None


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
    value = _as_finite_float(x, "a number in an expression")
    leaf = _shared_constants.get(value)
    if leaf is None:
        leaf = cast(SharedConstant, _new_node(value, (), None, False))
        leaf.__class__ = SharedConstant  # made as a plain leaf, read-only from here on
        # NOTE: zeros are never shared: 0.0 and -0.0 are one dict key but two numbers.
        if value != 0.0:
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
    # inf - inf and NaN - NaN are NaN: the cheapest test of both. A non-finite input
    # gives a non-finite result (5 / inf is 0, but ops._divide makes it NaN).
    if data - data != 0.0:
        raise _forward_error(op, (left, right), data)
    node = object.__new__(Value)
    node.data = data
    node.grad = 0.0
    node.label = ""
    if (left.requires_grad or right.requires_grad) and (recording := _state.recording):
        node.inputs, node.requires_grad, node._op = (left, right), True, op
        if recording is _RECORD_SITES:
            node._created_at = _creation_site()
    else:
        node.inputs, node.requires_grad, node._op = (), False, None
    return node


def _unary(op: Op, a: Value) -> Value:
    x = a.data
    if x - x != 0.0:  # the input too: relu(nan) is 0.0, sin(inf) a bare "math domain error"
        raise _forward_error(op, (a,), x)
    data = op.forward(x)
    if data - data != 0.0:
        raise _forward_error(op, (a,), data)
    if a.requires_grad and (recording := _state.recording):
        return _graph_node(data, (a,), op, recording)
    return _new_node(data, (), None, False)


def _forward_error(op: Op, inputs: tuple[Value, ...], result: float) -> Exception:
    """Why a forward op made a number that is not finite: a bad input, or an overflow.

    Every Value starts finite, so a non-finite input had its ``.data`` set afterwards: by
    hand, or by an optimiser step that overflowed.
    """
    values = [x.data for x in inputs]
    for position, x in enumerate(inputs, start=1):
        if not math.isfinite(x.data):
            name = f" ({x.label!r})" if x.label else ""
            return ValueError(
                f"{op.name!r} of {', '.join(map(repr, values))}: input {position}{name} is "
                f"{x.data!r}, not a finite number (set after it was made: an overflowing update?)"
            )
    shown = f" {op.name} ".join(map(repr, values))
    if len(values) != 2:
        shown = f"{op.name}({', '.join(map(repr, values))})"
    return OverflowError(f"{shown} overflows a float (result {result!r})")


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
    branch to the table's partials, bit for bit. A call that fails changes no gradient.
    """
    order = topological_order(root)
    leaves = []  # each with the .grad it had, restored if this call fails
    for node in order:
        if node.inputs:  # non-leaves hold this call's gradient only; leaves accumulate
            node.grad = 0.0
        else:
            leaves.append((node, node.grad))
    root.grad += seed
    fn = FLOAT_FUNCTIONS
    for node in reversed(order):
        op = node._op
        if op is None:  # a leaf, whose gradient is complete now
            # inf and NaN flow down every path to a leaf (inf * 0 is NaN): checking the
            # leaves finds them all, at the cost of one subtraction per leaf.
            if node.grad - node.grad != 0.0:
                raise _undo_and_explain(root, seed, order, leaves, _leaf_gradient_error(node))
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
            raise _undo_and_explain(root, seed, order, leaves, error) from None


def _undo_and_explain(
    root: Value,
    seed: float,
    order: list[Value],
    leaves: list[tuple[Value, float]],
    unexplained: Exception,
) -> Exception:
    """Put back every ``.grad`` a failed backward changed; the error that explains why.

    ``unexplained`` is raised as it is if the float arithmetic is not to blame.
    """
    for node in order:
        if node.inputs:
            node.grad = 0.0
    for leaf, earlier in leaves:
        leaf.grad = earlier
    return first_failing_step(root, seed) or unexplained


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
    under ``no_grad`` they are plain constant Values. Every Value op checks its result,
    so a step that is not finite raises here too.
    """
    grads: dict[Value, Value] = {root: seed}
    for node in reversed(topological_order(root)):
        op = node._op
        if op is None:
            continue
        out_grad = grads[node]
        partials = repeat(op.partials[0]) if op.variadic else op.partials
        for x, partial in zip(node.inputs, partials, strict=False):
            if x.requires_grad:
                local = _local_derivative(partial, _VALUE_FUNCTIONS, node.inputs, node)
                contribution = local * out_grad
                grads[x] = grads[x] + contribution if x in grads else contribution
    return grads


def first_failing_step(root: Value, seed: float = 1.0) -> Exception | None:
    """Run the chain rule again on floats, checking every step; the error for the first bad one.

    None when every step is finite: the error ``root.backward(seed)`` would raise otherwise.

    ``backward()`` and ``grad()`` both report failures through here, so they raise the same
    error on the same graph. Runs only after a failure, so it may be slow and thorough.
    """
    grads: dict[Value, float] = {root: seed}
    for node in reversed(topological_order(root)):
        op = node._op
        if op is None:
            continue
        g, args = grads[node], [x.data for x in node.inputs]
        partials = repeat(op.partials[0]) if op.variadic else op.partials
        for position, (x, partial) in enumerate(zip(node.inputs, partials, strict=False), 1):
            if not x.requires_grad:  # never computed: a constant exponent needs no d/db
                continue
            try:
                local = _checked_local(node, position, partial, args)
            except (ArithmeticError, ValueError) as error:
                return error
            earlier = grads.get(x, 0.0)
            total = earlier + g * local
            if not math.isfinite(total):  # inf and NaN propagate: one test for all three
                kind, why = _why_not_finite(local, g, earlier)
                return _step_error(kind, node, position, why)
            grads[x] = total
    return None


def _checked_local(node: Value, position: int, partial: Any, args: list[float]) -> float:
    """The local derivative of ``node`` for input ``position`` (from 1), or the step's error."""
    try:
        local = float(_local_derivative(partial, FLOAT_FUNCTIONS, args, node.data))
    except ZeroDivisionError:
        raise _step_error(ZeroDivisionError, node, position, "divides by zero") from None
    except ArithmeticError:  # float ** raises a bare (34, 'Numerical result ...')
        raise _step_error(OverflowError, node, position, "overflows a float") from None
    except ValueError as error:
        raise _step_error(ValueError, node, position, f"fails: {error}") from None
    if not math.isfinite(local):
        kind, why = _why_not_finite(local, 1.0, 0.0)
        raise _step_error(kind, node, position, why)
    return local


def _why_not_finite(local: float, g: float, earlier: float) -> tuple[type[Exception], str]:
    """Which part of ``earlier + g * local`` is not finite: the local derivative, or an overflow."""
    if math.isnan(local):
        return ValueError, "is nan"
    if math.isinf(local):
        return OverflowError, f"is {local!r}"
    if not math.isfinite(g * local):
        return OverflowError, f"{local!r} times the gradient {g!r} overflows a float"
    return (
        OverflowError,
        f"{local!r} times the gradient {g!r}, added to {earlier!r}, overflows a float",
    )


def _step_error(kind: type[Exception], node: Value, position: int, detail: str) -> Exception:
    """``kind`` saying which node's backward failed, on which input and why."""
    x = node.inputs[position - 1]
    name = f" ({x.label!r})" if x.label else ""
    where = f"backward through {_describe(node)}, input {position}{name}"
    return _anomaly_error(kind(f"{where}: its local derivative {detail}"), node)


def _leaf_gradient_error(leaf: Value) -> Exception:
    """Every step was finite, so the leaf's ``.grad`` from earlier calls made it non-finite."""
    name = f"leaf {leaf.label!r}" if leaf.label else "an unlabelled leaf"
    kind = ValueError if math.isnan(leaf.grad) else OverflowError
    error = kind(
        f"the .grad of {name} (data {leaf.data!r}) became {leaf.grad!r}: leaves add up the "
        "gradients of every backward() call, and this sum is not a finite number"
    )
    return _anomaly_error(error, leaf)


def _anomaly_error(error: Exception, node: Value) -> Exception:
    """Under ``detect_anomaly``: ``FloatingPointError`` for a non-finite gradient.

    The message already names the file and line that made ``node``; on Python 3.11+ a note
    also shows that line of code in the traceback, as PyTorch shows the forward call.
    """
    if not _state.detect_anomaly:
        return error
    if isinstance(error, ZeroDivisionError | OverflowError):
        error = FloatingPointError(f"non-finite gradient: {error}")
    site: traceback.FrameSummary | None = getattr(node, "_created_at", None)
    if site is not None and sys.version_info >= (3, 11):
        forward = "".join(traceback.format_list([site])).rstrip()
        error.add_note(f"The forward call that made this node:\n{forward}")
    return error


def local_derivatives(node: Value) -> list[float | None]:
    r"""The local derivatives :math:`\partial node / \partial x_i`, one per input, as floats.

    These are the numbers the chain rule multiplies by ``node.grad``; the renderer and the
    backward step-through show them. An input that needs no gradient (a constant) gets
    None: ``backward()`` computes nothing for it, so neither does this (``c ** 2`` at a
    negative ``c`` has no derivative with respect to the exponent, and needs none).
    A leaf has none. A derivative that ``backward()`` cannot compute raises as it does.
    """
    return [
        local_derivative(node, position) if x.requires_grad else None
        for position, x in enumerate(node.inputs)
    ]


def local_derivative(node: Value, position: int) -> float:
    r""":math:`\partial node / \partial x` for the input ``x = node.inputs[position]``, a float.

    Raises exactly as ``backward()`` would where it is not a finite number.
    """
    op = node._op
    if op is None:
        raise ValueError("a leaf has no inputs, so no local derivatives")
    partial = op.partials[0] if op.variadic else op.partials[position]
    return _checked_local(node, position + 1, partial, [x.data for x in node.inputs])


def _describe(node: Value) -> str:
    name = f"node {node.label!r}" if node.label else "an unlabelled node"
    data = ", ".join(repr(x.data) for x in node.inputs)
    site = f", made at {node.created_at}" if node.created_at else ""
    return f"{node.op!r} ({name}, inputs {data}{site})"


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
        try:
            grads = _backpropagate_values(output, seed)
        except (ArithmeticError, ValueError):
            failure = first_failing_step(output, 1.0)  # the message backward() gives
            if failure is None:  # not the float arithmetic (a planted bug): as it came
                raise
            raise failure from None
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
        _state.saved_modes.append(_state.recording)
        if not self.enabled:
            _state.recording = False
        elif _state.detect_anomaly:
            _state.recording = _RECORD_SITES
        else:
            _state.recording = True

    def __exit__(self, *exc_info: object) -> None:
        _state.recording = _state.saved_modes.pop()


def is_grad_enabled() -> bool:
    """Whether operations in this thread record a graph now (False inside ``no_grad``).

    The one grad mode both engines read: the Tensor engine asks it too.
    """
    return bool(_state.recording)


class no_grad(_GradMode):  # lower case, as PyTorch spells it
    """Context manager: operations inside record no graph (results have no inputs).

    Nests, is per thread, and one object may be entered again and again; ``@no_grad()``
    also works as a decorator. All as in PyTorch.
    """

    def __init__(self) -> None:
        super().__init__(False)


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Context manager: a non-finite gradient raises ``FloatingPointError``, showing its source.

    Inside, every new node also notes the file and line of the user's code that made it, and
    an error from ``backward()`` or ``grad()`` names the node, its label and that place, as
    PyTorch's anomaly mode shows the forward traceback. Outside, nothing is noted or paid.
    """
    previous = (_state.detect_anomaly, _state.recording)
    _state.detect_anomaly = True
    if _state.recording:  # under no_grad nothing is recorded, so no site either
        _state.recording = _RECORD_SITES
    try:
        yield
    finally:
        _state.detect_anomaly, _state.recording = previous
