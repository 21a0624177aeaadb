"""tinygrad_edu: a scalar reverse-mode autodiff engine for learning backpropagation."""

from tinygrad_edu.engine import Value, detect_anomaly, grad, no_grad

__all__ = ["Value", "detect_anomaly", "grad", "no_grad"]
__version__ = "0.1.0"
