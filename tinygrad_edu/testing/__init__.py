"""Tools for testing gradients: hypothesis strategies for numbers and random expressions."""

from tinygrad_edu.testing.strategies import expressions, values

__all__ = ["expressions", "values"]
