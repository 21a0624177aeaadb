"""Tools for testing gradients: hypothesis strategies, and a checker for a learner's engine."""

from tinygrad_edu.testing.check_engine import EngineReport, PropertyResult, check_engine
from tinygrad_edu.testing.strategies import expressions, values

__all__ = ["EngineReport", "PropertyResult", "check_engine", "expressions", "values"]
