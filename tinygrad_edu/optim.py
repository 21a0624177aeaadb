r"""Optimisers: SGD (with momentum and Nesterov), Adam, AdamW, RMSprop, Adagrad.

Each reads ``p.grad`` of its parameters and updates ``p.data`` in place. The update rules
are PyTorch's (``torch.optim``), written out per parameter in the same order of floating-
point operations, so the same gradients give the same parameters. Notation: :math:`\theta`
a parameter, :math:`g_t` its gradient at step :math:`t = 1, 2, \ldots`, :math:`\eta` the
learning rate, :math:`\lambda` the weight decay.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

from tinygrad_edu.engine import Value
from tinygrad_edu.tensor.engine import Tensor


def _check_non_negative(name: str, value: float) -> float:
    # numbers.Real admits numpy scalars (np.float32(0.01)) and rejects strings and None.
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0.0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def _check_fraction(name: str, value: float) -> float:
    value = _check_non_negative(name, value)
    if not value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


class Optimizer:
    """Holds the parameters; ``step()`` updates them, ``zero_grad()`` clears gradients."""

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty parameter list")
        seen: set[int] = set()
        for i, p in enumerate(self.params):
            if not isinstance(p, Value | Tensor):  # a Tensor's update is the same, entry-wise
                raise TypeError(f"parameter {i} must be a Value or Tensor, not {type(p).__name__}")
            if not p.requires_grad:
                raise ValueError(f"parameter {i} ({p!r}) does not require grad")
            if id(p) in seen:
                raise ValueError(f"parameter {i} ({p!r}) appears more than once")
            seen.add(id(p))
        self.lr = _check_non_negative("lr", lr)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0.0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its ``grad`` (one optimisation step)."""
        raise NotImplementedError

    def _set(self, index: int, p: Value | Tensor, new: float | np.ndarray) -> None:
        """``p.data = new``, refusing a result that is not finite (SPEC §1.1).

        ``OverflowError`` naming the parameter: a step that overflows (too large a learning
        rate) stops here, not at the next forward pass. Parameters before it in this step
        are already updated.
        """
        finite = math.isfinite(new) if isinstance(new, float) else bool(np.isfinite(new).all())
        if not finite:
            name = f" ({p.label!r})" if p.label else ""
            raise OverflowError(
                f"{type(self).__name__}.step() with lr={self.lr:g} would make parameter "
                f"{index}{name} not finite; a smaller learning rate may help"
            )
        p.data = new

    def __repr__(self) -> str:
        settings = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if isinstance(v, float | bool | tuple)
        )
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum :math:`\mu` and Nesterov.

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        b_t &= \mu b_{t-1} + g_t \quad (b_1 = g_1) \\
        \theta_t &= \theta_{t-1} - \eta \cdot
            \begin{cases} g_t + \mu b_t & \text{Nesterov} \\ b_t & \text{momentum} \\
            g_t & \mu = 0 \end{cases}
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _check_non_negative("momentum", momentum)
        self.nesterov = bool(nesterov)
        self.weight_decay = _check_non_negative("weight_decay", weight_decay)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.buffers: list[float | None] = [None] * len(self.params)

    def step(self) -> None:
        """One SGD update of every parameter."""
        lr, mu, decay = self.lr, self.momentum, self.weight_decay
        for i, p in enumerate(self.params):
            g = p.grad
            if decay != 0.0:
                g = g + decay * p.data
            if mu != 0.0:
                buffer = self.buffers[i]
                buffer = g if buffer is None else buffer * mu + g
                self.buffers[i] = buffer
                g = g + mu * buffer if self.nesterov else buffer
            self._set(i, p, p.data + -lr * g)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), with L2 weight decay added to the gradient.

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \frac{\eta}{1 - \beta_1^t} \cdot
            \frac{m_t}{\sqrt{v_t} / \sqrt{1 - \beta_2^t} + \epsilon}
    """

    decoupled = False  # AdamW decays the parameter itself instead of the gradient

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
        self.betas = (_check_fraction("beta1", betas[0]), _check_fraction("beta2", betas[1]))
        self.eps = _check_non_negative("eps", eps)
        self.weight_decay = _check_non_negative("weight_decay", weight_decay)
        self.steps = 0
        self.first_moments = [0.0] * len(self.params)
        self.second_moments = [0.0] * len(self.params)

    def step(self) -> None:
        """One Adam update of every parameter."""
        lr, eps, decay = self.lr, self.eps, self.weight_decay
        beta1, beta2 = self.betas
        self.steps += 1
        step_size = lr / (1.0 - beta1**self.steps)
        correction2_sqrt = (1.0 - beta2**self.steps) ** 0.5
        m, v = self.first_moments, self.second_moments
        for i, p in enumerate(self.params):
            g = p.grad
            if decay != 0.0:
                if self.decoupled:
                    self._set(i, p, p.data * (1.0 - lr * decay))
                else:
                    g = g + decay * p.data
            # m + (1 - beta1)(g - m) is the same average, the way PyTorch's lerp computes it.
            m[i] = _lerp(m[i], g, 1.0 - beta1)
            v[i] = v[i] * beta2 + (1.0 - beta2) * (g * g)
            denominator = _sqrt(v[i]) / correction2_sqrt + eps
            self._set(i, p, p.data + -step_size * (m[i] / denominator))


def _sqrt(x: float) -> float:
    # math.sqrt for a Value's float, numpy's (the same rounding) for a Tensor's array.
    return math.sqrt(x) if isinstance(x, float) else np.sqrt(x)


def _lerp(start: float, end: float, weight: float) -> float:
    # NOTE: PyTorch's lerp uses two formulas to stay exact at both ends; we follow it.
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    The parameter is first shrunk, :math:`\theta \leftarrow \theta (1 - \eta\lambda)`, then
    updated by Adam without weight decay. The default :math:`\lambda = 10^{-2}` is PyTorch's.
    """

    decoupled = True

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), optionally with momentum :math:`\mu`.

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        v_t &= \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
        b_t &= \mu b_{t-1} + g_t / (\sqrt{v_t} + \epsilon), \quad
        \theta_t = \theta_{t-1} - \eta b_t
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.alpha = _check_fraction("alpha", alpha)
        self.eps = _check_non_negative("eps", eps)
        self.momentum = _check_non_negative("momentum", momentum)
        self.weight_decay = _check_non_negative("weight_decay", weight_decay)
        self.square_averages = [0.0] * len(self.params)
        self.buffers = [0.0] * len(self.params)

    def step(self) -> None:
        """One RMSprop update of every parameter."""
        lr, alpha, eps, mu, decay = self.lr, self.alpha, self.eps, self.momentum, self.weight_decay
        v = self.square_averages
        for i, p in enumerate(self.params):
            g = p.grad
            if decay != 0.0:
                g = g + decay * p.data
            v[i] = v[i] * alpha + (1.0 - alpha) * (g * g)
            average = _sqrt(v[i]) + eps
            if mu > 0.0:
                self.buffers[i] = self.buffers[i] * mu + g / average
                self._set(i, p, p.data + -lr * self.buffers[i])
            else:
                self._set(i, p, p.data + -lr * (g / average))


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011): each parameter's step shrinks with its gradient history.

    .. math::
        g_t &\leftarrow g_t + \lambda\theta_{t-1} \\
        s_t &= s_{t-1} + g_t^2, \quad
        \theta_t = \theta_{t-1} - \eta \, g_t / (\sqrt{s_t} + \epsilon)
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-2,
        eps: float = 1e-10,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.eps = _check_non_negative("eps", eps)
        self.weight_decay = _check_non_negative("weight_decay", weight_decay)
        self.sums = [0.0] * len(self.params)

    def step(self) -> None:
        """One Adagrad update of every parameter."""
        lr, eps, decay = self.lr, self.eps, self.weight_decay
        s = self.sums
        for i, p in enumerate(self.params):
            g = p.grad
            if decay != 0.0:
                g = g + decay * p.data
            s[i] = s[i] + g * g
            self._set(i, p, p.data + -lr * (g / (_sqrt(s[i]) + eps)))
