"""Drawing a Tensor graph: :func:`tinygrad_edu.viz.draw_dot` hands Tensors over here.

The same picture as for Values, one record per Tensor and one small node per op, but a
record shows the tensor's shape, and its data and grad only when it is small enough to
read (at most ``SMALL`` entries). The nodes come from the engine's own topological order.
"""

from __future__ import annotations

from collections.abc import Iterable

import graphviz
import numpy as np

from tinygrad_edu.engine import topological_order
from tinygrad_edu.tensor.engine import Tensor
from tinygrad_edu.viz import (
    CONSTANT_FILL,
    FONT,
    OP_FILL,
    RANKDIRS,
    GraphDrawing,
    _record_escape,
    format_number,
)

SMALL = 6  # entries: a 2x3 matrix still reads at notebook width


def _numbers(array: np.ndarray) -> str:
    if array.ndim == 0:
        return format_number(float(array))
    rows = np.atleast_2d(array)
    text = "; ".join(", ".join(format_number(float(x)) for x in row) for row in rows)
    return f"[{text}]"


def _record(node: Tensor, show_grad: bool, rankdir: str) -> str:
    fields = [node.label or ("constant" if not node.requires_grad else "")]
    fields = [f for f in fields if f] + [f"shape {node.shape}"]
    if node.data.size <= SMALL:
        fields.append(f"data {_numbers(node.data)}")
        if show_grad and node.requires_grad:
            fields.append(f"grad {_numbers(node.grad)}")
    record = " | ".join(_record_escape(field) for field in fields)
    return "{ " + record + " }" if rankdir in ("LR", "RL") else record


def draw_tensor_dot(
    root: Tensor,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    max_nodes: int | None = 500,
    highlight: Iterable[object] = (),
    cluster: bool = False,
    step: int | None = None,
) -> GraphDrawing:
    """Draw the Tensor graph below ``root`` with shapes (values and grads when small).

    ``highlight``, ``cluster`` and ``step`` are for Value graphs only (a ``ValueError``).
    """
    if tuple(highlight) or cluster or step is not None:
        raise ValueError("highlight, cluster and step draw Value graphs; a Tensor graph has none")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    # The engine's order holds the nodes that need a gradient; constants join as inputs.
    nodes: list[Tensor] = list(topological_order(root)) if root.requires_grad else [root]  # type: ignore[arg-type]
    for node in list(nodes):
        nodes.extend(x for x in node.inputs if not x.requires_grad and x not in nodes)
    count = len(nodes) + sum(1 for node in nodes if node.inputs)
    if max_nodes is not None and count > max_nodes:
        raise ValueError(f"the graph has {count} nodes to draw, more than max_nodes={max_nodes}")
    ids = {node: str(k) for k, node in enumerate(nodes)}
    dot = GraphDrawing(
        graph_attr={"rankdir": rankdir, "fontname": FONT},
        node_attr={"fontname": FONT, "fontsize": "12"},
        edge_attr={"fontname": FONT, "fontsize": "10"},
    )
    for node in nodes:
        attributes = {"shape": "record", "style": "rounded,filled", "fillcolor": "white"}
        if not node.requires_grad:
            attributes.update(fillcolor=CONSTANT_FILL, fontcolor="#555555", color="#999999")
        dot.node(ids[node], graphviz.nohtml(_record(node, show_grad, rankdir)), **attributes)
        if node.inputs:
            op_id = f"{ids[node]}op"
            dot.node(op_id, node.op, shape="ellipse", style="filled", fillcolor=OP_FILL,
                     fontsize="11", margin="0.05,0.02", height="0.3")  # fmt: skip
            for x in node.inputs:
                dot.edge(ids[x], op_id)
            dot.edge(op_id, ids[node])
    return dot
