# %% [markdown]
# # 6 · Training networks on real data
#
# **After this notebook you will be able to**
#
# - write the training loop (forward, loss, `zero_grad`, `backward`, `step`) and know what
#   `fit` does for you;
# - train a classifier on two moons with the hinge loss and draw its decision boundary;
# - explain why a 10-3-2 sigmoid network gets every one of 324 *unseen* 10-bit numbers right
#   in the parity task, by reading its weights;
# - train on the 8x8 handwritten digits and measure test accuracy honestly.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from tinygrad_edu import no_grad
from tinygrad_edu.data import load_digits, make_moons, parity_bits, train_test_split
from tinygrad_edu.nn import MLP, hinge_loss
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
# The network: 10 inputs, a hidden layer of 3 sigmoid neurons, 2 outputs (one logit per
# class), trained with the softmax **cross-entropy** loss
# $-\log \frac{e^{z_y}}{\sum_c e^{z_c}}$ and the Adam optimiser (notebook 6).

# %%
bits, even = parity_bits(10)
parity_model = MLP(10, [3, 2], activation="sigmoid", seed=0)
parity_history = fit(
    parity_model,
    bits[:700],
    even[:700],
    loss="ce",
    optimizer=Adam(parity_model.parameters(), lr=0.1),
    epochs=5,
    batch_size=16,
    progress=False,
    seed=0,
)
parity_test_accuracy = accuracy(parity_model, bits[700:], even[700:], loss="ce")
print(f"training accuracy per epoch: {[round(a, 3) for a in parity_history.accuracy]}")
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
# ## Handwritten digits
#
# `load_digits()` gives 1797 handwritten digits as 8x8 images of pixel values 0 to 16 (the
# offline stand-in for MNIST). We scale the pixels to $[0, 1]$, keep a quarter of the images
# for testing, and train a 64-16-10 ReLU network with cross-entropy for a single epoch of
# mini-batches of 16. That is a deliberately small budget, to keep this notebook fast on a
# scalar engine: every multiplication of every image is a Python object.

# %%
images, digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(images / 16.0, digits, seed=0)
digits_model = MLP(64, [16, 10], seed=0)
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
print(f"test accuracy after one epoch: {digits_accuracy:.4f}")

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
figure.suptitle("test digits and the answers of the 64-16-10 network")
figure.tight_layout()
plt.show()

# %% [markdown]
# ## Exercises
#
# 1. Train the moons network with `lr=0.03` instead of 0.3 for the same 50 epochs. How do
#    the loss curve and the boundary change?
# 2. Give the parity network's hidden layer a single neuron (`MLP(10, [1, 2], ...)`). Is
#    one neuron enough? What do its weights look like?
# 3. Train the digits network for three epochs instead of one. How much does test accuracy
#    improve, and how long does it take? (The test suite's 64-32-10 network reaches 0.91 in
#    one epoch.)
#
# ## Checks

# %%
# Moons: the loss falls and every held-out point is classified right.
assert history.loss[-1] < 0.1 * history.loss[0]
assert moons_accuracy == 1.0
# Parity: 10-3-2 sigmoid network, first 700 rows train, the other 324 test: accuracy 1.0.
assert len(bits[700:]) == 324 and parity_test_accuracy == 1.0
# The test numbers include patterns never trained on (leading bits 11).
assert bits[768:, :2].all() and not bits[:700, :2].all(axis=1).any()
# ... and the network reads the last bit: its largest weights come from it.
assert np.argmax(np.abs(first_layer).max(axis=0)) == 9
# Digits: one epoch of a 64-16-10 network; we measured 0.8889 (400 of 450 test images).
assert len(X_test) == 450
assert digits_accuracy >= 0.88
assert len(wrong) == round((1 - digits_accuracy) * len(X_test)) >= 8
print("all checks passed")
