"""PyTorch autograd as a second oracle: values, first and second derivatives of every op.

Skipped cleanly when torch is not installed (it is an optional, large dependency).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value, grad
from tinygrad_edu.ops import OPS

torch = pytest.importorskip("torch")

# The same op written for each engine: (ours on Values, torch's on float64 tensors).
PAIRS: dict[str, tuple[Callable[..., Value], Callable[..., Any]]] = {
    "+": (lambda a, b: a + b, lambda a, b: a + b),
    "-": (lambda a, b: a - b, lambda a, b: a - b),
    "*": (lambda a, b: a * b, lambda a, b: a * b),
    "/": (lambda a, b: a / b, lambda a, b: a / b),
    "**": (lambda a, b: a**b, lambda a, b: a**b),
    "sum": (lambda *xs: Value.sum(xs), lambda *xs: torch.stack(xs).sum()),
    "neg": (lambda a: -a, lambda a: -a),
    "abs": (abs, torch.abs),
    "exp": (Value.exp, torch.exp),
    "log": (Value.log, torch.log),
    "tanh": (Value.tanh, torch.tanh),
    "sigmoid": (Value.sigmoid, torch.sigmoid),
    "relu": (Value.relu, torch.relu),
    "sin": (Value.sin, torch.sin),
    "cos": (Value.cos, torch.cos),
    "sqrt": (Value.sqrt, torch.sqrt),
}


def test_every_op_has_a_torch_counterpart() -> None:
    assert set(PAIRS) == set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_values_first_and_second_derivatives_match_torch(name: str, data: st.DataObject) -> None:
    op = OPS[name]
    nonzero = st.floats(-3.0, 3.0).filter(lambda x: abs(x) > 1e-3)  # off relu/abs kinks
    args = data.draw(
        st.tuples(
            *(nonzero if name in ("relu", "abs") else st.floats(lo, hi) for lo, hi in op.domain)
        )
    )
    ours, theirs = PAIRS[name]

    xs = [Value(a) for a in args]
    out = ours(*xs)
    firsts = grad(out, xs, create_graph=True)
    seconds = [grad(first, [x])[0] for first, x in zip(firsts, xs, strict=True)]

    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    t_out = theirs(*ts)
    t_firsts = torch.autograd.grad(t_out, ts, create_graph=True)
    t_seconds = [
        torch.autograd.grad(f, t, allow_unused=True)[0] if f.requires_grad else None
        for f, t in zip(t_firsts, ts, strict=True)
    ]

    assert out.data == pytest.approx(t_out.item(), rel=1e-12, abs=1e-12)
    for first, t_first in zip(firsts, t_firsts, strict=True):
        assert first.data == pytest.approx(t_first.item(), rel=1e-10, abs=1e-12)
    for second, t_second in zip(seconds, t_seconds, strict=True):
        expected = 0.0 if t_second is None else t_second.item()
        assert second.data == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_a_small_network_matches_torch() -> None:
    inputs = [0.5, -1.2, 2.0]
    weights = [0.3, -0.7, 0.1, 0.9, -0.4, 0.25]
    xs = [Value(v) for v in inputs]
    ws = [Value(v) for v in weights]
    h1 = (xs[0] * ws[0] + xs[1] * ws[1] + xs[2] * ws[2]).tanh()
    h2 = (xs[0] * ws[3] - xs[1] / (ws[4] ** 2 + 1)).sigmoid()
    loss = (h1 * ws[5] + h2.relu() - 1.0) ** 2 + (h1.exp() + 1).log()
    loss.backward()

    t_xs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in inputs]
    t_ws = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in weights]
    t_h1 = torch.tanh(t_xs[0] * t_ws[0] + t_xs[1] * t_ws[1] + t_xs[2] * t_ws[2])
    t_h2 = torch.sigmoid(t_xs[0] * t_ws[3] - t_xs[1] / (t_ws[4] ** 2 + 1))
    t_loss = (t_h1 * t_ws[5] + torch.relu(t_h2) - 1.0) ** 2 + torch.log(torch.exp(t_h1) + 1)
    t_loss.backward()

    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12)
    for ours, theirs in zip(xs + ws, t_xs + t_ws, strict=True):
        assert ours.grad == pytest.approx(theirs.grad.item(), rel=1e-10, abs=1e-14)
