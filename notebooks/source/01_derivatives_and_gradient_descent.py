# %% [markdown]
# # 1 · Derivatives and gradient descent
#
# **After this notebook you will be able to**
#
# - say what a derivative measures and estimate one numerically with a finite difference;
# - get the same derivative from `tinygrad_edu` with `backward()`;
# - walk downhill with gradient descent, $x \leftarrow x - \eta\, f'(x)$, and predict where
#   it stops and how fast it gets there;
# - do the same in two variables with the gradient $\nabla f$ and draw the path.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from tinygrad_edu import Value

# %% [markdown]
# ## The derivative is a slope
#
# Take the function
#
# $$f(x) = x^3 - 4x^2 + 6 .$$
#
# Its derivative at $x$ is the slope of the curve there: how much $f$ changes per unit
# change of $x$, for a tiny change $h$,
#
# $$f'(x) = \lim_{h \to 0} \frac{f(x + h) - f(x)}{h} .$$
#
# The rules of calculus give $f'(x) = 3x^2 - 8x$. Before trusting them, let us *measure*
# the slope at $x = 3$ with ever smaller steps $h$ (the rules say $f'(3) = 27 - 24 = 3$).


# %%
def f(x):
    return x**3 - 4 * x**2 + 6


def f_prime(x):
    return 3 * x**2 - 8 * x


x = 3.0
for h in (1.0, 0.1, 0.01, 0.001, 0.0001):
    slope = (f(x + h) - f(x)) / h
    print(f"h = {h:<7} slope = {slope:.6f}")
print(f"the rule says     {f_prime(x):.6f}")

# %% [markdown]
# The measured slope approaches 3 as $h$ shrinks (its error is about $h \cdot f''(x)/2$).
#
# ## The engine computes the same number
#
# `f` uses only `**`, `*` and `-`, so it works on a `Value` as well as on a float. Each
# operation on a `Value` records a node of a graph; `backward()` walks that graph backwards
# and leaves $\partial f / \partial x$ in `x.grad` — no step $h$, no rounding error from it.

# %%
x = Value(3.0, "x")
y = f(x)
y.backward()
print(y)
print(x)

# %% [markdown]
# `x.grad` is exactly $f'(3) = 3$. The next notebooks open up how `backward()` does this;
# here we use it.
#
# ## Walking downhill: gradient descent
#
# The slope tells us which way is down. If $f'(x) > 0$, decreasing $x$ decreases $f$; if
# $f'(x) < 0$, increasing $x$ does. Gradient descent takes a small step against the slope,
#
# $$x_{t+1} = x_t - \eta\, f'(x_t),$$
#
# where the **learning rate** $\eta$ sets the step size. It stops moving where $f'(x) = 0$.
# Here $f'(x) = x(3x - 8)$ is zero at $x = 0$ and at $x = 8/3 \approx 2.667$; the second
# derivative $f''(x) = 6x - 8$ is negative at 0 (a hill top) and positive at $8/3$ (a valley
# floor, a **local minimum**).
#
# Start at $x_0 = 0.5$ with $\eta = 0.05$ and take 100 steps. Each step builds a fresh
# `Value`, evaluates $f$, calls `backward()` and reads the slope from `.grad`.

# %%
learning_rate = 0.05
path = [0.5]
for _ in range(100):
    x = Value(path[-1])
    f(x).backward()
    path.append(x.data - learning_rate * x.grad)

for t in (0, 1, 2, 5, 10, 20, 50, 100):
    print(f"step {t:3d}: x = {path[t]:.6f}   f(x) = {f(path[t]):.6f}")

# %% [markdown]
# The path settles at $x \approx 2.6667 = 8/3$, where $f(8/3) = 6 - 256/27 \approx -3.48$.
# Here is the path on the curve: big steps where the slope is steep, ever smaller ones as
# the slope flattens near the minimum.

# %%
xs = np.linspace(-1.0, 4.0, 200)
figure, (curve, distance) = plt.subplots(1, 2, figsize=(11, 4))
curve.plot(xs, f(xs), color="grey", label="$f(x) = x^3 - 4x^2 + 6$")
curve.plot(path[:30], [f(p) for p in path[:30]], "o-", color="C3", markersize=4,
           label="first 30 steps from $x_0 = 0.5$")  # fmt: skip
curve.axvline(8 / 3, linestyle=":", color="black", label="$x = 8/3$")
curve.set(xlabel="$x$", ylabel="$f(x)$", title="gradient descent on $f$, $\\eta = 0.05$")
curve.legend()
distance.semilogy([abs(p - 8 / 3) for p in path], ".-")
distance.set(xlabel="step $t$", ylabel="$|x_t - 8/3|$", title="distance to the minimum")
figure.tight_layout()
plt.show()

# %% [markdown]
# On the log scale the distance to the minimum falls along a straight line: each step
# multiplies the error by the same factor (until, near step 75, it reaches the resolution of a
# float, about $4 \cdot 10^{-16}$ here). Near the minimum
# $f'(x) \approx f''(8/3)\,(x - 8/3) = 8\,(x - 8/3)$, so one step maps the error $e$ to
# $e - \eta \cdot 8 e = (1 - 0.4)\,e = 0.6\,e$. That is **linear convergence**. (Notebook 9
# uses the second derivative to do much better.)
#
# ## Two variables: the gradient
#
# For a function of several variables, the **gradient** collects the partial derivatives,
# $\nabla f = (\partial f/\partial a, \partial f/\partial b)$, and points uphill; gradient
# descent steps against it. Take the bowl
#
# $$g(a, b) = a^2 + b^2, \qquad \nabla g = (2a,\; 2b).$$
#
# With $\eta = 0.3$ one step is $a \leftarrow a - 0.3 \cdot 2a = 0.4\,a$ (and the same for
# $b$), so from $(10, 10)$ we expect $(4, 4)$, $(1.6, 1.6)$, $(0.64, 0.64)$, ... Let the
# engine compute the gradient and check.

# %%
eta = 0.3
bowl_path = [(10.0, 10.0)]
for _ in range(8):
    a, b = Value(bowl_path[-1][0], "a"), Value(bowl_path[-1][1], "b")
    g = a**2 + b**2
    g.backward()
    bowl_path.append((a.data - eta * a.grad, b.data - eta * b.grad))

for t, (a_t, b_t) in enumerate(bowl_path[:5]):
    print(f"step {t}: (a, b) = ({a_t:.4f}, {b_t:.4f})")

# %% [markdown]
# Now from a start that is not on the diagonal, $(10, -6)$: the gradient is always
# perpendicular to the contour lines, and on this round bowl it points straight at the
# minimum, so the path is a straight line.

# %%
lopsided_path = [(10.0, -6.0)]
for _ in range(8):
    a, b = Value(lopsided_path[-1][0]), Value(lopsided_path[-1][1])
    (a**2 + b**2).backward()
    lopsided_path.append((a.data - eta * a.grad, b.data - eta * b.grad))

grid = np.linspace(-11, 11, 200)
A, B = np.meshgrid(grid, grid)
figure, axes = plt.subplots(figsize=(5.5, 5))
axes.contour(A, B, A**2 + B**2, levels=[1, 4, 16, 36, 64, 100, 144, 200], colors="lightgrey")
for trajectory, colour in ((bowl_path, "C3"), (lopsided_path, "C0")):
    points = np.array(trajectory)
    axes.plot(points[:, 0], points[:, 1], "o-", color=colour, markersize=4,
              label=f"from ({trajectory[0][0]:g}, {trajectory[0][1]:g})")  # fmt: skip
axes.plot(0, 0, "k*", markersize=12, label="minimum (0, 0)")
axes.set(xlabel="$a$", ylabel="$b$", title="gradient descent on $a^2 + b^2$, $\\eta = 0.3$")
axes.set_aspect("equal")
axes.legend(loc="lower left")
plt.show()

# %% [markdown]
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. Rerun the one-variable descent with $\eta = 0.2$ and with $\eta = 0.3$. Using the
#    factor $1 - 8\eta$ from above, predict what happens before you run it. (With
#    $\eta = 0.3$ the factor is $-1.4$: the path leaves $8/3$, but it does not run away;
#    the factor only holds near $8/3$, and the path settles into a cycle between about
#    1.7 and 3.2.) What is the largest $\eta$ for which the path still converges to $8/3$?
#    Check: `check("01.1", eta)`.
# 2. Start the one-variable descent at $x_0 = -0.5$. Where does it go, and why? (Look at
#    the sign of $f'$ to the left of 0.) Warning: after 15 steps $x$ is about $-10^{205}$
#    and step 16 overflows (`OverflowError`); run at most 15 steps, or catch the error.
#    After how many steps is $|x|$ first larger than a million?
#    Check: `check("01.2", steps)`.
# 3. On the bowl, for which $\eta$ does the path *oscillate* around the minimum (signs
#    flipping) but still converge? Give the two ends of that range.
#    Check: `check("01.3", (lowest_eta, highest_eta))`.
#
# ## Checks
#
# The claims of this notebook, checked (this cell fails loudly if any is wrong).

# %%
# f'(x) from the engine equals the rule 3x^2 - 8x at a few points.
for point in (-1.0, 0.5, 3.0):
    x = Value(point)
    f(x).backward()
    assert x.grad == f_prime(point)
# 100 steps of descent from 0.5 with learning rate 0.05 reach the local minimum 8/3 = 2.67.
assert len(path) == 101 and path[0] == 0.5
assert round(path[-1], 2) == 2.67
assert abs(path[-1] - 8 / 3) < 1e-9
# The error shrinks by 0.6 per step near the minimum.
assert abs((path[40] - 8 / 3) / (path[39] - 8 / 3) - 0.6) < 1e-3
# a^2 + b^2 from (10, 10) with eta = 0.3: (4, 4), (1.6, 1.6), (0.64, 0.64), ...
for t, (a_t, b_t) in enumerate(bowl_path):
    assert abs(a_t - 10 * 0.4**t) < 1e-12 and a_t == b_t
assert [round(a_t, 4) for a_t, _ in bowl_path[1:4]] == [4.0, 1.6, 0.64]
# From (10, -6) the path stays on the straight line b = -0.6 a.
assert all(abs(b_t + 0.6 * a_t) < 1e-12 for a_t, b_t in lopsided_path)
print("all checks passed")
