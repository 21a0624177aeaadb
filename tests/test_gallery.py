"""Tests for tinygrad_edu.gallery: the committed viz/ files are fresh and deterministic.

The SVGs are compared after normalisation: XML comments (the Graphviz version line) and
coordinates are dropped, everything else (elements, ids, titles, texts, colours, widths
of strokes) must match. Coordinates depend on the fonts a machine has, so comparing them
would make the test fail on machines where nothing is stale. Byte-for-byte determinism
is checked separately, by regenerating the gallery twice in fresh processes.
"""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygrad_edu import Value, grad
from tinygrad_edu.gallery import (
    NOTEBOOK_WIDTH,
    chain_rule,
    main,
    make_gallery,
    tanh_neuron,
    tiny_mlp_loss,
)

REPOSITORY = Path(__file__).resolve().parents[1]
COMMITTED = REPOSITORY / "viz"
SVG = "{http://www.w3.org/2000/svg}"
# Attributes that place or size things: they follow the fonts' metrics.
GEOMETRY = {"x", "y", "cx", "cy", "rx", "ry", "points", "d", "width", "height", "viewBox",
            "transform"}  # fmt: skip


def normalised_svg(data: bytes) -> list[tuple[str, tuple[tuple[str, str], ...], str]]:
    """The SVG's elements in order, without comments and geometry."""
    root = ET.fromstring(data)  # the default parser drops comments
    return [
        (
            element.tag,
            tuple(sorted((k, v) for k, v in element.attrib.items() if k not in GEOMETRY)),
            (element.text or "").strip(),
        )
        for element in root.iter()
    ]


def normalised_page(data: bytes) -> tuple[bytes, object, bytes]:
    """A page's text before and after its one embedded SVG, and the SVG normalised."""
    start, end = data.index(b"<svg"), data.index(b"</svg>") + len(b"</svg>")
    return data[:start], normalised_svg(data[start:end]), data[end:]


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    directory = tmp_path_factory.mktemp("gallery")
    make_gallery(directory)
    return files_under(directory)


def test_committed_gallery_is_not_stale(regenerated: dict[str, bytes]) -> None:
    committed = files_under(COMMITTED)
    assert sorted(committed) == sorted(regenerated), "run: python -m tinygrad_edu.gallery"
    for name, content in regenerated.items():
        if name.endswith(".svg"):
            assert normalised_svg(committed[name]) == normalised_svg(content), (
                f"viz/{name} is stale: run python -m tinygrad_edu.gallery"
            )
        elif name.endswith(".html"):  # the page embeds an SVG: compared as the others are
            assert normalised_page(committed[name]) == normalised_page(content), (
                f"viz/{name} is stale: run python -m tinygrad_edu.gallery"
            )
        else:
            assert committed[name] == content, f"viz/{name} is stale"


def test_gallery_is_byte_identical_across_fresh_processes(tmp_path: Path) -> None:
    runs = []
    for run in ("first", "second"):
        subprocess.run(
            [sys.executable, "-m", "tinygrad_edu.gallery", str(tmp_path / run)],
            check=True,
            cwd=REPOSITORY,
            capture_output=True,
        )
        runs.append(files_under(tmp_path / run))
    assert runs[0] == runs[1]
    assert len(runs[0]) == 15  # 10 frames, their steps.txt, 3 pictures, the page


def test_in_process_generation_matches_a_fresh_process(
    regenerated: dict[str, bytes], tmp_path: Path
) -> None:
    subprocess.run(
        [sys.executable, "-m", "tinygrad_edu.gallery", str(tmp_path)],
        check=True,
        cwd=REPOSITORY,
        capture_output=True,
    )
    assert files_under(tmp_path) == regenerated


def svg_texts(data: bytes) -> list[str]:
    return [element.text or "" for element in ET.fromstring(data).iter(f"{SVG}text")]


def test_committed_pictures_show_the_numbers(regenerated: dict[str, bytes]) -> None:
    neuron = svg_texts(regenerated["neuron.svg"])
    for text in ["o", "data 0.7071", "grad 1.0", "x1", "grad -1.5", "w1", "tanh", "b"]:
        assert text in neuron
    chain = svg_texts(regenerated["chain_rule.svg"])
    assert {"sin", "exp", "**", "grad 2.507", "data 2.32"} <= set(chain)
    # the local derivatives on the arrows: 2x, cos(u), e^v
    assert {"base: 2.0", "exponent", "0.5403", "2.32"} <= set(chain)
    mlp = svg_texts(regenerated["mlp.svg"])
    titles = {"layer 0", "layer 1", "layer 0 · neuron 0", "layer 0 · neuron 1"}
    assert titles | {"layer 1 · neuron 0", "inputs", "loss", "sum", "w.1"} <= set(mlp)
    svg = ET.fromstring(regenerated["mlp.svg"])
    assert float(svg.get("width", "").removesuffix("pt")) <= NOTEBOOK_WIDTH * 72 + 1
    frame = svg_texts(regenerated["neuron_backward/step_06.svg"])
    assert "step 6: x1.grad += w1.data * x1w1.grad = -3.0 * 0.5 = -1.5" in frame
    steps = regenerated["neuron_backward/steps.txt"].decode().splitlines()
    assert steps[6] == "step 6: x1.grad += w1.data * x1w1.grad = -3.0 * 0.5 = -1.5"
    assert len(steps) == 10


def test_gallery_examples_have_the_classic_numbers() -> None:
    o = tanh_neuron()
    assert o.data == pytest.approx(1 / math.sqrt(2), abs=1e-15)
    y = chain_rule(1.3)
    (x,) = [n for n in _leaves(y) if n.label == "x"]
    (dy_dx,) = grad(y, [x])
    hand = math.exp(math.sin(1.3**2)) * math.cos(1.3**2) * 2 * 1.3
    assert dy_dx.data == pytest.approx(hand, rel=1e-12)


def test_tiny_mlp_loss_matches_plain_float_arithmetic() -> None:
    loss = tiny_mlp_loss()
    x = (1.0, -2.0)
    h0 = math.tanh(0.5 * x[0] - 0.4 * x[1] + 0.1)
    h1 = math.tanh(-0.3 * x[0] + 0.8 * x[1] - 0.2)
    prediction = 1.2 * h0 - 0.7 * h1 + 0.05
    assert loss.data == pytest.approx((prediction - 1.0) ** 2, rel=1e-12)
    names = sorted(n.label for n in _leaves(loss) if n.label.startswith("layers."))
    assert names == sorted(
        [f"layers.0.neurons.{j}.{p}" for j in (0, 1) for p in ("w.0", "w.1", "b")]
        + [f"layers.1.neurons.0.{p}" for p in ("w.0", "w.1", "b")]
    )


def test_main_writes_into_the_given_directory(tmp_path: Path) -> None:
    assert main([str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "neuron.svg").is_file()


def _leaves(root: Value) -> list[Value]:
    seen: set[Value] = set()
    stack, leaves = [root], []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if not node.inputs:
            leaves.append(node)
        stack.extend(node.inputs)
    return leaves
