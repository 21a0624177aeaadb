r"""Neurons, layers and multi-layer perceptrons built from ``Value`` nodes.

A neuron computes :math:`y = \phi\left(\sum_i w_i x_i + b\right)` with an activation
:math:`\phi` from ``relu tanh sigmoid linear``. A layer is a list of neurons that read the
same inputs; an MLP is a chain of layers. Every parameter is a leaf ``Value`` with a stable
dotted name (``layers.0.neurons.3.w.1``), used by ``state_dict`` and by ``save``/``load``.
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
import operator
import os
import random
import reprlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tinygrad_edu.engine import Value
from tinygrad_edu.files import read_text_limited, write_atomically

ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "linear": lambda x: x,
}

FORMAT_NAME = "tinygrad_edu.MLP"
FORMAT_VERSION = 1
MAX_PARAMETERS = 1_000_000  # a scalar engine is hopeless far below this; refuse bigger files
MAX_FILE_BYTES = 64 * 1024 * 1024  # a saved model of MAX_PARAMETERS parameters takes < 60 MB
MAX_INT_DIGITS = 1000  # far more than any size in a model; turning digits into an int is quadratic
MAX_QUOTED_CHARACTERS = 80  # text from a file, as it appears in an error message
MAX_NAMES_LISTED = 5  # names an error message lists before saying how many more there are

Input = Sequence[Value | float] | Any  # a sequence of numbers or Values, or a 1-D numpy array


def check_activation(activation: str) -> Callable[[Value], Value]:
    """The activation function named ``activation``; ``ValueError`` naming the choices."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {_describe(activation)}; choose one of {', '.join(ACTIVATIONS)}"
        )
    return ACTIVATIONS[activation]


def check_size(size: object, what: str) -> int:
    """``size`` as an int if it is a positive integer, else a ``ValueError`` naming ``what``."""
    # bool is an int in Python, but MLP(True, ...) is surely a mistake.
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or int(size) < 1:
        raise ValueError(f"{what} must be a positive integer, got {_describe(size)}")
    return int(size)


def make_rng(seed: int | random.Random | None) -> random.Random:
    """The generator a model is initialised from; the tensor MLP uses it to match."""
    # A local generator: building a model never touches the global random state.
    return seed if isinstance(seed, random.Random) else random.Random(seed)


def _as_inputs(x: Input, expected: int) -> list[Value]:
    """The inputs as Values; numbers become constant leaves, lifted once per call."""
    if getattr(x, "ndim", 1) != 1:
        shape = getattr(x, "shape", None)
        raise ValueError(f"expected a 1-D input of length {expected}, got shape {shape}")
    if hasattr(x, "tolist"):
        x = x.tolist()  # numpy scalars -> Python floats, much faster to lift
    if isinstance(x, Value | numbers.Real) or not isinstance(x, Sequence | Iterator):
        raise TypeError(f"expected a sequence of {expected} numbers or Values, got {x!r}")
    values = [v if isinstance(v, Value) else Value(v, requires_grad=False) for v in x]
    if len(values) != expected:
        raise ValueError(f"expected {expected} inputs, got {len(values)}")
    return values


class Module:
    """Anything with parameters: a neuron, a layer, a whole network."""

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its stable dotted name, in a fixed order."""
        return []

    def parameters(self) -> list[Value]:
        """Every parameter, in the order of ``named_parameters()``."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0.0 (before the next ``backward``)."""
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> dict[str, float]:
        """The parameters' values by name, as plain floats."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, object], strict: bool = True) -> None:
        """Set parameters from ``state`` (name -> number), or raise and change nothing.

        Raises ``ValueError`` listing every missing, unexpected and bad entry (missing and
        unexpected names are allowed when ``strict`` is false). A value is bad unless it is
        a finite real number: NaN, inf, 10**400 (no float holds it), bools and strings are.
        """
        if not isinstance(state, Mapping):
            raise TypeError(
                f"state must be a mapping of name -> number, not {type(state).__name__}"
            )
        parameters = dict(self.named_parameters())
        missing = [name for name in parameters if name not in state]
        unexpected = [name for name in state if name not in parameters]
        bad = [
            f"{name}={_describe(value)}"
            for name, value in state.items()
            if name in parameters and not _is_finite_number(value)
        ]
        problems = []
        if strict and missing:
            problems.append(f"missing: {_first_few(missing, quoted=False)}")
        if strict and unexpected:
            problems.append(f"unexpected: {_first_few(unexpected)}")
        if bad:
            problems.append(f"not a finite number: {_first_few(bad, quoted=False)}")
        if problems:
            raise ValueError("cannot load state dict; " + "; ".join(problems))
        # Everything is checked; only now change the model.
        for name, value in state.items():
            if name in parameters:
                parameters[name].data = float(value)  # type: ignore[arg-type]


def count_parameters(nin: int, nouts: Sequence[int]) -> int:
    """The number of parameters of ``MLP(nin, nouts)``, without building it.

    Each layer has one weight per input and a bias, per neuron: ``(nin + 1) * nout``.
    """
    sizes = [nin, *nouts]
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def _is_finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int such as 10**400 has no float
        return False


def _short_repr() -> reprlib.Repr:
    # reprlib cuts a string before escaping it, so a 6 MB name costs 80 characters, not 6 MB.
    short = reprlib.Repr()
    short.maxstring = short.maxother = MAX_QUOTED_CHARACTERS
    short.maxlist = short.maxdict = MAX_NAMES_LISTED
    return short


_SHORT_REPR = _short_repr()


def _describe(value: object) -> str:
    """``repr(value)``, escaped and cut to 80 characters (10**5000 has no repr at all).

    Text read from a file may hold terminal escape codes or megabytes; ``repr`` shows the
    codes as ``\\x1b`` instead of sending them to the terminal.
    """
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        sign = "-" if value < 0 else ""
        return f"about {sign}10**{round(math.log10(abs(value)))}"
    return _SHORT_REPR.repr(value)


def _first_few(items: Sequence[object], *, quoted: bool = True) -> str:
    """The first few ``items`` (each through ``_describe`` if ``quoted``), then how many more."""
    shown = [_describe(item) if quoted else str(item) for item in items[:MAX_NAMES_LISTED]]
    more = len(items) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more else "")


class Neuron(Module):
    r""":math:`\phi(\sum_i w_i x_i + b)`, weights and bias drawn uniformly from
    :math:`\pm 1/\sqrt{n_{in}}` (PyTorch's default for ``nn.Linear``)."""

    def __init__(
        self, nin: int, activation: str = "relu", *, seed: int | random.Random | None = None
    ) -> None:
        self.nin = check_size(nin, "nin")
        self.activation = activation
        self._activate = check_activation(activation)
        rng = make_rng(seed)
        bound = 1.0 / math.sqrt(self.nin)
        self.w = [Value(rng.uniform(-bound, bound)) for _ in range(self.nin)]
        self.b = Value(rng.uniform(-bound, bound))
        _label(self)

    def __call__(self, x: Input) -> Value:
        """The neuron's output for one input row."""
        return self._forward(_as_inputs(x, self.nin))

    def _forward(self, x: list[Value]) -> Value:
        # w_i * x_i by map, whose loop runs in C: the forward pass of an MLP step -10%.
        # map stops at the shorter list; __call__ and Layer._forward check len(x) first.
        products = map(operator.mul, self.w, x)
        # One n-ary sum node, not a chain of additions: fewer nodes, a faster backward.
        return self._activate(Value.sum([*products, self.b]))

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``w.0 ... w.{nin-1}`` then ``b``."""
        return [*((f"w.{i}", w) for i, w in enumerate(self.w)), ("b", self.b)]

    def __repr__(self) -> str:
        return f"Neuron(nin={self.nin}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; always returns a list."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "relu",
        *,
        seed: int | random.Random | None = None,
    ) -> None:
        self.nin = check_size(nin, "nin")
        self.nout = check_size(nout, "nout")
        self.activation = activation
        check_activation(activation)
        rng = make_rng(seed)
        self.neurons = [Neuron(self.nin, activation, seed=rng) for _ in range(self.nout)]
        _label(self)

    def __call__(self, x: Input) -> list[Value]:
        """The outputs of all neurons, one per neuron (a list even for one neuron)."""
        return self._forward(_as_inputs(x, self.nin))

    def _forward(self, x: list[Value]) -> list[Value]:
        # Checked here, once per layer: the neurons' map(operator.mul) would truncate.
        if len(x) != self.nin:
            raise ValueError(f"expected {self.nin} inputs, got {len(x)}")
        return [neuron._forward(x) for neuron in self.neurons]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``neurons.{j}.`` followed by each neuron's names."""
        return [
            (f"neurons.{j}.{name}", p)
            for j, neuron in enumerate(self.neurons)
            for name, p in neuron.named_parameters()
        ]

    def __repr__(self) -> str:
        return f"Layer(nin={self.nin}, nout={self.nout}, activation={self.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: ``activation`` on hidden layers, ``output_activation`` last.

    ``MLP(2, [16, 16, 1])`` is two ReLU hidden layers of 16 and one linear output, as in
    micrograd. Calling it gives one Value when the last layer has one neuron, else a list.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        output_activation: str = "linear",
        seed: int | random.Random | None = None,
    ) -> None:
        self.nin = check_size(nin, "nin")
        if isinstance(nouts, str | bytes) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"nouts must be a non-empty list of layer sizes, got {nouts!r}")
        self.nouts = [check_size(n, f"layer size {i}") for i, n in enumerate(nouts)]
        check_activation(activation)
        check_activation(output_activation)
        self.activation = activation
        self.output_activation = output_activation
        rng = make_rng(seed)
        sizes = [self.nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], output_activation if i == last else activation, seed=rng)
            for i in range(len(self.nouts))
        ]
        _label(self)

    def __call__(self, x: Input) -> Value | list[Value]:
        """The network's output for one input row."""
        values = _as_inputs(x, self.nin)
        for layer in self.layers:
            values = layer._forward(values)
        return values[0] if len(values) == 1 else values

    def named_parameters(self) -> list[tuple[str, Value]]:
        """``layers.{k}.neurons.{j}.w.{i}`` and ``layers.{k}.neurons.{j}.b``."""
        return [
            (f"layers.{k}.{name}", p)
            for k, layer in enumerate(self.layers)
            for name, p in layer.named_parameters()
        ]

    def architecture(self) -> dict[str, Any]:
        """What ``MLP(**architecture)`` needs to rebuild this network's shape."""
        return {
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self.activation,
            "output_activation": self.output_activation,
        }

    def __repr__(self) -> str:
        layers = ",\n".join(f"  {layer!r}" for layer in self.layers)
        return f"MLP(\n{layers}\n)  # {len(self.parameters())} parameters"

    def to_torch(self) -> Any:
        """This network as a float64 ``torch.nn.Sequential`` (see :mod:`tinygrad_edu.bridge`)."""
        from tinygrad_edu.bridge import to_torch  # torch stays optional: imported on use

        return to_torch(self)

    @classmethod
    def from_torch(cls, sequential: Any) -> MLP:
        """The MLP holding a ``torch.nn.Sequential``'s Linear weights and activations."""
        from tinygrad_edu.bridge import from_torch

        return from_torch(sequential, cls)

    # ---- files -------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the architecture and parameters as JSON, atomically (never pickle)."""
        document = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "architecture": self.architecture(),
            "parameters": self.state_dict(),
        }
        # allow_nan=False: NaN/Infinity are not JSON, and a model holding them is broken.
        text = json.dumps(document, indent=1, allow_nan=False)
        write_atomically(path, text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MLP:
        """Read a model written by ``save``; any damaged file raises ``ValueError``.

        The file is parsed as data only, never executed. Its size and the shape of its
        text are checked before ``json`` builds anything (see ``_check_text_shape``), so a
        hostile file costs at most about ten times its size in memory. The architecture is
        checked (positive sizes, at most ``MAX_PARAMETERS`` parameters, exactly the expected
        parameter names, each a finite number) before any model is built. A missing file
        raises ``FileNotFoundError``; a path that is not a regular file (a folder, a pipe, a
        device) raises ``ValueError``, like any content that is not a saved model. Every
        such message starts with the path. Any other ``OSError`` (permission denied) passes on.
        """
        path = Path(path)
        text = read_text_limited(path, MAX_FILE_BYTES)
        try:
            _check_text_shape(text)
            document = json.loads(text, parse_constant=_reject, parse_int=_parse_int)
        except ValueError as error:
            # ValueError covers bad JSON, the shape check and the two parse hooks' refusals.
            raise ValueError(f"{path}: not a valid model file ({error})") from None
        del text  # the document is all that is needed from here on
        try:
            architecture, parameters = _check_document(document)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
        model = cls(**architecture, seed=0)
        model.load_state_dict(parameters)
        return model


# A saved model holds exactly these JSON objects and arrays: the document, its architecture,
# the list of layer sizes and the parameters.
MODEL_CONTAINERS = 4
# Counted below: every ',' and ':' and every pair of '"'. Each parameter is one name, one
# colon and one comma in at least 25 bytes ("layers.0.neurons.0.b":0,), so a model file has
# at most one item per 8 bytes, plus a few in its fixed part.
BYTES_PER_ITEM = 8
FIXED_ITEMS = 16


def _check_text_shape(text: str) -> None:
    """Refuse text that ``json`` would turn into far more objects than a model file holds.

    ``json.loads`` builds the whole document before anything can look at it, and a few
    bytes of text can cost a hundred bytes of memory: ``{},`` is a 64-byte dict for 3 bytes, so
    64 MB of ``[{}, {}, ...]`` took 1.6 GB. Hooks cannot stop it (arrays and strings have
    none). So this counts, at C speed and without building anything, what would become
    objects, against what a model file can hold:

    - the text is ASCII (``save`` escapes everything else);
    - at most 4 ``{`` and ``[`` (a model file's four JSON objects and arrays);
    - at most one ``,``, ``:`` or string per 8 bytes (each parameter takes 25 or more).

    Characters inside strings count too; no valid model file has them there. What passes
    costs at most about 7 bytes of memory per byte of text once parsed (a dict entry, its
    key and its value per 8 bytes), checked by the tests with ``tracemalloc``.
    """
    if not text.isascii():
        raise ValueError("a model file is ASCII text; this one is not")
    containers = text.count("{") + text.count("[")
    if containers > MODEL_CONTAINERS:
        raise ValueError(
            f"{containers} '{{' and '[' characters; a model file has {MODEL_CONTAINERS}"
        )
    items = text.count(",") + text.count(":") + text.count('"') // 2
    allowed = FIXED_ITEMS + len(text) // BYTES_PER_ITEM
    if items > allowed:
        raise ValueError(
            f"{items} JSON items in {len(text)} bytes, more than a model file has ({allowed})"
        )


def _reject(constant: str) -> float:
    raise ValueError(f"{constant} is not allowed in a model file")


def _parse_int(digits: str) -> int:
    if len(digits) > MAX_INT_DIGITS:
        raise ValueError(f"an integer literal of {len(digits)} digits is too long")
    return int(digits)


DOCUMENT_KEYS = ("format", "version", "architecture", "parameters")
ARCHITECTURE_KEYS = ("nin", "nouts", "activation", "output_activation")


def _check_keys(mapping: dict[str, Any], expected: Sequence[str], where: str) -> None:
    """Raise unless ``mapping`` has exactly the keys ``expected``, naming the odd ones."""
    missing = [key for key in expected if key not in mapping]
    unexpected = [key for key in mapping if key not in expected]
    if missing or unexpected:
        raise ValueError(
            f"{where} must hold {', '.join(expected)}; missing: {_first_few(missing) or '-'};"
            f" unexpected: {_first_few(unexpected) or '-'}"
        )


def _check_document(document: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """The architecture and parameters of a saved model, validated without building it.

    Every piece of the file's text shown in a message goes through ``_describe``.
    """
    if not isinstance(document, dict):
        raise ValueError("the top level must be a JSON object")
    if document.get("format") != FORMAT_NAME:
        raise ValueError(
            f"'format' must be {FORMAT_NAME!r}, got {_describe(document.get('format'))}"
        )
    version = document.get("version")
    # An exact int: true and 1.0 both equal 1 in Python, but neither is what save writes.
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(
            f"unsupported format version {_describe(version)} (expected {FORMAT_VERSION})"
        )
    _check_keys(document, DOCUMENT_KEYS, "the file")
    architecture = document["architecture"]
    if not isinstance(architecture, dict):
        raise ValueError("'architecture' must hold nin, nouts, activation, output_activation")
    _check_keys(architecture, ARCHITECTURE_KEYS, "'architecture'")
    nin = check_size(architecture["nin"], "nin")
    nouts = architecture["nouts"]
    if not isinstance(nouts, list) or not nouts:
        raise ValueError(f"'nouts' must be a non-empty list of layer sizes, got {_describe(nouts)}")
    sizes = [nin, *(check_size(n, f"layer size {i}") for i, n in enumerate(nouts))]
    check_activation(architecture["activation"])
    check_activation(architecture["output_activation"])
    count = count_parameters(nin, sizes[1:])
    if count > MAX_PARAMETERS:
        raise ValueError(
            f"{_describe(count)} parameters is more than the limit of {MAX_PARAMETERS}"
        )
    parameters = document["parameters"]
    if not isinstance(parameters, dict):
        raise ValueError("'parameters' must be a JSON object of name -> number")
    if len(parameters) != count:
        raise ValueError(
            f"the architecture has {count} parameters, the file holds {len(parameters)}"
        )
    # Walking the expected names, rather than building a set of them, keeps memory flat.
    # With the counts equal, no name missing means no name unexpected either.
    missing = [name for name in _parameter_names(sizes) if name not in parameters]
    if missing:
        expected = set(_parameter_names(sizes))
        unexpected = [name for name in parameters if name not in expected]
        raise ValueError(
            f"unexpected parameter names: {_first_few(unexpected)}"
            f" (missing: {_first_few(missing, quoted=False)})"
        )
    bad = [name for name, value in parameters.items() if not _is_finite_number(value)]
    if bad:
        raise ValueError(f"parameters that are not finite numbers: {_first_few(bad, quoted=False)}")
    return architecture, parameters


def _parameter_names(sizes: list[int]) -> Iterator[str]:
    for k, (nin, nout) in enumerate(itertools.pairwise(sizes)):
        for j in range(nout):
            for i in range(nin):
                yield f"layers.{k}.neurons.{j}.w.{i}"
            yield f"layers.{k}.neurons.{j}.b"


def _label(module: Module) -> None:
    # Parameter labels show in graph drawings; an enclosing module relabels with its prefix.
    for name, p in module.named_parameters():
        p.label = name
