"""Tests for tinygrad_edu.page: the step-through page's content, limits and entry points.

What the page does in a browser (keys, URL, outline) is tested in test_page_browser.py;
here the page is read as a file: its data, its embedded drawing, what it may fetch.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import tinygrad_edu.page
from tinygrad_edu import Value
from tinygrad_edu.gallery import tanh_neuron
from tinygrad_edu.page import inline_frame, page_html
from tinygrad_edu.viz import backward_steps, draw_dot, format_number, save_html, step_through

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"


# ---- reading a page ------------------------------------------------------------------------


def page_data(page: str) -> dict[str, Any]:
    """The frames the page's script plays, as it reads them."""
    match = re.search(
        r'<script id="page-data" type="application/json">(.*?)</script>', page, re.DOTALL
    )
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


def page_svg(page: str) -> ET.Element:
    start, end = page.index("<svg"), page.index("</svg>") + len("</svg>")
    return ET.fromstring(page[start:end])


def svg_nodes(svg: ET.Element) -> dict[str, list[str]]:
    """Drawn id (the node's <title>) -> the texts of its fields, in order."""
    nodes = {}
    for group in svg.iter(f"{SVG}g"):
        if group.get("class") == "node":
            title = group.find(f"{SVG}title")
            assert title is not None and title.text is not None
            nodes[title.text] = [text.text or "" for text in group.iter(f"{SVG}text")]
    return nodes


def svg_edges(svg: ET.Element) -> list[tuple[str, str]]:
    edges = []
    for group in svg.iter(f"{SVG}g"):
        if group.get("class") == "edge":
            title = group.find(f"{SVG}title")
            assert title is not None and title.text is not None
            tail, head = title.text.split("->")
            edges.append((tail, head))
    return edges


class Fetches(HTMLParser):
    """Every attribute and tag through which an HTML page could load something."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[tuple[str, str, str]] = []
        self.meta: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "action", "poster", "xlink:href"):
                self.references.append((tag, name, value or ""))
        if tag == "meta":
            self.meta.append(dict(attrs))


@pytest.fixture(scope="module")
def neuron_page() -> str:
    return page_html(tanh_neuron())


# ---- what the page holds -------------------------------------------------------------------


def test_the_page_plays_the_engines_own_step_texts(neuron_page: str) -> None:
    frames = page_data(neuron_page)["frames"]
    backward = [frame["text"] for frame in frames if frame["kind"] == "backward"]
    steps = backward_steps(tanh_neuron())
    assert backward == [str(step) for step in steps]
    assert "step 6: x1.grad += w1.data * x1w1.grad = -3.0 * 0.5 = -1.5" in backward
    assert [frame["kind"] for frame in frames] == ["forward"] * 10 + ["backward"] * 10


def test_each_step_outlines_the_node_it_updates_and_the_edges_it_flows_along(
    neuron_page: str,
) -> None:
    svg = page_svg(neuron_page)
    nodes, edges = svg_nodes(svg), svg_edges(svg)
    frames = [f for f in page_data(neuron_page)["frames"] if f["kind"] == "backward"]
    for frame, step in zip(frames, backward_steps(tanh_neuron()), strict=True):
        assert nodes[frame["node"]][0] == step.node.label  # the box's name field
        assert frame["grad"] == format_number(step.grads[step.node])
        for edge in frame["edges"]:
            assert tuple(edge.split("->")) in edges
        if step.output is not None:
            (tail, _), (_, head) = (edge.split("->") for edge in frame["edges"])
            assert (nodes[tail][0], nodes[head][0]) == (step.node.label, step.output.label)


def test_replaying_the_steps_gives_the_gradients_of_backward(neuron_page: str) -> None:
    data = page_data(neuron_page)
    nodes = svg_nodes(page_svg(neuron_page))
    shown = dict.fromkeys(data["gradNodes"], data["zero"])
    for frame in data["frames"]:
        if frame["kind"] == "backward":
            shown[frame["node"]] = frame["grad"]  # as the script does
    o = tanh_neuron()
    o.backward()
    by_label = {nodes[node_id][0]: grad_text for node_id, grad_text in shown.items()}
    for node in _all_nodes(o):
        assert by_label[node.label] == format_number(node.grad), node.label
    assert by_label["x1"] == "-1.5" and by_label["w1"] == "1.0"


def test_the_forward_pass_shows_nodes_in_topological_order_with_their_data(
    neuron_page: str,
) -> None:
    svg = page_svg(neuron_page)
    frames = [f for f in page_data(neuron_page)["frames"] if f["kind"] == "forward"]
    appears = {node_id: i for i, frame in enumerate(frames) for node_id in frame["reveal"]}
    assert set(appears) == set(svg_nodes(svg))  # every box and op appears once
    for tail, head in svg_edges(svg):
        assert appears[tail] <= appears[head], (tail, head)
    texts = [frame["text"] for frame in frames]
    assert texts[0] == "x1 = 2.0  (a leaf: given, not computed)"
    assert "x1w1 = x1 * w1 = 2.0 * -3.0 = -6.0" in texts
    assert texts[-1] == "o = tanh(n) = tanh(0.8814) = 0.7071"


def test_constants_appear_with_the_node_that_uses_them() -> None:
    x = Value(3.0, "x")
    y = x**2 - 1
    y.label = "y"
    frames = page_data(page_html(y))["frames"]
    forward = [f["text"] for f in frames if f["kind"] == "forward"]
    assert forward == [
        "x = 3.0  (a leaf: given, not computed)",
        "v2 = x ** 2.0 = 3.0 ** 2.0 = 9.0",
        "y = v2 - 1.0 = 9.0 - 1.0 = 8.0",
    ]
    assert all(len(f["reveal"]) >= 1 for f in frames if f["kind"] == "forward")


def test_every_gradient_shown_fits_its_box() -> None:
    # a.grad passes through 0.3333 before it ends at 1.0: the box is laid out for the wider.
    a = Value(1.0, "a")
    y = a * Value(1 / 3, "third", requires_grad=False) + a * Value(2 / 3, "two thirds")
    y.label = "y"
    page = page_html(y)
    frames = page_data(page)["frames"]
    shown = [f["grad"] for f in frames if f["kind"] == "backward" and f["node"] == "v0"]
    assert shown == [format_number(1 / 3), "1.0"]
    (a_box,) = [texts for texts in svg_nodes(page_svg(page)).values() if texts[0] == "a"]
    assert a_box[-1] == f"grad {format_number(1 / 3)}"


def test_the_layout_has_no_caption_and_no_baked_in_outline(neuron_page: str) -> None:
    svg = page_svg(neuron_page)
    graph = svg.find(f"{SVG}g")
    assert graph is not None
    assert graph.findall(f"{SVG}text") == []  # draw_dot(step=k)'s caption is gone
    strokes = {element.get("stroke") for element in svg.iter() if element.get("stroke")}
    assert "#d62728" not in strokes  # the page outlines the current node itself


def test_the_neuron_page_is_small_and_fetches_nothing(neuron_page: str) -> None:
    assert len(neuron_page.encode("utf-8")) < 1_000_000
    parser = Fetches()
    parser.feed(neuron_page)
    for tag, attribute, value in parser.references:
        assert value.startswith("data:"), (tag, attribute, value)
    assert "@import" not in neuron_page and "url(" not in neuron_page
    (policy,) = [m for m in parser.meta if m.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in (policy["content"] or "")
    assert "connect-src" not in (policy["content"] or "")  # nothing re-allows a fetch


def test_a_hostile_label_stays_text() -> None:
    x = Value(2.0, "</script><script>alert(1)</script>")
    y = x * 3.0
    y.label = "@@SVG@@ & <b>"
    page = page_html(y, title="<i>title</i> @@DATA@@")
    assert page.count("</script>") == 2  # the data's and the script's own
    assert page.count("<svg") == 1 and "<i>title</i>" not in page
    assert "&lt;i&gt;title&lt;/i&gt; @@DATA@@" in page
    texts = [f["text"] for f in page_data(page)["frames"]]
    assert any("</script><script>alert(1)</script>" in text for text in texts)


def test_the_default_title_names_the_root() -> None:
    page = page_html(tanh_neuron())
    assert "<title>Backpropagation through o, step by step</title>" in page
    assert "<h1>Backpropagation through o, step by step</h1>" in page


# ---- limits and writing ----------------------------------------------------------------------


def chain(length: int) -> Value:
    x = Value(0.5, "x")
    for _ in range(length):
        x = x * 1.0001
    return x


def test_a_graph_above_max_nodes_is_refused_as_draw_dot_refuses(tmp_path: Path) -> None:
    big = chain(300)
    with pytest.raises(ValueError) as drawing:
        draw_dot(big)
    with pytest.raises(ValueError) as page:
        save_html(big, tmp_path / "big.html")
    assert type(page.value) is type(drawing.value)
    assert str(page.value) == str(drawing.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="max_nodes=5"):
        save_html(tanh_neuron(), tmp_path / "small.html", max_nodes=5)


def test_max_nodes_none_draws_a_big_graph_anyway(tmp_path: Path) -> None:
    path = save_html(chain(300), tmp_path / "big.html", max_nodes=None)
    assert len(page_data(path.read_text())["frames"]) == 301 + 301


def test_save_html_writes_through_the_one_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[tuple[Path, str | bytes]] = []
    real_writer = tinygrad_edu.page.write_atomically

    def recording_writer(path: str | os.PathLike[str], content: str | bytes) -> Path:
        written.append((Path(path), content))
        return real_writer(path, content)

    monkeypatch.setattr(tinygrad_edu.page, "write_atomically", recording_writer)
    o = tanh_neuron()
    path = save_html(o, tmp_path / "steps.html", title="Neuron")
    assert written == [(tmp_path / "steps.html", path.read_bytes())]
    assert path.read_text(encoding="utf-8") == page_html(o, title="Neuron")
    assert o.grad == 0.0  # making the page ran no backward


def test_the_template_ships_with_the_package() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in Python 3.11 and later")
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "page_template.html" in settings["tool"]["setuptools"]["package-data"]["tinygrad_edu"]


# ---- entry points ----------------------------------------------------------------------------


def test_step_through_without_widgets_shows_the_page_inline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import IPython.display

    shown: list[object] = []
    monkeypatch.setattr(IPython.display, "display", shown.append)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    o = tanh_neuron()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # IPython warns about a bare <iframe>: none here
        step_through(o)
    (output,) = shown
    assert isinstance(output, IPython.display.HTML)
    match = re.fullmatch(r'<div><iframe srcdoc="([^"]*)" .*></iframe></div>', output.data, re.S)
    assert match is not None
    assert html.unescape(match.group(1)) == page_html(o)
    assert output.data == inline_frame(o)


def test_the_graph_command_writes_the_page(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": str(Path(sys.executable).parent)}
    command = [sys.executable, "-m", "tinygrad_edu", "graph", "tanh(x*w + b)"]
    result = subprocess.run(
        [*command, "--at", "x=2,w=-3,b=6.88", "-o", "g.svg", "--html", "steps.html"],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["wrote g.svg", "wrote steps.html"]
    frames = page_data((tmp_path / "steps.html").read_text())["frames"]
    texts = [f["text"] for f in frames if f["kind"] == "backward"]
    x, w, b = Value(2.0, "x"), Value(-3.0, "w"), Value(6.88, "b")
    f = (x * w + b).tanh()
    f.label = "f"
    assert texts == [str(step) for step in backward_steps(f)]

    refused = subprocess.run(
        [*command, "--at", "x=2,w=-3,b=6.88", "-o", "h.svg", "--html", "steps.txt"],
        capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "--html 'steps.txt'" in refused.stderr
    assert not (tmp_path / "h.svg").exists() and not (tmp_path / "steps.txt").exists()


def _all_nodes(root: Value) -> list[Value]:
    seen: dict[Value, None] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen[node] = None
            stack.extend(node.inputs)
    return list(seen)


def test_a_label_utf8_cannot_encode_is_written_escaped(tmp_path: Path) -> None:
    x = Value(2.0, "\ud800")
    page = save_html(x * 2.0, tmp_path / "s.html").read_text(encoding="utf-8")
    assert "\\ud800" in page
