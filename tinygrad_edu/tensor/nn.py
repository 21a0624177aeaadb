r"""Linear layers and MLPs on Tensors: the scalar :mod:`tinygrad_edu.nn` network, batched.

A scalar ``Layer`` has ``nout`` neurons, each with ``nin`` weights and a bias. Here the
same numbers sit in one weight matrix :math:`W` (row ``j`` = neuron ``j``'s weights) and
one bias vector :math:`b`, and a whole batch :math:`X` (one example per row) goes through
at once: :math:`\phi(X W^\top + b)`. Built with the same ``seed``, a tensor ``MLP`` holds
exactly the scalar ``MLP``'s numbers: ``state_dict()`` uses the scalar names
(``layers.0.neurons.3.w.1`` is ``layers[0].weight[3, 1]``), and one file format serves both.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.nn import modules as scalar_nn
from tinygrad_edu.tensor.engine import Tensor

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": Tensor.relu,
    "tanh": Tensor.tanh,
    "sigmoid": Tensor.sigmoid,
    "linear": lambda x: x,
}


def _check_activation(activation: str) -> Callable[[Tensor], Tensor]:
    scalar_nn.check_activation(activation)  # the same names, refused in the same words
    return ACTIVATIONS[activation]


class Linear:
    r""":math:`\phi(X W^\top + b)` for a batch :math:`X`; :math:`W` is (nout, nin).

    Drawn as the scalar ``Layer`` draws its neurons: for each neuron its ``nin`` weights,
    then its bias, uniform in :math:`\pm 1/\sqrt{n_{in}}`, so the same ``seed`` (or the same
    ``random.Random``) gives the same numbers.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "linear",
        *,
        seed: int | random.Random | None = None,
    ) -> None:
        self.nin, self.nout = scalar_nn.check_size(nin, "nin"), scalar_nn.check_size(nout, "nout")
        self.activation = activation
        self._activate = _check_activation(activation)
        rng = scalar_nn.make_rng(seed)
        bound = 1.0 / math.sqrt(self.nin)
        rows = [[rng.uniform(-bound, bound) for _ in range(self.nin + 1)] for _ in range(self.nout)]
        table = np.array(rows, dtype=np.float64).reshape(self.nout, self.nin + 1)
        self.weight = Tensor(table[:, :-1], label="weight")
        self.bias = Tensor(table[:, -1], label="bias")

    def __call__(self, x: Tensor) -> Tensor:
        """The layer's output: one row per input row (a 1-D input gives a 1-D output)."""
        if x.shape[-1:] != (self.nin,):
            raise ValueError(f"expected inputs of length {self.nin}, got shape {x.shape}")
        return self._activate(x @ self.weight.T + self.bias)

    def parameters(self) -> list[Tensor]:
        """``[weight, bias]``."""
        return [self.weight, self.bias]

    def __repr__(self) -> str:
        return f"Linear(nin={self.nin}, nout={self.nout}, activation={self.activation!r})"


class MLP:
    """The scalar ``MLP``'s network on Tensors: same arguments, same seed, same numbers.

    Calling it on a batch (rows of inputs, an array or a Tensor) gives a Tensor with one
    row per example and one column per output neuron, always (never a bare number).
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        seed: int | random.Random | None = None,
    ) -> None:
        self.nin = scalar_nn.check_size(nin, "nin")
        if isinstance(nouts, str | bytes) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        self.nouts = [scalar_nn.check_size(n, f"layer size {i}") for i, n in enumerate(nouts)]
        _check_activation(activation)
        _check_activation(output_activation)
        self.activation, self.output_activation = activation, output_activation
        rng = scalar_nn.make_rng(seed)
        sizes = [self.nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [
            Linear(sizes[k], sizes[k + 1], output_activation if k == last else activation, seed=rng)
            for k in range(len(self.nouts))
        ]
        for k, layer in enumerate(self.layers):
            layer.weight.label, layer.bias.label = f"layers.{k}.weight", f"layers.{k}.bias"

    def __call__(self, x: Any) -> Tensor:
        """The network's outputs for a batch (or one row) of inputs."""
        out = x if isinstance(x, Tensor) else Tensor(x, requires_grad=False)
        for layer in self.layers:
            out = layer(out)
        return out

    def parameters(self) -> list[Tensor]:
        """Weight matrices and bias vectors, layer by layer."""
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, Tensor]]:
        """``layers.{k}.weight`` and ``layers.{k}.bias``, layer by layer."""
        return [(p.label, p) for p in self.parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zeros."""
        for p in self.parameters():
            p.grad = 0.0

    def architecture(self) -> dict[str, Any]:
        """What ``MLP(**architecture)`` needs, the same as the scalar ``MLP``'s."""
        return {
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self.activation,
            "output_activation": self.output_activation,
        }

    def state_dict(self) -> dict[str, float]:
        """Every number by its scalar name, in the scalar ``MLP``'s order."""
        state: dict[str, float] = {}
        for k, layer in enumerate(self.layers):
            for j, (weights, bias) in enumerate(
                zip(layer.weight.data.tolist(), layer.bias.data.tolist(), strict=True)
            ):
                for i, w in enumerate(weights):
                    state[f"layers.{k}.neurons.{j}.w.{i}"] = w
                state[f"layers.{k}.neurons.{j}.b"] = bias
        return state

    def load_state_dict(self, state: Mapping[str, object], strict: bool = True) -> None:
        """Set parameters from scalar names (a scalar model's ``state_dict`` too).

        Checked exactly as the scalar ``MLP`` checks it (the same errors, the model left
        unchanged on any error), because the scalar model does the checking.
        """
        scalar = self.to_scalar()
        scalar.load_state_dict(state, strict=strict)
        self._copy_from(scalar.state_dict())

    def _copy_from(self, state: Mapping[str, float]) -> None:
        numbers = iter(state.values())  # the scalar order: per neuron its weights, then bias
        for layer in self.layers:
            table = np.fromiter(numbers, dtype=np.float64, count=layer.nout * (layer.nin + 1))
            table = table.reshape(layer.nout, layer.nin + 1)
            layer.weight.data, layer.bias.data = table[:, :-1], table[:, -1]

    def to_scalar(self) -> scalar_nn.MLP:
        """The same network as a scalar ``tinygrad_edu.nn.MLP`` (the same numbers)."""
        scalar = scalar_nn.MLP(**self.architecture(), seed=0)
        scalar.load_state_dict(self.state_dict())
        return scalar

    @classmethod
    def from_scalar(cls, model: scalar_nn.MLP) -> MLP:
        """The tensor twin of a scalar ``MLP``."""
        tensor_model = cls(**model.architecture(), seed=0)
        tensor_model._copy_from(model.state_dict())
        return tensor_model

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model in the scalar ``MLP``'s JSON format (one format for both)."""
        self.to_scalar().save(path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MLP:
        """Read a file written by either engine's ``save``, checked as the scalar ``load`` does."""
        return cls.from_scalar(scalar_nn.MLP.load(path))

    def to_torch(self) -> Any:
        """This network as a float64 ``torch.nn.Sequential`` (see :mod:`tinygrad_edu.bridge`)."""
        from tinygrad_edu.bridge import to_torch

        return to_torch(self)

    @classmethod
    def from_torch(cls, sequential: Any) -> MLP:
        """The MLP holding a ``torch.nn.Sequential``'s Linear weights and activations."""
        from tinygrad_edu.bridge import from_torch

        return from_torch(sequential, cls)

    def __repr__(self) -> str:
        layers = ",\n".join(f"  {layer!r}" for layer in self.layers)
        count = sum(p.data.size for p in self.parameters())
        return f"MLP(\n{layers}\n)  # {count} parameters"
