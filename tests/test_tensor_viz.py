"""``draw_dot`` draws Tensor graphs: shapes always, data and grads for small tensors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinygrad_edu.tensor import Tensor
from tinygrad_edu.viz import draw_dot, render_bytes


def two_layer_loss() -> tuple[Tensor, Tensor, Tensor]:
    x = Tensor([[1.0, 2.0]], requires_grad=False)
    W = Tensor([[0.5, -0.2], [0.1, 0.4]], label="W1")
    big = Tensor(np.zeros((2, 40)), label="W2")
    loss = ((x @ W.T) @ big).tanh().sum()
    loss.label = "loss"
    return loss, W, big


def test_records_show_shapes_and_small_values_and_grads() -> None:
    loss, _, _ = two_layer_loss()
    loss.backward()
    source = draw_dot(loss).source
    assert "W1 | shape (2, 2) | data [0.5, -0.2; 0.1, 0.4] | grad" in source
    assert "W2 | shape (2, 40) }" in source  # 80 entries: the shape only
    assert "constant | shape (1, 2) | data [1.0, 2.0]" in source
    assert source.count("shape=record") == 8  # x, W1, W1.T, x @ W1.T, W2, product, tanh, sum
    for op in ("@", "T", "tanh", "sum"):
        assert f"label={op} " in source or f'label="{op}"' in source
    assert "grad" not in draw_dot(loss, show_grad=False).source


def test_a_tensor_drawing_renders_to_svg() -> None:
    loss, _, _ = two_layer_loss()
    assert render_bytes(draw_dot(loss).source, "svg").startswith(b"<?xml")


def test_limits_and_value_only_options_are_refused() -> None:
    loss, W, _ = two_layer_loss()
    with pytest.raises(ValueError, match="more than max_nodes=3"):
        draw_dot(loss, max_nodes=3)
    with pytest.raises(ValueError, match="Value graphs"):
        draw_dot(loss, highlight=[W])
    with pytest.raises(ValueError, match="rankdir"):
        draw_dot(loss, rankdir="XY")


def test_max_nodes_counts_tensor_records_only() -> None:
    loss, _, _ = two_layer_loss()  # 8 records (and 4 op nodes, which do not count)
    assert draw_dot(loss, max_nodes=8).source.count("shape=record") == 8
    with pytest.raises(
        ValueError, match="more than max_nodes=7 tensors to draw; pass max_nodes=None"
    ):
        draw_dot(loss, max_nodes=7)


def test_a_long_chain_is_refused_after_max_nodes_steps_not_a_full_walk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    y = Tensor([0.5, 1.0], label="x")
    for _ in range(20_000):
        y = y * 1.0001  # two records per step: the product and its constant
    total = y.sum()
    # Counted, not timed: any walk over the graph reads .inputs of each node it enters.
    inputs_read = 0
    stored = Tensor.__dict__["inputs"]  # the slot that holds a node's inputs

    def counting(node: Tensor) -> tuple[Tensor, ...]:
        nonlocal inputs_read
        inputs_read += 1
        return stored.__get__(node, Tensor)  # type: ignore[no-any-return]

    monkeypatch.setattr(Tensor, "inputs", property(counting))
    with pytest.raises(ValueError, match="more than max_nodes=50"):
        draw_dot(total, max_nodes=50)
    assert 0 < inputs_read <= 50


def test_a_tensor_with_more_than_two_axes_is_drawn_flattened() -> None:
    cube = Tensor(np.arange(6.0).reshape(1, 2, 3), label="cube")
    total = (cube * 2.0).sum()
    total.backward()
    source = draw_dot(total).source
    assert "cube | shape (1, 2, 3) | data (flattened) [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]" in source
    assert "grad (flattened) [2.0, 2.0, 2.0, 2.0, 2.0, 2.0]" in source
    big = Tensor(np.ones((2, 2, 2)), label="big")
    assert "big | shape (2, 2, 2) }" in draw_dot((big * 2.0).sum()).source  # 8 entries


def test_max_width_scales_the_picture_as_for_values() -> None:
    loss, _, _ = two_layer_loss()
    assert re.search(r'\bsize="3,3000"', draw_dot(loss, max_width=3).source)
    assert not re.search(r"\bsize=", draw_dot(loss).source)
    for bad in (0, -2.0, "3"):
        with pytest.raises(ValueError, match="max_width must be a positive number of inches"):
            draw_dot(loss, max_width=bad)  # type: ignore[arg-type]


def test_show_local_is_refused_in_words() -> None:
    loss, _, _ = two_layer_loss()
    with pytest.raises(ValueError, match=r"show_local .* Jacobian"):
        draw_dot(loss, show_local=True)


def test_a_foreign_class_named_tensor_gets_the_type_error_naming_value() -> None:
    class Tensor:  # e.g. torch.Tensor: its name alone must not route it to the Tensor drawing
        requires_grad = True

    with pytest.raises(TypeError, match="expected a Value as the graph's root, not Tensor"):
        draw_dot(Tensor())  # type: ignore[arg-type]
