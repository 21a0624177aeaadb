"""Tensors: the scalar engine's chain rule, batched over numpy arrays (SPEC §11).

``Tensor``, ``grad`` and the shared ``no_grad`` here; the op table in ``tensor.ops``;
``Linear`` and ``MLP`` in ``tensor.nn``; batched losses in ``tensor.losses``; the seeds'
MNIST network in ``tensor.mnist``.
"""

from tinygrad_edu.engine import no_grad
from tinygrad_edu.tensor.engine import Tensor, grad

__all__ = ["Tensor", "grad", "no_grad"]
