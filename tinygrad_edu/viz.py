r"""Draw computation graphs and step through the backward pass.

* :func:`draw_dot` turns the graph below a ``Value`` into a Graphviz ``Digraph``: one
  record per Value (label | data | grad), one small node per op, edges input -> op -> output.
* :func:`render` writes it as SVG, PNG or PDF with the ``dot`` program when installed, else
  with the Graphviz engine bundled in the ``pygraphviz`` wheel (no system package needed).
* :func:`backward_steps` lists the chain-rule updates in the order ``backward()`` applies them,

  .. math:: x.grad \mathrel{+}= \frac{\partial out}{\partial x} \cdot out.grad

  with the numbers filled in; :func:`draw_dot` with ``step=k`` draws the graph as it stands
  after step ``k`` and :func:`step_through` shows the frames in a notebook.

The step-through follows the engine's own :func:`~tinygrad_edu.engine.topological_order`
and takes its numbers from :func:`~tinygrad_edu.engine.local_derivatives`: nothing here
re-derives a gradient rule. (Edges into non-commutative ops are labelled with the input's
role, e.g. ``base`` and ``exponent``, not with numbers.)

Clustering convention (``cluster=True``), relying only on parameter labels as
``tinygrad_edu.nn`` names them (``layers.0.neurons.3.w.1``, ``layers.0.neurons.3.b``):

* a leaf labelled ``<neuron>.w.<i>`` or ``<neuron>.b``, where ``<neuron>`` ends in
  ``neurons.<k>``, is a parameter of that neuron; the text before ``.neurons.<k>`` (if any)
  names its layer (``layers.0``);
* a ``*`` node with exactly one weight of the neuron among its two distinct inputs is the
  neuron's product ``w_i * x_i``;
* a ``sum`` or ``+`` node that takes the neuron's bias, or whose inputs are all the neuron's
  products, is the neuron's pre-activation;
* a ``tanh``/``relu``/``sigmoid`` node applied to that pre-activation is its activation.

Everything else (inputs, losses, regularisers such as ``p * p``) stays outside the clusters.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import graphviz

from tinygrad_edu.engine import SharedConstant, Value, local_derivatives, topological_order
from tinygrad_edu.files import write_atomically

__all__ = [
    "BackwardStep",
    "GraphDrawing",
    "GraphvizNotFoundError",
    "backward_steps",
    "draw_dot",
    "format_number",
    "render",
    "step_through",
]

RENDER_FORMATS = ("svg", "png", "pdf")
RANKDIRS = ("LR", "RL", "TB", "BT")
FONT = "Helvetica,Arial,sans-serif"
HIGHLIGHT_COLOUR = "#d62728"
CONSTANT_FILL = "#eeeeee"
OP_FILL = "#fde9b8"

# The local derivative d out / d input_i of each op, written symbolically for the step lines.
# {a} and {b} stand for the inputs' data, {out} for the output's data.
SYMBOLIC_LOCAL_DERIVATIVES: dict[str, tuple[str, ...]] = {
    "+": ("1", "1"),
    "-": ("1", "-1"),
    "*": ("{b}", "{a}"),
    "/": ("1 / {b}", "-{out} / {b}"),
    "**": ("{b} * {a}**({b} - 1)", "{out} * log({a})"),
    "sum": ("1",),  # every input of the n-ary sum
    "neg": ("-1",),
    "abs": ("sign({a})",),
    "exp": ("{out}",),
    "log": ("1 / {a}",),
    "tanh": ("(1 - {out}**2)",),
    "sigmoid": ("{out} * (1 - {out})",),
    "relu": ("({a} > 0)",),
    "sin": ("cos({a})",),
    "cos": ("-sin({a})",),
    "sqrt": ("0.5 / {out}",),
}

# Ops whose argument order changes the result: their incoming edges are labelled.
ARGUMENT_ROLES: dict[str, tuple[str, str]] = {
    "-": ("left", "right"),
    "/": ("numerator", "denominator"),
    "**": ("base", "exponent"),
}

_PARAMETER = re.compile(r"^(?P<neuron>(?:(?P<layer>.+)\.)?neurons\.\d+)\.(?P<kind>w\.\d+|b)$")
_ACTIVATIONS = frozenset({"tanh", "relu", "sigmoid"})


def format_number(x: float) -> str:
    """``x`` to 4 significant digits, always recognisable as a float (``-3.0``, ``0.7071``)."""
    text = f"{x:.4g}"
    if text.lstrip("-").isdigit():  # "-3" -> "-3.0": a learner reads floats as floats
        text += ".0"
    return text


# ---- the graph as drawn ------------------------------------------------------------------


class _Graph:
    """The nodes below ``root`` in drawing order (inputs first) with their display names.

    A plain number in an expression is drawn at each of its uses: the engine shares one
    leaf among all uses of a number (every ``** 2`` points at the same ``2.0``), and one box
    with edges to far corners of the picture would be harder to read. Constants you make
    yourself, such as a network's inputs, are drawn once, with an edge to each use.
    """

    def __init__(self, root: Value) -> None:
        if not isinstance(root, Value):
            raise TypeError(f"expected a Value as the graph's root, not {type(root).__name__}")
        self.root = root
        self.nodes: list[Value] = []
        self.index: dict[Value, int] = {}
        self.inputs: dict[Value, tuple[Value, ...]] = {}  # as drawn: a box per constant use
        self.stand_ins: dict[Value, list[Value]] = {}
        # A plain iterative walk of ``inputs`` (the engine's topological_order skips
        # constants), visiting inputs in argument order so that x1 is drawn above x2.
        stack: list[tuple[Value, bool]] = [(root, False)]
        while stack:
            node, inputs_done = stack.pop()
            if node in self.index:
                continue
            if inputs_done:
                self.index[node] = len(self.nodes)
                self.nodes.append(node)
                continue
            drawn = tuple(self._drawn_input(x) for x in node.inputs)
            self.inputs[node] = drawn
            stack.append((node, True))
            stack.extend((x, False) for x in reversed(drawn) if x not in self.index)

    def _drawn_input(self, x: Value) -> Value:
        """``x``, or a stand-in of its own for each use of a number the engine shares."""
        if not isinstance(x, SharedConstant):
            return x
        stand_in = Value(x.data, requires_grad=False)
        self.stand_ins.setdefault(x, []).append(stand_in)
        return stand_in

    def drawn(self, node: Value) -> list[Value]:
        """The boxes that show ``node``: itself, or one per use of a shared constant."""
        if node in self.index:
            return [node]
        return self.stand_ins.get(node, [])

    def node_id(self, node: Value) -> str:
        return f"v{self.index[node]}"

    def op_id(self, node: Value) -> str:
        return f"op{self.index[node]}"

    def name(self, node: Value) -> str:
        """The node's label, else ``v<i>`` from its drawing position; ``(a + b)`` if spaced."""
        name = node.label or self.node_id(node)
        return name if re.fullmatch(r"[\w.\[\]]+", name) else f"({name})"

    def reference(self, node: Value) -> str:
        """How a step line refers to the node's data: ``a.data``, or the number if constant."""
        if not node.requires_grad:
            return format_number(node.data)
        return f"{self.name(node)}.data"

    def drawn_node_count(self) -> int:
        return len(self.nodes) + sum(1 for node in self.nodes if node.inputs)


# ---- backward step-through -----------------------------------------------------------------


@dataclass(frozen=True)
class BackwardStep:
    """One update of the backward pass: ``node.grad += local * output.grad``.

    Step 0 is the seed (``root.grad = 1.0``), with ``output`` and ``position`` None.
    ``grads`` holds every gradient as it stands after this step (nodes not reached yet: 0.0).
    """

    index: int
    node: Value
    output: Value | None
    position: int | None
    line: str
    local_derivative: float
    contribution: float
    grads: Mapping[Value, float]

    def __str__(self) -> str:
        return f"step {self.index}: {self.line}"


def backward_steps(root: Value) -> list[BackwardStep]:
    r"""The steps of ``root.backward()`` in the order it applies them, with their numbers.

    Step 0 seeds :math:`\partial root / \partial root = 1`; each later step is one edge of
    the chain rule, :math:`x.grad \mathrel{+}= \frac{\partial out}{\partial x} \cdot out.grad`,
    visiting the nodes in reverse topological order as ``backward()`` does. The gradients
    are computed on the side from :func:`~tinygrad_edu.engine.local_derivatives`: no
    ``.grad`` field is modified, and they start from zero (one fresh backward pass).
    """
    graph = _Graph(root)
    if not root.requires_grad:
        raise ValueError("backward_steps() needs a root that requires grad (not a constant)")
    grads: dict[Value, float] = {node: 0.0 for node in graph.nodes if node.requires_grad}
    grads[root] = 1.0
    root_name = graph.name(root)
    steps = [
        BackwardStep(
            index=0,
            node=root,
            output=None,
            position=None,
            line=f"{root_name}.grad = 1.0  (the seed: d{root_name}/d{root_name} = 1)",
            local_derivative=1.0,
            contribution=1.0,
            grads=dict(grads),
        )
    ]
    for output in reversed(topological_order(root)):
        locals_ = local_derivatives(output)
        for position, (x, local) in enumerate(zip(output.inputs, locals_, strict=True)):
            if not x.requires_grad:
                continue
            contribution = local * grads[output]
            grads[x] += contribution
            formula = _symbolic_derivative(graph, output, position)
            out_name = graph.name(output)
            line = (
                f"{graph.name(x)}.grad += {formula} * {out_name}.grad"
                f" = {format_number(local)} * {format_number(grads[output])}"
                f" = {format_number(contribution)}"
            )
            if grads[x] != contribution:  # an accumulating node: show where it stands
                line += f"  ({graph.name(x)}.grad is now {format_number(grads[x])})"
            steps.append(
                BackwardStep(
                    index=len(steps),
                    node=x,
                    output=output,
                    position=position,
                    line=line,
                    local_derivative=local,
                    contribution=contribution,
                    grads=dict(grads),
                )
            )
    return steps


def _symbolic_derivative(graph: _Graph, output: Value, position: int) -> str:
    forms = SYMBOLIC_LOCAL_DERIVATIVES.get(output.op)
    if forms is None:
        return f"d{output.op}/dx{position}"
    form = forms[0] if len(forms) == 1 else forms[position]
    names = [graph.reference(x) for x in output.inputs[:2]]
    return form.format(
        a=names[0], b=names[-1] if len(names) > 1 else "", out=graph.reference(output)
    )


# ---- drawing -----------------------------------------------------------------------------


class GraphDrawing(graphviz.Digraph):  # type: ignore[misc]
    """A ``graphviz.Digraph`` that displays inline in Jupyter without a ``dot`` executable.

    Its notebook display goes through :func:`render_bytes`, so it uses ``dot`` when
    installed and the ``pygraphviz`` engine otherwise.
    """

    def __repr__(self) -> str:
        # The default repr holds a memory address, so a notebook's text output changed on
        # every run; this one depends on the drawing alone.
        values = sum("shape=record" in line for line in self.body)
        edges = sum("->" in line for line in self.body)
        return f"<GraphDrawing: {values} values, {edges} edges>"

    def _repr_image_svg_xml(self) -> str:
        return render_bytes(self.source, "svg").decode("utf-8")

    def _repr_image_png(self) -> bytes:
        return render_bytes(self.source, "png")

    def _repr_image_jpeg(self) -> bytes:
        return render_bytes(self.source, "jpeg")

    def _repr_svg_(self) -> str:
        return self._repr_image_svg_xml()


def draw_dot(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    max_nodes: int | None = 500,
    highlight: Iterable[Value] = (),
    cluster: bool = False,
    step: int | None = None,
) -> GraphDrawing:
    """Draw the graph below ``root``: a record per Value, a small node per op.

    Node ids follow the drawing order, so the same graph always gives the same DOT text.
    Constant leaves are grey and have no grad field; a plain number in the expression is
    drawn at each of its uses. ``highlight`` gets a thick red border.
    ``step=k`` draws the gradients as they stand after step ``k`` of
    :func:`backward_steps`, highlights the node it updates and the edge it flows along.
    ``max_nodes`` bounds the drawn nodes (values plus ops; with ``cluster=True`` each
    top-level cluster counts as one); above it a ``ValueError`` is raised.
    """
    if type(root).__name__ == "Tensor":  # a Tensor graph (SPEC §11): shapes, small values
        from tinygrad_edu.tensor.viz import draw_tensor_dot

        return draw_tensor_dot(root, rankdir=rankdir, show_grad=show_grad, max_nodes=max_nodes,  # type: ignore[arg-type]
                               highlight=highlight, cluster=cluster, step=step)  # fmt: skip
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    graph = _Graph(root)
    highlighted: list[Value] = []
    for node in highlight:
        drawn = graph.drawn(node) if isinstance(node, Value) else []
        if not drawn:
            raise ValueError(f"cannot highlight {node!r}: it is not a node of this graph")
        highlighted.extend(drawn)
    owners = _neuron_owners(graph) if cluster else {}
    _check_size(graph, owners, max_nodes)

    grads: Mapping[Value, float] = {node: node.grad for node in graph.nodes}
    highlighted_edge: tuple[Value, Value, int] | None = None
    caption = ""
    if step is not None:
        steps = backward_steps(root)
        if not 0 <= step < len(steps):
            raise ValueError(f"step must be between 0 and {len(steps) - 1}, not {step!r}")
        current = steps[step]
        grads = current.grads
        caption = str(current)
        highlighted.append(current.node)
        if current.output is not None and current.position is not None:
            highlighted_edge = (current.node, current.output, current.position)

    dot = GraphDrawing(
        graph_attr={"rankdir": rankdir, "fontname": FONT},
        node_attr={"fontname": FONT, "fontsize": "12"},
        edge_attr={"fontname": FONT, "fontsize": "10"},
    )
    if caption:  # a frame carries its own line of arithmetic
        dot.attr(label=graphviz.nohtml(caption), labelloc="t", labeljust="l", fontsize="14")
    emphasised = set(highlighted)
    drawn_name = step is not None  # frames name unlabelled nodes as the step lines do
    statements: dict[str, list[Value]] = {}
    for node in graph.nodes:
        statements.setdefault(owners.get(node, ""), []).append(node)

    def add_nodes(target: Any, nodes: list[Value]) -> None:
        for node in nodes:
            _add_value_node(
                target, graph, node, grads, show_grad, node in emphasised, rankdir,
                drawn_name, cluster,
            )  # fmt: skip

    add_nodes(dot, statements.pop("", []))
    for layer, neurons in _group_by_layer(statements):
        if layer:
            with dot.subgraph(name=f"cluster_{layer}") as layer_box:
                layer_box.attr(label=layer, style="rounded", color="#888888", fontname=FONT)
                for neuron in neurons:
                    _add_neuron_cluster(layer_box, neuron, statements[neuron], add_nodes)
        else:
            for neuron in neurons:
                _add_neuron_cluster(dot, neuron, statements[neuron], add_nodes)

    for node in graph.nodes:
        if node.inputs:
            _add_edges(dot, graph, node, highlighted_edge)
    return dot


def _add_neuron_cluster(target: Any, neuron: str, nodes: list[Value], add_nodes: Any) -> None:
    short = neuron.rsplit(".", 2)
    with target.subgraph(name=f"cluster_{neuron}") as box:
        box.attr(label=".".join(short[-2:]), style="rounded,dashed", color="#888888")
        add_nodes(box, nodes)


def _group_by_layer(statements: Mapping[str, list[Value]]) -> list[tuple[str, list[str]]]:
    """Neuron paths grouped by their layer path, both in drawing order."""
    layers: dict[str, list[str]] = {}
    for neuron in statements:
        match = re.match(r"^(?:(.+)\.)?neurons\.\d+$", neuron)
        layer = (match.group(1) or "") if match else ""
        layers.setdefault(layer, []).append(neuron)
    return list(layers.items())


def _record_escape(text: str) -> str:
    # These characters structure a record label; a backslash makes them literal.
    return re.sub(r'([\\{}|<>"])', r"\\\1", text)


def _add_value_node(
    target: Any,
    graph: _Graph,
    node: Value,
    grads: Mapping[Value, float],
    show_grad: bool,
    emphasised: bool,
    rankdir: str,
    drawn_name: bool,
    cluster: bool,
) -> None:
    fields = []
    label = node.label
    parameter = _PARAMETER.match(label) if cluster else None
    if parameter:
        label = parameter["kind"]  # inside its neuron's box, "w.1" says enough
    if not node.requires_grad:
        fields = [node.label or "constant", f"data {format_number(node.data)}"]
    else:
        if label or drawn_name:
            fields.append(label or graph.name(node))
        fields.append(f"data {format_number(node.data)}")
        if show_grad:
            fields.append(f"grad {format_number(grads.get(node, 0.0))}")
    record = " | ".join(_record_escape(field) for field in fields)
    if rankdir in ("LR", "RL"):  # braces turn the fields into a row across the edge flow
        record = "{ " + record + " }"
    attributes = {"shape": "record", "style": "rounded,filled", "fillcolor": "white"}
    if not node.requires_grad:
        attributes.update(fillcolor=CONSTANT_FILL, fontcolor="#555555", color="#999999")
    if emphasised:
        attributes.update(color=HIGHLIGHT_COLOUR, penwidth="3")
    target.node(graph.node_id(node), graphviz.nohtml(record), **attributes)
    if node.inputs:
        target.node(
            graph.op_id(node), node.op, shape="ellipse", style="filled", fillcolor=OP_FILL,
            fontsize="11", margin="0.05,0.02", height="0.3",
        )  # fmt: skip


def _add_edges(
    dot: Any, graph: _Graph, node: Value, highlighted_edge: tuple[Value, Value, int] | None
) -> None:
    op_id = graph.op_id(node)
    roles = ARGUMENT_ROLES.get(node.op)
    for position, x in enumerate(graph.inputs[node]):
        attributes = {}
        if roles is not None:
            attributes["label"] = roles[position]
        if highlighted_edge == (x, node, position):
            attributes.update(color=HIGHLIGHT_COLOUR, penwidth="3")
        dot.edge(graph.node_id(x), op_id, **attributes)
    if highlighted_edge is not None and highlighted_edge[1] is node:
        dot.edge(op_id, graph.node_id(node), color=HIGHLIGHT_COLOUR, penwidth="3")
    else:
        dot.edge(op_id, graph.node_id(node))


def _check_size(graph: _Graph, owners: Mapping[Value, str], max_nodes: int | None) -> None:
    if max_nodes is None:
        return
    if owners:
        outside = sum(1 + bool(node.inputs) for node in graph.nodes if node not in owners)
        top_level = {_top_level_cluster(owner) for owner in owners.values()}
        count = outside + len(top_level)
    else:
        count = graph.drawn_node_count()
    if count > max_nodes:
        raise ValueError(
            f"the graph has {count} nodes to draw, more than max_nodes={max_nodes}; "
            "pass max_nodes=None to draw it anyway, or cluster=True to fold an nn model's "
            "neurons and layers into boxes"
        )


def _top_level_cluster(neuron: str) -> str:
    match = re.match(r"^(.+)\.neurons\.\d+$", neuron)
    return match.group(1) if match else neuron


def _neuron_owners(graph: _Graph) -> dict[Value, str]:
    """Map each node created inside a neuron to the neuron's dotted path (see module doc)."""
    owners: dict[Value, str] = {}
    weights: dict[Value, str] = {}
    biases: dict[Value, str] = {}
    products: dict[Value, str] = {}
    pre_activations: dict[Value, str] = {}
    for node in graph.nodes:
        if not node.inputs:
            match = _PARAMETER.match(node.label)
            if match:
                owners[node] = match["neuron"]
                kind = biases if match["kind"] == "b" else weights
                kind[node] = match["neuron"]
            continue
        inputs = node.inputs
        if node.op == "*" and inputs[0] is not inputs[1]:
            found = {weights[x] for x in inputs if x in weights}
            if len(found) == 1 and sum(x in weights for x in inputs) == 1:
                products[node] = owners[node] = found.pop()
        elif node.op in ("sum", "+"):
            by_bias = {biases[x] for x in inputs if x in biases}
            by_products = {products.get(x) for x in inputs if x not in biases}
            candidates = by_bias | (by_products if None not in by_products else set())
            if len(candidates) == 1:
                neuron = candidates.pop()
                if neuron is not None:
                    pre_activations[node] = owners[node] = neuron
        elif node.op in _ACTIVATIONS and inputs[0] in pre_activations:
            owners[node] = pre_activations[inputs[0]]
    return owners


# ---- rendering ---------------------------------------------------------------------------


class GraphvizNotFoundError(RuntimeError):
    """Neither the Graphviz ``dot`` program nor the ``pygraphviz`` package is available."""


def render_bytes(source: str, format: str, *, backend: str | None = None) -> bytes:
    """Lay out DOT ``source`` and return the picture in ``format`` (``svg``, ``png`` ...).

    ``backend`` is ``"dot"`` (the Graphviz program, via the graphviz package),
    ``"pygraphviz"`` (its bundled engine) or None: ``dot`` when on PATH, else pygraphviz.
    """
    if backend not in (None, "dot", "pygraphviz"):
        raise ValueError(f"backend must be 'dot', 'pygraphviz' or None, not {backend!r}")
    if backend == "dot" or (backend is None and shutil.which("dot") is not None):
        output: bytes = graphviz.pipe("dot", format, source.encode("utf-8"))
        return output
    try:
        import pygraphviz
    except ImportError as error:
        raise GraphvizNotFoundError(
            "rendering needs Graphviz: install the Python wheel with 'pip install pygraphviz' "
            "or the dot program (e.g. 'apt install graphviz', 'brew install graphviz')"
        ) from error
    output = pygraphviz.AGraph(string=source).draw(format=format, prog="dot")
    return output


def render(
    root_or_digraph: Value | graphviz.Graph,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    backend: str | None = None,
) -> Path:
    """Write the drawing of a Value (or a ready ``Digraph``) to ``path``; return the path.

    ``format`` is ``svg``, ``png`` or ``pdf``, taken from the suffix when None (another
    suffix is a ``ValueError``). ``dot`` renders when on PATH, else pygraphviz; without
    either a :class:`GraphvizNotFoundError` (a ``RuntimeError``) says how to install one.
    The file is written atomically (a temporary file, then ``os.replace``).
    """
    target = Path(path)
    chosen = format if format is not None else target.suffix.lstrip(".").lower()
    if chosen not in RENDER_FORMATS:
        what = f"format {format!r}" if format is not None else f"suffix {target.suffix!r}"
        raise ValueError(f"cannot render {what}: use one of {', '.join(RENDER_FORMATS)}")
    if isinstance(root_or_digraph, Value):
        source = draw_dot(root_or_digraph).source
    elif isinstance(root_or_digraph, graphviz.Graph | graphviz.Digraph):
        source = root_or_digraph.source
    else:
        raise TypeError(
            f"render() takes a Value or a graphviz graph, not {type(root_or_digraph).__name__}"
        )
    picture = render_bytes(source, chosen, backend=backend)
    write_atomically(target, picture)
    return target


# ---- notebooks ---------------------------------------------------------------------------


def step_through(root: Value, **draw_options: Any) -> None:
    """Show the backward pass frame by frame in a notebook.

    With ipywidgets: a slider over the steps and, below it, the frame and its line.
    Without: every frame and its line displayed one after another.
    """
    import IPython.display

    # IPython ships no type hints for these two; state what we rely on.
    display = cast("Callable[[object], None]", IPython.display.display)
    text = cast("Callable[[str], object]", IPython.display.Pretty)
    steps = backward_steps(root)
    try:
        import ipywidgets
    except ImportError:
        for step in steps:
            display(draw_dot(root, step=step.index, **draw_options))
            display(text(str(step)))
        return

    def frame_html(index: int) -> str:
        svg = draw_dot(root, step=index, **draw_options)._repr_image_svg_xml()
        svg = svg[svg.index("<svg") :]  # inline HTML wants the element, not an XML document
        return f"{svg}<pre>{html.escape(str(steps[index]))}</pre>"

    slider = ipywidgets.IntSlider(value=0, min=0, max=len(steps) - 1, description="step")
    picture = ipywidgets.HTML(value=frame_html(0))

    def show(change: Mapping[str, Any]) -> None:
        picture.value = frame_html(change["new"])

    slider.observe(show, names="value")
    display(ipywidgets.VBox([slider, picture]))
