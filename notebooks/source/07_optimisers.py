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
# ## Iris: the seed's recipe, and a fair race
#
# Iris has 150 flowers, 4 measurements each (in centimetres), 3 species. The seed's recipe:
# a 4-8-9-3 ReLU network, the softmax cross-entropy loss (notebook 6), **Adam with
# $\eta = 0.01$, 100 epochs of full-batch training** (one step per epoch, on all 112
# training flowers), on the raw measurements; the seed reports the loss falling from about
# 1.1 to about 0.06. We run exactly that. The four other optimisers race it with the same
# network, the same initial weights (`seed=0`) and full-batch steps, each with a learning
# rate that suits it, for the first **50** epochs (to keep this notebook under a minute;
# Adam goes on to the seed's 100).

# %%
X, y = load_iris()
X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)

RACE_EPOCHS, SEED_EPOCHS = 50, 100
iris_optimizers = {
    "SGD": lambda p: SGD(p, lr=0.05),
    "momentum": lambda p: SGD(p, lr=0.01, momentum=0.9),
    "Nesterov": lambda p: SGD(p, lr=0.01, momentum=0.9, nesterov=True),
    "RMSprop": lambda p: RMSprop(p, lr=0.01),
    "Adam": lambda p: Adam(p, lr=0.01),  # the seed's recipe
}
histories = {}
for name, make in iris_optimizers.items():
    model = MLP(4, [8, 9, 3], seed=0)
    histories[name] = fit(
        model,
        X_train,
        y_train,
        loss="ce",
        optimizer=make(model.parameters()),
        epochs=SEED_EPOCHS if name == "Adam" else RACE_EPOCHS,
        batch_size=None,  # full batch: one step per epoch
        progress=False,
    )
seed_model, seed_loss = model, histories["Adam"].loss  # Adam ran last
seed_test_accuracy = accuracy(seed_model, X_test, y_test, loss="ce")

print(f"{'optimiser':10} {'loss, epoch 1':>14} {'epoch 10':>9} {'epoch 50':>9}")
for name, history in histories.items():
    print(f"{name:10} {history.loss[0]:14.3f} {history.loss[9]:9.3f} {history.loss[49]:9.3f}")
print(
    f"\nAdam, the seed's recipe: loss {seed_loss[0]:.3f} -> {seed_loss[-1]:.3f} after "
    f"{len(seed_loss)} epochs, test accuracy {seed_test_accuracy:.3f} on {len(X_test)} flowers"
)
print("the seed:                loss about 1.1 -> about 0.06")

# %% [markdown]
# The loss curves side by side, and all together on a log scale:

# %%
figure = plt.figure(figsize=(16, 6.5))
grid = figure.add_gridspec(2, 5, height_ratios=[1, 1.3])
epochs = np.arange(1, RACE_EPOCHS + 1)
for column, (name, history) in enumerate(histories.items()):
    axis = figure.add_subplot(grid[0, column])
    axis.plot(epochs, history.loss[:RACE_EPOCHS], color=f"C{column}")
    axis.set(title=name, xlabel="epoch", ylim=(0, 1.3))
    if column == 0:
        axis.set_ylabel("training loss")
together = figure.add_subplot(grid[1, :])
for column, (name, history) in enumerate(histories.items()):
    together.semilogy(np.arange(1, len(history.loss) + 1), history.loss, color=f"C{column}",
                      label=name)  # fmt: skip
together.set(xlabel="epoch (full batch: one step each)", ylabel="training loss (log scale)",
             title="iris, 4-8-9-3 ReLU network, cross-entropy, same initial weights")  # fmt: skip
together.legend()
figure.tight_layout()
plt.show()

# %% [markdown]
# Adam, with the seed's recipe, goes from 1.226 to 0.062 in 100 epochs (the seed: about
# 1.1 to about 0.06) and gets 37 of the 38 held-out flowers right. In the race, plain SGD,
# even with a five times larger learning rate, is highest after 50 epochs. Momentum and
# Nesterov start slowly (with $\eta = 0.01$ their velocity has to build up first, towards
# $1/(1 - 0.9) = 10$ times the plain step) and then overtake it. RMSprop falls fastest in
# the first ten steps: its mean square $v$ starts at 0 and has no bias correction, so its
# first steps are about $1/\sqrt{1 - \alpha} = 10$ times $\eta$; later its curve jumps up
# and down, as a step of fixed size per parameter keeps overshooting. Adam's bias
# correction avoids those large first steps, and its mean $m$ damps the jumps.
#
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. Momentum with $\mu = 0.9$: on a long, steady slope (the same gradient $g$ at every
#    step) the velocity $b_t$ settles to a fixed multiple of $g$. How many times plain
#    SGD's step does momentum then take? Check: `check("07.1", factor)`.
# 2. Standardise the iris inputs (subtract the training mean, divide by the training
#    standard deviation) and rerun the race: which optimisers gain most? To see why Adam
#    cares little about scales, work out its **first** step (lr 0.01) for a parameter whose
#    gradient is 1000 (and then 0.001). Check: `check("07.2", step)`.
# 3. On the valley, find the largest learning rate for which plain SGD still converges.
#    (Hint: across the valley one step multiplies $b$ by $1 - 4\eta$.)
#    Check: `check("07.3", eta)`.
#
# ## Checks

# %%
# All five optimisers walk down the valley from f = 6.1.
assert abs(valley(-4.0, 1.5) - 6.1) < 1e-12
for name, path in valley_paths.items():
    assert valley(*path[-1]) < 0.03, name
# Iris: every optimiser halves the loss in 50 epochs, from the same starting point.
for name, history in histories.items():
    assert history.loss[0] == histories["Adam"].loss[0]
    assert history.loss[49] < 0.5 * history.loss[0], name
# The seed's recipe (Adam, lr 0.01, 100 full-batch epochs): about 1.1 -> about 0.06.
assert len(seed_loss) == 100 and 1.1 < seed_loss[0] < 1.3 and seed_loss[-1] < 0.07
assert seed_test_accuracy >= 0.97
# Plain SGD is highest after 50 epochs; momentum and Nesterov start behind it and overtake
# it; RMSprop leads after 10 steps.
assert max(histories, key=lambda name: histories[name].loss[49]) == "SGD"
for name in ("momentum", "Nesterov"):
    assert histories[name].loss[9] > histories["SGD"].loss[9]
    assert histories[name].loss[49] < histories["SGD"].loss[49]
assert min(histories, key=lambda name: histories[name].loss[9]) == "RMSprop"
assert len(X_test) == 38
print("all checks passed")
