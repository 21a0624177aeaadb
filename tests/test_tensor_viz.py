"""``draw_dot`` draws Tensor graphs: shapes always, data and grads for small tensors."""

from __future__ import annotations

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
