r"""The benchmark workloads, written once and run on every engine through a small adapter.

An *engine* here is anything that builds a scalar graph with ``+`` and ``*`` on numbers:
tinygrad_edu, micrograd 0.1.0, PyTorch in scalar mode (0-d float64 tensors) and plain
floats (the floor: the same forward arithmetic with no graph at all). Each workload
returns its wall times and a few *check* numbers (a loss, a gradient sum) that must agree
across engines, so the harness can prove every engine computed the same thing.

The workloads:

* ``mlp_step``: one SGD step of ``MLP(2, [16, 16, 1])`` on the moons points, with the loss
  :math:`\frac{1}{n}\sum_i \max(0, 1 - y_i s_i) + 10^{-4} \sum_p p^2`;
* ``chain``: :math:`x \mapsto 1.0001\,x + 0.5` repeated, two op nodes per step;
* ``tree``: products :math:`a_i b_i` summed pairwise in a balanced binary tree;
* ``graph_memory``: bytes traced by ``tracemalloc`` while building the chain.
"""

from __future__ import annotations

import importlib
import math
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ENGINES = ("tinygrad_edu", "micrograd", "torch", "floats")
# The module each engine needs; hiding it makes the engine look uninstalled.
ENGINE_MODULES = {"tinygrad_edu": "tinygrad_edu", "micrograd": "micrograd", "torch": "torch"}

ARCHITECTURE = (2, (16, 16, 1))
L2_STRENGTH = 1e-4
LEARNING_RATE = 0.05
CHAIN_FACTOR = 1.0001
CHAIN_OFFSET = 0.5


# ---- shared inputs: the same numbers for every engine -------------------------------------


def make_moons(n_points: int, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    r"""Two interleaving half circles with Gaussian noise; labels are -1 and +1.

    The upper moon is :math:`(\cos t, \sin t)`, the lower :math:`(1 - \cos t, 0.5 - \sin t)`,
    :math:`t \in [0, \pi]`. Generated here so the harness needs nothing else from the package.
    """
    rng = np.random.default_rng(seed)
    n_upper = n_points // 2
    t_upper = np.linspace(0.0, math.pi, n_upper)
    t_lower = np.linspace(0.0, math.pi, n_points - n_upper)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    points = np.vstack([upper, lower]) + rng.normal(0.0, noise, size=(n_points, 2))
    labels = np.concatenate([-np.ones(n_upper), np.ones(n_points - n_upper)])
    return points, labels


Weights = list[list[tuple[list[float], float]]]  # layer -> neuron -> (w, b)


def make_weights(nin: int, nouts: Sequence[int], seed: int = 0) -> Weights:
    r"""Weights and biases uniform in :math:`\pm 1/\sqrt{n_{in}}`, layer by layer."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip([nin, *nouts[:-1]], nouts, strict=True):
        bound = 1.0 / math.sqrt(fan_in)
        layer = []
        for _ in range(fan_out):
            w = rng.uniform(-bound, bound, size=fan_in).tolist()
            layer.append((w, float(rng.uniform(-bound, bound))))
        layers.append(layer)
    return layers


def flat_weights(weights: Weights) -> list[float]:
    """The weights in micrograd's parameter order: layer, neuron, then w_0..w_n, b."""
    return [x for layer in weights for w, b in layer for x in (*w, b)]


def tree_leaves(n_products: int, seed: int = 0) -> tuple[list[float], list[float]]:
    """The factors :math:`a_i, b_i` of the tree workload, uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, n_products).tolist(), rng.uniform(-1, 1, n_products).tolist()


# ---- engines ------------------------------------------------------------------------------


def hide_modules(names: Sequence[str]) -> None:
    """Make ``import name`` raise ImportError, as if the package were not installed."""
    for name in names:
        sys.modules[name] = None  # type: ignore[assignment]


class ScalarMLP:
    r"""A micrograd-shaped MLP over any scalar type: ReLU hidden layers, linear output.

    A neuron computes :math:`b + w_0 x_0 + w_1 x_1 + \dots` left to right (micrograd's order),
    so every engine builds the same graph node for node.
    """

    def __init__(self, parameters: list[Any], nouts: Sequence[int], relu: Callable[[Any], Any]):
        self.params = parameters
        self.nouts = list(nouts)
        self.relu = relu

    def __call__(self, x: Sequence[float]) -> Any:
        index = 0
        values: list[Any] = list(x)
        for depth, size in enumerate(self.nouts):
            outputs = []
            for _ in range(size):
                weights = self.params[index : index + len(values)]
                act = self.params[index + len(values)]
                index += len(values) + 1
                for w, xi in zip(weights, values, strict=True):
                    act = act + w * xi
                outputs.append(self.relu(act) if depth < len(self.nouts) - 1 else act)
            values = outputs
        return values[0] if len(values) == 1 else values


class Engine:
    """The few operations a workload needs beyond ``+`` and ``*``. Subclasses import lazily."""

    name = ""
    differentiable = True

    def version(self) -> str:
        """The installed version of the engine's package."""
        return ""

    def leaf(self, x: float) -> Any:
        """A leaf that requires a gradient."""
        raise NotImplementedError

    def backward(self, root: Any) -> None:
        """Fill the gradients of everything below ``root``."""
        raise NotImplementedError

    def value(self, node: Any) -> float:
        """The node's data as a float."""
        return float(node.data)

    def grad(self, node: Any) -> float:
        """The node's gradient as a float."""
        return float(node.grad)

    def relu(self, node: Any) -> Any:
        r""":math:`\max(0, x)` as a graph node."""
        return node.relu()

    def mlp(self, weights: Weights) -> tuple[Callable[[Sequence[float]], Any], list[Any]]:
        """The model ``MLP(2, [16, 16, 1])`` loaded with ``weights``, and its parameters."""
        params = [self.leaf(x) for x in flat_weights(weights)]
        return ScalarMLP(params, [len(layer) for layer in weights], self.relu), params

    def sgd_update(self, params: list[Any], lr: float) -> None:
        r""":math:`p \leftarrow p - \eta\, \partial L/\partial p` for every parameter."""
        for p in params:
            p.data -= lr * p.grad

    def zero_grad(self, model: Any, params: list[Any]) -> None:
        """Reset the parameters' gradients before the next step."""
        for p in params:
            p.grad = 0.0

    def count_nodes(self, root: Any) -> tuple[int, int]:
        """(op nodes, leaves) in the graph below ``root``, by an iterative walk."""
        raise NotImplementedError


class TinygradEduEngine(Engine):
    """This project's engine, with its own ``nn.MLP`` for the MLP workload."""

    name = "tinygrad_edu"

    def __init__(self) -> None:
        self.tg = importlib.import_module("tinygrad_edu")

    def version(self) -> str:
        return str(getattr(self.tg, "__version__", ""))

    def leaf(self, x: float) -> Any:
        return self.tg.Value(x)

    def backward(self, root: Any) -> None:
        root.backward()

    def mlp(self, weights: Weights) -> tuple[Callable[[Sequence[float]], Any], list[Any]]:
        nn = importlib.import_module("tinygrad_edu.nn")
        nin, nouts = ARCHITECTURE
        model = nn.MLP(nin, list(nouts), seed=0)
        params = model.parameters()
        load_by_position(params, flat_weights(weights))
        return model, params

    def zero_grad(self, model: Any, params: list[Any]) -> None:
        model.zero_grad()

    def count_nodes(self, root: Any) -> tuple[int, int]:
        return count_graph(root, lambda node: node.inputs)


class MicrogradEngine(Engine):
    """micrograd 0.1.0: per-node backward closures, recursive topological sort."""

    name = "micrograd"

    def __init__(self) -> None:
        self.engine = importlib.import_module("micrograd.engine")
        self.nn = importlib.import_module("micrograd.nn")

    def version(self) -> str:
        from importlib.metadata import version

        return version("micrograd")

    def leaf(self, x: float) -> Any:
        return self.engine.Value(x)

    def backward(self, root: Any) -> None:
        root.backward()

    def mlp(self, weights: Weights) -> tuple[Callable[[Sequence[float]], Any], list[Any]]:
        nin, nouts = ARCHITECTURE
        model = self.nn.MLP(nin, list(nouts))
        params = model.parameters()
        load_by_position(params, flat_weights(weights))
        return model, params

    def zero_grad(self, model: Any, params: list[Any]) -> None:
        model.zero_grad()

    def count_nodes(self, root: Any) -> tuple[int, int]:
        return count_graph(root, lambda node: tuple(node._prev))


class TorchEngine(Engine):
    """PyTorch in scalar mode: one 0-d float64 tensor per node, the same graph as micrograd."""

    name = "torch"

    def __init__(self) -> None:
        self.torch = importlib.import_module("torch")

    def version(self) -> str:
        return str(self.torch.__version__)

    def leaf(self, x: float) -> Any:
        return self.torch.tensor(x, dtype=self.torch.float64, requires_grad=True)

    def backward(self, root: Any) -> None:
        root.backward()

    def value(self, node: Any) -> float:
        return float(node.item())

    def grad(self, node: Any) -> float:
        return float(node.grad.item())

    def relu(self, node: Any) -> Any:
        return self.torch.relu(node)

    def zero_grad(self, model: Any, params: list[Any]) -> None:
        for p in params:
            p.grad = None  # what optimizer.zero_grad() does by default


class FloatEngine(Engine):
    """Plain Python floats: the same forward arithmetic with no graph, the speed floor."""

    name = "floats"
    differentiable = False

    def version(self) -> str:
        return sys.version.split()[0]

    def leaf(self, x: float) -> Any:
        return float(x)

    def value(self, node: Any) -> float:
        return float(node)

    def relu(self, node: Any) -> Any:
        return node if node > 0.0 else 0.0


ENGINE_CLASSES: dict[str, type[Engine]] = {
    "tinygrad_edu": TinygradEduEngine,
    "micrograd": MicrogradEngine,
    "torch": TorchEngine,
    "floats": FloatEngine,
}


def load_engine(name: str) -> Engine:
    """The engine's adapter; ImportError when its package is not installed."""
    return ENGINE_CLASSES[name]()


def load_by_position(params: list[Any], values: list[float]) -> None:
    """Overwrite the parameters' data in order; the counts must match."""
    if len(params) != len(values):
        raise ValueError(f"model has {len(params)} parameters, the shared weights {len(values)}")
    for p, x in zip(params, values, strict=True):
        p.data = x


def count_graph(root: Any, inputs_of: Callable[[Any], Sequence[Any]]) -> tuple[int, int]:
    """(nodes with inputs, leaves) reachable from ``root``, each counted once."""
    seen = {id(root)}
    stack = [root]
    op_nodes = leaves = 0
    while stack:
        node = stack.pop()
        inputs = inputs_of(node)
        if inputs:
            op_nodes += 1
        else:
            leaves += 1
        for x in inputs:
            if id(x) not in seen:
                seen.add(id(x))
                stack.append(x)
    return op_nodes, leaves


# ---- the workloads ------------------------------------------------------------------------


def hinge_l2_loss(
    engine: Engine, scores: list[Any], labels: Sequence[float], params: list[Any]
) -> Any:
    r""":math:`\frac{1}{n}\sum_i \max(0, 1 - y_i s_i) + 10^{-4}\sum_p p^2`, summed with ``sum``."""
    margins = [engine.relu(1.0 - y * s) for s, y in zip(scores, labels, strict=True)]
    data_loss = sum(margins) * (1.0 / len(margins))
    return data_loss + L2_STRENGTH * sum(p * p for p in params)


def mlp_step(
    engine: Engine,
    model: Callable[[Sequence[float]], Any],
    params: list[Any],
    points: list[list[float]],
    labels: list[float],
) -> float:
    """Forward on every point, loss, backward, SGD update, zero grads; returns the loss.

    The float engine stops after the loss: it is the forward floor.
    """
    scores = [model(x) for x in points]
    loss = hinge_l2_loss(engine, scores, labels, params)
    if engine.differentiable:
        engine.backward(loss)
        engine.sgd_update(params, LEARNING_RATE)
        engine.zero_grad(model, params)
    return engine.value(loss)


def mlp_graph_size(
    engine: Engine,
    model: Callable[[Sequence[float]], Any],
    params: list[Any],
    points: list[list[float]],
    labels: list[float],
) -> tuple[int, int]:
    """(op nodes, leaves) of one step's graph: the engines' graphs need not be the same size."""
    loss = hinge_l2_loss(engine, [model(x) for x in points], labels, params)
    return engine.count_nodes(loss)


def build_chain(x: Any, n_nodes: int) -> Any:
    r"""``n_nodes / 2`` steps of :math:`x \mapsto 1.0001\,x + 0.5` (a ``*`` and a ``+`` node)."""
    for _ in range(n_nodes // 2):
        x = x * CHAIN_FACTOR + CHAIN_OFFSET
    return x


def chain(engine: Engine, n_nodes: int) -> dict[str, float]:
    """Time the chain's forward and backward; check its output and :math:`dy/dx = 1.0001^{n/2}`."""
    x = engine.leaf(1.0)
    start = time.perf_counter()
    y = build_chain(x, n_nodes)
    built = time.perf_counter()
    result = {"forward": built - start, "output": engine.value(y)}
    if engine.differentiable:
        engine.backward(y)
        result["backward"] = time.perf_counter() - built
        result["input_grad"] = engine.grad(x)
    return result


def tree(engine: Engine, a_values: list[float], b_values: list[float]) -> dict[str, float]:
    r"""Time :math:`\sum_i a_i b_i` summed pairwise (a balanced tree), forward and backward."""
    a = [engine.leaf(x) for x in a_values]
    b = [engine.leaf(x) for x in b_values]
    start = time.perf_counter()
    level = [x * y for x, y in zip(a, b, strict=True)]
    while len(level) > 1:
        paired = [level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
        level = [*paired, level[-1]] if len(level) % 2 else paired
    root = level[0]
    built = time.perf_counter()
    result = {"forward": built - start, "output": engine.value(root)}
    if engine.differentiable:
        engine.backward(root)
        result["backward"] = time.perf_counter() - built
        # d root / d a_i = b_i, so this sum must equal sum(b).
        result["grad_sum"] = math.fsum(engine.grad(x) for x in a)
    return result


def graph_memory(engine: Engine, n_nodes: int) -> dict[str, float]:
    """Bytes ``tracemalloc`` sees allocated and still alive after building the chain.

    Everything a node keeps alive counts: the node object, its float, its inputs container,
    closures. The walk that counts nodes runs after the measurement.
    """
    x = engine.leaf(1.0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    y = build_chain(x, n_nodes)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    op_nodes, leaves = engine.count_nodes(y)
    # The input x existed before the measurement; the other leaves are the constants.
    return {"bytes": grown, "op_nodes": op_nodes, "constant_leaves": leaves - 1}
