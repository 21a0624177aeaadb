# %% [markdown]
# # 9 · Higher-order gradients and Newton's method
#
# **After this notebook you will be able to**
#
# - differentiate a gradient again with `grad(..., create_graph=True)` to get second and
#   third derivatives, and a Hessian;
# - check second derivatives against finite differences with `gradgradcheck`;
# - use the second derivative in Newton's method, $x \leftarrow x - f'(x)/f''(x)$, see it
#   reach the minimum of notebook 1 in a handful of steps, and see where it goes wrong.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

from tinygrad_edu import Value, grad
from tinygrad_edu.gradcheck import gradgradcheck

# %% [markdown]
# ## A gradient that is itself a graph
#
# `backward()` leaves plain numbers in `.grad`. `grad(output, inputs)` returns the
# gradients as `Value`s instead, and with `create_graph=True` the chain-rule arithmetic that
# produces them is **recorded as a graph** too. So a derivative can be differentiated again.
#
# Back to notebook 1's function:
#
# $$f(x) = x^3 - 4x^2 + 6, \quad f'(x) = 3x^2 - 8x, \quad f''(x) = 6x - 8, \quad
#   f'''(x) = 6 .$$


# %%
def f(x):
    return x**3 - 4 * x**2 + 6


x = Value(3.0, "x")
(first,) = grad(f(x), [x], create_graph=True)
(second,) = grad(first, [x], create_graph=True)
(third,) = grad(second, [x])
print(f"at x = 3: f' = {first.data}, f'' = {second.data}, f''' = {third.data}")
print(f"by hand:  f' = {3 * 9 - 8 * 3}, f'' = {6 * 3 - 8}, f''' = 6")

# %% [markdown]
# `gradgradcheck` compares the engine's second derivatives with central differences of its
# first derivatives, the way `gradcheck` did for first derivatives in notebook 8:

# %%
print(gradgradcheck(f, [3.0]))

# %% [markdown]
# ## Newton's method
#
# Gradient descent steps by $-\eta f'(x)$ with a step size we have to choose. Newton's
# method lets the curvature choose it: near $x_t$, $f$ is close to the parabola
#
# $$f(x) \approx f(x_t) + f'(x_t)(x - x_t) + \tfrac12 f''(x_t)(x - x_t)^2,$$
#
# whose stationary point is
#
# $$x_{t+1} = x_t - \frac{f'(x_t)}{f''(x_t)} .$$
#
# Jump there and repeat. Each step needs the first and the second derivative: two calls to
# `grad`, the first with `create_graph=True`.


# %%
def newton_step(point):
    x = Value(point)
    (slope,) = grad(f(x), [x], create_graph=True)
    (curvature,) = grad(slope, [x])
    return point - slope.data / curvature.data


def iterate(step, start, count):
    path = [start]
    for _ in range(count):
        path.append(step(path[-1]))
    return path


def gradient_descent_step(point, learning_rate=0.05):
    x = Value(point)
    f(x).backward()
    return point - learning_rate * x.grad


newton_path = iterate(newton_step, 4.0, 6)
descent_path = iterate(gradient_descent_step, 4.0, 30)
for t, point in enumerate(newton_path):
    print(f"Newton step {t}: x = {point:.15f}   error {abs(point - 8 / 3):.1e}")

# %% [markdown]
# From $x_0 = 4$ Newton's method reaches $8/3$ to all 16 digits in 6 steps. Once close, the
# error is roughly **squared** at every step ($3 \cdot 10^{-2}$, $4 \cdot 10^{-4}$,
# $6 \cdot 10^{-8}$, $10^{-15}$): the number of correct digits doubles. That is **quadratic
# convergence**, against the linear convergence of gradient descent, which gains the same
# factor every step. (Step 6 hits $8/3$ exactly, an error of 0, drawn at the bottom edge of
# the log scale.)

# %%
figure, axes = plt.subplots(figsize=(7, 4))
floor = 1e-17  # an exact hit has error 0, which a log scale cannot show
axes.semilogy([max(abs(p - 8 / 3), floor) for p in descent_path], ".-",
              label="gradient descent, $\\eta = 0.05$")  # fmt: skip
axes.semilogy([max(abs(p - 8 / 3), floor) for p in newton_path], "o-", label="Newton's method")
axes.set(xlabel="step", ylabel="$|x_t - 8/3|$", title="from $x_0 = 4$ to the minimum $8/3$",
         ylim=(floor / 3, 10))  # fmt: skip
axes.legend()
plt.show()

# %% [markdown]
# ## Where Newton goes wrong
#
# Newton's method looks for a point where $f'(x) = 0$. It does not know whether that is a
# minimum or a maximum. Started from notebook 1's $x_0 = 0.5$, where the curvature
# $f''(0.5) = -5$ is negative, it jumps *uphill* and converges to the local **maximum** at
# $x = 0$. Gradient descent, from the same start, went down to $8/3$.

# %%
uphill_path = iterate(newton_step, 0.5, 6)
for t, point in enumerate(uphill_path):
    print(f"Newton step {t}: x = {point: .3e}   f''(x) = {6 * point - 8:.2f}")

xs = np.linspace(-1.0, 4.0, 200)
figure, axes = plt.subplots(figsize=(7, 4))
axes.plot(xs, f(xs), color="grey", label="$f(x) = x^3 - 4x^2 + 6$")
axes.plot(newton_path, [f(p) for p in newton_path], "o-", color="C1",
          label="Newton from $x_0 = 4$: the minimum")  # fmt: skip
axes.plot(uphill_path, [f(p) for p in uphill_path], "s-", color="C3",
          label="Newton from $x_0 = 0.5$: the maximum")  # fmt: skip
axes.set(xlabel="$x$", ylabel="$f(x)$", title="Newton's method finds where $f' = 0$")
axes.legend(loc="lower left")
plt.show()

# %% [markdown]
# Practical second-order methods therefore check the curvature, or modify it to be
# positive, before trusting the Newton step.
#
# ## Two variables: the Hessian
#
# For $g(a, b)$ the second derivatives form the **Hessian** matrix
# $H_{ij} = \partial^2 g / \partial x_i \partial x_j$, one row per first derivative. Take
#
# $$g(a, b) = a^2 b + \sin(a b), \qquad
# H = \begin{pmatrix} 2b - b^2 \sin(ab) & 2a + \cos(ab) - ab \sin(ab) \\
#     2a + \cos(ab) - ab \sin(ab) & -a^2 \sin(ab) \end{pmatrix}.$$


# %%
def g(a, b):
    return a**2 * b + (a * b).sin()


a, b = Value(1.0, "a"), Value(2.0, "b")
first_derivatives = grad(g(a, b), [a, b], create_graph=True)
hessian = np.array([[h.data for h in grad(d, [a, b])] for d in first_derivatives])
ab = 2.0
hessian_by_hand = np.array(
    [
        [2 * 2.0 - 2.0**2 * np.sin(ab), 2 * 1.0 + np.cos(ab) - ab * np.sin(ab)],
        [2 * 1.0 + np.cos(ab) - ab * np.sin(ab), -(1.0**2) * np.sin(ab)],
    ]
)
print("engine:\n", np.round(hessian, 6))
print("by hand:\n", np.round(hessian_by_hand, 6))
print(gradgradcheck(g, [1.0, 2.0]))

# %% [markdown]
# The Hessian is symmetric: the order of differentiation does not matter for a smooth
# function.
#
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. Newton's method converges to $8/3$ from $x_0 = 4$, and from every start between
#    some point and $8/3$. What is the **smallest** start below $8/3$ from which it still
#    converges to $8/3$? (Hint: where is $f''(x) = 0$, and what happens to the step
#    there?) Check: `check("09.1", x0)`.
# 2. Apply Newton's method in two variables to $a^2 + 10 b^2$ (the Newton step is
#    $x \leftarrow x - H^{-1}\nabla g$, with `np.linalg.solve`). How many steps does it
#    need, and why? Check: `check("09.2", steps)`.
# 3. Compute $f''(x)$ for $f(x) = \tanh(x)$ with `grad` twice and compare it with the
#    formula $-2\tanh(x)(1 - \tanh^2 x)$ at a few points. Write the formula as a function
#    `tanh_second(x)`. Check: `check("09.3", tanh_second)`.
#
# ## Checks

# %%
# f', f'', f''' at x = 3 from grad(create_graph=True), as derived by hand.
assert (first.data, second.data, third.data) == (3.0, 10.0, 6.0)
assert gradgradcheck(f, [3.0]) and gradgradcheck(f, [-1.5])
for point in (-1.0, 0.5, 2.0):
    x = Value(point)
    (slope,) = grad(f(x), [x], create_graph=True)
    (curvature,) = grad(slope, [x])
    assert abs(curvature.data - (6 * point - 8)) < 1e-12
# Newton from 4 reaches the minimum 8/3 of notebook 1 (about 2.67) in 6 steps, the error
# falling below its square at every step; gradient descent is still far after 30 steps.
assert round(newton_path[6], 2) == 2.67 and abs(newton_path[6] - 8 / 3) < 1e-15
errors = [abs(p - 8 / 3) for p in newton_path]
assert all(errors[t + 1] < errors[t] ** 2 for t in range(5))
assert abs(descent_path[-1] - 8 / 3) > 1e-8
# From 0.5 (negative curvature) Newton converges to the local maximum at 0 instead.
assert abs(uphill_path[-1]) < 1e-12
# The Hessian of g matches the hand formula and is symmetric.
assert np.allclose(hessian, hessian_by_hand, atol=1e-12)
assert hessian[0, 1] == hessian[1, 0]
assert gradgradcheck(g, [1.0, 2.0])
print("all checks passed")
