"""The bridge out to PyTorch: an MLP (scalar or tensor) as a ``torch.nn.Sequential``, and back.

PyTorch stays optional: it is imported only here, only when called. A ``torch.nn.Linear``
stores its weight as (out, in), exactly as ``tinygrad_edu.tensor.nn.Linear`` does (row
``j`` is neuron ``j``'s weights), so the numbers copy across unchanged, in float64.
"""

from __future__ import annotations

from typing import Any, TypeVar

from tinygrad_edu.nn import modules as scalar_nn
from tinygrad_edu.tensor import nn as tensor_nn

INSTALL_HINT = "the PyTorch bridge needs torch: pip install torch (any recent CPU build)"
ACTIVATION_MODULES = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}  # linear: none

Model = TypeVar("Model", scalar_nn.MLP, tensor_nn.MLP)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return torch


def to_torch(model: scalar_nn.MLP | tensor_nn.MLP) -> Any:
    """``model`` as a float64 ``torch.nn.Sequential``: Linear, activation, Linear, ...

    A ``"linear"`` activation adds no module. The outputs equal the model's (1e-12).
    """
    torch = _torch()
    twin = model if isinstance(model, tensor_nn.MLP) else tensor_nn.MLP.from_scalar(model)
    modules = []
    last = len(twin.layers) - 1
    for k, layer in enumerate(twin.layers):
        linear = torch.nn.Linear(layer.nin, layer.nout, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(layer.weight.data))  # a copy: data is read-only
            linear.bias.copy_(torch.tensor(layer.bias.data))
        modules.append(linear)
        activation = twin.output_activation if k == last else twin.activation
        if activation != "linear":
            modules.append(getattr(torch.nn, ACTIVATION_MODULES[activation])())
    return torch.nn.Sequential(*modules)


def from_torch(sequential: Any, cls: type[Model]) -> Model:
    """A ``cls`` MLP (scalar or tensor) with the weights of a Sequential of Linear layers.

    Each Linear may be followed by one ReLU, Tanh or Sigmoid; all hidden layers must share
    one activation (with no hidden layer, the MLP default ``"relu"``, which nothing uses).
    Anything else raises ``ValueError`` naming the module.
    """
    torch = _torch()
    activations = {getattr(torch.nn, name): act for act, name in ACTIVATION_MODULES.items()}
    if not isinstance(sequential, torch.nn.Sequential):
        raise TypeError(f"from_torch needs a torch.nn.Sequential, not {type(sequential).__name__}")
    layers: list[tuple[Any, str]] = []  # (Linear, the activation after it)
    for index, module in enumerate(sequential):
        if isinstance(module, torch.nn.Linear):
            if module.bias is None:
                raise ValueError(f"module {index}: a Linear without bias has no MLP twin")
            if layers and layers[-1][0].out_features != module.in_features:
                raise ValueError(
                    f"module {index}: Linear takes {module.in_features} inputs "
                    f"but the layer before gives {layers[-1][0].out_features}"
                )
            layers.append((module, "linear"))
        elif type(module) in activations and layers and layers[-1][1] == "linear":
            layers[-1] = (layers[-1][0], activations[type(module)])
        else:
            raise ValueError(
                f"module {index} ({type(module).__name__}) is not a Linear layer "
                "or one ReLU/Tanh/Sigmoid after a Linear layer"
            )
    if not layers:
        raise ValueError("the Sequential holds no Linear layer")
    hidden = {activation for _, activation in layers[:-1]}
    if len(hidden) > 1:
        raise ValueError(f"all hidden layers must share one activation, got {sorted(hidden)}")
    twin = tensor_nn.MLP(
        layers[0][0].in_features,
        [linear.out_features for linear, _ in layers],
        activation=hidden.pop() if hidden else "relu",
        output_activation=layers[-1][1],
        seed=0,
    )
    for layer, (linear, _) in zip(twin.layers, layers, strict=True):
        layer.weight.data = linear.weight.detach().to(torch.float64).numpy()
        layer.bias.data = linear.bias.detach().to(torch.float64).numpy()
    if cls is tensor_nn.MLP:
        return twin  # type: ignore[return-value]
    scalar = scalar_nn.MLP(**twin.architecture(), seed=0)
    scalar.load_state_dict(twin.state_dict())
    return scalar  # type: ignore[return-value]
