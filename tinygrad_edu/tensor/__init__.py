"""Tensors: the scalar engine's chain rule, batched over numpy arrays (SPEC §11)."""

from tinygrad_edu.engine import no_grad
from tinygrad_edu.tensor.engine import Tensor, grad

__all__ = ["Tensor", "grad", "no_grad"]
