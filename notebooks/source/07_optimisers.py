# %% [markdown]
# # 7 · Optimisers: SGD, momentum, Nesterov, RMSprop, Adam
#
# **After this notebook you will be able to**
#
# - write the update rule of each of five optimisers and say what its extra state does;
# - predict from those rules how each one moves on a long, narrow valley;
# - compare them fairly on a real task (iris, a 4-8-9-3 ReLU network, cross-entropy) from
#   the same starting weights, and read the loss curves.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from tinygrad_edu import Value
from tinygrad_edu.data import load_iris, train_test_split
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import SGD, Adam, RMSprop
from tinygrad_edu.train import accuracy, fit

# %% [markdown]
# ## Five update rules
#
# Write $\theta$ for a parameter, $g_t$ for its gradient at step $t$ and $\eta$ for the
# learning rate. Every optimiser reads `p.grad` and changes `p.data`; they differ in the
# state they keep between steps.
#
# $$
# \begin{aligned}
# &\textbf{SGD:} && \theta \leftarrow \theta - \eta\, g_t \\
# &\textbf{momentum:} && b_t = \mu\, b_{t-1} + g_t, \qquad
#   \theta \leftarrow \theta - \eta\, b_t \\
# &\textbf{Nesterov:} && b_t = \mu\, b_{t-1} + g_t, \qquad
#   \theta \leftarrow \theta - \eta\, (g_t + \mu\, b_t) \\
# &\textbf{RMSprop:} && v_t = \alpha\, v_{t-1} + (1 - \alpha)\, g_t^2, \qquad
#   \theta \leftarrow \theta - \eta\, g_t / (\sqrt{v_t} + \epsilon) \\
# &\textbf{Adam:} && m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t, \qquad
#   v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2, \\
# &&& \theta \leftarrow \theta - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon), \qquad
#   \hat m_t = m_t / (1 - \beta_1^t), \quad \hat v_t = v_t / (1 - \beta_2^t)
# \end{aligned}
# $$
#
# with $b_0 = m_0 = v_0 = 0$ and, by default, $\alpha = 0.99$, $\beta_1 = 0.9$,
# $\beta_2 = 0.999$, $\epsilon = 10^{-8}$.
#
# - **Momentum** adds up past gradients: along a direction where they agree it builds up
#   speed (up to $1/(1-\mu)$ times the plain step), where they alternate in sign they cancel.
# - **Nesterov** applies the momentum step it is about to take already to the current one,
#   which brakes earlier when the velocity points the wrong way.
# - **RMSprop** divides each parameter's step by the running size of its gradients, so every
#   parameter moves at a similar pace whatever the scale of its gradient.
# - **Adam** does both: a momentum-like mean $m$ divided by a running size $\sqrt v$, with
#   the bias corrections $\hat m, \hat v$ for the first steps, when $m$ and $v$ start at 0.
#
# These are PyTorch's rules (`torch.optim`); the test suite checks the package's updates
# against PyTorch's to $10^{-12}$ over 100 steps.
#
# ## A narrow valley
#
# $f(a, b) = 0.1\,a^2 + 2\,b^2$ is 20 times steeper across ($b$) than along ($a$). Plain
# gradient descent must keep $\eta$ small enough not to bounce out across the valley, and
# then crawls along it. Each optimiser gets 40 steps from $(-4, 1.5)$, on two `Value`
# parameters, exactly as it would drive a network's weights.


# %%
def valley(a, b):
    return 0.1 * a * a + 2 * b * b


def descend(make_optimizer, steps=40):
    a, b = Value(-4.0, "a"), Value(1.5, "b")
    optimizer = make_optimizer([a, b])
    path = [(a.data, b.data)]
    for _ in range(steps):
        optimizer.zero_grad()
        valley(a, b).backward()
        optimizer.step()
        path.append((a.data, b.data))
    return np.array(path)


valley_optimizers = {
    "SGD, lr 0.4": lambda p: SGD(p, lr=0.4),
    "momentum 0.8, lr 0.1": lambda p: SGD(p, lr=0.1, momentum=0.8),
    "Nesterov 0.8, lr 0.1": lambda p: SGD(p, lr=0.1, momentum=0.8, nesterov=True),
    "RMSprop, lr 0.1": lambda p: RMSprop(p, lr=0.1),
    "Adam, lr 0.3": lambda p: Adam(p, lr=0.3),
}
valley_paths = {name: descend(make) for name, make in valley_optimizers.items()}

A, B = np.meshgrid(np.linspace(-4.5, 1.5, 200), np.linspace(-1.8, 1.8, 200))
figure, axes = plt.subplots(1, 5, figsize=(17, 3.6), sharey=True)
for axis, (name, path) in zip(axes, valley_paths.items(), strict=True):
    axis.contour(A, B, valley(A, B), levels=[0.05, 0.2, 0.5, 1, 2, 4, 6], colors="lightgrey")
    axis.plot(path[:, 0], path[:, 1], ".-", color="C3", markersize=4)
    axis.plot(0, 0, "k*", markersize=10)
    final = valley(*path[-1])
    axis.set(title=f"{name}\n$f$ after 40 steps: {final:.1e}", xlabel="$a$")
axes[0].set_ylabel("$b$")
figure.tight_layout()
plt.show()

# %% [markdown]
# SGD zigzags across the valley at first (its step across overshoots) and then creeps along
# it. Momentum overshoots the minimum and swings back; Nesterov brakes earlier and swings
# less. RMSprop rescales both coordinates to similar step sizes, so it first moves
# diagonally, then straight along the valley. Adam, with a large learning rate, circles
# in. No rule is best everywhere: each has a learning rate (and more) to tune.
#
# ## Iris: a fair race
#
# Iris has 150 flowers, 4 measurements each, 3 species. We standardise every measurement
# (subtract the training mean, divide by the training standard deviation, so all four
# inputs have the same scale), then train a 4-8-9-3 ReLU network with the softmax
# cross-entropy loss, 40 epochs of mini-batches of 16. Every optimiser starts from **the
# same initial weights** (`seed=0`) and sees the batches in the same order.

# %%
X, y = load_iris()
X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
mean, spread = X_train.mean(axis=0), X_train.std(axis=0)
X_train, X_test = (X_train - mean) / spread, (X_test - mean) / spread

iris_optimizers = {
    "SGD": lambda p: SGD(p, lr=0.05),
    "momentum": lambda p: SGD(p, lr=0.05, momentum=0.9),
    "Nesterov": lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "RMSprop": lambda p: RMSprop(p, lr=0.01),
    "Adam": lambda p: Adam(p, lr=0.01),
}
histories, test_accuracies = {}, {}
for name, make in iris_optimizers.items():
    model = MLP(4, [8, 9, 3], seed=0)
    histories[name] = fit(
        model,
        X_train,
        y_train,
        loss="ce",
        optimizer=make(model.parameters()),
        epochs=40,
        batch_size=16,
        progress=False,
        seed=0,
    )
    test_accuracies[name] = accuracy(model, X_test, y_test, loss="ce")

print(f"{'optimiser':10} {'loss, epoch 1':>14} {'epoch 5':>8} {'epoch 40':>9} {'test acc.':>10}")
for name, history in histories.items():
    print(f"{name:10} {history.loss[0]:14.3f} {history.loss[4]:8.3f} {history.loss[-1]:9.3f}"
          f" {test_accuracies[name]:10.3f}")  # fmt: skip

# %% [markdown]
# The loss curves side by side, and all together on a log scale:

# %%
figure = plt.figure(figsize=(16, 6.5))
grid = figure.add_gridspec(2, 5, height_ratios=[1, 1.3])
epochs = np.arange(1, 41)
for column, (name, history) in enumerate(histories.items()):
    axis = figure.add_subplot(grid[0, column])
    axis.plot(epochs, history.loss, color=f"C{column}")
    axis.set(title=f"{name} (test {test_accuracies[name]:.3f})", xlabel="epoch", ylim=(0, 1.2))
    if column == 0:
        axis.set_ylabel("training loss")
together = figure.add_subplot(grid[1, :])
for column, (name, history) in enumerate(histories.items()):
    together.semilogy(epochs, history.loss, color=f"C{column}", label=name)
together.set(xlabel="epoch", ylabel="training loss (log scale)",
             title="iris, 4-8-9-3 ReLU network, cross-entropy, same initial weights")  # fmt: skip
together.legend()
figure.tight_layout()
plt.show()

# %% [markdown]
# Plain SGD is still far from the others after 40 epochs: with the same learning rate,
# momentum takes steps up to $1/(1-0.9) = 10$ times longer along directions where the
# gradients agree. Momentum, Nesterov, RMSprop and Adam all get most of the way in the first
# ten epochs. RMSprop starts lowest: its mean square $v$ starts at 0 and has no bias
# correction, so its first steps are about $1/\sqrt{1 - \alpha} = 10$ times $\eta$. Near the
# end the curves wobble: with mini-batches the gradient is noisy, and a fixed learning rate
# keeps bouncing around the minimum.
#
# ## Exercises
#
# 1. Give plain SGD the learning rate $0.5$ (ten times more, like momentum's effective
#    step). Does it catch up with momentum? Does it stay stable?
# 2. Train with Adam on the *raw*, unstandardised iris measurements. What changes, and why
#    does RMSprop or Adam suffer less from unequal input scales than SGD?
# 3. On the valley, find the largest learning rate for which plain SGD still converges.
#    (Hint: across the valley one step multiplies $b$ by $1 - 4\eta$.)
#
# ## Checks

# %%
# All five optimisers walk down the valley from f = 6.1.
assert abs(valley(-4.0, 1.5) - 6.1) < 1e-12
for name, path in valley_paths.items():
    assert valley(*path[-1]) < 0.03, name
# Iris: every optimiser lowers the loss, from the same starting point.
for name, history in histories.items():
    assert history.loss[-1] < 0.3 * history.loss[0], name
# Plain SGD ends with the highest training loss; momentum, Nesterov, RMSprop, Adam get below
# 0.1 and test accuracy of at least 0.94 on the 38 held-out flowers.
assert max(histories, key=lambda name: histories[name].loss[-1]) == "SGD"
for name in ("momentum", "Nesterov", "RMSprop", "Adam"):
    assert histories[name].loss[-1] < 0.1, name
    assert test_accuracies[name] >= 0.94, name
assert len(X_test) == 38
print("all checks passed")
