"""Drawing a Tensor graph: :func:`tinygrad_edu.viz.draw_dot` hands Tensors over here.

The same picture as for Values, one record per Tensor and one small node per op, but a
record shows the tensor's shape, and its data and grad only when it is small enough to
read (at most ``SMALL`` entries; with more than two axes, flattened). As for Values,
``max_nodes`` counts the records, and the walk stops at the first one past it.
"""

from __future__ import annotations

from collections.abc import Iterable

import graphviz
import numpy as np

from tinygrad_edu.tensor.engine import Tensor
from tinygrad_edu.viz import (
    CONSTANT_FILL,
    FONT,
    OP_FILL,
    RANKDIRS,
    GraphDrawing,
    format_number,
    record_escape,
)

SMALL = 6  # entries: a 2x3 matrix still reads at notebook width


def _numbers(array: np.ndarray) -> str:
    """A number, ``[a, b]`` for a vector, ``[a, b; c, d]`` (rows) for a matrix, else flat."""
    if array.ndim == 0:
        return format_number(float(array))
    rows = np.atleast_2d(array) if array.ndim <= 2 else array.reshape(1, -1)
    text = "; ".join(", ".join(format_number(float(x)) for x in row) for row in rows)
    return f"[{text}]"


def _record(node: Tensor, show_grad: bool, rankdir: str) -> str:
    fields = [node.label or ("constant" if not node.requires_grad else "")]
    fields = [f for f in fields if f] + [f"shape {node.shape}"]
    if node.data.size <= SMALL:
        # Rows and columns read as a matrix; more axes do not fit a line: say it is flat.
        layout = " (flattened)" if node.ndim > 2 else ""
        fields.append(f"data{layout} {_numbers(node.data)}")
        if show_grad and node.requires_grad:
            fields.append(f"grad{layout} {_numbers(node.grad)}")
    record = " | ".join(record_escape(field) for field in fields)
    return "{ " + record + " }" if rankdir in ("LR", "RL") else record


def _drawing_order(root: Tensor, max_nodes: int | None) -> list[Tensor]:
    """Every Tensor below ``root``, each after its inputs (visited in argument order).

    An iterative walk over ``inputs`` that counts each Tensor as it is entered, so that a
    graph above ``max_nodes`` is refused after ``max_nodes`` steps, not after a full walk.
    Constants are drawn too (the engine's own order skips them).
    """
    order: dict[Tensor, None] = {}  # insertion-ordered: the drawing order
    entered: set[Tensor] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order[node] = None
            continue
        if node in entered:
            continue
        if max_nodes is not None and len(entered) >= max_nodes:
            raise ValueError(
                f"the graph has more than max_nodes={max_nodes} tensors to draw; "
                "pass max_nodes=None to draw it anyway"
            )
        entered.add(node)
        stack.append((node, True))
        stack.extend((x, False) for x in reversed(node.inputs) if x not in entered)
    return list(order)


def draw_tensor_dot(
    root: Tensor,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    max_nodes: int | None = 500,
    highlight: Iterable[object] = (),
    cluster: bool = False,
    step: int | None = None,
    show_local: bool = False,
    max_width: float | None = None,
) -> GraphDrawing:
    """Draw the Tensor graph below ``root`` with shapes (values and grads when small).

    ``max_nodes`` bounds the Tensor records drawn; ``max_width`` (inches) scales the
    picture down to that width if it is wider. ``highlight``, ``cluster``, ``step`` and
    ``show_local`` are for Value graphs only (a ``ValueError``).
    """
    if tuple(highlight) or cluster or step is not None:
        raise ValueError("highlight, cluster and step draw Value graphs; a Tensor graph has none")
    if show_local:
        raise ValueError(
            "show_local writes one number per edge; a Tensor op's local derivative is a "
            "whole Jacobian: draw the same computation on Values to see each one"
        )
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    if max_width is not None and not (isinstance(max_width, int | float) and max_width > 0):
        raise ValueError(f"max_width must be a positive number of inches, not {max_width!r}")
    nodes = _drawing_order(root, max_nodes)
    ids = {node: f"t{k}" for k, node in enumerate(nodes)}
    dot = GraphDrawing(
        graph_attr={"rankdir": rankdir, "fontname": FONT},
        node_attr={"fontname": FONT, "fontsize": "12"},
        edge_attr={"fontname": FONT, "fontsize": "10"},
    )
    if max_width is not None:  # as for Values: Graphviz's size without "!" only shrinks
        dot.attr(size=f"{max_width:g},{1000 * max_width:g}")
    for node in nodes:
        attributes = {"shape": "record", "style": "rounded,filled", "fillcolor": "white"}
        if not node.requires_grad:
            attributes.update(fillcolor=CONSTANT_FILL, fontcolor="#555555", color="#999999")
        dot.node(ids[node], graphviz.nohtml(_record(node, show_grad, rankdir)), **attributes)
        if node.inputs:
            op_id = f"op{ids[node][1:]}"
            dot.node(op_id, node.op, shape="ellipse", style="filled", fillcolor=OP_FILL,
                     fontsize="11", margin="0.05,0.02", height="0.3")  # fmt: skip
            for x in node.inputs:
                dot.edge(ids[x], op_id)
            dot.edge(op_id, ids[node])
    return dot
