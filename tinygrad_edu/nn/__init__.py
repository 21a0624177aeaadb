"""Neural networks on ``Value`` nodes: modules (neuron, layer, MLP) and losses."""

from tinygrad_edu.nn.losses import (
    binary_cross_entropy,
    cross_entropy,
    hinge_loss,
    log_softmax,
    mse_loss,
    softmax,
)
from tinygrad_edu.nn.modules import MLP, Layer, Module, Neuron

__all__ = [
    "MLP",
    "Layer",
    "Module",
    "Neuron",
    "binary_cross_entropy",
    "cross_entropy",
    "hinge_loss",
    "log_softmax",
    "mse_loss",
    "softmax",
]
