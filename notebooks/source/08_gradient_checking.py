# %% [markdown]
# # 8 · Gradient checking and property tests
#
# **After this notebook you will be able to**
#
# - check any gradient against central finite differences with `gradcheck`, and choose the
#   step size knowing where its error comes from;
# - catch a bug in a hand-written backpropagation by checking it with `grad_fn=`;
# - recognise an honest "no derivative here" at a kink;
# - write property tests with `hypothesis` and the package's strategies, which try many
#   inputs and shrink a failure to a small example.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np
from hypothesis import given, settings

from tinygrad_edu.gradcheck import GradcheckError, gradcheck
from tinygrad_edu.testing.strategies import expressions, values

# A property test in a notebook: few examples, the same ones on every run, no example files.
notebook_settings = settings(max_examples=40, deadline=None, derandomize=True, database=None)

# %% [markdown]
# ## Finite differences and their error
#
# The **central difference**
#
# $$\frac{f(x + h) - f(x - h)}{2h} = f'(x) + \frac{h^2}{6} f'''(\xi)$$
#
# has a *truncation* error of order $h^2$ (the forward difference $(f(x+h) - f(x))/h$ of
# notebook 1 only has order $h$). But $h$ cannot be arbitrarily small: $f(x \pm h)$ are
# rounded to about 16 significant digits, and dividing their difference by $2h$ magnifies
# that *rounding* error by $1/h$. For $f = \sin$ at $x = 1$:

# %%
steps = np.logspace(-14, 0, 57)
forward_errors = [abs((math.sin(1 + h) - math.sin(1)) / h - math.cos(1)) for h in steps]
central_errors = [abs((math.sin(1 + h) - math.sin(1 - h)) / (2 * h) - math.cos(1)) for h in steps]
figure, axes = plt.subplots(figsize=(7, 4))
axes.loglog(steps, forward_errors, ".-", label="forward difference")
axes.loglog(steps, central_errors, ".-", label="central difference")
axes.axvline(1e-6, color="grey", linestyle=":", label="gradcheck's default step $10^{-6}$")
axes.set(xlabel="step $h$", ylabel="error in $\\sin'(1)$", title="truncation against rounding")
axes.legend(loc="lower left")
plt.show()

# %% [markdown]
# To the right the error falls with $h$ (slope 1 for forward, slope 2 for central); to the
# left rounding takes over and it *rises* like $1/h$. `gradcheck` uses central differences
# with $h = 10^{-6}$, where both errors are $10^{-10}$ or less, and calls a gradient right
# when it is within $10^{-5} + 10^{-3}\,|\text{numeric}|$: far above that noise, far below
# the error of a wrong rule.
#
# ## `gradcheck` on the engine
#
# Give it a function of `Value`s and a point. It prints a table and is truthy when every
# gradient matches.

# %%
report = gradcheck(lambda x, y: x * y.tanh(), [2.0, 0.5])
print(report)

# %% [markdown]
# At a kink there is no derivative to check, and `gradcheck` says so instead of passing:
# the slopes to the left and to the right of 0 differ.

# %%
kink_report = gradcheck(lambda x: x.relu(), [0.0])
print(kink_report)

# %% [markdown]
# ## Your own backprop, with a planted bug
#
# A neuron with weight $w$ and bias $b$ sees the input $x = 1.5$ and should output
# $t = 0.2$; its squared error is
#
# $$L(w, b) = (\tanh(1.5\,w + b) - 0.2)^2 .$$
#
# With $o = \tanh(1.5w + b)$ the chain rule gives
#
# $$\frac{\partial L}{\partial w} = 2\,(o - 0.2)\,(1 - o^2)\cdot 1.5, \qquad
#   \frac{\partial L}{\partial b} = 2\,(o - 0.2)\,(1 - o^2).$$
#
# Below are two hand-written versions in plain floats: a correct one, and one with a
# classic slip, $1 - o$ instead of $1 - o^2$ for the derivative of $\tanh$. `gradcheck`
# takes the function (for its finite differences) and your gradient as `grad_fn`.


# %%
def neuron_loss(w, b):
    return ((1.5 * w + b).tanh() - 0.2) ** 2


def hand_gradient(point):
    w, b = point
    o = math.tanh(1.5 * w + b)
    dL_dz = 2 * (o - 0.2) * (1 - o**2)
    return [dL_dz * 1.5, dL_dz]


def hand_gradient_with_bug(point):
    w, b = point
    o = math.tanh(1.5 * w + b)
    dL_dz = 2 * (o - 0.2) * (1 - o)  # BUG: the derivative of tanh is 1 - o**2
    return [dL_dz * 1.5, dL_dz]


good_report = gradcheck(neuron_loss, [0.4, -0.1], grad_fn=hand_gradient)
print(good_report, end="\n\n")
bug_report = gradcheck(neuron_loss, [0.4, -0.1], grad_fn=hand_gradient_with_bug)
print(bug_report)

# %% [markdown]
# The bug is off by a third here, and the table shows it for both parameters. In a test
# you would write `gradcheck(..., raise_exception=True)`: a failure then raises a
# `GradcheckError` (an `AssertionError`) that carries this table.

# %%
try:
    gradcheck(neuron_loss, [0.4, -0.1], grad_fn=hand_gradient_with_bug, raise_exception=True)
except GradcheckError as error:
    print(f"GradcheckError raised; it failed {len(error.report.failures)} of 2 gradients")

# %% [markdown]
# ## A bug that hides at one point: property tests
#
# Some bugs show only for *some* inputs. The softplus $s(x) = \ln(1 + e^x)$ has the
# derivative $\sigma(x) = 1/(1 + e^{-x})$. A hand-written sigmoid that guards against
# overflow by writing $e^{-|x|}$ is right for $x \ge 0$ and wrong for $x < 0$. A check at
# $x = 1$ passes:


# %%
def softplus(x):
    return (1 + x.exp()).log()


def softplus_gradient_with_bug(point):
    (x,) = point
    return [1 / (1 + math.exp(-abs(x)))]  # BUG: right only for x >= 0


print(gradcheck(softplus, [1.0], grad_fn=softplus_gradient_with_bug))

# %% [markdown]
# A **property test** states what must hold for *every* input and lets `hypothesis` search
# for a counterexample. `values()` from `tinygrad_edu.testing.strategies` draws finite
# floats in a sane range (here $[-3, 3]$). When a test fails, hypothesis *shrinks* the input
# to a simple one that still fails, and reports it.

# %%
counterexamples = []


@notebook_settings
@given(values(-3.0, 3.0))
def test_softplus_gradient(x):
    report = gradcheck(softplus, [x], grad_fn=softplus_gradient_with_bug)
    if not report:
        counterexamples.append(x)
    assert report


try:
    test_softplus_gradient()
    caught = False
except AssertionError:
    caught = True
print(f"the property test failed: {caught}")

# %% [markdown]
# `counterexamples[-1]` holds the input hypothesis shrank the failure to. Its exact value can
# change from one hypothesis version to the next (this notebook's outputs must not), but it
# is always negative, where the `abs` in the bug's formula changes the sign of $x$. The
# table at one negative point, $x = -1$:

# %%
print(f"the shrunk counterexample is negative: {counterexamples[-1] < 0}")
print(gradcheck(softplus, [-1.0], grad_fn=softplus_gradient_with_bug))

# %% [markdown]
# ## Random expressions: testing the engine itself
#
# `expressions(n_vars, max_ops)` draws random computation graphs, with shared
# sub-expressions, that stay inside every operation's domain, together with a point to
# evaluate them at. Here is a property of the engine: for *any* such expression, composed
# with our `softplus`, the engine's gradient matches finite differences. It runs 40 random
# expressions.

# %%
formulas = []


@notebook_settings
@given(expressions(n_vars=2, max_ops=8))
def test_engine_on_random_expressions(drawn):
    expression, xs = drawn
    formulas.append(expression.formula)
    assert gradcheck(lambda *v: softplus(expression(*v)), xs)


test_engine_on_random_expressions()
print(f"passed on {len(formulas)} random expressions")

# %% [markdown]
# `formulas` holds every expression it tried: `print(formulas[:5])` shows a few (`t0`, `t1`
# name shared sub-expressions; the constants keep `log` and `sqrt` inside their domains).
# Which ones hypothesis draws depends on its version, so this notebook does not print them.

# %% [markdown]
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. Write `softplus_gradient(x)`, the correct derivative of softplus as a function of one
#    float (for $x < 0$ write $\sigma(x) = e^{x}/(1 + e^{x})$, so nothing overflows), and
#    rerun the property test with `grad_fn=lambda p: [softplus_gradient(p[0])]`: it should
#    pass silently. Check: `check("08.1", softplus_gradient)`.
# 2. Write the hand gradient `dL_dw(w, x, t)` of $L(w) = (\sigma(w x) - t)^2$, compare it
#    with `gradcheck` at numbers of your own, then plant a bug and find the smallest
#    `atol`/`rtol` that still tells it apart. Check: `check("08.2", dL_dw)`.
# 3. Run `gradcheck(lambda x: abs(x), [1e-7])` and read the report: the point is not *at*
#    the kink, but within a step $h$ of it. Before running it, work out what the plain
#    central difference $(|x + h| - |x - h|)/2h$ gives with $h = 10^{-6}$ (it is what
#    `numerical_grad` returns). Check: `check("08.3", your_number)`.
#
# ## Checks

# %%
assert report and len(report.rows) == 2
assert math.isclose(report.rows[1].analytic, 2.0 * (1 - math.tanh(0.5) ** 2), rel_tol=1e-12)
# The kink is reported in words and does not pass.
assert not kink_report and "no derivative here" in kink_report.rows[0].note
# The correct hand backprop passes, the planted bug is caught in both gradients.
assert good_report and not bug_report and len(bug_report.failures) == 2
# The softplus bug passes at x = 1 but the property test finds a negative counterexample.
assert gradcheck(softplus, [1.0], grad_fn=softplus_gradient_with_bug)
assert caught and counterexamples[-1] < 0
assert not gradcheck(softplus, [counterexamples[-1]], grad_fn=softplus_gradient_with_bug)
assert not gradcheck(softplus, [-1.0], grad_fn=softplus_gradient_with_bug)
# The engine passed on every random expression tried.
assert len(formulas) >= 20
print("all checks passed")
