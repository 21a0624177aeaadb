"""Optimisers: the same gradients give torch.optim's parameters; hand-checked first steps."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinygrad_edu import Value
from tinygrad_edu.optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "betas": (0.5, 0.9), "weight_decay": 0.2}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.001, "alpha": 0.9, "momentum": 0.8, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "eps": 1e-6, "weight_decay": 0.05}),
]
OURS: dict[str, Callable[..., Optimizer]] = {
    "SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop, "Adagrad": Adagrad,
}  # fmt: skip


@pytest.mark.parametrize(("name", "settings"), CONFIGS, ids=[f"{n}{s}" for n, s in CONFIGS])
def test_same_gradients_give_torchs_parameters_every_step(
    name: str, settings: dict[str, Any]
) -> None:
    torch = pytest.importorskip("torch")
    rng = random.Random(0)
    start = [rng.uniform(-2.0, 2.0) for _ in range(6)]
    ours = [Value(x) for x in start]
    theirs = [torch.tensor([x], dtype=torch.float64, requires_grad=True) for x in start]
    our_optimizer = OURS[name](ours, **settings)
    # foreach=False: the per-parameter loop, the path PyTorch takes on CPU by default.
    their_optimizer = getattr(torch.optim, name)(theirs, foreach=False, **settings)
    for _ in range(100):
        # Gradients of mixed scale, signs and an occasional exact zero.
        gradients = [rng.choice([0.0, rng.gauss(0.0, 1.0), rng.gauss(0.0, 1e-3)]) for _ in start]
        for ours_p, theirs_p, g in zip(ours, theirs, gradients, strict=True):
            ours_p.grad = g
            theirs_p.grad = torch.tensor([g], dtype=torch.float64)
        our_optimizer.step()
        their_optimizer.step()
        for ours_p, theirs_p in zip(ours, theirs, strict=True):
            expected = theirs_p.item()
            assert abs(ours_p.data - expected) <= 1e-12 * abs(expected)
    assert all(p.data != x for p, x in zip(ours, start, strict=True))  # they did move


def _one_step(optimizer_class: Callable[..., Optimizer], grad: float, **settings: Any) -> float:
    p = Value(1.0)
    optimizer = optimizer_class([p], **settings)
    p.grad = grad
    optimizer.step()
    return p.data


def test_hand_checked_first_steps() -> None:
    assert _one_step(SGD, 2.0, lr=0.1) == pytest.approx(0.8)
    assert _one_step(SGD, 2.0, lr=0.1, weight_decay=0.5) == pytest.approx(1.0 - 0.1 * 2.5)
    # Adam's first step is lr * sign(g) whatever the size of g (bias correction).
    assert _one_step(Adam, 123.0, lr=0.01) == pytest.approx(0.99, rel=1e-9)
    assert _one_step(Adam, -1e-3, lr=0.01) == pytest.approx(1.01, rel=1e-6)
    # AdamW shrinks the parameter by lr * weight_decay first: 1 * (1 - 0.01 * 0.5).
    assert _one_step(AdamW, 5.0, lr=0.01, weight_decay=0.5) == pytest.approx(0.995 - 0.01)
    # RMSprop: v = 0.01 * g^2, so g / sqrt(v) = 10.
    assert _one_step(RMSprop, 3.0, lr=0.01) == pytest.approx(1.0 - 0.1, rel=1e-7)
    # Adagrad: s = g^2, so the first step is lr * sign(g).
    assert _one_step(Adagrad, -4.0, lr=0.1) == pytest.approx(1.1)


def test_momentum_accumulates() -> None:
    p = Value(0.0)
    optimizer = SGD([p], lr=1.0, momentum=0.5)
    for _ in range(3):
        p.grad = 1.0
        optimizer.step()
    assert p.data == -(1.0 + 1.5 + 1.75)


@pytest.mark.parametrize("name", list(OURS))
def test_each_optimizer_minimises_a_quadratic(name: str) -> None:
    x, y = Value(3.0), Value(-2.0)
    # Adagrad's steps shrink as squared gradients accumulate: it needs a larger rate.
    optimizer = OURS[name]([x, y], lr=0.5 if name == "Adagrad" else 0.1)
    for _ in range(300):
        loss = (x - 1.0) ** 2 + 2.0 * (y + 0.5) ** 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    # AdamW's decoupled decay (1e-2) pulls the minimum slightly towards 0.
    tolerance = 0.05 if name == "AdamW" else 0.02
    assert x.data == pytest.approx(1.0, abs=tolerance)
    assert y.data == pytest.approx(-0.5, abs=tolerance)


def test_zero_grad_clears_every_gradient() -> None:
    params = [Value(1.0), Value(2.0)]
    optimizer = Adam(params)
    for p in params:
        p.grad = 5.0
    optimizer.zero_grad()
    assert [p.grad for p in params] == [0.0, 0.0]


@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGD(p, lr=-0.1),
        lambda p: SGD(p, lr=math.nan),
        lambda p: SGD(p, lr=math.inf),
        lambda p: SGD(p, lr=0.1, momentum=-0.5),
        lambda p: SGD(p, lr=0.1, nesterov=True),
        lambda p: SGD(p, lr=0.1, weight_decay=-1.0),
        lambda p: Adam(p, betas=(1.0, 0.999)),
        lambda p: Adam(p, betas=(0.9, -0.1)),
        lambda p: Adam(p, betas=(0.9,)),
        lambda p: Adam(p, eps=-1e-8),
        lambda p: AdamW(p, weight_decay=-0.01),
        lambda p: RMSprop(p, alpha=1.5),
        lambda p: RMSprop(p, momentum=-1.0),
        lambda p: Adagrad(p, lr=-0.01),
        lambda p: Adagrad(p, eps=-1.0),
        lambda p: SGD([], lr=0.1),
        lambda p: Adam([*p, p[0]]),
        lambda p: Adam([Value(1.0, requires_grad=False)]),
    ],
)
def test_bad_hyper_parameters_raise_value_error(make: Callable[[list[Value]], object]) -> None:
    with pytest.raises(ValueError):
        make([Value(1.0)])


def test_non_value_parameters_raise_type_error() -> None:
    with pytest.raises(TypeError, match="Value"):
        SGD([1.0], lr=0.1)  # type: ignore[list-item]


def test_numpy_scalars_are_accepted_as_hyper_parameters() -> None:
    optimizer = SGD([Value(1.0)], lr=np.float32(0.5), momentum=np.float64(0.9))
    assert (optimizer.lr, optimizer.momentum) == (0.5, 0.9)
    assert type(optimizer.lr) is float


def test_defaults_are_torchs() -> None:
    p = [Value(1.0)]
    adam, adamw = Adam(p), AdamW(p)
    assert (adam.lr, adam.betas, adam.eps, adam.weight_decay) == (1e-3, (0.9, 0.999), 1e-8, 0.0)
    assert adamw.weight_decay == 1e-2
    rmsprop, adagrad = RMSprop(p), Adagrad(p)
    assert (rmsprop.lr, rmsprop.alpha, rmsprop.eps, rmsprop.momentum) == (1e-2, 0.99, 1e-8, 0.0)
    assert (adagrad.lr, adagrad.eps) == (1e-2, 1e-10)
    assert "lr=0.001" in repr(adam)


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: SGD(ps, lr=1e308),
        lambda ps: SGD(ps, lr=1e308, momentum=0.9),
        lambda ps: Adam(ps, lr=1e308),
        lambda ps: RMSprop(ps, lr=1e308),
        lambda ps: Adagrad(ps, lr=1e308),
    ],
    ids=["sgd", "momentum", "adam", "rmsprop", "adagrad"],
)
def test_a_step_never_stores_a_number_that_is_not_finite(make: Any) -> None:
    # SPEC 1.1: the overflowing update raises, naming the parameter; .data stays finite.
    w = Value(1.0, "w")
    w.grad = 1.0  # lr 1e308: the adaptive steps (about lr each) leave the floats
    optimizer = make([w])
    with pytest.raises(OverflowError, match=r"parameter 0 \('w'\) not finite"):
        for _ in range(3):
            optimizer.step()
    assert math.isfinite(w.data)
