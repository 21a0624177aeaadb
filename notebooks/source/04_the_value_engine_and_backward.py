# %% [markdown]
# # 4 · The `Value` engine and `backward()`, step by step
#
# **After this notebook you will be able to**
#
# - say what a `Value` node stores (`data`, `grad`, `op`, `inputs`) and how arithmetic on
#   `Value`s records a computation graph;
# - run the backward pass of a tanh neuron by hand, one chain-rule update per arrow, in the
#   order the engine uses (reverse topological order), and get the engine's numbers;
# - follow the same pass frame by frame with `backward_steps`, `draw_dot(step=k)` and
#   `step_through`;
# - avoid the two classic traps: gradients that accumulate across calls, and a node used
#   twice.

# %%
import math

from tinygrad_edu import Value
from tinygrad_edu.engine import topological_order
from tinygrad_edu.viz import backward_steps, draw_dot, step_through

# %% [markdown]
# ## A `Value` is a node of a graph
#
# A `Value` holds a number (`data`) and a slot for its gradient (`grad`, 0 at first). An
# operation on `Value`s returns a new `Value` that remembers **which operation** made it
# (`op`) and **from which inputs** (`inputs`, a tuple in argument order). A `Value` you
# create yourself is a *leaf*: no op, no inputs.

# %%
a = Value(2.0, "a")
b = Value(-3.0, "b")
c = a * b
print(c)
print("op:", repr(c.op), "  inputs:", c.inputs)
print("a is a leaf:", a.op == "" and a.inputs == ())

# %% [markdown]
# ## One neuron
#
# A neuron with two inputs computes a weighted sum plus a bias and squashes it with $\tanh$:
#
# $$n = x_1 w_1 + x_2 w_2 + b, \qquad o = \tanh(n).$$
#
# We pick the bias $b = 6.8813735870\ldots$ so that $n = 0.8814 = \operatorname{artanh}(1/\sqrt2)$
# and the output is the round number $o = 1/\sqrt 2 = 0.7071$. Each intermediate result gets
# a label so that pictures and printouts can name it.

# %%
x1, x2 = Value(2.0, "x1"), Value(0.0, "x2")
w1, w2 = Value(-3.0, "w1"), Value(1.0, "w2")
b = Value(6.8813735870195432, "b")
x1w1 = x1 * w1
x1w1.label = "x1w1"
x2w2 = x2 * w2
x2w2.label = "x2w2"
weighted_sum = x1w1 + x2w2
weighted_sum.label = "x1w1 + x2w2"
n = weighted_sum + b
n.label = "n"
o = n.tanh()
o.label = "o"
print(f"n = {n.data:.4f}, o = {o.data:.4f}")
draw_dot(o)

# %% [markdown]
# Every `grad` is still 0: nothing has been differentiated yet.
#
# ## The backward pass by hand
#
# We want $\partial o / \partial v$ for every node $v$. The chain rule, applied at each
# operation node with output `out`, says
#
# $$\texttt{v.grad} \mathrel{+}= \frac{\partial\,\texttt{out}}{\partial\,\texttt{v}}
#   \cdot \texttt{out.grad}.$$
#
# The local derivatives we need are few:
#
# - $\tanh$: $\dfrac{\partial o}{\partial n} = 1 - \tanh^2 n = 1 - o^2$ (it reuses the
#   output);
# - $+$: $\dfrac{\partial (p + q)}{\partial p} = 1$: a sum passes its gradient through
#   unchanged to every input;
# - $\times$: $\dfrac{\partial (p\,q)}{\partial p} = q$: a product hands each input the
#   gradient times the *other* factor.
#
# A node may pass its gradient on only once it is complete, that is after every node that
# uses it has contributed. Visiting the nodes in **reverse topological order** guarantees
# that: in a topological order every node comes after all of its inputs.

# %%
print([node.label for node in topological_order(o)])

# %% [markdown]
# Reversed, that is `o, n, x1w1 + x2w2, x1w1, x1, w1, x2w2, x2, w2, b` (as long as every node
# follows all nodes that use it, the exact order does not matter). Now the whole pass in
# plain floats:

# %%
grad_o = 1.0  # the seed: do/do = 1
grad_n = (1 - o.data**2) * grad_o  # tanh
grad_weighted_sum = 1.0 * grad_n  # + passes the gradient through
grad_b = 1.0 * grad_n
grad_x1w1 = 1.0 * grad_weighted_sum
grad_x2w2 = 1.0 * grad_weighted_sum
grad_x1 = w1.data * grad_x1w1  # * hands over the other factor
grad_w1 = x1.data * grad_x1w1
grad_x2 = w2.data * grad_x2w2
grad_w2 = x2.data * grad_x2w2
by_hand = {"x1": grad_x1, "w1": grad_w1, "x2": grad_x2, "w2": grad_w2, "b": grad_b}
print({name: round(value, 4) for name, value in by_hand.items()})

# %% [markdown]
# Read the result: $\partial o/\partial w_1 = 1$ because $x_1 = 2$ and $1 - o^2 = 0.5$;
# $\partial o/\partial w_2 = 0$ because its input $x_2$ is 0: a weight whose input is zero
# cannot change the output, so it gets no gradient.
#
# ## The engine's steps
#
# `backward_steps(o)` lists exactly these updates in the order `backward()` makes them,
# with the formula and the numbers; it changes no `.grad` field.

# %%
steps = backward_steps(o)
for step in steps:
    print(step)

# %% [markdown]
# `draw_dot(o, step=k)` draws the graph as it stands after step $k$: the node being updated
# is outlined in red, so is the arrow its gradient arrives along, and the line of arithmetic
# is the caption. Here are steps 1, 4 and 7.

# %%
draw_dot(o, step=1)

# %%
draw_dot(o, step=4)

# %%
draw_dot(o, step=7)

# %% [markdown]
# In Jupyter, `step_through(o)` shows all the frames with a slider (when `ipywidgets` is
# installed; otherwise it shows them one after another). Its output is not stored in this
# file, because a slider needs a live kernel: run the cell to use it.

# %% tags=["interactive"]
step_through(o)

# %% [markdown]
# ## Now `backward()` itself
#
# It fills every `.grad` with the same numbers.

# %%
o.backward()
for leaf in (x1, w1, x2, w2, b):
    print(f"{leaf.label}.grad = {leaf.grad:.4f}   by hand: {by_hand[leaf.label]:.4f}")
draw_dot(o)

# %% [markdown]
# ## Trap 1: gradients accumulate
#
# Leaves **add** into `.grad` across calls, as in PyTorch: a second `backward()` doubles
# every leaf gradient. (Accumulating is what lets a mini-batch sum gradients over its
# examples.) Before each new pass, set the gradients to zero; the optimisers of notebook 7
# have a `zero_grad()` method for this.

# %%
o.backward()
print(f"after a second backward(): w1.grad = {w1.grad:.4f}")
for leaf in (x1, w1, x2, w2, b):
    leaf.grad = 0.0
o.backward()
print(f"zeroed, then backward():   w1.grad = {w1.grad:.4f}")

# %% [markdown]
# ## Trap 2: a node used twice
#
# In $d = a \cdot a$ the node `a` is *both* inputs of the product. Each arrow hands it
# $a \cdot \texttt{d.grad}$, and the two contributions must **add**: $2a$. An engine that
# wrote `a.grad = ...` instead of `a.grad += ...` would get $a$, half the truth. The same
# sum appears whenever a value feeds several later operations (a diamond in the graph).

# %%
a = Value(3.0, "a")
d = a * a
d.label = "d"
d.backward()
print(f"d = a * a at a = 3: a.grad = {a.grad}  (2a = {2 * a.data})")
for step in backward_steps(d):
    print(step)

# %% [markdown]
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. Change $x_2$ to 1.0 and predict, before running anything, which of the five leaf
#    gradients change and to what. Check: `check("04.1", (x1, w1, x2, w2, b))` with your
#    five gradients in that order.
# 2. Replace $\tanh$ by the sigmoid $\sigma(n) = 1/(1 + e^{-n})$ (`n.sigmoid()`), whose
#    derivative is $\sigma(n)(1 - \sigma(n))$. Redo the backward pass in floats and compare
#    with `backward()`. Check: `check("04.2", (x1, w1, x2, w2, b))`.
# 3. Build $e = (a + b)\cdot(a - b)$ and count the paths from `a` to `e`. Check
#    $\partial e / \partial a = 2a$ with the engine at $a = 3$, $b = 2$.
#    Check: `check("04.3", (paths, de_da))`.
#
# ## Checks

# %%
assert math.isclose(o.data, 1 / math.sqrt(2), rel_tol=1e-12)
expected = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}
for leaf in (x1, w1, x2, w2, b):
    assert math.isclose(leaf.grad, expected[leaf.label], abs_tol=1e-12), leaf
    assert math.isclose(by_hand[leaf.label], leaf.grad, abs_tol=1e-15), leaf
# backward_steps: the seed, then one step per arrow into a node that needs a gradient.
assert len(steps) == 10 and steps[0].node is o
assert str(steps[1]) == "step 1: n.grad += (1 - o.data**2) * o.grad = 0.5 * 1.0 = 0.5"
assert [step.node.label for step in steps][-4:] == ["x1", "w1", "x2", "w2"]
assert math.isclose(steps[-1].grads[x1], -1.5)
# Topological order: every node after all of its inputs.
order = topological_order(o)
assert all(order.index(x) < order.index(node) for node in order for x in node.inputs)
# A second backward() without zeroing doubles the leaf gradients (checked above: 2.0).
o.backward()
assert math.isclose(w1.grad, 2.0, rel_tol=1e-12)
# a * a collects both arrows.
assert a.grad == 6.0
print("all checks passed")
