# %% [markdown]
# # 2 · The chain rule
#
# **After this notebook you will be able to**
#
# - split a composite function into simple pieces and differentiate it with the chain rule;
# - read a computation graph: which node feeds which, and what number sits on every arrow;
# - explain why the engine multiplies local derivatives *backwards*, from the output to the
#   input, and why a variable used twice collects the *sum* of its paths;
# - check the engine's gradient against a formula you derived by hand.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_edu import Value
from tinygrad_edu.gradcheck import numerical_grad
from tinygrad_edu.viz import backward_steps, draw_dot

# %% [markdown]
# ## One function, three pieces
#
# $$y = e^{\sin(x^2)}$$
#
# is three simple functions applied one after another:
#
# | piece | function | its derivative |
# |---|---|---|
# | square | $u = x^2$ | $\dfrac{du}{dx} = 2x$ |
# | sine | $s = \sin u$ | $\dfrac{ds}{du} = \cos u$ |
# | exponential | $y = e^s$ | $\dfrac{dy}{ds} = e^s$ |
#
# The **chain rule** says that the derivative of the composition is the product of the
# pieces' derivatives, each taken at the point the piece actually sees:
#
# $$\frac{dy}{dx} = \frac{dy}{ds}\cdot\frac{ds}{du}\cdot\frac{du}{dx}
#   = e^{\sin(x^2)} \cdot \cos(x^2) \cdot 2x .$$
#
# Why a product? Nudge $x$ by a tiny $h$: $u$ moves by about $2x \cdot h$, that moves $s$ by
# about $\cos u \cdot 2x h$, and that moves $y$ by about $e^s \cos u \cdot 2x h$. Each piece
# scales the nudge it receives by its own slope.
#
# Here are the pieces as Python functions, and the hand formula.


# %%
def square(x):
    return x**2


def sine(u):
    return u.sin() if isinstance(u, Value) else math.sin(u)


def exponential(s):
    return s.exp() if isinstance(s, Value) else math.exp(s)


def y_of(x):
    return exponential(sine(square(x)))


def dy_dx_by_hand(x):
    return math.exp(math.sin(x**2)) * math.cos(x**2) * 2 * x


# %% [markdown]
# ## By hand at $x = 1$
#
# Go forward through the pieces, writing down each value and each local slope:

# %%
x = 1.0
u = square(x)
s = sine(u)
y = exponential(s)
du_dx, ds_du, dy_ds = 2 * x, math.cos(u), math.exp(s)
print(f"u = x^2     = {u:.6f}    du/dx = 2x     = {du_dx:.6f}")
print(f"s = sin(u)  = {s:.6f}    ds/du = cos(u) = {ds_du:.6f}")
print(f"y = exp(s)  = {y:.6f}    dy/ds = exp(s) = {dy_ds:.6f}")
print(f"dy/dx = {dy_ds:.6f} * {ds_du:.6f} * {du_dx:.6f} = {dy_ds * ds_du * du_dx:.6f}")

# %% [markdown]
# ## The engine at $x = 1$
#
# The same three pieces on `Value`s record a graph of three nodes above the leaf `x`. We
# label the nodes so the drawing can name them.

# %%
x = Value(1.0, "x")
u = square(x)
u.label = "u"
s = sine(u)
s.label = "s"
y = exponential(s)
y.label = "y"
y.backward()
print(f"engine:  dy/dx = {x.grad:.6f}")
print(f"by hand: dy/dx = {dy_dx_by_hand(1.0):.6f}")

# %% [markdown]
# The drawing shows every value as a box (label | data | grad) and every operation as a small
# node between its inputs and its output. The grey box is the constant exponent 2: a plain
# number, it gets no gradient. After `backward()` every box holds
# $\partial y / \partial \text{node}$: `s.grad` $= e^s = 2.32$, `u.grad`
# $= e^s \cos u = 1.253$, `x.grad` $= e^s \cos u \cdot 2x = 2.507$.
#
# With `show_local=True` every arrow into an operation carries its local derivative
# $\partial\,\text{out} / \partial\,\text{input}$, the number the chain rule multiplies:
# $2x = 2$ on the arrow out of `x`, $\cos u = 0.540$ out of `u`, $e^s = 2.32$ out of `s`.
# Their product is `x.grad`.

# %%
draw_dot(y, show_local=True)

# %% [markdown]
# ## Why backwards?
#
# `backward()` starts at the output with $\partial y / \partial y = 1$ and walks the graph
# from the output towards the inputs. At each node it multiplies the gradient it has so far
# by the local derivative of the arrow and passes the product down:
#
# $$\texttt{input.grad} \mathrel{+}= \frac{\partial\,\texttt{out}}{\partial\,\texttt{input}}
#   \cdot \texttt{out.grad}.$$
#
# `backward_steps` lists these updates with their numbers, in the order `backward()` applies
# them:

# %%
for step in backward_steps(y):
    print(step)

# %% [markdown]
# Multiplying from the output end means one backward pass gives the derivative of the
# output with respect to *every* node at once (here `s.grad`, `u.grad` and `x.grad`). For a
# network with a million weights and one loss, that is one pass instead of a million.
#
# ## The formula holds everywhere
#
# One point proves little. Below, the engine's gradient at 41 points (dots) lies on the hand
# formula (line). The curve of $y$ is drawn for reference: where it is flat, the gradient
# is 0; at $x = 0$ the factor $2x$ makes it 0 too.

# %%
grid = np.linspace(-2.5, 2.5, 400)
sample_points = np.linspace(-2.5, 2.5, 41)
engine_gradients = []
for point in sample_points:
    x = Value(point)
    y_of(x).backward()
    engine_gradients.append(x.grad)

figure, axes = plt.subplots(figsize=(9, 4))
axes.plot(grid, np.exp(np.sin(grid**2)), color="grey", label="$y = e^{\\sin(x^2)}$")
axes.plot(grid, [dy_dx_by_hand(g) for g in grid], color="C0",
          label="hand formula $e^{\\sin(x^2)}\\cos(x^2)\\,2x$")  # fmt: skip
axes.plot(sample_points, engine_gradients, "o", color="C3", markersize=4,
          label="engine: x.grad after backward()")  # fmt: skip
axes.axhline(0, color="black", linewidth=0.5)
axes.set(xlabel="$x$", title="the engine's gradient against the chain rule by hand")
axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize=9)
plt.show()

# %% [markdown]
# ## A variable used twice: add the paths
#
# Write $x^2$ as `x * x` instead. Now `x` feeds the product twice, along two arrows, each
# with local derivative $x$ (the *other* factor). The multivariable chain rule says the
# contributions of all paths from `x` to the output **add up**: $x + x = 2x$, the same as
# before. The engine accumulates with `+=` for exactly this reason.

# %%
x = Value(1.0, "x")
product = x * x
product.label = "x*x"
y_twice = product.sin().exp()
y_twice.label = "y"
y_twice.backward()
print(f"with x * x: dy/dx = {x.grad:.6f}")
for step in backward_steps(y_twice)[-2:]:
    print(step)
draw_dot(y_twice)

# %% [markdown]
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. Split $y = \ln(1 + e^{3x})$ (the "softplus" of $3x$) into pieces, write its derivative
#    with the chain rule as a function `dy_dx(x)`, and check it against the engine at
#    $x = 0.5$. Check: `check("02.1", dy_dx)`.
# 2. In the table of the three pieces, which derivative reuses the piece's own *output*?
#    Why is that convenient for a backward pass? Check: `check("02.2", "name of the op")`.
# 3. Draw the graph of `(x * x + x).tanh()` with `draw_dot` and predict, before running it,
#    how many arrows leave `x` and what `x.grad` will be at $x = 0.5$.
#    Check: `check("02.3", (arrows, x_grad))`.
#
# ## Checks

# %%
for point in (-2.0, -0.7, 0.0, 1.0, 1.3, 2.4):
    x = Value(point)
    y_of(x).backward()
    by_hand = dy_dx_by_hand(point)
    assert math.isclose(x.grad, by_hand, rel_tol=1e-12, abs_tol=1e-12), (point, x.grad)
    # ... and both agree with a central finite difference.
    (numeric,) = numerical_grad(y_of, [point])
    assert math.isclose(numeric, by_hand, rel_tol=1e-6, abs_tol=1e-6)
# The 41 plotted engine gradients lie on the hand formula.
assert np.allclose(engine_gradients, [dy_dx_by_hand(p) for p in sample_points], atol=1e-12)
# At x = 1: dy/dx = e^{sin 1} cos 1 * 2 = 2.5068 (rounded), as printed above.
assert round(dy_dx_by_hand(1.0), 4) == 2.5068
# x * x collects 2x from its two arrows: the same gradient as x**2.
x = Value(1.0)
(x * x).sin().exp().backward()
assert math.isclose(x.grad, dy_dx_by_hand(1.0), rel_tol=1e-12)
# One backward step per arrow: seed, s, u, x for the three pieces.
assert [step.node.label for step in backward_steps(y)] == ["y", "s", "u", "x"]
print("all checks passed")
