"""One idea, two engines: every Tensor result and gradient equals the same computation
done entry by entry with scalar ``Value``s (numpy object arrays of Values), to 1e-12."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.nn import losses as scalar_losses
from tinygrad_edu.tensor import Tensor


def entrywise(method: Callable[[Value], Value]) -> Callable[[np.ndarray], np.ndarray]:
    """Apply a Value method to every entry of an object array of Values."""
    return np.vectorize(method, otypes=[object])


def values_of(array: np.ndarray) -> np.ndarray:
    """A new leaf Value for every entry, as an object array of the same shape."""
    return entrywise(Value)(array)


def data_of(values: Any) -> np.ndarray:
    return np.vectorize(lambda v: v.data, otypes=[float])(np.asarray(values, dtype=object))


def _rowwise(scalar_softmax: Callable[[list[Value]], list[Value]]) -> Callable[[Any], Any]:
    # The scalar library's own softmax, one row (the last axis) at a time.
    def apply(values: np.ndarray) -> np.ndarray:
        rows = values.reshape(-1, values.shape[-1])
        return np.array([scalar_softmax(list(row)) for row in rows], dtype=object).reshape(
            values.shape
        )

    return apply


# Each step: a unary function, both ways. Composites keep every entry inside its domain.
UNARY: dict[str, tuple[Callable[[Tensor], Tensor], Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": (Tensor.tanh, entrywise(Value.tanh)),
    "sigmoid": (Tensor.sigmoid, entrywise(Value.sigmoid)),
    "relu": (Tensor.relu, entrywise(Value.relu)),
    "sin": (Tensor.sin, entrywise(Value.sin)),
    "cos": (Tensor.cos, entrywise(Value.cos)),
    "abs": (Tensor.abs, entrywise(abs)),
    "neg": (lambda t: -t, lambda v: -v),
    "exp of tanh": (lambda t: t.tanh().exp(), entrywise(lambda v: v.tanh().exp())),
    "log of 1 + x²": (lambda t: (t * t + 1.0).log(), entrywise(lambda v: (v * v + 1.0).log())),
    "sqrt of 1 + x²": (lambda t: (t * t + 1).sqrt(), entrywise(lambda v: (v * v + 1).sqrt())),
    "x ** 3": (lambda t: t**3, lambda v: v**3),
    "softmax": (Tensor.softmax, _rowwise(scalar_losses.softmax)),
    "log_softmax": (Tensor.log_softmax, _rowwise(scalar_losses.log_softmax)),
}
# Binary steps combine the running result with the other input (broadcast shapes).
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/ by 1 + b²": lambda a, b: a / (b * b + 1.0),
    "2 - b": lambda a, b: 2.0 - b + a,
    "(1 + a²) ** tanh b": lambda a, b: (a * a + 1.0) ** b.tanh() if isinstance(b, Tensor)
    else (a * a + 1.0) ** entrywise(Value.tanh)(b),
}  # fmt: skip

floats = st.floats(-2.0, 2.0, allow_nan=False, width=64)


def arrays(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    size = int(np.prod(shape))
    return st.lists(floats, min_size=size, max_size=size).map(
        lambda xs: np.array(xs).reshape(shape)
    )


@st.composite
def programs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    rows, cols = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    # The second input broadcasts against the first: a row vector, a column, or the same shape.
    other_shape = draw(st.sampled_from([(rows, cols), (cols,), (rows, 1), (1, cols)]))
    step = st.one_of(
        st.tuples(st.just("unary"), st.sampled_from(sorted(UNARY))),
        st.tuples(st.just("binary"), st.sampled_from(sorted(BINARY))),
    )
    steps = draw(st.lists(step, max_size=4))
    return draw(arrays((rows, cols))), draw(arrays(other_shape)), steps


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    # 1e-12 relative to the size of the numbers compared (an entry that cancels to ~0 is
    # compared at the scale of its neighbours, not at its own rounding noise).
    # An entry that is 0 in exact arithmetic (the gradient of log_softmax summed over a
    # single column) comes out as rounding noise of order-1 numbers, a few times 1e-16: an
    # absolute floor of 4 ulp of 1 compares it as 0, far below any wrong derivative.
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)
    floor = 4 * np.finfo(np.float64).eps
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=max(1e-12 * scale, floor))


@given(programs(), st.integers(0, 2**32 - 1))
def test_random_expressions_agree_entry_by_entry_with_values(program: Any, seed: int) -> None:
    x, y, steps = program
    tx, ty = Tensor(x), Tensor(y)
    vx, vy = values_of(x), values_of(y)
    t_out, v_out = tx, vx
    for kind, name in steps:
        if kind == "unary":
            tensor_step, value_step = UNARY[name]
            t_out, v_out = tensor_step(t_out), value_step(v_out)
        else:
            t_out, v_out = BINARY[name](t_out, ty), BINARY[name](v_out, vy)
    v_out = np.broadcast_to(np.asarray(v_out, dtype=object), t_out.shape)
    assert_close(t_out.data, data_of(v_out))
    # A weighted sum seeds every entry with a different gradient.
    weights = np.random.default_rng(seed).uniform(-1.0, 1.0, size=t_out.shape)
    loss = (t_out * weights).sum() + (tx * 0.0).sum() + (ty * 0.0).sum()  # both reach the loss
    loss.backward()
    v_loss = Value.sum([v * float(w) for v, w in zip(v_out.flat, weights.flat, strict=True)])
    v_loss = v_loss + Value.sum([v * 0.0 for v in [*vx.flat, *vy.flat]])
    v_loss.backward()
    assert_close(np.array([loss.item()]), np.array([v_loss.data]))
    assert_close(tx.grad, np.vectorize(lambda v: v.grad, otypes=[float])(vx))
    assert_close(ty.grad, np.vectorize(lambda v: v.grad, otypes=[float])(vy))


def neuron(weights: Any, bias: Value, row: list[Any], activation: str) -> Value:
    """One neuron of the scalar engine: activation(sum_i w_i x_i + b)."""
    total = Value.sum([*(w * x for w, x in zip(weights, row, strict=True)), bias])
    return getattr(total, activation)()  # type: ignore[no-any-return]


@given(st.integers(1, 4), st.lists(st.integers(1, 4), min_size=1, max_size=3),
       st.sampled_from(["tanh", "sigmoid", "relu"]), st.integers(0, 2**16))  # fmt: skip
def test_random_networks_agree_entry_by_entry_with_values(
    nin: int, nouts: list[int], activation: str, seed: int
) -> None:
    # A dense network written with @ and a broadcast bias, against the same sums of Values.
    rng = np.random.default_rng(seed)
    batch = rng.uniform(-2.0, 2.0, size=(3, nin))
    sizes = [nin, *nouts]
    weights = [
        rng.uniform(-1.0, 1.0, size=(n_out, n_in)) for n_in, n_out in itertools.pairwise(sizes)
    ]
    biases = [rng.uniform(-1.0, 1.0, size=n_out) for n_out in nouts]
    tw, tb = [Tensor(w) for w in weights], [Tensor(b) for b in biases]
    vw, vb = [values_of(w) for w in weights], [values_of(b) for b in biases]
    t_h, v_rows = Tensor(batch, requires_grad=False), [list(row) for row in batch]
    for w_t, b_t, w_v, b_v in zip(tw, tb, vw, vb, strict=True):
        t_h = getattr(t_h @ w_t.T + b_t, activation)()
        v_rows = [
            [neuron(w_row, b, row, activation) for w_row, b in zip(w_v, b_v, strict=True)]
            for row in v_rows
        ]
    targets = rng.uniform(-1.0, 1.0, size=t_h.shape)
    t_loss = ((t_h - targets) ** 2).mean()
    v_loss = scalar_losses.mse_loss(v_rows, targets.tolist())
    t_loss.backward()
    v_loss.backward()
    assert_close(np.array([t_loss.item()]), np.array([v_loss.data]))
    for w_t, b_t, w_v, b_v in zip(tw, tb, vw, vb, strict=True):
        assert_close(w_t.grad, np.vectorize(lambda v: v.grad, otypes=[float])(w_v))
        assert_close(b_t.grad, np.vectorize(lambda v: v.grad, otypes=[float])(b_v))


# ---- SPEC 1.1 at the edges: the same result, or the same kind of error, entry by entry ----

EXTREME_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "exp": lambda a, b: a.exp(),
    "log": lambda a, b: a.log(),
    "sqrt": lambda a, b: a.sqrt(),
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(),
    "sin": lambda a, b: a.sin(),
    "cos": lambda a, b: a.cos(),
    "abs": lambda a, b: abs(a),
    "neg": lambda a, b: -a,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}
# Where floats end: subnormals, the edges of exp and of 1 / x, squares that overflow.
EDGES = [0.0, -0.0, 5e-324, -5e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 1e-160, 0.5,
         -1.0, 2.0, -3.0, 700.0, 709.0, 710.0, -720.0, -745.0, 1e154, -1e154, 1e200, 1e300,
         1.7e308, -1.7e308]  # fmt: skip
extreme_floats = st.one_of(
    st.sampled_from(EDGES), st.floats(allow_nan=False, allow_infinity=False, width=64)
)
FORWARD, FIRST_BACKWARD, SECOND_BACKWARD, FINISHED = range(4)


def _run(leaf: Callable[[Any], Any], op: str, x: Any, y: Any, scale: float, calls: int) -> Any:
    """(stage reached, error type, results) of the forward, then ``calls`` backward passes."""
    a, b = leaf(x), leaf(y)
    stage, grads = FORWARD, None
    try:
        out = EXTREME_OPS[op](a, b) * scale
        for call in range(calls):
            stage = FIRST_BACKWARD + call
            if isinstance(out, Tensor):
                out.backward(gradient=np.ones(out.shape))
            else:
                out.backward()
            grads = (np.array(a.grad, dtype=float), np.array(b.grad, dtype=float))
    except (ArithmeticError, ValueError) as error:
        now = (np.array(a.grad, dtype=float), np.array(b.grad, dtype=float))
        if grads is not None:  # a failed backward() changes no gradient, in either engine
            np.testing.assert_array_equal(now[0], grads[0])
            np.testing.assert_array_equal(now[1], grads[1])
        return stage, type(error), None
    assert grads is not None
    return FINISHED, None, (np.array(out.data, dtype=float), *grads)


@given(
    st.sampled_from(sorted(EXTREME_OPS)),
    st.lists(st.tuples(extreme_floats, extreme_floats), min_size=1, max_size=3),
    extreme_floats,
    st.integers(1, 2),
)
def test_at_extreme_magnitudes_both_engines_agree_on_the_result_or_the_error(
    op: str, pairs: list[tuple[float, float]], scale: float, calls: int
) -> None:
    # Each entry alone with Values; the Tensor must fail at the first stage any entry fails
    # at, with the kind of error one of those entries raises there; else give their numbers.
    entries = [_run(Value, op, x, y, scale, calls) for x, y in pairs]
    xs, ys = np.array([x for x, _ in pairs]), np.array([y for _, y in pairs])
    stage, kind, results = _run(Tensor, op, xs, ys, scale, calls)
    first = min(entry_stage for entry_stage, _, _ in entries)
    assert stage == first, (stage, kind, entries)
    if first != FINISHED:
        assert kind in {entry_kind for at, entry_kind, _ in entries if at == first}
        return
    # Rounding differs between numpy and math only in the last bits, and below 1e-308
    # (subnormals) by a few units of 5e-324, times the gradient.
    floor = 1e-320 * max(1.0, abs(scale))
    for k, got in enumerate(results):
        want = np.array([r[k] for _, _, r in entries]).reshape(got.shape)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=floor)


# Terms near the largest float, whose partial sums overflow though the whole may fit.
huge_terms = st.one_of(st.sampled_from([1.7e308, -1.7e308, 9e307, -9e307, 1.0]), extreme_floats)


@given(
    st.lists(st.lists(huge_terms, min_size=3, max_size=3), min_size=1, max_size=3),
    st.sampled_from([None, 0, 1]),
)
def test_a_tensor_sum_overflows_exactly_when_value_sum_does(
    rows: list[list[float]], axis: int | None
) -> None:
    table = np.array(rows)
    slices = [table.ravel()] if axis is None else list(np.moveaxis(table, axis, -1))
    expected = []
    for terms in slices:
        try:
            expected.append(Value.sum(terms.tolist()).data)
        except OverflowError:
            with pytest.raises(OverflowError):
                Tensor(table).sum(axis=axis)
            return
    # Both finite: equal up to rounding (Value.sum rounds once, numpy at every addition).
    ulps = 4 * np.finfo(np.float64).eps * np.abs(table).max() * table.size
    np.testing.assert_allclose(
        Tensor(table).sum(axis=axis).data.ravel(), expected, rtol=0, atol=ulps
    )
