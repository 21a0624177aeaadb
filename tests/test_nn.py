"""Neuron, Layer, MLP: names, init, forward (against numpy and torch), state dicts, files."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import pickle
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_edu import Value
from tinygrad_edu.nn import MLP, Layer, Neuron, modules
from tinygrad_edu.nn.modules import MAX_PARAMETERS

NUMPY_ACTIVATIONS = {
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "linear": lambda z: z,
}


def numpy_forward(model: MLP, x: np.ndarray) -> np.ndarray:
    """The same network computed with numpy matrices from the model's state dict."""
    state = model.state_dict()
    for k, layer in enumerate(model.layers):
        W = np.array(
            [[state[f"layers.{k}.neurons.{j}.w.{i}"] for i in range(layer.nin)]
             for j in range(layer.nout)]
        )  # fmt: skip
        b = np.array([state[f"layers.{k}.neurons.{j}.b"] for j in range(layer.nout)])
        x = NUMPY_ACTIVATIONS[layer.activation](W @ x + b)
    return x


# ---- structure and names ---------------------------------------------------------------


def test_mlp_parameter_names_are_stable_dotted_paths() -> None:
    model = MLP(2, [16, 16, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert len(names) == (2 + 1) * 16 + (16 + 1) * 16 + (16 + 1) * 1 == 337
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert "layers.0.neurons.3.w.1" in names and "layers.0.neurons.3.b" in names
    assert names[-1] == "layers.2.neurons.0.b"
    assert len(set(names)) == len(names)
    assert [p for _, p in model.named_parameters()] == model.parameters()
    # Labels carry the same names, so a drawn graph shows which weight is which.
    assert all(p.label == name for name, p in model.named_parameters())


def test_neuron_and_layer_names() -> None:
    assert [n for n, _ in Neuron(2).named_parameters()] == ["w.0", "w.1", "b"]
    assert [n for n, _ in Layer(1, 2).named_parameters()] == [
        "neurons.0.w.0", "neurons.0.b", "neurons.1.w.0", "neurons.1.b",
    ]  # fmt: skip


def test_default_mlp_is_micrograd_shape_relu_hidden_linear_output() -> None:
    model = MLP(2, [16, 16, 1])
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "linear"]
    assert [(layer.nin, layer.nout) for layer in model.layers] == [(2, 16), (16, 16), (16, 1)]


def test_repr_is_readable() -> None:
    text = repr(MLP(2, [3, 1], activation="tanh"))
    assert "Layer(nin=2, nout=3, activation='tanh')" in text
    assert "Layer(nin=3, nout=1, activation='linear')" in text
    assert "13 parameters" in text
    assert repr(Neuron(3, "sigmoid")) == "Neuron(nin=3, activation='sigmoid')"


# ---- initialisation --------------------------------------------------------------------


def test_init_is_uniform_within_one_over_sqrt_nin() -> None:
    model = MLP(9, [100, 4], seed=1)
    for layer in model.layers:
        values = np.array([p.data for p in layer.parameters()])
        bound = 1.0 / math.sqrt(layer.nin)
        assert np.all(np.abs(values) <= bound)
        # Uniform on [-bound, bound]: the extremes are approached and the mean is near 0.
        assert values.max() > 0.9 * bound and values.min() < -0.9 * bound
    first = np.array([p.data for p in model.layers[0].parameters()]) * 3.0
    assert abs(first.mean()) < 0.05 and abs(first.var() - 1 / 3) < 0.03


def test_seed_reproduces_and_leaves_global_random_state_alone() -> None:
    python_state, numpy_state = random.getstate(), np.random.get_state()
    a, b, c = MLP(3, [4, 2], seed=5), MLP(3, [4, 2], seed=5), MLP(3, [4, 2], seed=6)
    assert random.getstate() == python_state
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])
    assert a.state_dict() == b.state_dict()
    assert a.state_dict() != c.state_dict()


# ---- forward ---------------------------------------------------------------------------


def test_layer_always_returns_a_list_and_mlp_unwraps_one_output() -> None:
    assert isinstance(Layer(2, 1)([1.0, 2.0]), list)
    assert len(Layer(2, 1)([1.0, 2.0])) == 1
    assert isinstance(MLP(2, [3, 1])([1.0, 2.0]), Value)
    out = MLP(2, [3, 4])([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 4
    # A one-neuron hidden layer is fine.
    assert isinstance(MLP(2, [1, 3])([1.0, 2.0]), list)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_forward_matches_numpy(activation: str) -> None:
    model = MLP(3, [5, 4, 2], activation=activation, output_activation="tanh", seed=2)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.normal(size=3)
        out = model(x)
        assert isinstance(out, list)
        np.testing.assert_allclose([v.data for v in out], numpy_forward(model, x), rtol=1e-12)


def test_inputs_may_be_floats_numpy_rows_or_values() -> None:
    model = MLP(2, [4, 1], activation="tanh", seed=3)
    expected = model([0.5, -1.5]).data
    assert model(np.array([0.5, -1.5])).data == expected
    assert model(np.array([[0.5, -1.5]])[0]).data == expected
    assert model((np.float32(0.5), -1.5)).data == expected
    x = [Value(0.5), Value(-1.5)]
    out = model(x)
    assert out.data == expected
    out.backward()
    # Gradients reach Value inputs (d out / d x), so inputs can be optimised too.
    assert any(v.grad != 0.0 for v in x)


def test_wrong_input_length_names_both_lengths() -> None:
    with pytest.raises(ValueError, match=r"expected 3 inputs, got 2"):
        MLP(3, [2])([1.0, 2.0])
    with pytest.raises(ValueError, match=r"expected 2 inputs, got 3"):
        Layer(2, 2)(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"1-D"):
        MLP(2, [1])(np.ones((2, 2)))
    with pytest.raises(TypeError):
        MLP(1, [1])(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MLP(1, [1])(["a"])


def test_a_layer_swapped_in_with_the_wrong_width_is_refused_not_truncated() -> None:
    model = MLP(2, [3, 1])
    model.layers[1] = Layer(4, 1)  # reads 4 inputs, but the layer below gives 3
    with pytest.raises(ValueError, match=r"expected 4 inputs, got 3"):
        model([1.0, 2.0])


def test_neuron_sums_in_one_node_and_layer_lifts_inputs_once() -> None:
    neuron = Neuron(3, "linear", seed=0)
    out = neuron([1.0, 2.0, 3.0])
    assert out.op == "sum" and len(out.inputs) == 4  # three products and the bias
    assert out.inputs[3] is neuron.b
    relu_out = Neuron(3, seed=0)([1.0, 2.0, 3.0])
    assert relu_out.op == "relu" and relu_out.inputs[0].op == "sum"
    first, second = Layer(2, 2, "linear", seed=0)([1.0, 2.0])
    # Each neuron's product w_i * x_i reads the same constant node for x_i.
    for i in range(2):
        x_first, x_second = first.inputs[i].inputs[1], second.inputs[i].inputs[1]
        assert x_first is x_second and not x_first.requires_grad


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_forward_and_gradients_match_torch(activation: str) -> None:
    torch = pytest.importorskip("torch")
    model = MLP(3, [4, 3, 2], activation=activation, seed=4)
    layers = []
    for layer in model.layers:
        linear = torch.nn.Linear(layer.nin, layer.nout).double()
        with torch.no_grad():
            weights = [[w.data for w in n.w] for n in layer.neurons]
            linear.weight.copy_(torch.tensor(weights, dtype=torch.float64))
            linear.bias.copy_(torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64))
        layers.append(linear)
    x = [0.3, -1.2, 2.0]
    out = model(x)
    assert isinstance(out, list)
    loss = out[0] * out[0] + 3.0 * out[1]
    loss.backward()
    hidden = torch.tensor([x], dtype=torch.float64)
    functions = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
    for k, linear in enumerate(layers):
        hidden = linear(hidden)
        if k < len(layers) - 1 and activation != "linear":
            hidden = functions[activation](hidden)
    torch_loss = hidden[0, 0] ** 2 + 3.0 * hidden[0, 1]
    torch_loss.backward()
    assert loss.data == pytest.approx(torch_loss.item(), rel=1e-12)
    for layer, linear in zip(model.layers, layers, strict=True):
        ours_w = [[w.grad for w in n.w] for n in layer.neurons]
        np.testing.assert_allclose(ours_w, linear.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
        ours_b = [n.b.grad for n in layer.neurons]
        np.testing.assert_allclose(ours_b, linear.bias.grad.numpy(), rtol=1e-10, atol=1e-14)


# ---- constructor checks ----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: Neuron(0),
        lambda: Neuron(-1),
        lambda: Neuron(2.5),  # type: ignore[arg-type]
        lambda: Neuron(True),
        lambda: Neuron(2, "softplus"),
        lambda: Layer(2, 0),
        lambda: MLP(2, []),
        lambda: MLP(2, "16"),  # type: ignore[arg-type]
        lambda: MLP(2, [16, 0, 1]),
        lambda: MLP(2, [1], output_activation="gelu"),
    ],
)
def test_bad_sizes_and_activations_raise_value_error(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


# ---- gradients and state dicts ---------------------------------------------------------


def test_zero_grad() -> None:
    model = MLP(2, [3, 1], seed=0)
    model([1.0, 1.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_state_dict_round_trip() -> None:
    source, target = MLP(2, [3, 2], seed=0), MLP(2, [3, 2], seed=1)
    state = source.state_dict()
    assert all(type(v) is float for v in state.values())
    target.load_state_dict(state)
    assert target.state_dict() == state
    x = [0.2, -0.7]
    assert [v.data for v in target(x)] == [v.data for v in source(x)]  # type: ignore[union-attr]


def test_load_state_dict_lists_every_problem_and_changes_nothing() -> None:
    model = MLP(2, [2, 1], seed=0)
    before = model.state_dict()
    state: dict[str, object] = dict(before)
    del state["layers.0.neurons.0.w.0"]
    state["layers.9.neurons.0.b"] = 1.0
    state["layers.1.neurons.0.b"] = "0.5"
    state["layers.0.neurons.1.b"] = float("nan")
    state["layers.0.neurons.1.w.1"] = True
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    for name in [
        "layers.0.neurons.0.w.0", "layers.9.neurons.0.b", "layers.1.neurons.0.b",
        "layers.0.neurons.1.b", "layers.0.neurons.1.w.1",
    ]:  # fmt: skip
        assert name in message
    assert "missing" in message and "unexpected" in message and "not a finite number" in message
    assert model.state_dict() == before


def test_load_state_dict_non_strict_skips_missing_and_unexpected() -> None:
    model = MLP(2, [1], seed=0)
    before = model.state_dict()
    model.load_state_dict({"layers.0.neurons.0.b": 0.25, "other": 1.0}, strict=False)
    assert model.state_dict() == {**before, "layers.0.neurons.0.b": 0.25}
    with pytest.raises(ValueError, match="not a finite number"):
        model.load_state_dict({"layers.0.neurons.0.b": None}, strict=False)
    with pytest.raises(TypeError):
        model.load_state_dict([("layers.0.neurons.0.b", 1.0)])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [10**400, -(10**5000), math.inf, np.float64("nan")],
    ids=["10**400", "-10**5000", "inf", "numpy nan"],
)
def test_load_state_dict_refuses_huge_and_non_finite_values_naming_the_key(
    value: object,
) -> None:
    # No saved model ever holds NaN or inf, and 10**400 does not fit in a float.
    model = MLP(2, [1], seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"not a finite number: layers\.0\.neurons\.0\.w\.1="):
        model.load_state_dict({**before, "layers.0.neurons.0.w.1": value})
    assert model.state_dict() == before


# ---- save and load ---------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = MLP(3, [4, 2], activation="tanh", output_activation="sigmoid", seed=7)
    path = tmp_path / "model.json"
    model.save(path)
    document = json.loads(path.read_text())
    assert document["format"] == "tinygrad_edu.MLP" and document["version"] == 1
    assert document["architecture"] == {
        "nin": 3, "nouts": [4, 2], "activation": "tanh", "output_activation": "sigmoid",
    }  # fmt: skip
    assert document["parameters"] == model.state_dict()
    loaded = MLP.load(path)
    assert loaded.state_dict() == model.state_dict()
    assert loaded.architecture() == model.architecture()
    assert os.listdir(tmp_path) == ["model.json"]  # no temporary file left behind


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    model = MLP(2, [1], seed=0)
    model.save(path)
    before = path.read_bytes()
    model.parameters()[0].data = float("nan")
    with pytest.raises(ValueError):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.json"]


def _saved(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    path = tmp_path / "model.json"
    MLP(2, [3, 1], seed=0).save(path)
    return path, json.loads(path.read_text())


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        MLP.load(tmp_path / "nothing.json")


def test_load_truncated_file(tmp_path: Path) -> None:
    path, _ = _saved(tmp_path)
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="not a valid model file"):
        MLP.load(path)


EDITS = {
    "wrong format": lambda d: d.update(format="keras"),
    "wrong version": lambda d: d.update(version=2),
    "bool version": lambda d: d.update(version=True),  # True == 1 in Python
    "float version": lambda d: d.update(version=1.0),
    "extra key": lambda d: d.update(code="import os"),
    "zero input size": lambda d: d["architecture"].update(nin=0),
    "negative layer": lambda d: d["architecture"].update(nouts=[-3, 1]),
    "float layer": lambda d: d["architecture"].update(nouts=[3.0, 1]),
    "bool layer": lambda d: d["architecture"].update(nouts=[True, 1]),
    "unknown activation": lambda d: d["architecture"].update(activation="__import__"),
    "huge network": lambda d: d["architecture"].update(nouts=[10**9, 10**9]),
    "missing parameter": lambda d: d["parameters"].pop("layers.0.neurons.0.b"),
    "renamed parameter": lambda d: d["parameters"].update(
        {"layers.0.neurons.0.x": d["parameters"].pop("layers.0.neurons.0.b")}
    ),
    "string parameter": lambda d: d["parameters"].update({"layers.0.neurons.0.b": "1.0"}),
    "list parameter": lambda d: d["parameters"].update({"layers.0.neurons.0.b": [1.0]}),
    "parameters as list": lambda d: d.update(parameters=[1.0] * 13),
    "architecture as string": lambda d: d.update(architecture="MLP(2, [3, 1])"),
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_load_rejects_hand_edited_files(tmp_path: Path, edit: object) -> None:
    path, document = _saved(tmp_path)
    edit(document)  # type: ignore[operator]
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError):
        MLP.load(path)


def test_huge_architecture_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    path, document = _saved(tmp_path)
    document["architecture"]["nouts"] = [MAX_PARAMETERS, 1]  # type: ignore[index]
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="more than the limit"):
        MLP.load(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"null",
        b"[]",
        b"\xff\xfe\x00garbage",
        b'{"format": NaN}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["empty", "null", "list", "binary", "nan", "deep nesting"],
)
def test_load_rejects_non_model_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    with pytest.raises(ValueError):
        MLP.load(path)


def _with_literal(tmp_path: Path, literal: str) -> Path:
    """A saved model whose parameter layers.0.neurons.1.w.0 is the JSON text ``literal``."""
    path, document = _saved(tmp_path)
    document["parameters"]["layers.0.neurons.1.w.0"] = "LITERAL"  # type: ignore[index]
    path.write_text(json.dumps(document).replace('"LITERAL"', literal))
    return path


@pytest.mark.parametrize("literal", [str(10**400), "1e400", "-1e999"])
def test_load_names_the_parameter_too_big_for_a_float(tmp_path: Path, literal: str) -> None:
    path = _with_literal(tmp_path, literal)
    with pytest.raises(ValueError, match=r"layers\.0\.neurons\.1\.w\.0") as error:
        MLP.load(path)
    assert str(error.value).startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("literal", "problem"),
    [
        ("NaN", "NaN is not allowed"),
        ("-Infinity", "-Infinity is not allowed"),
        ("1" * 5000, "integer literal of 5000 digits"),
    ],
)
def test_load_names_the_file_and_the_bad_literal(
    tmp_path: Path, literal: str, problem: str
) -> None:
    path = _with_literal(tmp_path, literal)
    with pytest.raises(ValueError, match=problem) as error:
        MLP.load(path)
    assert str(error.value).startswith(f"{path}: ")


def _make_folder(path: Path) -> None:
    path.mkdir()


NOT_REGULAR: dict[str, tuple[Callable[[Path], None], str]] = {
    "folder": (_make_folder, "a folder"),
    "fifo": (os.mkfifo, "a FIFO"),  # opening it to read would wait forever for a writer
}


@pytest.mark.parametrize("kind", NOT_REGULAR)
def test_load_of_what_is_not_a_regular_file_is_a_value_error_naming_it(
    tmp_path: Path, kind: str
) -> None:
    make, described = NOT_REGULAR[kind]
    path = tmp_path / "model.json"
    make(path)
    with pytest.raises(ValueError) as error:
        MLP.load(path)
    assert str(error.value) == f"{path}: is {described}, not a regular file"


@pytest.mark.parametrize("kind", NOT_REGULAR)
def test_save_over_what_is_not_a_regular_file_is_refused_and_leaves_it(
    tmp_path: Path, kind: str
) -> None:
    make, described = NOT_REGULAR[kind]
    path = tmp_path / "model.json"
    make(path)
    kind_before = path.stat().st_mode
    with pytest.raises(ValueError, match=f"it is {described}, not a regular file"):
        MLP(2, [1], seed=0).save(path)
    assert path.stat().st_mode == kind_before
    assert os.listdir(tmp_path) == ["model.json"]


def test_save_through_a_symlink_writes_its_target(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "v1.json"
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    model = MLP(2, [2, 1], seed=3)
    model.save(link)
    assert link.is_symlink()
    assert MLP.load(target).state_dict() == model.state_dict()


def test_load_refuses_a_file_over_the_size_limit_before_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = _saved(tmp_path)
    size = path.stat().st_size
    monkeypatch.setattr(modules, "MAX_FILE_BYTES", size - 1)
    with pytest.raises(ValueError) as error:
        MLP.load(path)
    assert str(error.value) == f"{path}: is {size} bytes, more than the limit of {size - 1}"


# ---- hostile files: bounded memory, short escaped messages --------------------------------


def _filled(size: int, head: str, item: Callable[[int], str], tail: str) -> bytes:
    """``head`` + items separated by commas + ``tail``, about ``size`` bytes of JSON."""
    items = []
    length = len(head) + len(tail)
    for i in itertools.count():
        text = item(i)
        if length + len(text) + 1 > size:
            break
        items.append(text)
        length += len(text) + 1
    return (head + ",".join(items) + tail).encode("ascii")


def _hand_edited_model(size: int) -> bytes:
    """A model file as ``save`` writes it, about ``size`` bytes, with its last parameter renamed."""
    width = max(1, int((size / 45) ** 0.5))  # about 45 bytes per saved parameter
    sizes = [width, width, 1]
    rng = random.Random(0)
    parameters = {
        f"layers.{k}.neurons.{j}.{name}": rng.uniform(-1.0, 1.0)
        for k in range(2)
        for j in range(sizes[k + 1])
        for name in [*(f"w.{i}" for i in range(sizes[k])), "b"]
    }
    document = {
        "format": "tinygrad_edu.MLP",
        "version": 1,
        "architecture": {
            "nin": width, "nouts": [width, 1], "activation": "relu", "output_activation": "linear"
        },
        "parameters": parameters,
    }  # fmt: skip
    text = json.dumps(document, indent=1)
    return text.replace('"layers.1.neurons.0.b"', '"layers.1.neurons.0.bias"').encode("ascii")


SIZE = 2_000_000  # the ratio to the size is what is measured; smaller is faster


def _list_of(item: Callable[[int], str]) -> Callable[[], bytes]:
    return lambda: _filled(SIZE, '{"format": "x", "pad": [', item, "]}")


def _object_of(item: Callable[[int], str]) -> Callable[[], bytes]:
    return lambda: _filled(SIZE, '{"format": "x", "pad": {', item, "}}")


HOSTILE: dict[str, Callable[[], bytes]] = {
    # The issue's file: 3 bytes of text per 64-byte dict.
    "a list of empty objects": _list_of(lambda i: "{}"),
    "deep nesting": lambda: b"[" * (SIZE // 2) + b"]" * (SIZE // 2),
    # The densest files the shape check lets through, one per kind of JSON item.
    "short keys": _object_of(lambda i: f'"{i:019d}":0'),
    "short keys, float values": _object_of(lambda i: f'"{i:017d}":1.5'),
    "string values": _object_of(lambda i: f'"{i:012d}": "{i:013d}"'),
    "short strings": _list_of(lambda i: '"abcdefghijklm"'),
    "floats": _list_of(lambda i: "1.5e5   "),
    "a hand-edited model": lambda: _hand_edited_model(SIZE),
}


@pytest.mark.parametrize("make", HOSTILE.values(), ids=HOSTILE.keys())
def test_loading_a_hostile_file_costs_at_most_ten_times_its_size(
    tmp_path: Path, make: Callable[[], bytes]
) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(make())
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with pytest.raises(ValueError) as error:
            MLP.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 10 * size, f"{peak / size:.1f} times the file's size: {error.value}"


UNDER_A_MEMORY_LIMIT = """
import resource, sys
from tinygrad_edu.nn import MLP
path, size = sys.argv[1], int(sys.argv[2])
with open("/proc/self/status") as status:
    in_use = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:"))
limit = in_use + 10 * size  # ten times the file's size, on top of what is already mapped
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
try:
    MLP.load(path)
except MemoryError:
    print("MemoryError")
except ValueError:
    print("ValueError")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_the_issues_64_megabyte_file_ends_in_value_error_under_a_memory_limit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "model.json"
    head, tail = b'{"format": "x", "pad": [', b"{}]}"
    count = (modules.MAX_FILE_BYTES - len(head) - len(tail)) // 4
    path.write_bytes(head + b"{}, " * count + tail)
    size = path.stat().st_size
    assert size > 0.99 * modules.MAX_FILE_BYTES
    result = subprocess.run(
        [sys.executable, "-c", UNDER_A_MEMORY_LIMIT, str(path), str(size)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout == "ValueError\n", result.stderr


def test_the_shape_check_names_what_it_refuses(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(HOSTILE["a list of empty objects"]())
    with pytest.raises(ValueError, match=r"not a valid model file \(\d+ '\{' and '\[' characters"):
        MLP.load(path)
    path.write_bytes(_filled(10_000, '{"format": "x", "pad": [', lambda i: "1", "]}"))
    with pytest.raises(ValueError, match=r"JSON items in \d+ bytes, more than a model file has"):
        MLP.load(path)
    path.write_text('{"format": "caf\u00e9"}', encoding="utf-8")
    with pytest.raises(ValueError, match="a model file is ASCII text"):
        MLP.load(path)


@given(
    nin=st.integers(1, 4),
    nouts=st.lists(st.integers(1, 3), min_size=1, max_size=12),
    compact=st.booleans(),
)
def test_the_shape_check_passes_every_file_save_could_write(
    tmp_path_factory: pytest.TempPathFactory, nin: int, nouts: list[int], compact: bool
) -> None:
    # The densest a valid file gets: no spaces, every parameter 0, many one-neuron layers.
    path = tmp_path_factory.mktemp("dense") / "model.json"
    model = MLP(nin, nouts, seed=0)
    for p in model.parameters():
        p.data = 0.0
    if compact:
        document = {
            "format": "tinygrad_edu.MLP",
            "version": 1,
            "architecture": model.architecture(),
            "parameters": {name: 0 for name in model.state_dict()},
        }
        path.write_text(json.dumps(document, separators=(",", ":")))
    else:
        model.save(path)
    assert MLP.load(path).state_dict() == model.state_dict()


def _with_names(tmp_path: Path, names: list[str]) -> Path:
    """A model file for MLP(1, [5]) (10 parameters) whose parameters have ``names``."""
    path, document = _saved(tmp_path)
    document["architecture"] = {
        "nin": 1, "nouts": [5], "activation": "relu", "output_activation": "linear"
    }  # fmt: skip
    document["parameters"] = {name: 0.5 for name in names}
    path.write_text(json.dumps(document))
    return path


def test_a_name_with_terminal_escape_codes_is_shown_escaped(tmp_path: Path) -> None:
    names = [f"layers.0.neurons.{j}.{p}" for j in range(5) for p in ("w.0", "b")]
    names[3] = "\x1bc\x1b]0;pwned\x07layers.0.neurons.1.b"  # reset the terminal, set its title
    with pytest.raises(ValueError) as error:
        MLP.load(_with_names(tmp_path, names))
    message = str(error.value)
    assert "\x1b" not in message
    assert "'\\x1bc\\x1b]0;pwned\\x07layers.0.neurons.1.b'" in message


def test_ten_names_of_six_megabytes_give_a_short_message(tmp_path: Path) -> None:
    names = [f"{i}\x1b]0;" + "x" * 6_000_000 for i in range(10)]
    path = _with_names(tmp_path, names)
    assert path.stat().st_size > 60_000_000
    with pytest.raises(ValueError, match="unexpected parameter names: '0") as error:
        MLP.load(path)
    message = str(error.value)
    assert len(message) < 1_000 and "\x1b" not in message
    assert "and 5 more" in message  # five names shown, each cut to 80 characters


def test_a_huge_or_hostile_format_value_is_shown_escaped_and_cut(tmp_path: Path) -> None:
    path, document = _saved(tmp_path)
    document["format"] = "\x1b]0;pwned\x07" + "y" * 1_000_000
    path.write_text(json.dumps(document))
    with pytest.raises(
        ValueError, match=r"'format' must be 'tinygrad_edu.MLP', got '\\x1b"
    ) as error:
        MLP.load(path)
    assert len(str(error.value)) < len(str(path)) + 200
    assert "\x1b" not in str(error.value) and "\x07" not in str(error.value)


def test_a_huge_activation_name_is_shown_escaped_and_cut(tmp_path: Path) -> None:
    path, document = _saved(tmp_path)
    document["architecture"]["activation"] = "\x1bc" + "r" * 1_000_000  # type: ignore[index]
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"unknown activation '\\x1bcrrr") as error:
        MLP.load(path)
    assert len(str(error.value)) < len(str(path)) + 200 and "\x1b" not in str(error.value)


def test_unexpected_keys_are_listed_escaped_and_cut(tmp_path: Path) -> None:
    path, document = _saved(tmp_path)
    for i in range(1000):
        document[f"\x1b]{i};" + "k" * 10_000] = i  # '[' would fail the shape check first
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="the file must hold format, version") as error:
        MLP.load(path)
    message = str(error.value)
    assert len(message) < 1_000 and "\x1b" not in message and "and 995 more" in message


def test_load_state_dict_messages_stay_short_and_escaped() -> None:
    model = MLP(30, [30, 1], seed=0)  # 961 parameters
    state = {f"\x1b[31m{i}" + "z" * 100_000: 1.0 for i in range(50)}
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert len(message) < 1_500 and "\x1b" not in message
    assert "and 956 more" in message and "and 45 more" in message


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        # Unpickling this would create the marker file: loading must never do that.
        return (Path.write_text, (Path(self.marker), "pwned"))


def test_load_never_unpickles(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = tmp_path / "model.json"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError):
        MLP.load(path)
    assert not marker.exists()


@given(position=st.integers(0, 10_000), byte=st.integers(0, 255))
def test_a_corrupted_byte_loads_or_raises_value_error(
    tmp_path_factory: pytest.TempPathFactory, position: int, byte: int
) -> None:
    path = tmp_path_factory.mktemp("corrupt") / "model.json"
    MLP(2, [2, 1], seed=0).save(path)
    content = bytearray(path.read_bytes())
    content[position % len(content)] = byte
    path.write_bytes(bytes(content))
    with contextlib.suppress(ValueError):  # the only acceptable failure
        MLP.load(path)
