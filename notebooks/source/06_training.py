# %% [markdown]
# # 6 · Training networks on real data
#
# **After this notebook you will be able to**
#
# - write the training loop (forward, loss, `zero_grad`, `backward`, `step`) and know what
#   `fit` does for you;
# - train a classifier on two moons with the hinge loss and draw its decision boundary;
# - see what goes wrong when a training loop forgets `zero_grad()`;
# - explain why a 10-3-2 sigmoid network gets every one of 324 *unseen* 10-bit numbers right
#   in the parity task, by reading its weights;
# - say what logits, softmax and the cross-entropy loss are, and derive its gradient
#   $p - y$;
# - train on the 8x8 handwritten digits, measure test accuracy honestly, and save and load
#   the trained model.

# %%
# %matplotlib inline
import math
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_edu import Value, no_grad
from tinygrad_edu.data import load_digits, make_moons, parity_bits, train_test_split
from tinygrad_edu.nn import MLP, cross_entropy, hinge_loss, softmax
from tinygrad_edu.optim import SGD, Adam
from tinygrad_edu.train import accuracy, fit, predict

# %% [markdown]
# ## The training loop
#
# Training repeats four moves on a batch of examples:
#
# 1. **forward**: run the network on each example of the batch;
# 2. **loss**: one number $L$ saying how wrong the outputs are, averaged over the batch;
# 3. **backward**: `zero_grad()` then `L.backward()` fills $\partial L/\partial\theta$ for
#    every parameter $\theta$ (zeroing first, because gradients accumulate: notebook 4);
# 4. **step**: the optimiser moves each parameter against its gradient,
#    $\theta \leftarrow \theta - \eta\, \partial L/\partial \theta$.
#
# One **epoch** is one pass over the training set in batches. Here is one step written out
# by hand on two moons, with the **hinge loss** of a support vector machine: for a label
# $y = \pm 1$ and a score $s$, $\max(0, 1 - y s)$, which is zero once the example is on the
# right side of the boundary with a margin of at least 1.

# %%
X, y = make_moons(100, noise=0.1, seed=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
model = MLP(2, [16, 16, 1], seed=0)  # ReLU hidden layers, one linear output: the score
optimizer = SGD(model.parameters(), lr=0.3)

batch_X, batch_y = X_train[:10], y_train[:10]
scores = [model(row) for row in batch_X]  # 1. forward
loss = hinge_loss(scores, [2.0 * label - 1.0 for label in batch_y])  # 2. loss, labels +-1
optimizer.zero_grad()  # 3. backward
loss.backward()
optimizer.step()  # 4. step
print(f"{len(model.parameters())} parameters; hinge loss on the first batch: {loss.data:.4f}")

# %% [markdown]
# ## The classic mistake: forgetting `zero_grad()`
#
# `backward()` **adds** to `.grad` (notebook 4 showed why it must: a value used twice
# collects both paths). A loop that never clears the gradients therefore steps along the
# *sum of all gradients so far*. The smallest case shows what that does: one parameter $w$,
# the loss $L(w) = (w - 3)^2$, SGD with $\eta = 0.1$, 60 steps from $w = 0$, with and
# without the `zero_grad()` line.


# %%
def descend_on_a_parabola(clear_gradients, steps=60):
    """w after each SGD step on (w - 3)^2 from w = 0, with or without zero_grad."""
    w = Value(0.0, "w")
    sgd = SGD([w], lr=0.1)
    path = [w.data]
    for _ in range(steps):
        parabola_loss = (w - 3) ** 2
        if clear_gradients:
            sgd.zero_grad()
        parabola_loss.backward()
        sgd.step()
        path.append(w.data)
    return path


with_zero_grad = descend_on_a_parabola(clear_gradients=True)
without_zero_grad = descend_on_a_parabola(clear_gradients=False)
figure, axis = plt.subplots(figsize=(8, 3))
axis.plot(with_zero_grad, ".-", label="with zero_grad()")
axis.plot(without_zero_grad, ".-", label="without zero_grad()")
axis.axhline(3.0, color="black", linewidth=0.8)
axis.set(xlabel="step", ylabel="$w$", title="SGD on $(w - 3)^2$: the minimum is $w = 3$",
         ylim=(-0.5, 7.8))  # fmt: skip
axis.legend(loc="upper center", ncol=2)  # above the curves, not on them
plt.show()
print(f"after 60 steps: w = {with_zero_grad[-1]:.4f} with zero_grad, "
      f"{without_zero_grad[-1]:.4f} without")  # fmt: skip

# %% [markdown]
# With `zero_grad()` the error shrinks by a factor $1 - 2\eta = 0.8$ per step. Without it,
# the summed gradient still points uphill long after $w$ has passed 3, so $w$ swings between
# about 0 and 6 for ever. In a network the same mistake looks like a loss that will not
# settle, or that explodes.

# %% [markdown]
# `fit` runs this loop for a number of epochs with shuffled mini-batches and records the
# mean loss and accuracy of each epoch. (`progress=False` turns off its progress bar.) We
# start again from a fresh network.

# %%
model = MLP(2, [16, 16, 1], seed=0)
history = fit(
    model,
    X_train,
    y_train,
    loss="hinge",
    optimizer=SGD(model.parameters(), lr=0.3),
    epochs=50,
    batch_size=10,
    progress=False,
    seed=0,
)
moons_accuracy = accuracy(model, X_test, y_test, loss="hinge")
print(f"final training loss {history.loss[-1]:.4f}, training accuracy {history.accuracy[-1]}")
print(f"test accuracy on {len(X_test)} held-out points: {moons_accuracy}")

# %% [markdown]
# The loss curve falls to exactly 0 near the end: every training point is then on its side of
# the boundary with a margin of at least 1, and the hinge loss has nothing left to push. On
# the right, what the network learned: its score $s(x_1, x_2)$ on a grid, with the
# decision boundary $s = 0$ as a black line. Crosses are the test points, which the network
# never trained on.

# %%
grid_x, grid_y = np.meshgrid(np.linspace(-1.6, 2.6, 60), np.linspace(-1.1, 1.6, 60))
with no_grad():  # no graph: we only evaluate
    grid_scores = np.array(
        [model(point).data for point in np.column_stack([grid_x.ravel(), grid_y.ravel()])]
    ).reshape(grid_x.shape)

figure, (curve, boundary) = plt.subplots(1, 2, figsize=(12, 4.5))
curve.plot(range(1, len(history.loss) + 1), history.loss, ".-")
curve.set(xlabel="epoch", ylabel="mean hinge loss", title="training loss, moons")
limit = np.abs(grid_scores).max()
boundary.contourf(grid_x, grid_y, grid_scores, levels=20, cmap="coolwarm", alpha=0.5,
                  vmin=-limit, vmax=limit)  # fmt: skip
boundary.contour(grid_x, grid_y, grid_scores, levels=[0.0], colors="black")
boundary.scatter(X_train[:, 0], X_train[:, 1], c=y_train, cmap="coolwarm", edgecolors="black",
                 s=25)  # fmt: skip
boundary.scatter(X_test[:, 0], X_test[:, 1], c=y_test, cmap="coolwarm", marker="X", s=80,
                 edgecolors="black")  # fmt: skip
boundary.set(xlabel="$x_1$", ylabel="$x_2$", title="score $s(x)$ and decision boundary $s = 0$")
# Grey stand-ins for the legend: there the marker's shape matters, not its colour.
boundary.scatter([], [], c="lightgrey", edgecolors="black", s=25, label="training points")
boundary.scatter([], [], c="lightgrey", marker="X", s=80, edgecolors="black", label="test points")
boundary.legend(loc="lower left")
figure.tight_layout()
plt.show()

# %% [markdown]
# ## 10-bit parity: generalising to numbers never seen
#
# `parity_bits(10)` lists the numbers 0 to 1023 as rows of 10 bits (most significant
# first), labelled 1 when the number is **even**. We train on the first 700 numbers and test
# on the other 324. The test numbers include bit patterns the network never saw: every
# number from 768 up starts with the bits `11`, and no training number does.
#
# The network: 10 inputs, a hidden layer of 3 sigmoid neurons, 2 outputs (one per class:
# "odd", "even"), trained with the **squared error** between the outputs and the one-hot
# target ($(1, 0)$ for odd, $(0, 1)$ for even) and plain SGD, $\eta = 0.3$, mini-batches of
# 8. The prediction is the class with the larger output.
#
# **How this differs from the seed's recipe, and why.** The seed trains this network with
# the same loss, optimiser, learning rate and batch size, for **1000 epochs**, on the parity
# of *all ten* bits (their XOR). Two differences:
#
# | | seed | here |
# |---|---|---|
# | label | XOR of all 10 bits | even or odd (the last bit), as `parity_bits` defines it |
# | epochs | 1000 | 20 |
#
# The label: `parity_bits` follows the package's definition (SPEC §4), the evenness of the
# number; the XOR of all ten bits is a different and much harder task, in which every bit
# matters. The epochs: one epoch takes about 0.3 s on this scalar engine, so the seed's 1000
# would take five minutes, while on this task the training loss is below 0.001 by the
# third epoch (printed below).

# %%
bits, even = parity_bits(10)
parity_model = MLP(10, [3, 2], activation="sigmoid", seed=0)
parity_history = fit(
    parity_model,
    bits[:700],
    even[:700],
    loss="mse",
    optimizer=SGD(parity_model.parameters(), lr=0.3),
    epochs=20,
    batch_size=8,
    progress=False,
    seed=0,
)
parity_test_accuracy = accuracy(parity_model, bits[700:], even[700:], loss="mse")
print(f"training loss, epochs 1-5: {[round(v, 4) for v in parity_history.loss[:5]]}")
print(f"training accuracy per epoch: {[round(a, 3) for a in parity_history.accuracy[:5]]} ...")
print(f"test accuracy on the {len(bits[700:])} numbers 700..1023: {parity_test_accuracy}")

# %% [markdown]
# Why does it generalise perfectly? Evenness is decided by the **last bit alone**. Look at
# the hidden layer's weights: the weights from the last bit are far larger than all the
# others, so the network has learned to read that one bit and ignore the nine others,
# including the leading `11` it never saw.

# %%
first_layer = np.array([[w.data for w in neuron.w] for neuron in parity_model.layers[0].neurons])
figure, axes = plt.subplots(figsize=(8, 2.6))
limit = np.abs(first_layer).max()
image = axes.imshow(first_layer, cmap="coolwarm", vmin=-limit, vmax=limit)
axes.set(xticks=range(10), xticklabels=[f"bit {9 - i}" for i in range(10)],
         yticks=range(3), yticklabels=[f"hidden {j}" for j in range(3)],
         title="hidden-layer weights (bit 0 is the last, least significant bit)")  # fmt: skip
figure.colorbar(image, ax=axes)
plt.show()

# %% [markdown]
# ## Ten classes: logits, softmax and the cross-entropy loss
#
# For the digits the network has 10 outputs $z_0, \dots, z_9$, one per class. They are
# plain numbers of any sign, called **logits**: the larger $z_c$, the more the network
# favours class $c$. The **softmax** turns them into probabilities, positive and summing
# to 1:
#
# $$p_c = \frac{e^{z_c}}{\sum_k e^{z_k}} .$$
#
# The **cross-entropy** loss of an example whose true class is $y$ is the negative log of
# the probability given to it, $L = -\log p_y$: near 0 when the network is sure and right,
# large when it is sure and wrong.
#
# **Its gradient is $p - y$.** Write $L = -z_y + \log \sum_k e^{z_k}$. The derivative of
# the first term by $z_c$ is $-1$ if $c = y$ and 0 otherwise; of the second,
# $e^{z_c} / \sum_k e^{z_k} = p_c$. So
#
# $$\frac{\partial L}{\partial z_c} = p_c - [c = y], \qquad
#   \nabla_z L = p - \text{onehot}(y):$$
#
# the predicted probabilities minus the one-hot target. Every wrong class is pushed down by
# its probability, the right class up by $1 - p_y$. The engine agrees:

# %%
logits = [Value(v) for v in (2.0, -1.0, 0.5)]
true_class = 0
ce = cross_entropy(logits, true_class)
ce.backward()
probabilities = [p.data for p in softmax([Value(v.data) for v in logits])]
p_minus_y = [p - (c == true_class) for c, p in enumerate(probabilities)]
print(f"softmax p = {[round(p, 4) for p in probabilities]}, loss = -log p_0 = {ce.data:.4f}")
print(f"engine gradient = {[round(v.grad, 4) for v in logits]}")
print(f"p - onehot(y)   = {[round(v, 4) for v in p_minus_y]}")

# %% [markdown]
# ## Handwritten digits
#
# `load_digits()` gives 1797 handwritten digits as 8x8 images of pixel values 0 to 16 (the
# offline stand-in for MNIST). We scale the pixels to $[0, 1]$, keep a quarter of the images
# for testing, and train a 64-32-10 network (ReLU hidden layer) with cross-entropy and the
# Adam optimiser, $\eta = 0.01$, on mini-batches of 16. (Adam, explained in notebook 7,
# scales each parameter's step by the running size of its own gradients.)
#
# **How this differs from the seed's recipe, and why.** The seed trains 64-32-10 for
# **3 epochs** and reaches a test accuracy of **0.933**; we measured the same here (0.9333,
# in 66 s on two shared cores). That is more than this notebook's one-minute budget, so we
# train **one epoch** (about 20 s), which reaches 0.913. Exercise 3 asks what two more
# epochs cost.

# %%
images, digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(images / 16.0, digits, seed=0)
digits_model = MLP(64, [32, 10], seed=0)
fit(
    digits_model,
    X_train,
    y_train,
    loss="ce",
    optimizer=Adam(digits_model.parameters(), lr=0.01),
    epochs=1,
    batch_size=16,
    progress=False,
    seed=0,
)
digits_accuracy = accuracy(digits_model, X_test, y_test, loss="ce")
print(f"{len(X_train)} training images, {len(X_test)} test images")
print(f"test accuracy after one epoch: {digits_accuracy:.4f} (the seed, after three: 0.933)")

# %% [markdown]
# ## Saving and loading a trained model
#
# `model.save(path)` writes the architecture and every parameter to a JSON file (a text
# file you can read; never a pickle, so loading one runs no code). `MLP.load(path)` builds
# the same network back. The loaded model gives the same answers:

# %%
with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "digits_model.json"
    digits_model.save(path)
    size_in_kilobytes = path.stat().st_size / 1000
    loaded_model = MLP.load(path)
loaded_accuracy = accuracy(loaded_model, X_test, y_test, loss="ce")
print(f"saved {len(digits_model.parameters())} parameters in {size_in_kilobytes:.0f} kB")
print(f"the loaded model's test accuracy: {loaded_accuracy:.4f}")

# %% [markdown]
# The first 16 test images with the network's answers, and below them the first 8 test images
# it gets wrong (in red, with the true label):

# %%
predicted = np.array(predict(digits_model, X_test, loss="ce"))
wrong = np.flatnonzero(predicted != y_test)
shown = [*range(16), *wrong[:8]]
figure, axes = plt.subplots(3, 8, figsize=(10, 4.4))
for axis, index in zip(axes.ravel(), shown, strict=True):
    axis.imshow(X_test[index].reshape(8, 8), cmap="gray_r")
    right = predicted[index] == y_test[index]
    title = f"says {predicted[index]}" if right else f"{y_test[index]}, says {predicted[index]}"
    axis.set_title(title, color="black" if right else "red", fontsize=10)
    axis.axis("off")
figure.suptitle("test digits and the answers of the 64-32-10 network")
figure.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. Train the moons network with `lr=0.03` instead of 0.3 for the same 50 epochs. Is the
#    final training loss higher or lower than with 0.3? How does the boundary change?
#    Answer with the word "higher" or "lower": `check("06.1", word)`.
# 2. Give the parity network's hidden layer a single neuron (`MLP(10, [1, 2], ...)`). Is
#    one neuron enough? Which input bit (0 to 9, counted from the left as the columns of
#    `bits`) gets the largest weight? Check: `check("06.2", index)`.
# 3. Train the digits network for three epochs instead of one. How much does test accuracy
#    improve, and how long does it take? How many parameters does the 64-32-10 network
#    train? Check: `check("06.3", count)`.
#
# ## Checks

# %%
# Moons: the loss falls and every held-out point is classified right.
assert history.loss[-1] < 0.1 * history.loss[0]
assert moons_accuracy == 1.0
# Parity, the seed's loss, optimiser and batch size: 10-3-2 sigmoid network, first 700 rows
# train, the other 324 test: accuracy 1.0; the loss is below 0.001 by the third epoch.
assert len(bits[700:]) == 324 and parity_test_accuracy == 1.0
assert parity_history.loss[2] < 1e-3
# The test numbers include patterns never trained on (leading bits 11).
assert bits[768:, :2].all() and not bits[:700, :2].all(axis=1).any()
# ... and the network reads the last bit: its largest weights come from it.
assert np.argmax(np.abs(first_layer).max(axis=0)) == 9
# Digits: one epoch of a 64-32-10 network; we measured 0.9133 (411 of 450 test images).
assert len(X_test) == 450
assert digits_accuracy >= 0.9
assert len(wrong) == round((1 - digits_accuracy) * len(X_test)) >= 8
# The saved and loaded model is the same model.
assert loaded_model.state_dict() == digits_model.state_dict()
assert loaded_accuracy == digits_accuracy
# Forgetting zero_grad: with it w reaches 3, without it w still swings between 0 and 6.
assert abs(with_zero_grad[-1] - 3) < 1e-4
assert min(without_zero_grad[30:]) < 0.5 and max(without_zero_grad[30:]) > 5.5
# The cross-entropy gradient is p - onehot(y), and the softmax sums to 1.
assert np.allclose([v.grad for v in logits], p_minus_y, atol=1e-12)
assert math.isclose(sum(probabilities), 1.0) and math.isclose(ce.data, -math.log(probabilities[0]))
print("all checks passed")
