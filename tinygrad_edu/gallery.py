r"""Make the ``viz/`` gallery: ``python -m tinygrad_edu.gallery [directory]`` (default ``viz``).

The pictures:

* ``neuron.svg``: one tanh neuron, :math:`o = \tanh(x_1 w_1 + x_2 w_2 + b)` with the classic
  numbers (:math:`o = 0.7071`), after ``backward()``;
* ``chain_rule.svg``: :math:`y = e^{\sin(x^2)}` at :math:`x = 1`, whose derivative is
  :math:`e^{\sin(x^2)} \cos(x^2) \, 2x`: the three factors stand on its arrows
  (``show_local=True``);
* ``mlp.svg``: a 2-2-1 MLP (tanh hidden layer, linear output) and its squared-error loss,
  built by hand with parameters named as ``tinygrad_edu.nn`` names them, drawn clustered
  and capped at notebook width;
* ``neuron_backward/step_NN.svg`` and ``steps.txt``: the backward pass of the neuron, one
  frame per chain-rule step, and the steps' lines;
* ``neuron_steps.html``: the neuron's step-through page (``viz.save_html``), offline.

The pictures are laid out by the Graphviz engine in the ``pygraphviz`` wheel, whether or
not a ``dot`` program is installed, so that regenerating them gives the same files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from tinygrad_edu.engine import Value
from tinygrad_edu.files import write_atomically
from tinygrad_edu.page import save_html
from tinygrad_edu.viz import backward_steps, draw_dot, render

BACKEND = "pygraphviz"
NOTEBOOK_WIDTH = 10.0  # inches: about the width of a notebook cell on a laptop


def tanh_neuron() -> Value:
    r"""The classic neuron :math:`o = \tanh(x_1 w_1 + x_2 w_2 + b)`, forward only."""
    x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
    w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
    b = Value(6.8813735870195432, "b")  # chosen so that o = tanh(0.8814) = 1/sqrt(2)
    x1w1 = x1 * w1
    x1w1.label = "x1w1"
    x2w2 = x2 * w2
    x2w2.label = "x2w2"
    x1w1x2w2 = x1w1 + x2w2
    x1w1x2w2.label = "x1w1x2w2"
    n = x1w1x2w2 + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def chain_rule(x: float = 1.0) -> Value:
    r""":math:`y = e^{\sin(x^2)}` as three functions: :math:`u = x^2, v = \sin u, y = e^v`."""
    x_value = Value(x, "x")
    u = x_value**2
    u.label = "u"
    v = u.sin()
    v.label = "v"
    y = v.exp()
    y.label = "y"
    return y


def tiny_mlp_loss() -> Value:
    r"""A 2-2-1 MLP's squared error :math:`(\hat y - y)^2` on one sample, built by hand.

    Hidden neurons :math:`h_j = \tanh(\sum_i w_{ji} x_i + b_j)`, output
    :math:`\hat y = \sum_j w_j h_j + b` (linear), each neuron one ``Value.sum`` node.
    """
    x = [Value(1.0, "x0", requires_grad=False), Value(-2.0, "x1", requires_grad=False)]
    hidden_weights = [(0.5, -0.4, 0.1), (-0.3, 0.8, -0.2)]  # (w.0, w.1, b) per neuron
    hidden = [
        _neuron("layers.0.neurons." + str(j), x, weights).tanh()
        for j, weights in enumerate(hidden_weights)
    ]
    prediction = _neuron("layers.1.neurons.0", hidden, (1.2, -0.7, 0.05))
    target = Value(1.0, "y", requires_grad=False)
    loss = (prediction - target) ** 2
    loss.label = "loss"
    return loss


def _neuron(name: str, inputs: Sequence[Value], numbers: Sequence[float]) -> Value:
    """The pre-activation of one neuron, its parameters labelled ``<name>.w.<i>``, ``<name>.b``."""
    *weights, bias = numbers
    pairs = enumerate(zip(weights, inputs, strict=True))
    products = [Value(w, f"{name}.w.{i}") * x for i, (w, x) in pairs]
    return Value.sum([*products, Value(bias, f"{name}.b")])


def make_gallery(directory: str | Path) -> list[Path]:
    """Write every gallery picture into ``directory``; return the paths written."""
    out = Path(directory)
    frames_directory = out / "neuron_backward"
    frames_directory.mkdir(parents=True, exist_ok=True)
    written = []

    neuron = tanh_neuron()
    steps = backward_steps(neuron)  # before backward(): the frames start from zero
    for step in steps:
        frame = draw_dot(neuron, step=step.index)
        written.append(
            render(frame, frames_directory / f"step_{step.index:02d}.svg", backend=BACKEND)
        )
    lines = "".join(f"{step}\n" for step in steps)
    write_atomically(frames_directory / "steps.txt", lines.encode("utf-8"))
    written.append(frames_directory / "steps.txt")

    neuron.backward()
    written.append(render(draw_dot(neuron), out / "neuron.svg", backend=BACKEND))

    y = chain_rule()
    y.backward()
    written.append(render(draw_dot(y, show_local=True), out / "chain_rule.svg", backend=BACKEND))

    loss = tiny_mlp_loss()
    loss.backward()
    mlp = draw_dot(loss, cluster=True, max_width=NOTEBOOK_WIDTH)
    written.append(render(mlp, out / "mlp.svg", backend=BACKEND))

    written.append(save_html(tanh_neuron(), out / "neuron_steps.html", backend=BACKEND))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the gallery; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tinygrad_edu.gallery", description=__doc__)
    parser.add_argument("directory", nargs="?", default="viz", help="where to write (viz)")
    args = parser.parse_args(argv)
    make_gallery(args.directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
