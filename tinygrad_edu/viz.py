r"""Draw computation graphs and step through the backward pass.

* :func:`draw_dot` turns the graph below a ``Value`` into a Graphviz ``Digraph``: one
  record per Value (label | data | grad), one small node per op, edges input -> op -> output.
* :func:`render` writes it as SVG, PNG or PDF with the ``dot`` program when installed, else
  with the Graphviz engine bundled in the ``pygraphviz`` wheel (no system package needed).
  The layout runs in a child process, so a timeout or Ctrl-C stops it at once and Graphviz's
  own messages never reach the user's terminal; the drawing's own ``render()``, ``pipe()``,
  ``view()`` and notebook display go the same way.
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

Everything else stays outside the neurons: the network's inputs in a box on the left, the
loss, targets and regularisers (such as ``p * p``) in a box on the right.
"""

from __future__ import annotations

import html
import itertools
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import graphviz

from tinygrad_edu.engine import (
    SharedConstant,
    Value,
    first_failing_step,
    local_derivative,
    local_derivatives,
    topological_order,
)
from tinygrad_edu.files import write_atomically

__all__ = [
    "BackwardStep",
    "GraphDrawing",
    "GraphvizNotFoundError",
    "backward_steps",
    "draw_dot",
    "format_number",
    "render",
    "save_html",
    "step_through",
]

RENDER_FORMATS = ("svg", "png", "pdf")
RANKDIRS = ("LR", "RL", "TB", "BT")
FONT = "Helvetica,Arial,sans-serif"
HIGHLIGHT_COLOUR = "#d62728"
CONSTANT_FILL = "#eeeeee"
OP_FILL = "#fde9b8"
GREY = "#888888"

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


class DrawnGraph:
    """The nodes below ``root`` in drawing order (inputs first) with their display names.

    A plain number in an expression is drawn at each of its uses: the engine shares one
    leaf among all uses of a number (every ``** 2`` points at the same ``2.0``), and one box
    with edges to far corners of the picture would be harder to read. Constants you make
    yourself, such as a network's inputs, are drawn once, with an edge to each use.
    """

    def __init__(self, root: Value, max_values: int | None = None, cluster: bool = False) -> None:
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
            # Each box is entered once (a DAG has no node below itself): count it here, so
            # that a million-node graph is refused after max_values steps, not a full walk.
            if max_values is not None and len(self.inputs) >= max_values:
                raise ValueError(_too_many_values(max_values, cluster))
            drawn = []
            unseen: set[Value] = set()  # inputs not drawn yet: each will be one more box
            for x in node.inputs:
                drawn.append(self._drawn_input(x))
                # A node of a million inputs (a Value.sum) is refused as they are read.
                if max_values is not None and x not in self.inputs and x not in self.index:
                    unseen.add(drawn[-1])
                    if len(self.inputs) + 1 + len(unseen) > max_values:
                        raise ValueError(_too_many_values(max_values, cluster))
            self.inputs[node] = tuple(drawn)
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
        """The DOT id of the node's record."""
        return f"v{self.index[node]}"

    def op_id(self, node: Value) -> str:
        """The DOT id of the op node that made ``node``."""
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


def _too_many_values(max_nodes: int, cluster: bool) -> str:
    hint = "" if cluster else " (cluster=True folds an nn model into labelled boxes)"
    return (
        f"the graph has more than max_nodes={max_nodes} values to draw; "
        f"pass max_nodes=None to draw it anyway{hint}"
    )


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


def backward_steps(root: Value, *, max_nodes: int | None = 500) -> list[BackwardStep]:
    r"""The steps of ``root.backward()`` in the order it applies them, with their numbers.

    Step 0 seeds :math:`\partial root / \partial root = 1`; each later step is one edge of
    the chain rule, :math:`x.grad \mathrel{+}= \frac{\partial out}{\partial x} \cdot out.grad`,
    visiting the nodes in reverse topological order as ``backward()`` does. The gradients
    are computed on the side from :func:`~tinygrad_edu.engine.local_derivatives`: no
    ``.grad`` field is modified, and they start from zero (one fresh backward pass).
    Where ``backward()`` would raise (a gradient that is not finite), this raises the same
    error: a step never shows a number the engine refuses. Each step keeps every gradient,
    so a graph above ``max_nodes`` values is refused as :func:`draw_dot` refuses it.
    """
    graph = DrawnGraph(root, max_nodes)
    if not root.requires_grad:
        raise ValueError("backward_steps() needs a root that requires grad (not a constant)")
    failure = first_failing_step(root)
    if failure is not None:
        raise failure
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
            if local is None:  # a constant input: backward() sends it nothing
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


def _symbolic_derivative(graph: DrawnGraph, output: Value, position: int) -> str:
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
    """A ``graphviz.Digraph`` that draws itself with the backend :func:`render` uses.

    Its ``pipe()``, ``render()``, ``view()`` and notebook display go through
    :func:`render_bytes`: ``dot`` when installed, else the ``pygraphviz`` engine, with the
    same timeout, the same 150 dpi PNGs and no stray messages. ``render()`` writes only
    the picture; the DOT source file graphviz also leaves behind is written only with
    ``save_source=True``. Otherwise the arguments mean what they mean in graphviz.
    """

    def __repr__(self) -> str:
        # The default repr holds a memory address, so a notebook's text output changed on
        # every run; this one depends on the drawing alone.
        values = sum(re.match(r"\s*v\d+ \[", line) is not None for line in self.body)
        edges = sum("->" in line and "style=invis" not in line for line in self.body)
        return f"<GraphDrawing: {values} values, {edges} edges>"

    def pipe(
        self,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        *,
        engine: str | None = None,
        encoding: str | None = None,
    ) -> bytes | str:
        """The picture as bytes (as ``str`` when ``encoding`` is given), as graphviz's pipe."""
        picture = self._draw(format, renderer, formatter, neato_no_op, engine)
        return picture.decode(encoding) if encoding is not None else picture

    def render(
        self,
        filename: str | os.PathLike[str] | None = None,
        directory: str | os.PathLike[str] | None = None,
        view: bool = False,
        cleanup: bool = False,
        format: str | None = None,
        renderer: str | None = None,
        formatter: str | None = None,
        neato_no_op: bool | int | None = None,
        quiet: bool = False,
        quiet_view: bool = False,
        *,
        outfile: str | os.PathLike[str] | None = None,
        engine: str | None = None,
        raise_if_result_exists: bool = False,
        overwrite_source: bool = False,
        save_source: bool = False,
    ) -> str:
        """Write the picture and return its path, as graphviz's render names it.

        ``render("x", format="svg")`` writes ``x.svg``; ``render(outfile="x.png")`` writes
        ``x.png``. The DOT source goes to ``filename`` only with ``save_source=True``
        (``cleanup`` then removes it again, as in graphviz).
        """
        if filename is not None:
            self.filename = os.fspath(filename)
        if directory is not None:
            self.directory = os.fspath(directory)
        source_path = Path(self.directory, self.filename)
        if outfile is not None:
            picture_path = Path(outfile) if directory is not None else Path(self.directory, outfile)
            if format is None:
                format = picture_path.suffix.lstrip(".").lower()
                if not format:
                    raise ValueError(f"cannot tell the format of {os.fspath(outfile)!r}: no suffix")
        else:
            format = format or self.format
            suffix = ".".join(part for part in (formatter, renderer, format) if part)
            picture_path = source_path.with_name(f"{source_path.name}.{suffix}")
        if raise_if_result_exists and picture_path.exists():
            raise graphviz.FileExistsError(f"output file exists: {os.fspath(picture_path)!r}")
        picture = self._draw(format, renderer, formatter, neato_no_op, engine)
        picture_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(picture_path, picture)
        if save_source and not cleanup:
            write_atomically(source_path, self.source)
        if view or quiet_view:
            graphviz.view(os.fspath(picture_path), quiet=quiet_view)
        return os.fspath(picture_path)

    def view(
        self,
        filename: str | os.PathLike[str] | None = None,
        directory: str | os.PathLike[str] | None = None,
        cleanup: bool = False,
        quiet: bool = False,
        quiet_view: bool = False,
    ) -> str:
        """Render (as :meth:`render`) and open the picture in the system's viewer."""
        return self.render(filename, directory, view=True, cleanup=cleanup, quiet_view=quiet_view)

    def _draw(
        self,
        format: str | None,
        renderer: str | None,
        formatter: str | None,
        neato_no_op: bool | int | None,
        engine: str | None,
    ) -> bytes:
        if neato_no_op:
            raise ValueError("neato_no_op is not supported: lay the graph out with an engine")
        if formatter is not None and renderer is None:
            raise ValueError("a formatter needs a renderer, as in graphviz")
        parts = [format or self.format, renderer, formatter]
        full_format = ":".join(part for part in parts if part)
        return render_bytes(self.source, full_format, engine=engine or self.engine)

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
    show_local: bool = False,
    max_width: float | None = None,
) -> GraphDrawing:
    r"""Draw the graph below ``root``: a record per Value, a small node per op.

    Node ids follow the drawing order, so the same graph always gives the same DOT text.
    Constant leaves are grey and have no grad field; a plain number in the expression is
    drawn at each of its uses. ``highlight`` gets a thick red border.
    ``step=k`` draws the gradients as they stand after step ``k`` of
    :func:`backward_steps`, highlights the node it updates and the edge it flows along.
    ``max_nodes`` bounds the Value boxes drawn, clustered or not (op nodes come with
    them); the walk stops at the first box past it and raises a ``ValueError``.
    ``show_local`` writes on each input edge its local derivative
    :math:`\partial out / \partial input`, the number the chain rule multiplies by
    ``out.grad`` (none on a constant's edge: it gets no gradient).
    ``cluster=True`` boxes an ``nn`` model as a reader expects: inputs on the left, layers
    left to right, neurons top to bottom in index order, titled in words ("layer 0 ·
    neuron 1"); the loss and targets follow on the right. ``max_width`` (inches) scales
    the picture down to that width if it is wider.
    """
    # A Tensor graph (SPEC §11): shapes, small values. Looked up, not imported: where the
    # tensor engine is not loaded, root cannot be one of its Tensors.
    tensor_engine = sys.modules.get("tinygrad_edu.tensor.engine")
    if tensor_engine is not None and isinstance(root, tensor_engine.Tensor):
        from tinygrad_edu.tensor.viz import draw_tensor_dot

        return draw_tensor_dot(root, rankdir=rankdir, show_grad=show_grad, max_nodes=max_nodes,
                               highlight=highlight, cluster=cluster, step=step,
                               show_local=show_local, max_width=max_width)  # fmt: skip
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, not {rankdir!r}")
    if max_width is not None and not (isinstance(max_width, int | float) and max_width > 0):
        raise ValueError(f"max_width must be a positive number of inches, not {max_width!r}")
    graph = DrawnGraph(root, max_nodes, cluster)
    highlighted: list[Value] = []
    for node in highlight:
        drawn = graph.drawn(node) if isinstance(node, Value) else []
        if not drawn:
            raise ValueError(f"cannot highlight {node!r}: it is not a node of this graph")
        highlighted.extend(drawn)
    owners = _neuron_owners(graph) if cluster else {}

    grads: Mapping[Value, float] = {node: node.grad for node in graph.nodes}
    highlighted_edge: tuple[Value, Value, int] | None = None
    caption = ""
    if step is not None:
        steps = backward_steps(root, max_nodes=max_nodes)
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
        dot.attr(
            label=graphviz.nohtml(_text_escape(caption)), labelloc="t", labeljust="l", fontsize="14"
        )
    if max_width is not None:  # only shrinks: Graphviz's size without "!" never enlarges
        dot.attr(size=f"{max_width:g},{1000 * max_width:g}")
    emphasised = set(highlighted)
    drawn_name = step is not None  # frames name unlabelled nodes as the step lines do

    def add_nodes(target: Any, nodes: Iterable[Value]) -> None:
        for node in nodes:
            _add_value_node(
                target, graph, node, grads, show_grad, node in emphasised, rankdir,
                drawn_name, cluster,
            )  # fmt: skip

    if owners:  # cluster=True on a graph with nn parameters in it
        # newrank lets one rank=same group hold nodes of different clusters (see below).
        # Tighter than usual: a model has many ranks, and a notebook cell is narrow.
        dot.attr(newrank="true", ranksep="0.2", nodesep="0.1")
        boxes = _add_clusters(dot, graph, owners, add_nodes)
    else:
        add_nodes(dot, graph.nodes)
        boxes = {}
    for node in graph.nodes:
        if node.inputs:
            _add_edges(dot, graph, node, highlighted_edge, show_local, boxes)
    return dot


_NEURON_PATH = re.compile(r"^(?:(?P<layer>.+)\.)?neurons\.\d+$")


def _add_clusters(
    dot: Any, graph: DrawnGraph, owners: Mapping[Value, str], add_nodes: Callable[..., None]
) -> dict[Value, str]:
    """The network's inputs, then each layer with its neurons, in index order; the rest.

    Returns the box of each boxed node: ``"inputs"`` or its neuron's path.
    """
    # The inputs: every node outside the neurons that a neuron depends on (the data, and
    # whatever arithmetic made it), so that nothing upstream lands in the box on the right.
    upstream: set[Value] = set()
    stack = [x for node in owners for x in graph.inputs[node] if x not in owners]
    while stack:
        node = stack.pop()
        if node not in upstream:
            upstream.add(node)
            stack.extend(x for x in graph.inputs.get(node, ()) if x not in owners)
    inputs = [n for n in graph.nodes if n in upstream]
    if inputs:
        with dot.subgraph(name="cluster_inputs") as box:
            box.attr(label="inputs", style="rounded", color=GREY)
            add_nodes(box, inputs)
    members: dict[str, list[Value]] = {}
    for node in graph.nodes:
        if node in owners:
            members.setdefault(owners[node], []).append(node)
    layers: dict[str, list[str]] = {}
    for neuron in sorted(members, key=_index_order):
        match = _NEURON_PATH.match(neuron)
        layers.setdefault(match["layer"] or "" if match else "", []).append(neuron)
    numbers = itertools.count(1)  # cluster ids by position: a label may hold any text

    def add_neurons(target: Any, neurons: list[str]) -> None:
        for neuron in neurons:
            with target.subgraph(name=f"cluster_{next(numbers)}") as box:
                box.attr(label=_text_escape(_title(neuron)), style="rounded,dashed", color=GREY)
                add_nodes(box, members[neuron])

    for layer, neurons in layers.items():
        if not layer:  # neurons of no layer (a lone Neuron or Layer): a box each
            add_neurons(dot, neurons)
            continue
        with dot.subgraph(name=f"cluster_{next(numbers)}") as layer_box:
            layer_box.attr(label=_text_escape(_title(layer)), style="rounded", color=GREY)
            add_neurons(layer_box, neurons)
    taken = set(inputs) | set(owners)
    rest = [n for n in graph.nodes if n not in taken]
    if rest:  # the loss, the targets and whatever else follows the network
        with dot.subgraph(name="cluster_after") as box:
            box.attr(label=_text_escape(graph.root.label or "loss"), style="rounded", color=GREY)
            add_nodes(box, rest)
    # The order within a rank is Graphviz's to choose, unless edges inside the rank fix
    # it: invisible ones chain the input leaves, and each layer's weights, in index order.
    # NOTE: in this left-to-right layout such an edge puts its head above its tail (tried
    # on nine network shapes: each ordered right only with the edges pointing upwards).
    weights_by_layer: dict[str, list[tuple[list[tuple[int, int | str]], Value]]] = {}
    for node, neuron in owners.items():
        parameter = _PARAMETER.match(node.label)
        if parameter and parameter["kind"] != "b":
            match = _NEURON_PATH.match(neuron)
            layer = (match["layer"] or "") if match else ""
            weights_by_layer.setdefault(layer, []).append((_index_order(node.label), node))
    chains = [[n for n in inputs if not n.inputs]] + [
        [n for _, n in sorted(w, key=lambda item: item[0])] for w in weights_by_layer.values()
    ]
    for chain in chains:
        if len(chain) > 1:
            with dot.subgraph() as same_rank:
                same_rank.attr(rank="same")
                for upper, lower in itertools.pairwise(chain):
                    same_rank.edge(graph.node_id(lower), graph.node_id(upper), style="invis")
    return {**owners, **dict.fromkeys(inputs, "inputs"), **dict.fromkeys(rest, "after")}


def _index_order(path: str) -> list[tuple[int, int | str]]:
    """A sort key reading the numbers in a dotted path as numbers (neurons.10 after .9)."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in path.split(".")]


def _title(path: str) -> str:
    """A dotted module path in words: ``layers.0.neurons.1`` -> ``layer 0 · neuron 1``."""
    parts = path.split(".")
    words = []
    for i, part in enumerate(parts):
        if part.isdigit() and i > 0:
            continue  # read with the name before it
        following = parts[i + 1] if i + 1 < len(parts) else ""
        if following.isdigit():
            words.append(f"{part.removesuffix('s')} {following}")
        else:
            words.append(part)
    return " · ".join(words)


# Characters that would vanish, end a C string (NUL), break the SVG's XML or turn the text
# around (U+202E) are spelled out as Python writes them: "\x00", "\n", "\u202e".
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})


def _visible(text: str) -> str:
    """``text`` with control, format and unassigned characters written as escapes."""
    return "".join(
        char.encode("unicode_escape").decode("ascii")
        if unicodedata.category(char) in _INVISIBLE
        else char
        for char in text
    )


def _text_escape(text: str) -> str:
    """Any text as it must stand inside a quoted DOT string to be shown as it is."""
    # Graphviz reads "\n", "\N" ... as escapes and "&amp;" as an entity: make both literal.
    return _visible(text).replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')


def record_escape(text: str) -> str:
    """Any text as one field of a record label (its structuring characters made literal)."""
    return re.sub(r"([{}|<>])", r"\\\1", _text_escape(text))


def _add_value_node(
    target: Any,
    graph: DrawnGraph,
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
    attributes = {"style": "rounded,filled", "fillcolor": "white"}
    if cluster:
        # Fields stacked, so a model's many ranks stay narrow enough for a notebook; a
        # table, not a record, since Graphviz drops the ordering edges next to records.
        rows = "<hr/>".join(f"<tr><td>{html.escape(_visible(field))}</td></tr>" for field in fields)
        text = f'<<table border="0" cellborder="0" cellpadding="0">{rows}</table>>'
        attributes.update(shape="box", margin="0.02,0.01")
    else:
        text = graphviz.nohtml(" | ".join(record_escape(field) for field in fields))
        if rankdir in ("LR", "RL"):  # braces turn the fields into a row across the flow
            text = graphviz.nohtml("{ " + text + " }")
        attributes.update(shape="record")
    if not node.requires_grad:
        attributes.update(fillcolor=CONSTANT_FILL, fontcolor="#555555", color="#999999")
    if emphasised:
        attributes.update(color=HIGHLIGHT_COLOUR, penwidth="3")
    target.node(graph.node_id(node), text, **attributes)
    if node.inputs:
        size = {"fontsize": "10", "margin": "0.02,0.01", "height": "0.2", "width": "0.3"}
        if not cluster:
            size = {"fontsize": "11", "margin": "0.05,0.02", "height": "0.3"}
        target.node(
            graph.op_id(node), node.op, shape="ellipse", style="filled", fillcolor=OP_FILL, **size
        )


def _add_edges(
    dot: Any,
    graph: DrawnGraph,
    node: Value,
    highlighted_edge: tuple[Value, Value, int] | None,
    show_local: bool,
    boxes: Mapping[Value, str],
) -> None:
    op_id = graph.op_id(node)
    roles = ARGUMENT_ROLES.get(node.op)
    locals_ = _local_labels(node) if show_local else [None] * len(node.inputs)
    for position, x in enumerate(graph.inputs[node]):
        words = [roles[position]] if roles is not None else []
        if locals_[position] is not None:
            words.append(cast(str, locals_[position]))
        attributes = {"label": ": ".join(words)} if words else {}
        if x in boxes and boxes.get(node) != boxes[x]:
            # An edge leaving a box spans two ranks: the next box's weights take the free
            # rank between, so the boxes stand side by side instead of in a staircase.
            attributes["minlen"] = "2"
        if highlighted_edge == (x, node, position):
            attributes.update(color=HIGHLIGHT_COLOUR, penwidth="3")
        dot.edge(graph.node_id(x), op_id, **attributes)
    if highlighted_edge is not None and highlighted_edge[1] is node:
        dot.edge(op_id, graph.node_id(node), color=HIGHLIGHT_COLOUR, penwidth="3")
    else:
        dot.edge(op_id, graph.node_id(node))


def _local_labels(node: Value) -> list[str | None]:
    """Each input edge's local derivative as drawn; None for a constant input.

    Each input on its own: ``c ** k`` at c < 0 has d/dc but no d/dk.
    """
    labels: list[str | None] = []
    for position, x in enumerate(node.inputs):
        if not x.requires_grad:
            labels.append(None)
            continue
        try:
            labels.append(format_number(local_derivative(node, position)))
        except (ArithmeticError, ValueError):  # backward() would fail here too: say so
            labels.append("undefined")
    return labels


def _neuron_owners(graph: DrawnGraph) -> dict[Value, str]:
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


class GraphvizError(RuntimeError):
    """Graphviz could not lay out or draw a graph (its own message follows)."""


RASTER_FORMATS = ("png", "jpeg", "jpg", "gif")
DEFAULT_DPI = 150.0  # 72 dpi made an x * y drawing 588 px wide: too small for a projector
DEFAULT_TIMEOUT = 60.0

# The layout in a child process, so that a timeout or Ctrl-C can stop it (a layout in
# this process holds the interpreter until it ends) and Graphviz's libraries print to a
# stderr of their own. Arguments: pygraphviz's folder, format, engine, dpi (or "").
_PYGRAPHVIZ_LAYOUT = """
import sys
sys.path.insert(0, sys.argv[1])
import pygraphviz
graph = pygraphviz.AGraph(string=sys.stdin.buffer.read().decode("utf-8"))
if sys.argv[4] and not graph.graph_attr.get("dpi"):
    graph.graph_attr["dpi"] = sys.argv[4]
sys.stdout.buffer.write(graph.draw(format=sys.argv[2], prog=sys.argv[3]))
"""


def render_bytes(
    source: str,
    format: str,
    *,
    backend: str | None = None,
    engine: str = "dot",
    timeout: float | None = DEFAULT_TIMEOUT,
    dpi: float | None = DEFAULT_DPI,
) -> bytes:
    """Lay out DOT ``source`` and return the picture in ``format`` (``svg``, ``png`` ...).

    ``backend`` is ``"dot"`` (the Graphviz program), ``"pygraphviz"`` (the Graphviz engine
    bundled in its wheel) or None: ``dot`` when on PATH, else pygraphviz. Either runs in a
    child process, stopped after ``timeout`` seconds (``TimeoutError``) or on Ctrl-C
    (``KeyboardInterrupt``). Its messages are kept, and shown only if it fails.
    ``dpi`` sets the resolution of raster formats, unless the graph sets its own.
    """
    if backend not in (None, "dot", "pygraphviz"):
        raise ValueError(f"backend must be 'dot', 'pygraphviz' or None, not {backend!r}")
    _check_positive_number("dpi", dpi, largest=MAX_DPI)
    _check_positive_number("timeout", timeout)
    own_dpi = _GRAPH_DPI.search(source)
    if own_dpi is not None:  # a dpi set in the graph itself wins, and is the one recorded
        dpi = float(own_dpi.group(1))
    dpi_text = f"{dpi:g}" if dpi is not None and format.split(":")[0] in RASTER_FORMATS else ""
    program = shutil.which("dot") if backend != "pygraphviz" else None
    if program is not None:
        command = [program, f"-K{engine}", f"-T{format}"]
        if dpi_text:
            command.append(f"-Gdpi={dpi_text}")  # a dpi set in the graph itself wins
    elif backend == "dot":
        raise GraphvizNotFoundError("backend='dot' needs the Graphviz dot program on PATH")
    else:
        folder = _pygraphviz_folder()
        command = [sys.executable, "-I", "-c", _PYGRAPHVIZ_LAYOUT, folder, format, engine, dpi_text]
    picture = _run_layout(command, source.encode("utf-8"), timeout)
    if dpi_text and format == "png":
        picture = _png_with_resolution(picture, float(dpi_text))
    return picture


MAX_DPI = 1200.0  # a print shop's resolution; past it a small graph makes a huge picture
# The graph's own resolution, as graphviz writes a graph attribute: dpi=96 or dpi="96".
_GRAPH_DPI = re.compile(
    r'^\s*(?:graph\s*\[[^\]\n]*?\b)?dpi\s*=\s*"?([0-9]+(?:\.[0-9]*)?)"?', re.MULTILINE
)


def _check_positive_number(name: str, value: object, largest: float = math.inf) -> None:
    """None, or a positive number up to ``largest`` (and finite): else a ``ValueError``."""
    if value is None:
        return
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not 0 < number <= largest or not math.isfinite(number):
        bound = "" if math.isinf(largest) else f" up to {largest:g}"
        raise ValueError(f"{name} must be a positive finite number{bound} or None, not {value!r}")


def _png_with_resolution(png: bytes, dpi: float) -> bytes:
    """The PNG with a pHYs chunk saying ``dpi``, so that slides and documents size it right.

    Graphviz's cairo renderer draws at the dpi asked for but does not record it.
    """
    signature, header_end = b"\x89PNG\r\n\x1a\n", 8 + 8 + 13 + 4  # the IHDR chunk comes first
    if not png.startswith(signature) or b"pHYs" in png[: png.find(b"IDAT")]:
        return png
    per_metre = round(dpi / 0.0254)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)  # 1: the unit is the metre
    chunk = struct.pack(">I", 9) + body + struct.pack(">I", zlib.crc32(body))
    return png[:header_end] + chunk + png[header_end:]


def _pygraphviz_folder() -> str:
    """The folder pygraphviz is imported from, for the child process to import it too."""
    try:
        import pygraphviz
    except ImportError as error:
        raise GraphvizNotFoundError(
            "rendering needs Graphviz: install the Python wheel with 'pip install pygraphviz' "
            "or the dot program (e.g. 'apt install graphviz', 'brew install graphviz')"
        ) from error
    return str(Path(pygraphviz.__file__).resolve().parent.parent)


def _run_layout(command: list[str], source: bytes, timeout: float | None) -> bytes:
    """Run ``command`` on ``source``; kill it (and wait for it) if anything interrupts."""
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            picture, messages = process.communicate(source, timeout=timeout)
        except BaseException as interruption:  # a timeout, Ctrl-C, anything: no orphan
            process.kill()
            process.wait()
            if isinstance(interruption, subprocess.TimeoutExpired):
                raise TimeoutError(
                    f"the graph's layout took longer than timeout={timeout} s and was stopped; "
                    "draw a smaller graph or pass a larger timeout (None waits forever)"
                ) from None
            raise
    if process.returncode != 0:
        lines = messages.decode("utf-8", "replace").strip().splitlines() or ["no message"]
        graphviz_errors = [line for line in lines if line.startswith("Error")]  # its own words
        reason = (graphviz_errors or lines)[0 if graphviz_errors else -1]
        raise GraphvizError(f"Graphviz failed (exit status {process.returncode}): {reason}")
    return picture


def render(
    root_or_digraph: Value | graphviz.Graph,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    backend: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    dpi: float | None = DEFAULT_DPI,
) -> Path:
    """Write the drawing of a Value (or a ready ``Digraph``) to ``path``; return the path.

    ``format`` is ``svg``, ``png`` or ``pdf``, taken from the suffix when None (another
    suffix is a ``ValueError``). ``dot`` renders when on PATH, else pygraphviz; without
    either a :class:`GraphvizNotFoundError` (a ``RuntimeError``) says how to install one.
    A layout longer than ``timeout`` seconds raises ``TimeoutError``, Ctrl-C raises
    ``KeyboardInterrupt``; both stop it at once and write nothing. PNGs get ``dpi``
    (150). The file is written atomically (a temporary file, then ``os.replace``).
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
    picture = render_bytes(source, chosen, backend=backend, timeout=timeout, dpi=dpi)
    write_atomically(target, picture)
    return target


# ---- notebooks ---------------------------------------------------------------------------


def step_through(root: Value, **draw_options: Any) -> None:
    """Show the backward pass frame by frame in a notebook.

    With ipywidgets: a slider over the steps and, below it, the frame and its line.
    Without: the step-through page of :func:`save_html`, inline (an ``iframe``).
    """
    import IPython.display

    # IPython ships no type hints for these two; state what we rely on.
    display = cast("Callable[[object], None]", IPython.display.display)
    html_output = cast("Callable[[str], object]", IPython.display.HTML)
    try:
        import ipywidgets
    except ImportError:
        from tinygrad_edu.page import inline_frame  # page imports viz: import here

        display(html_output(inline_frame(root, **draw_options)))
        return
    steps = backward_steps(root, max_nodes=draw_options.get("max_nodes", 500))

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


# ---- the step-through page -----------------------------------------------------------------


def save_html(
    root: Value,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    max_nodes: int | None = 500,
    backend: str | None = None,
) -> Path:
    """Write the step-through page of ``root``: one self-contained HTML file (SPEC §12).

    See :mod:`tinygrad_edu.page`. Above ``max_nodes`` it refuses as :func:`draw_dot` does.
    """
    from tinygrad_edu.page import save_html as save_page  # page imports viz: import here

    return save_page(root, path, title=title, max_nodes=max_nodes, backend=backend)
