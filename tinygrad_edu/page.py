r"""The step-through page: the forward and backward pass as one self-contained HTML file.

:func:`save_html` writes a page a teacher can open from disk, project, or put on a course
website: no network at all (a Content-Security-Policy in the page forbids every fetch).
It plays the forward pass, one node appearing per frame in topological order with its
data, then every step of :func:`~tinygrad_edu.viz.backward_steps`,

.. math:: x.grad \mathrel{+}= \frac{\partial out}{\partial x} \cdot out.grad,

outlining the node it updates, showing the step's own line of arithmetic and filling in
the gradients. The URL keeps the frame (``#forward=3``, ``#step=7``) so a link opens there.

The graph is laid out once, on the server side, by the package's renderer, and embedded as
one SVG; each frame is a little data (which nodes are visible, which gradient changed,
which node and edges are outlined) that the page's script applies. So the page grows
linearly with the graph, not with steps times nodes.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from tinygrad_edu.engine import Value
from tinygrad_edu.files import write_atomically
from tinygrad_edu.viz import (
    HIGHLIGHT_COLOUR,
    BackwardStep,
    DrawnGraph,
    backward_steps,
    draw_dot,
    format_number,
    render_bytes,
)

__all__ = ["inline_frame", "page_html", "save_html"]

TEMPLATE = "page_template.html"
# The template's placeholders, all filled in one pass (so no filled-in text is read again).
_PLACEHOLDER = re.compile(r"@@(TITLE|SVG|DATA)@@")
# How a forward-frame line writes each op of two inputs.
INFIX_OPS = frozenset({"+", "-", "*", "/", "**"})
# The grad field that ends a record label, as draw_dot writes it: "{ x | data 2.0 | grad -1.5 }".
_GRAD_FIELD = re.compile(r"\| grad [-+.0-9a-z]+(?= \}$|$)")


@dataclass(frozen=True)
class _Frame:
    """One frame of the page: what it shows, as the script reads it (see the template)."""

    kind: str  # "forward" or "backward"
    text: str
    node: str  # the drawn id of the node the frame is about (outlined)
    reveal: tuple[str, ...] = ()  # forward: ids that appear in this frame
    grad: str = ""  # backward: the node's gradient after this step, as drawn
    edges: tuple[str, ...] = ()  # backward: the "tail->head" edges the gradient flows along

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "text": self.text, "node": self.node}
        if self.kind == "forward":
            data["reveal"] = list(self.reveal)
        else:
            data.update(grad=self.grad, edges=list(self.edges))
        return data


def page_html(
    root: Value,
    *,
    title: str | None = None,
    max_nodes: int | None = 500,
    backend: str | None = None,
    **draw_options: Any,
) -> str:
    """The step-through page of the graph below ``root``, as one HTML document.

    ``max_nodes`` refuses a large graph exactly as :func:`~tinygrad_edu.viz.draw_dot`
    does (a ``ValueError``), and other ``draw_options`` (``rankdir``, ``cluster`` ...)
    go to it; ``backend`` chooses the renderer as :func:`~tinygrad_edu.viz.render_bytes`
    does. No ``.grad`` field is modified.
    """
    # draw_dot first: it refuses an oversized graph before any step is computed.
    drawing = draw_dot(root, step=0, max_nodes=max_nodes, **draw_options)
    graph = DrawnGraph(root)
    steps = backward_steps(root, max_nodes=max_nodes)
    frames = _forward_frames(graph) + _backward_frames(graph, steps)
    widest = _widest_grad_texts(graph, steps)
    svg = _layout_svg(drawing.source, widest, backend)
    name = root.label or "the graph"
    heading = title if title is not None else f"Backpropagation through {name}, step by step"
    data = {
        "zero": format_number(0.0),
        "frames": [frame.as_json() for frame in frames],
        "gradNodes": list(widest),
    }
    pieces = {"TITLE": html.escape(heading), "SVG": svg, "DATA": _script_json(data)}
    template = resources.files("tinygrad_edu").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return _PLACEHOLDER.sub(lambda match: pieces[match.group(1)], template)


def save_html(
    root: Value,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    max_nodes: int | None = 500,
    backend: str | None = None,
) -> Path:
    """Write the step-through page of ``root`` to ``path`` (atomically); return the path.

    A label may hold text UTF-8 cannot encode (a lone surrogate such as ``"\ud800"``): it is
    written escaped (``\ud800``), as the drawings show it, never an encoding error.
    """
    document = page_html(root, title=title, max_nodes=max_nodes, backend=backend)
    return write_atomically(path, document.encode("utf-8", errors="backslashreplace"))


def inline_frame(root: Value, *, height: int = 520, **page_options: Any) -> str:
    """The page of :func:`page_html` in an ``<iframe srcdoc=...>``, for a notebook cell.

    An iframe keeps the page's script and style apart from the notebook's own. (The
    ``<div>`` around it keeps IPython from warning about a bare ``<iframe>``.)
    """
    document = page_html(root, **page_options)
    return (
        f'<div><iframe srcdoc="{html.escape(document, quote=True)}" title="backward pass '
        f'step by step" style="width: 100%; height: {height}px; border: 1px solid #ddd">'
        "</iframe></div>"
    )


# ---- the frames ----------------------------------------------------------------------------


def _forward_frames(graph: DrawnGraph) -> list[_Frame]:
    """A frame per node in drawing order (inputs first); constants appear with their user."""
    frames: list[_Frame] = []
    waiting: list[str] = []  # constants, shown with the next node that is computed
    for node in graph.nodes:
        node_id = graph.node_id(node)
        if not node.inputs and not node.requires_grad:
            waiting.append(node_id)
            continue
        reveal = [*waiting, node_id] + ([graph.op_id(node)] if node.inputs else [])
        waiting = []
        frames.append(
            _Frame(kind="forward", text=_forward_line(graph, node), node=node_id,
                   reveal=tuple(reveal))
        )  # fmt: skip
    return frames


def _forward_line(graph: DrawnGraph, node: Value) -> str:
    """``x1w1 = x1 * w1 = 2.0 * -3.0 = -6.0``: how the forward pass computed the node."""
    value = format_number(node.data)
    name = graph.name(node)
    if not node.inputs:
        return f"{name} = {value}  (a leaf: given, not computed)"
    inputs = graph.inputs[node]
    names = [graph.name(x) if x.requires_grad else format_number(x.data) for x in inputs]
    numbers = [format_number(x.data) for x in inputs]
    if node.op in INFIX_OPS and len(inputs) == 2:
        symbolic = f" {node.op} ".join(names)
        numeric = f" {node.op} ".join(numbers)
    elif node.op == "neg":
        symbolic, numeric = f"-{names[0]}", f"-({numbers[0]})"
    else:
        symbolic = f"{node.op}({', '.join(names)})"
        numeric = f"{node.op}({', '.join(numbers)})"
    if symbolic == numeric:  # only constants went in
        return f"{name} = {numeric} = {value}"
    return f"{name} = {symbolic} = {numeric} = {value}"


def _backward_frames(graph: DrawnGraph, steps: list[BackwardStep]) -> list[_Frame]:
    """A frame per step of the backward pass, with the step's own line."""
    frames = []
    for step in steps:
        node_id = graph.node_id(step.node)
        edges: tuple[str, ...] = ()
        if step.output is not None:
            op_id = graph.op_id(step.output)
            edges = (f"{node_id}->{op_id}", f"{op_id}->{graph.node_id(step.output)}")
        frames.append(
            _Frame(kind="backward", text=str(step), node=node_id,
                   grad=format_number(step.grads[step.node]), edges=edges)
        )  # fmt: skip
    return frames


def _widest_grad_texts(graph: DrawnGraph, steps: list[BackwardStep]) -> dict[str, str]:
    """Per node that gets a gradient, its longest gradient text over the steps (and 0.0).

    The layout is made with these, so that every gradient the page shows fits its box.
    """
    widest: dict[str, str] = {}
    for node in graph.nodes:
        if node.requires_grad:
            widest[graph.node_id(node)] = format_number(0.0)
    for step in steps:
        node_id = graph.node_id(step.node)
        text = format_number(step.grads[step.node])
        if len(text) > len(widest[node_id]):
            widest[node_id] = text
    return widest


# ---- the picture ---------------------------------------------------------------------------


def _layout_svg(source: str, widest: dict[str, str], backend: str | None) -> str:
    """Lay out ``draw_dot``'s step-0 drawing as a neutral picture for every frame.

    The step's caption and red outline go (the page draws its own), and each gradient
    field holds its widest text so that every value the page writes there fits.
    """
    import pygraphviz

    layout = pygraphviz.AGraph(string=source)
    del layout.graph_attr["label"]
    for node in layout.nodes():
        if node.attr.get("color") == HIGHLIGHT_COLOUR:
            del node.attr["color"]
            del node.attr["penwidth"]
        if str(node) in widest:
            field = f"| grad {widest[str(node)]}"
            node.attr["label"] = _GRAD_FIELD.sub(field, node.attr["label"])
    svg = render_bytes(layout.to_string(), "svg", backend=backend).decode("utf-8")
    svg = svg[svg.index("<svg") :]  # inline HTML wants the element, not an XML document
    return re.sub(r"<!--.*?-->\n?", "", svg, flags=re.DOTALL)  # Graphviz's comments


def _script_json(data: object) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>`` or ``<!--`` can end it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
