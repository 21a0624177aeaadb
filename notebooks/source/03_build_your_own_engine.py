# %% [markdown]
# # 3 · Build your own engine
#
# **After this notebook you will be able to**
#
# - write a small automatic-differentiation engine yourself: a `Value` class with `+`, `*`,
#   `tanh` and a `backward()` that visits the graph in topological order;
# - test it the way libraries are tested, with `check_engine`, which tries hundreds of
#   random expressions against finite differences and shrinks any failure to a small case;
# - recognise the classic bugs when a test shows them: a recursion limit on deep graphs,
#   gradients added twice by a second `backward()`, and `=` where the chain rule needs `+=`;
# - switch to the package's `Value`, which passes every check.
#
# Notebook 2 split a function into pieces and multiplied their local derivatives. An
# engine does exactly that, automatically, for any expression you build.

# %%
# %matplotlib inline
import math

import matplotlib.pyplot as plt
import numpy as np

from tinygrad_edu import Value as PackageValue  # the package's engine, for the end
from tinygrad_edu.exercises import check
from tinygrad_edu.testing import check_engine

# %% [markdown]
# ## A first engine in 30 lines
#
# Each `Value` keeps four things:
#
# - `data`, the number;
# - `grad`, $\partial\,\text{output} / \partial\,\text{this value}$, filled in by `backward()`;
# - `inputs`, the Values it was computed from;
# - `local_derivatives`, one number per input: $\partial\,\text{this} / \partial\,\text{input}$.
#   For $c = a + b$ they are $(1, 1)$; for $c = a \cdot b$ they are $(b, a)$; for
#   $t = \tanh a$ it is $1 - t^2$.
#
# `backward()` first orders the nodes so that each comes **after** all of its inputs (a
# *topological order*: here a depth-first search that appends a node once its inputs are
# done), then walks that order backwards, from the output to the leaves, and applies the
# chain rule on every arrow:
#
# $$\texttt{input.grad} \mathrel{+}= \text{local derivative} \times \texttt{node.grad}.$$
#
# It is `+=` because a value used twice (`a * a`) receives gradient along both arrows.


# %%
class Value:
    """A number that remembers how it was made, so that gradients can flow back to it."""

    def __init__(self, data, inputs=(), local_derivatives=()):
        self.data = data
        self.grad = 0.0
        self.inputs = inputs  # the Values this one was computed from
        self.local_derivatives = local_derivatives  # d(this)/d(input), one per input

    def __add__(self, other):
        return Value(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def tanh(self):
        t = math.tanh(self.data)
        return Value(t, (self,), (1 - t * t,))

    def backward(self):
        order, visited = [], set()

        def visit(node):  # depth-first: a node is appended after all of its inputs
            if node not in visited:
                visited.add(node)
                for child in node.inputs:
                    visit(child)
                order.append(node)

        visit(self)
        self.grad = 1.0
        for node in reversed(order):  # from the output back to the leaves
            for child, local in zip(node.inputs, node.local_derivatives, strict=True):
                child.grad += local * node.grad  # the chain rule, summed over paths

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"


# %% [markdown]
# Try it on the neuron of notebook 4, $o = \tanh(x_1 w_1 + x_2 w_2 + b)$, whose gradients
# are worked out by hand there: $\partial o/\partial x_1 = -1.5$, $\partial o/\partial w_1
# = 1$, $\partial o/\partial x_2 = 0.5$, $\partial o/\partial w_2 = 0$, $\partial o/\partial
# b = 0.5$.

# %%
x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
b = Value(6.8813735870195432)
o = (x1 * w1 + x2 * w2 + b).tanh()
o.backward()
first_engine_grads = [v.grad for v in (x1, w1, x2, w2, b)]
print("o =", o)
print("gradients of x1, w1, x2, w2, b:", [round(g, 4) for g in first_engine_grads])

# %% [markdown]
# Right on the first try. One more look: the engine's derivative of $\tanh(x)$ at 41 points,
# on the curve of the formula $1 - \tanh^2 x$ it should follow.

# %%
points = np.linspace(-3, 3, 41)
engine_slopes = []
for point in points:
    x = Value(point)
    x.tanh().backward()
    engine_slopes.append(x.grad)
figure, axis = plt.subplots(figsize=(6, 3))
formula = 1 - np.tanh(points) ** 2
axis.plot(points, formula, color="lightgrey", linewidth=4, label=r"$1 - \tanh^2 x$")
axis.plot(points, engine_slopes, "o", color="C3", markersize=3, label="your engine's x.grad")
axis.set(xlabel="$x$", title="d tanh(x) / dx from your engine")
axis.legend()
plt.show()

# %% [markdown]
# But a few examples prove little. `check_engine` tests an engine the
# way the package's own tests do (see notebook 8): it builds hundreds of **random**
# expressions from the operations your class has, compares `data` with plain float
# arithmetic and every `grad` with a finite difference, and tries the situations where
# engines usually break: a node used twice, a chain of 10,000 nodes, `backward()` called
# twice, plain numbers mixed in. A failure is *shrunk* (by hypothesis) to the smallest case
# it can find.
#
# (`print(report)` shows every failure with the code that reproduces it. Where the case is
# random, which small example hypothesis ends on can change from one hypothesis version to
# the next, so this notebook prints only the summary and the fixed cases.)

# %%
report = check_engine(Value)
print(report.summary())

# %% [markdown]
# Three faults, each a real one that micrograd, the engine this notebook imitates, also has
# (`check_engine(micrograd.engine.Value)` finds the first two).
#
# **Deep chain.** `visit` calls itself once per node along a path, and Python stops a
# recursion about 1,000 calls deep:

# %%
print(report["deep chain"])

# %% [markdown]
# **Backward twice.** Leaves *should* accumulate gradients across calls (that is how
# PyTorch works, and why training loops call `zero_grad()`). But the second call also adds
# to the **interior** nodes' old gradients, so everything below them receives the first
# call's gradient a second time. The fix: interior nodes start each `backward()` from 0.
#
# A small case shows it: with $m = a \cdot b$ and $out = m \cdot c$, one call gives
# $\partial out/\partial a = bc$; a second should give $2bc$, but gives $3bc$.

# %%
a, b_, c = Value(2.0), Value(3.0), Value(4.0)
out = (a * b_) * c
out.backward()
once = a.grad
out.backward()
print(f"a.grad after one call: {once}, after two: {a.grad} (expected {2 * once})")

# %% [markdown]
# **Plain numbers.** `a + 2` fails because `2` has no `.data`; `2 + a` needs `__radd__`
# (Python asks the right operand when the left one, an `int`, cannot add a `Value`).

# %%
print(report["plain numbers"])

# %% [markdown]
# ## The engine, fixed
#
# Three changes. The topological order is built with an explicit stack instead of
# recursion; interior nodes are zeroed at the start of `backward()`; a plain number is
# wrapped into a `Value` (and the reflected `__radd__`, `__rmul__` reuse `+` and `*`).
# New nodes are made with `type(self)(...)`, so that a subclass (below) builds its own kind.


# %%
class Value:
    """A number that remembers how it was made, so that gradients can flow back to it."""

    def __init__(self, data, inputs=(), local_derivatives=()):
        self.data = data
        self.grad = 0.0
        self.inputs = inputs
        self.local_derivatives = local_derivatives

    def lift(self, other):  # a plain number becomes a Value
        return other if isinstance(other, Value) else type(self)(other)

    def __add__(self, other):
        other = self.lift(other)
        return type(self)(self.data + other.data, (self, other), (1.0, 1.0))

    def __mul__(self, other):
        other = self.lift(other)
        return type(self)(self.data * other.data, (self, other), (other.data, self.data))

    __radd__ = __add__  # 2 + a is a + 2
    __rmul__ = __mul__

    def tanh(self):
        t = math.tanh(self.data)
        return type(self)(t, (self,), (1 - t * t,))

    def topological_order(self):
        order, visited = [], set()
        stack = [(self, False)]  # (node, are its inputs already in the order?)
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif node not in visited:
                visited.add(node)
                stack.append((node, True))  # comes back after its inputs
                stack.extend((child, False) for child in node.inputs)
        return order

    def backward(self):
        order = self.topological_order()
        for node in order:
            if node.inputs:
                node.grad = 0.0  # interior nodes: this call's gradient only
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node.inputs, node.local_derivatives, strict=True):
                child.grad += local * node.grad

    def __repr__(self):
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"


fixed_report = check_engine(Value)
print(fixed_report)

# %% [markdown]
# ## The bug every engine writer makes once: `=` instead of `+=`
#
# Write `child.grad = local * node.grad` and each arrow **overwrites** what the previous
# arrow brought. On a tree-shaped expression nothing seems wrong; the first node used twice
# gets only one of its paths. `check_engine` finds it at once:


# %%
class AssignValue(Value):
    """The fixed engine with one character missing from the chain rule."""

    def backward(self):
        order = self.topological_order()
        for node in order:
            if node.inputs:
                node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            for child, local in zip(node.inputs, node.local_derivatives, strict=True):
                child.grad = local * node.grad  # BUG: = instead of +=


assign_report = check_engine(AssignValue)
print(assign_report.summary())
print(assign_report["reuse"])

# %% [markdown]
# `a + a` should have $\partial/\partial a = 2$: one from each arrow. The second arrow
# overwrote the first.
#
# ## Moving to the package's engine
#
# The package's `Value` is the same idea with more around it: the operations
# `- / ** exp log sigmoid relu sin cos sqrt abs`, labels, loud errors for `log(-1)` or an
# overflow, `no_grad`, higher-order gradients (`grad(..., create_graph=True)`, notebook 9),
# pictures of the graph (`draw_dot`), and a backward pass that handles a million nodes.
# It passes every check too, and gives the neuron the same gradients:

# %%
package_report = check_engine(PackageValue)
print(package_report)

px1, px2, pw1, pw2 = PackageValue(2.0), PackageValue(0.0), PackageValue(-3.0), PackageValue(1.0)
pb = PackageValue(6.8813735870195432)
(px1 * pw1 + px2 * pw2 + pb).tanh().backward()
package_grads = [v.grad for v in (px1, pw1, px2, pw2, pb)]
print("gradients of x1, w1, x2, w2, b:", [round(g, 4) for g in package_grads])

# %% [markdown]
# From the next notebook on we use the package's engine.
#
# ## Exercises
#
# Check each answer with `check(...)`; `solution(...)` (from `tinygrad_edu.exercises`)
# shows a worked answer.
#
# 1. Add `exp` to your fixed engine (its local derivative is its own output, like tanh's
#    reuses its output) and run `check_engine` on it. Check: `check("03.1", Value)`.
# 2. Add `-` (both `a - b` and `1 - a`) and unary minus, each one line built from `+` and
#    `*`, so that no new derivative is needed. Check: `check("03.2", Value)`.
# 3. With the `=` bug, what is `a.grad` after `(a * a).backward()` at $a = 3$? Predict it,
#    then run it. Check: `check("03.3", your_number)`.
#
# For example, a wrong guess for exercise 3 gets a hint, not the answer:

# %%
print(check("03.3", 6.0))

# %% [markdown]
# ## Checks
#
# The claims of this notebook, checked (this cell fails loudly if any is wrong).

# %%
expected = [-1.5, 1.0, 0.5, 0.0, 0.5]
assert all(abs(g - e) < 1e-9 for g, e in zip(first_engine_grads, expected, strict=True))
assert all(abs(g - e) < 1e-9 for g, e in zip(package_grads, expected, strict=True))
# The first engine: right on random expressions and reuse, but three classic faults.
assert report.failed == ["deep chain", "backward twice", "plain numbers"]
assert "RecursionError" in report["deep chain"].problem
assert once == 12.0 and a.grad == 3 * once
# The fixed engine and the package's engine pass every property.
assert fixed_report and package_report
assert fixed_report.names() == package_report.names() == report.names()
# = instead of += is caught, on a + a.
assert "reuse" in assign_report.failed and "gradients" in assign_report.failed
assert assign_report["reuse"].problem == "a.grad is 1.0, expected 2.0"
assert np.allclose(engine_slopes, 1 - np.tanh(points) ** 2, rtol=1e-12)
assert not check("03.3", 6.0)
print("all checks passed")
