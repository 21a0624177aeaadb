"""tinygrad_edu: a scalar reverse-mode autodiff engine for learning backpropagation."""

__all__ = ["Value", "detect_anomaly", "grad", "no_grad"]
__version__ = "0.1.0"

# NOTE: not typing.TYPE_CHECKING: importing typing would cost start-up time; mypy reads both.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from tinygrad_edu.engine import Value, detect_anomaly, grad, no_grad


def __getattr__(name: str) -> object:
    # The engine loads on first use, so `tinygrad-edu` can answer Ctrl-C from its first line.
    if name in __all__:
        from tinygrad_edu import engine

        return getattr(engine, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
