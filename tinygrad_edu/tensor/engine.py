r"""The ``Tensor`` node and the chain rule, batched: ``engine.py`` one level up.

A ``Tensor`` holds a float64 numpy array. Every operation makes a new node that remembers
its ``inputs`` and its primitive from :mod:`tinygrad_edu.tensor.ops`. ``backward()``
visits the nodes in the same reverse topological order as the scalar engine (the very
same function) and applies the chain rule once per edge, with whole arrays:

.. math:: \bar x_i \mathrel{+}= \mathrm{vjp}_i(\bar{out}), \qquad
          \bar x = \partial L / \partial x \text{ (same shape as } x)

Numpy broadcasting (a bias vector added to every row) is undone in one place,
:func:`unbroadcast`: an input that was stretched along an axis receives the sum of the
gradient along it. Grad mode is the scalar engine's: ``with no_grad()`` stops both.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any, Union, cast

import numpy as np
import numpy.typing as npt

from tinygrad_edu.engine import is_grad_enabled, topological_order
from tinygrad_edu.tensor.ops import TENSOR_OPS, Array, Local, TensorOp, first_failure

Operand = Union["Tensor", npt.ArrayLike]


def _as_array(data: object) -> Array:
    """``data`` as a new float64 array; only real numbers, and only finite ones."""
    # np.ndarray first: isinstance stops there, before the slower numbers.Real ABC check.
    if isinstance(data, Tensor) or not isinstance(data, np.ndarray | numbers.Real | list | tuple):
        raise TypeError(
            f"Tensor data must be real numbers (an array, list or number), "
            f"not {type(data).__name__}"
        )
    raw = np.asarray(data)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"Tensor data must be real numbers, not an array of {raw.dtype}")
    array = np.array(raw, dtype=np.float64)  # a copy: the caller's array stays theirs
    if not _all_finite(array):
        bad = ~np.isfinite(array)
        raise ValueError(f"Tensor data must be finite: {first_failure(bad, 'NaN or inf')}")
    return _frozen(array)


def _frozen(array: Array) -> Array:
    """``array``, made read-only: every array a Tensor holds is, so none changes unchecked."""
    array.setflags(write=False)  # twice as fast as array.flags.writeable = False
    return array


class Tensor:
    """A node of the graph holding an array: ``data``, ``grad`` and how it was made."""

    __slots__ = ("_data", "_grad", "_op", "_params", "inputs", "label", "requires_grad")
    __array_ufunc__ = None  # numpy then hands `array + tensor` to Tensor.__radd__

    inputs: tuple[Tensor, ...]
    label: str
    requires_grad: bool
    _op: TensorOp | None
    _params: dict[str, Any]
    _grad: Array | None  # made on first use: most nodes of a forward pass never need one

    def __init__(self, data: object, label: str = "", *, requires_grad: bool = True) -> None:
        if not isinstance(label, str):
            raise TypeError(f"Tensor label must be a str, not {type(label).__name__}")
        self._data = _as_array(data)
        self._grad = None
        self.label = label
        self.inputs = ()
        self.requires_grad = bool(requires_grad)
        self._op = None
        self._params = {}

    # NOTE: data and grad are read-only arrays, replaced whole by their setters after a
    # check, never written into: `p.data += big` cannot overflow in place, a reshape or .T
    # may share its input's array, and a gradient kept by an optimiser keeps its numbers.
    @property
    def data(self) -> Array:
        """The values, a read-only float64 array; ``p.data = new`` replaces them, checked."""
        return self._data

    @data.setter
    def data(self, value: npt.ArrayLike) -> None:
        self._data = self._checked_copy(value, "data")

    @property
    def grad(self) -> Array:
        r""":math:`\partial L/\partial self` after ``backward()``; read-only, shaped as ``data``."""
        if self._grad is None:
            self._grad = _frozen(np.zeros_like(self._data))
        return self._grad

    @grad.setter
    def grad(self, value: npt.ArrayLike) -> None:
        if type(value) is float and value == 0.0:  # zero_grad: zeros are made when needed
            self._grad = None
            return
        self._grad = self._checked_copy(value, "grad")

    def _checked_copy(self, value: npt.ArrayLike, what: str) -> Array:
        """``value`` as a new read-only array of this shape; refused if not finite."""
        array = np.asarray(value, dtype=np.float64)
        if array.ndim != 0 and array.shape != self._data.shape:
            raise ValueError(f"{what} of shape {array.shape} for a tensor of shape {self.shape}")
        if not _all_finite(array):  # an update that overflowed: never store it silently
            bad = first_failure(~np.isfinite(array), "NaN or inf")
            raise ValueError(f"{what} must be finite: {bad}")
        if array.shape != self.shape:  # a number fills the shape
            array = np.broadcast_to(array, self.shape)
        return _frozen(np.array(array))  # a copy of its own: the caller's array stays theirs

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return cast(tuple[int, ...], self._data.shape)

    @property
    def ndim(self) -> int:
        """The number of axes of ``data``."""
        return self._data.ndim

    @property
    def op(self) -> str:
        """The primitive that made this node (``"@"``, ``"sum"`` ...); ``""`` for a leaf."""
        return "" if self._op is None else self._op.name

    def item(self) -> float:
        """The one number of a one-entry tensor, as a Python float."""
        return float(self._data.item())

    def __repr__(self) -> str:
        label = f", label={self.label!r}" if self.label else ""
        body = f"data={self._data.tolist()!r}, grad={self.grad.tolist()!r}"
        if self._data.size > 8:
            body = f"shape={self.shape}"
        return f"Tensor({body}{label})"

    __hash__ = object.__hash__  # nodes are equal only to themselves, like Values

    # ---- operators: each is one primitive of TENSOR_OPS ------------------------------------

    def __add__(self, other: Operand) -> Tensor:
        return apply("+", self, other)

    def __radd__(self, other: Operand) -> Tensor:
        return apply("+", other, self)

    def __sub__(self, other: Operand) -> Tensor:
        return apply("-", self, other)

    def __rsub__(self, other: Operand) -> Tensor:
        return apply("-", other, self)

    def __mul__(self, other: Operand) -> Tensor:
        return apply("*", self, other)

    def __rmul__(self, other: Operand) -> Tensor:
        return apply("*", other, self)

    def __truediv__(self, other: Operand) -> Tensor:
        return apply("/", self, other)

    def __rtruediv__(self, other: Operand) -> Tensor:
        return apply("/", other, self)

    def __pow__(self, other: Operand) -> Tensor:
        return apply("**", self, other)

    def __rpow__(self, other: Operand) -> Tensor:
        return apply("**", other, self)

    def __matmul__(self, other: Operand) -> Tensor:
        r"""Matrix product (1-D, 2-D); VJPs :math:`\bar A = g B^\top`, :math:`\bar B = A^\top g`."""
        return apply("@", self, other)

    def __rmatmul__(self, other: Operand) -> Tensor:
        return apply("@", other, self)

    def __neg__(self) -> Tensor:
        return apply("neg", self)

    def __abs__(self) -> Tensor:
        return apply("abs", self)

    # ---- elementwise functions ---------------------------------------------------------

    def abs(self) -> Tensor:
        r""":math:`|x|` entry by entry; its derivative at 0 is taken as 0."""
        return apply("abs", self)

    def exp(self) -> Tensor:
        r""":math:`e^x` entry by entry; ``OverflowError`` above about 709.78."""
        return apply("exp", self)

    def log(self) -> Tensor:
        r""":math:`\ln x` entry by entry; ``ValueError`` if any :math:`x \le 0`."""
        return apply("log", self)

    def tanh(self) -> Tensor:
        r""":math:`\tanh x`, with derivative :math:`1 - \tanh^2 x`."""
        return apply("tanh", self)

    def sigmoid(self) -> Tensor:
        r""":math:`\sigma(x) = 1/(1 + e^{-x})`, derivative :math:`\sigma(1 - \sigma)`; stable."""
        return apply("sigmoid", self)

    def relu(self) -> Tensor:
        r""":math:`\max(0, x)`; its derivative at 0 is taken as 0."""
        return apply("relu", self)

    def sin(self) -> Tensor:
        r""":math:`\sin x` entry by entry."""
        return apply("sin", self)

    def cos(self) -> Tensor:
        r""":math:`\cos x` entry by entry."""
        return apply("cos", self)

    def sqrt(self) -> Tensor:
        r""":math:`\sqrt{x}` entry by entry; ``ValueError`` if any :math:`x < 0`."""
        return apply("sqrt", self)

    # ---- reductions and shapes ---------------------------------------------------------

    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        r""":math:`\sum_i x_i` over ``axis`` (all entries by default), as ``numpy.sum``."""
        return apply("sum", self, axis=axis, keepdims=keepdims)

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
        r"""The sum over ``axis`` divided by the number of entries summed."""
        total = self.sum(axis, keepdims)
        return total / (self._data.size // max(total._data.size, 1))

    def reshape(self, *shape: int | tuple[int, ...]) -> Tensor:
        """The same entries in a new shape (``x.reshape(2, 3)`` or ``x.reshape((2, 3))``)."""
        new_shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape
        return apply("reshape", self, shape=new_shape)

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed)."""
        return apply("T", self)

    def log_softmax(self, axis: int = -1) -> Tensor:
        r""":math:`x_i - \log\sum_j e^{x_j}` along ``axis``, computed without overflow."""
        return apply("log_softmax", self, axis=axis)

    def softmax(self, axis: int = -1) -> Tensor:
        r""":math:`e^{x_i} / \sum_j e^{x_j}` along ``axis``, computed without overflow."""
        return apply("softmax", self, axis=axis)

    # ---- backward ------------------------------------------------------------------------

    def backward(self, gradient: npt.ArrayLike | None = None) -> None:
        r"""Fill ``.grad`` of every node below with :math:`\partial L/\partial node`.

        ``gradient`` is :math:`\partial L/\partial self`, needed (of this tensor's shape)
        unless the tensor has one entry. Leaves accumulate across calls, as in PyTorch;
        every other node holds the gradient of this call only.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a Tensor that does not require grad "
                "(it was made under no_grad or from constants only)"
            )
        grads = chain_rule(self, _seed(self, gradient))
        # Leaves add this call's gradient to earlier ones: all sums are checked before any
        # is stored, so a failed call changes no gradient (as Value.backward).
        sums = {}
        for leaf, g in grads.items():
            if leaf.inputs:
                continue
            if leaf._grad is None:  # the common case in training: zero_grad() came before
                sums[leaf] = np.array(g)
                continue
            with np.errstate(all="ignore"):  # an overflow is reported below, by name
                total = leaf._grad + g
            if not _all_finite(total):
                raise _leaf_gradient_error(leaf, total)
            sums[leaf] = total
        for node, g in grads.items():  # a VJP may hand one array to several nodes: read-only
            node._grad = _frozen(np.asarray(sums.get(node, g)))  # a 0-d sum is a scalar


def _leaf_gradient_error(leaf: Tensor, total: Array) -> OverflowError:
    """Every step was finite: the sum with the leaf's ``.grad`` from earlier calls overflowed."""
    name = f"leaf {leaf.label!r}" if leaf.label else "an unlabelled leaf"
    bad = first_failure(~np.isfinite(total), "not finite")
    return OverflowError(
        f"the .grad of {name} (shape {leaf.shape}) would overflow: leaves add up the gradients "
        f"of every backward() call, and this sum is not a finite number: {bad}"
    )


def _seed(root: Tensor, gradient: npt.ArrayLike | None) -> Array:
    if gradient is None:
        if root._data.size != 1:
            raise ValueError(
                f"backward() of a tensor of shape {root.shape} needs "
                "gradient= of that shape (only one-entry tensors default to 1)"
            )
        return np.ones_like(root._data)
    seed = _as_array(gradient)
    if seed.shape != root.shape:
        raise ValueError(f"gradient of shape {seed.shape} for a tensor of shape {root.shape}")
    return seed


def _lift(x: object) -> Tensor:
    """A Tensor as is; a number or an array becomes a constant leaf (no gradient)."""
    if isinstance(x, Tensor):
        return x
    if type(x) is float or type(x) is int:  # x / 2, 1.0 - x: skip the checks of __init__
        value = float(x)
        if math.isfinite(value):
            return _node(np.array(value), (), None, {})
    return Tensor(x, requires_grad=False)


def _node(
    data: Array, inputs: tuple[Tensor, ...], op: TensorOp | None, params: dict[str, Any]
) -> Tensor:
    # Bypasses __init__'s checks: data is already a finite float64 array.
    node = object.__new__(Tensor)
    node._data, node._grad, node.label = _frozen(data), None, ""
    node.inputs, node.requires_grad, node._op, node._params = inputs, bool(inputs), op, params
    return node


def apply(name: str, *operands: object, **params: Any) -> Tensor:
    """Run primitive ``name`` forward and record the node (unless under ``no_grad``)."""
    op = TENSOR_OPS[name]
    try:
        inputs = tuple([_lift(x) for x in operands])
    except TypeError:
        return NotImplemented  # type: ignore[no-any-return]  # Python then raises its TypeError
    # NOTE: numpy's overflow warnings are silenced: the check below reports a non-finite
    # result by name, as an error. (The errstate costs ~4% of an MNIST epoch; a warning on
    # stderr before every such error is the noise SPEC 6.1 rules out.)
    with np.errstate(all="ignore"):
        data = np.asarray(op.forward(*[x._data for x in inputs], **params), dtype=np.float64)
    if not op.bounded and not _all_finite(data):
        raise OverflowError(
            f"{name} overflows a float: {first_failure(~np.isfinite(data), 'not finite')}"
        )
    if is_grad_enabled() and any(x.requires_grad for x in inputs):
        return _node(data, inputs, op, params)
    return _node(data, (), None, {})


def _all_finite(array: Array) -> bool:
    # NOTE: a NaN or inf entry makes the sum NaN or inf, so a finite sum proves every entry
    # finite in one reduction (isfinite + all takes two, twice the time on a 32 x 32 batch);
    # only a sum that overflowed (entries near 1e308) is tested entry by entry.
    with np.errstate(over="ignore", invalid="ignore"):  # that overflow is no news to report
        total = np.add.reduce(array, axis=None)
    return math.isfinite(total) or bool(np.isfinite(array).all())


def unbroadcast(gradient: Array, shape: tuple[int, ...]) -> Array:
    """Undo numpy broadcasting: sum ``gradient`` down to ``shape``.

    An input broadcast along an axis was used once per entry along it, so by the chain
    rule its gradient is the sum over that axis (a bias gets the sum over the batch).
    """
    if gradient.shape == shape:
        return gradient
    extra = gradient.ndim - len(shape)
    gradient = gradient.sum(axis=tuple(range(extra))) if extra else gradient
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and gradient.shape[i] != 1)
    return gradient.sum(axis=stretched, keepdims=True) if stretched else gradient


def chain_rule(root: Tensor, seed: Array) -> dict[Tensor, Array]:
    r"""The gradient of ``root`` (seeded with ``seed``) for every node below that needs one.

    Reverse topological order, so a node's gradient is complete before it is passed on;
    each input's share is its op's VJP, summed over broadcast axes, added to what other
    paths gave it (``a + a``, diamonds). Nothing is written to ``.grad`` here.
    """
    # The scalar engine's iterative order: it reads only .inputs and .requires_grad.
    order = cast(list[Tensor], topological_order(cast(Any, root)))
    failure: Exception | None = None
    try:
        grads = _propagate(order, root, seed, check_each_step=False)
        # NOTE: a NaN or inf never vanishes further down (every VJP multiplies by g, a
        # Local one by its own local derivative too, and inf * 0 is NaN), so it would reach
        # a leaf: checking the leaves suffices, and only then a checked pass names the op.
        if all(_all_finite(g) for x, g in grads.items() if not x.inputs):
            return grads
    except (ArithmeticError, ValueError) as error:  # a VJP refused (sqrt'(0)); an earlier
        failure = error  # step may be the first to fail, as the checked pass finds
    _propagate(order, root, seed, check_each_step=True)  # raises at the first failing step
    raise failure or OverflowError("backward: a gradient is not finite")  # not reached


def _propagate(
    order: list[Tensor], root: Tensor, seed: Array, check_each_step: bool
) -> dict[Tensor, Array]:
    grads: dict[Tensor, Array] = {root: seed}
    with np.errstate(all="ignore"):  # non-finite gradients are reported by name, not warned
        for node in reversed(order):
            if node._op is None:
                continue
            g, values = grads[node], [x._data for x in node.inputs]
            for position, (x, vjp) in enumerate(zip(node.inputs, node._op.vjps, strict=True), 1):
                if not x.requires_grad:
                    continue
                if check_each_step:
                    share = _checked_share(node, position, vjp, g, values)
                else:
                    share = vjp(g, node._data, *values, **node._params)
                share = unbroadcast(np.asarray(share), x._data.shape)
                grads[x] = grads[x] + share if x in grads else share
                if check_each_step and not _all_finite(share):
                    why = "its local derivative times the gradient overflows a float"
                    raise _step_error(OverflowError, node, position, why, share)
                if check_each_step and not _all_finite(grads[x]):
                    why = "added to the gradient from other paths, it overflows a float"
                    raise _step_error(OverflowError, node, position, why, grads[x])
    return grads


def _checked_share(
    node: Tensor, position: int, vjp: Callable[..., Array], g: Array, values: list[Array]
) -> Array:
    """One VJP of ``node``, its local derivative checked first as Value checks it."""
    try:
        if isinstance(vjp, Local):
            local = np.asarray(vjp.derivative(node._data, *values), dtype=np.float64)
            if not _all_finite(local):
                first = tuple(np.argwhere(~np.isfinite(local))[0])
                kind = ValueError if np.isnan(local[first]) else OverflowError
                why = f"its local derivative is {float(local[first])!r}"
                raise _step_error(kind, node, position, why, local)
            return g * local
        return vjp(g, node._data, *values, **node._params)
    except (ArithmeticError, ValueError) as error:
        if str(error).startswith("backward through"):
            raise
        raise _step_error(type(error), node, position, str(error)) from None


def _step_error(
    kind: type[Exception], node: Tensor, position: int, why: str, bad: Array | None = None
) -> Exception:
    """``kind`` saying which node's backward failed, on which input, and why."""
    x = node.inputs[position - 1]
    name = f" ({x.label!r})" if x.label else ""
    where = f": {first_failure(~np.isfinite(bad), 'not finite')}" if bad is not None else ""
    return kind(f"backward through {_describe(node)}, input {position}{name}: {why}{where}")


def _describe(node: Tensor) -> str:
    name = f"node {node.label!r}" if node.label else "an unlabelled node"
    shapes = ", ".join(str(x.shape) for x in node.inputs)
    return f"{node.op!r} ({name}, input shapes {shapes})"


def grad(
    output: Tensor, inputs: Iterable[Tensor], gradient: npt.ArrayLike | None = None
) -> list[Tensor]:
    r"""Return :math:`\partial output/\partial x` for each ``x`` in ``inputs``, as new Tensors.

    Leaves every ``.grad`` untouched. ``gradient`` as in :meth:`Tensor.backward`. An input
    that does not reach ``output`` gets zeros of its shape. First derivatives only: unlike
    the scalar ``grad``, there is no ``create_graph`` (the VJPs run on plain arrays).
    """
    inputs = list(inputs)
    for x in [output, *inputs]:
        if not isinstance(x, Tensor):
            raise TypeError(f"grad() takes Tensors, not {type(x).__name__}")
    if not output.requires_grad:
        raise RuntimeError("grad() of a Tensor that does not require grad")
    grads = chain_rule(output, _seed(output, gradient))
    return [Tensor(grads.get(x, np.zeros_like(x._data)), requires_grad=False) for x in inputs]
