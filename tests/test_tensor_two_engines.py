"""One idea, two engines: every Tensor result and gradient equals the same computation
done entry by entry with scalar ``Value``s (numpy object arrays of Values), to 1e-12."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
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
