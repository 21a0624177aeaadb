# %% [markdown]
# # 5 · From a neuron to a multi-layer network
#
# **After this notebook you will be able to**
#
# - write the forward pass of a small multi-layer network layer by layer;
# - derive its backpropagation by hand: the error terms $\delta$ of each layer, the gradient
#   of every weight and bias, and one gradient-descent update;
# - state backpropagation in matrix form,
#   $\delta^{(l)} = (W^{(l+1)})^\top \delta^{(l+1)} \odot \sigma'(z^{(l)})$, and check it
#   with NumPy against the engine on a deeper network with sigmoid layers.

# %%
import math

import numpy as np

from tinygrad_edu import Value
from tinygrad_edu.nn import MLP
from tinygrad_edu.optim import SGD
from tinygrad_edu.viz import draw_dot

# %% [markdown]
# ## A 2-2-2 linear network
#
# Two inputs, a hidden layer of two neurons, an output layer of two neurons, and no
# squashing function (every activation is the identity, so $\sigma'(z) = 1$):
#
# $$h_j = \sum_i W^{(1)}_{ji} x_i + b^{(1)}_j, \qquad
#   o_k = \sum_j W^{(2)}_{kj} h_j + b^{(2)}_k, \qquad
#   L = \tfrac12 \sum_k (y_k - o_k)^2 .$$
#
# $W^{(1)}_{ji}$ is the weight from input $i$ into hidden neuron $j$. The factor $\frac12$
# cancels the 2 of the derivative of the square. We fix every number so that the arithmetic
# can be followed on paper:

# %%
x = [1.0, 2.0]
y = [1.0, 0.0]
W1 = [[0.5, -0.2], [0.1, 0.4]]
b1 = [0.1, -0.1]
W2 = [[0.3, 0.6], [-0.5, 0.2]]
b2 = [0.0, 0.1]
learning_rate = 0.1

# %% [markdown]
# ## Forward and backward by hand
#
# **Forward.** $h = (0.5 - 0.4 + 0.1,\; 0.1 + 0.8 - 0.1) = (0.2, 0.8)$ and
# $o = (0.06 + 0.48 + 0,\; -0.1 + 0.16 + 0.1) = (0.54, 0.16)$.
#
# **Output error terms.** Define $\delta^{(2)}_k = \partial L / \partial o_k$. Differentiating
# $\frac12 (y_k - o_k)^2$ gives
#
# $$\delta^{(2)}_k = o_k - y_k .$$
#
# **Hidden error terms.** $h_j$ reaches the loss through *both* outputs, so its error term
# is a sum over the paths (the multivariable chain rule), each weighted by the weight
# $W^{(2)}_{kj}$ the path crosses:
#
# $$\delta^{(1)}_j = \frac{\partial L}{\partial h_j}
#   = \sum_k \frac{\partial L}{\partial o_k}\frac{\partial o_k}{\partial h_j}
#   = \sum_k W^{(2)}_{kj}\,\delta^{(2)}_k .$$
#
# **Weights and biases.** A weight multiplies its input, so its gradient is the error term
# of the neuron it feeds times that input; a bias's gradient is the error term itself:
#
# $$\frac{\partial L}{\partial W^{(2)}_{kj}} = \delta^{(2)}_k\, h_j, \quad
#   \frac{\partial L}{\partial b^{(2)}_k} = \delta^{(2)}_k, \quad
#   \frac{\partial L}{\partial W^{(1)}_{ji}} = \delta^{(1)}_j\, x_i, \quad
#   \frac{\partial L}{\partial b^{(1)}_j} = \delta^{(1)}_j .$$
#
# **Update.** Gradient descent with learning rate $\eta$:
# $W \leftarrow W - \eta\, \partial L / \partial W$.
#
# The same, in plain Python floats, component by component:

# %%
h = [sum(W1[j][i] * x[i] for i in range(2)) + b1[j] for j in range(2)]
o = [sum(W2[k][j] * h[j] for j in range(2)) + b2[k] for k in range(2)]
loss_by_hand = 0.5 * sum((y[k] - o[k]) ** 2 for k in range(2))

delta2 = [o[k] - y[k] for k in range(2)]
delta1 = [sum(W2[k][j] * delta2[k] for k in range(2)) for j in range(2)]

grad_W2 = [[delta2[k] * h[j] for j in range(2)] for k in range(2)]
grad_b2 = delta2
grad_W1 = [[delta1[j] * x[i] for i in range(2)] for j in range(2)]
grad_b1 = delta1

new_W1 = [[W1[j][i] - learning_rate * grad_W1[j][i] for i in range(2)] for j in range(2)]
new_W2 = [[W2[k][j] - learning_rate * grad_W2[k][j] for j in range(2)] for k in range(2)]


def show(name, numbers):
    print(f"{name:8} = {np.round(numbers, 4).tolist()}")


show("h", h)
show("o", o)
print(f"L        = {loss_by_hand:.4f}")
show("delta2", delta2)
show("delta1", delta1)
show("dL/dW2", grad_W2)
show("dL/dW1", grad_W1)
show("new W2", new_W2)
show("new W1", new_W1)

# %% [markdown]
# ## The same network in the engine
#
# `MLP(2, [2, 2], activation="linear")` is this architecture. Its parameters have names
# such as `layers.1.neurons.0.w.1`: layer 1 (the output layer), neuron $k = 0$, weight from
# input $j = 1$, that is $W^{(2)}_{01}$. We load our numbers into it, build the loss from
# `Value` operations and call `backward()`.

# %%
model = MLP(2, [2, 2], activation="linear", output_activation="linear")
state = {}
for layer, (weights, biases) in enumerate([(W1, b1), (W2, b2)]):
    for j, row in enumerate(weights):
        for i, weight in enumerate(row):
            state[f"layers.{layer}.neurons.{j}.w.{i}"] = weight
        state[f"layers.{layer}.neurons.{j}.b"] = biases[j]
model.load_state_dict(state)

# Named inputs, outputs and targets, so the drawing below says which box is which.
inputs = [Value(value, f"x{i + 1}", requires_grad=False) for i, value in enumerate(x)]
targets = [Value(value, f"y{k + 1}", requires_grad=False) for k, value in enumerate(y)]
outputs = model(inputs)
for k, output in enumerate(outputs):
    output.label = f"o{k + 1}"
loss = 0.5 * Value.sum([(t - o) ** 2 for t, o in zip(targets, outputs, strict=True)])
loss.label = "L"
model.zero_grad()
loss.backward()
print(f"engine: L = {loss.data:.4f}, o = {[round(output.data, 4) for output in outputs]}")

# %% [markdown]
# Side by side, every gradient: the hand formula, and the engine's `.grad`.

# %%
hand_gradients = {}
for layer, (grad_W, grad_b) in enumerate([(grad_W1, grad_b1), (grad_W2, grad_b2)]):
    for j, row in enumerate(grad_W):
        for i, gradient in enumerate(row):
            hand_gradients[f"layers.{layer}.neurons.{j}.w.{i}"] = gradient
        hand_gradients[f"layers.{layer}.neurons.{j}.b"] = grad_b[j]

print(f"{'parameter':24} {'by hand':>9} {'engine':>9}")
for name, parameter in model.named_parameters():
    print(f"{name:24} {hand_gradients[name]:9.4f} {parameter.grad:9.4f}")

# %% [markdown]
# The whole graph of this network and its loss. `cluster=True` draws the inputs on the left,
# a box per layer (left to right) holding a box per neuron (top to bottom), and the loss with
# its targets on the right; `max_width=10` scales it to fit a notebook. The gradients shown
# are those of the `backward()` above: follow one weight's gradient back to `L`.

# %%
draw_dot(loss, cluster=True, max_width=10)

# %% [markdown]
# And one step of gradient descent with the package's `SGD` optimiser against the hand
# update:

# %%
SGD(model.parameters(), lr=learning_rate).step()
after = model.state_dict()
for j in range(2):
    for i in range(2):
        name = f"layers.0.neurons.{j}.w.{i}"
        print(f"W1[{j}][{i}]: hand {new_W1[j][i]:.4f}   engine {after[name]:.4f}")
new_outputs = model(x)
new_loss = 0.5 * sum((t - out.data) ** 2 for t, out in zip(y, new_outputs, strict=True))
print(f"loss before the step {loss_by_hand:.4f}, after {new_loss:.4f}")

# %% [markdown]
# ## Why a network needs a nonlinearity
#
# This 2-2-2 network has no squashing function, and that makes its hidden layer useless:
# a linear function of a linear function is linear,
#
# $$o = W^{(2)}(W^{(1)}x + b^{(1)}) + b^{(2)} = \underbrace{W^{(2)}W^{(1)}}_{W}\,x
#   + \underbrace{W^{(2)}b^{(1)} + b^{(2)}}_{b},$$
#
# so one layer with $W = W^{(2)}W^{(1)}$ and $b = W^{(2)}b^{(1)} + b^{(2)}$ computes exactly
# the same outputs, for every input. However many linear layers we stack, the network can
# only draw straight decision boundaries. A nonlinearity between the layers (the sigmoid
# $\sigma$, $\tanh$, or the **ReLU**, $\operatorname{relu}(z) = \max(0, z)$, which notebook 6
# uses) breaks the collapse. We check both claims on random inputs:

# %%
W_collapsed = np.array(W2) @ np.array(W1)
b_collapsed = np.array(W2) @ np.array(b1) + np.array(b2)
random_inputs = np.random.default_rng(0).normal(size=(5, 2))
linear_net = MLP(2, [2, 2], activation="linear")
with_relu = MLP(2, [2, 2], activation="relu")  # ReLU hidden layer, linear output
for network in (linear_net, with_relu):
    network.load_state_dict(state)  # the numbers of the 2-2-2 example
collapse_error = max(
    abs(out.data - expected)
    for row in random_inputs
    for out, expected in zip(linear_net(row), W_collapsed @ row + b_collapsed, strict=True)
)
relu_gap = max(
    abs(out.data - expected)
    for row in random_inputs
    for out, expected in zip(with_relu(row), W_collapsed @ row + b_collapsed, strict=True)
)
print(f"two linear layers vs one collapsed layer: largest difference {collapse_error:.1e}")
print(f"with a ReLU between them:                  largest difference {relu_gap:.2f}")

# %% [markdown]
# ## The matrix form
#
# Stack each layer's weights in a matrix $W^{(l)}$ (row $j$ = the weights into neuron $j$)
# and write $z^{(l)} = W^{(l)} a^{(l-1)} + b^{(l)}$ for the pre-activations and
# $a^{(l)} = \sigma(z^{(l)})$ for the activations, with $a^{(0)} = x$; the last layer is
# number $m$. ($L$ stays the name of the loss.) The component formulas above become
#
# $$\delta^{(m)} = \nabla_{a^{(m)}} L \odot \sigma'(z^{(m)}), \qquad
#   \delta^{(l)} = (W^{(l+1)})^\top \delta^{(l+1)} \odot \sigma'(z^{(l)}),$$
#
# $$\frac{\partial L}{\partial W^{(l)}} = \delta^{(l)} (a^{(l-1)})^\top, \qquad
#   \frac{\partial L}{\partial b^{(l)}} = \delta^{(l)},$$
#
# where $\odot$ multiplies element by element. The transpose sends each error term back
# along the same weights that carried the signal forward. With a nonlinearity the factor
# $\sigma'(z^{(l)})$ matters; for the sigmoid, $\sigma'(z) = \sigma(z)(1 - \sigma(z))$.
#
# We check this on a deeper network, 3-4-4-2 with sigmoid hidden layers and a linear output
# layer ($\sigma' = 1$ there), with random weights: NumPy for the matrix form, the engine
# for the rest.


# %%
def weight_matrices(network):
    """Each layer's (W, b) as NumPy arrays; W[j, i] is the weight from input i to neuron j."""
    return [
        (
            np.array([[w.data for w in neuron.w] for neuron in layer.neurons]),
            np.array([neuron.b.data for neuron in layer.neurons]),
        )
        for layer in network.layers
    ]


def gradient_matrices(network):
    """Each layer's (dL/dW, dL/db) as the engine left them in .grad."""
    return [
        (
            np.array([[w.grad for w in neuron.w] for neuron in layer.neurons]),
            np.array([neuron.b.grad for neuron in layer.neurons]),
        )
        for layer in network.layers
    ]


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def backprop_matrix_form(layers, x, y):
    """dL/dW, dL/db of L = 1/2 ||y - o||^2 for sigmoid hidden layers, linear output."""
    activations, pre_activations = [np.asarray(x)], []
    for depth, (W, b) in enumerate(layers):
        z = W @ activations[-1] + b
        pre_activations.append(z)
        is_output = depth == len(layers) - 1
        activations.append(z if is_output else sigmoid(z))
    delta = activations[-1] - np.asarray(y)  # dL/do times sigma' = 1 of the linear output
    gradients = []
    for depth in reversed(range(len(layers))):
        gradients.append((np.outer(delta, activations[depth]), delta))
        if depth > 0:
            z = pre_activations[depth - 1]
            delta = (layers[depth][0].T @ delta) * sigmoid(z) * (1.0 - sigmoid(z))
    return gradients[::-1]


deep = MLP(3, [4, 4, 2], activation="sigmoid", output_activation="linear", seed=0)
x_deep, y_deep = [0.5, -1.0, 2.0], [1.0, -1.0]
deep_outputs = deep(x_deep)
deep_loss = 0.5 * Value.sum([(t - out) ** 2 for t, out in zip(y_deep, deep_outputs, strict=True)])
deep.zero_grad()
deep_loss.backward()

matrix_form = backprop_matrix_form(weight_matrices(deep), x_deep, y_deep)
engine_form = gradient_matrices(deep)
pairs = zip(matrix_form, engine_form, strict=True)
for layer, ((dW, db), (engine_dW, engine_db)) in enumerate(pairs):
    difference = max(np.abs(dW - engine_dW).max(), np.abs(db - engine_db).max())
    print(f"layer {layer}: dL/dW has shape {dW.shape}, largest difference {difference:.1e}")
print("dL/dW of the first layer, matrix form:")
print(np.round(matrix_form[0][0], 5))

# %% [markdown]
# The matrix form and the engine agree to the last few bits of a float. The engine never
# forms a matrix: it applies the scalar chain rule at every multiplication and addition,
# and the sums over $k$ in $(W^{(l+1)})^\top \delta^{(l+1)}$ appear by themselves, as the
# `+=` of a node that feeds several neurons of the next layer.
#
# ## Exercises
#
# Check each answer with `check(...)` from `tinygrad_edu.exercises`; `solution(...)` shows a
# worked answer.
#
# 1. In the 2-2-2 network, change the target to $y = (0.54, 0.16)$ (the current output).
#    How many of the 12 gradients become 0, and why? Check: `check("05.1", count)`.
# 2. Give the hidden layer of the 2-2-2 network a sigmoid (`activation="sigmoid"`). Which
#    of the hand formulas change? Redo $\delta^{(1)}$ with the factor $\sigma'(z^{(1)})$ and
#    compare with the engine. Check: `check("05.2", (delta1_0, delta1_1))`.
# 3. Do the same with $\tanh$ (derivative $1 - \tanh^2$), and check it against
#    `MLP(..., activation="tanh")`. Check: `check("05.3", (delta1_0, delta1_1))`.
#
# ## Checks

# %%
# The forward pass and the hand delta terms, as derived above.
assert np.allclose(h, [0.2, 0.8]) and np.allclose(o, [0.54, 0.16])
assert math.isclose(loss_by_hand, 0.1186, abs_tol=1e-12)
assert np.allclose(delta2, [-0.46, 0.16]) and np.allclose(delta1, [-0.218, -0.244])
assert np.allclose(grad_W2, [[-0.092, -0.368], [0.032, 0.128]])
assert np.allclose(grad_W1, [[-0.218, -0.436], [-0.244, -0.488]])
# The engine's loss and every one of its 12 gradients equal the hand-derived ones.
assert math.isclose(loss.data, loss_by_hand, rel_tol=1e-12)
assert len(hand_gradients) == len(model.parameters()) == 12
for name, parameter in model.named_parameters():
    assert math.isclose(parameter.grad, hand_gradients[name], abs_tol=1e-12), name
# One SGD step equals the hand update, and it lowers the loss.
for layer, new_W in ((0, new_W1), (1, new_W2)):
    for j in range(2):
        for i in range(2):
            name = f"layers.{layer}.neurons.{j}.w.{i}"
            assert math.isclose(after[name], new_W[j][i], abs_tol=1e-12), name
assert new_loss < loss_by_hand
# Two linear layers are one linear layer; with a ReLU between them they are not.
assert collapse_error < 1e-12 and relu_gap > 0.1
# The matrix form (with sigma') equals the engine on the 3-4-4-2 sigmoid network.
for (dW, db), (engine_dW, engine_db) in zip(matrix_form, engine_form, strict=True):
    assert np.allclose(dW, engine_dW, rtol=1e-10, atol=1e-12)
    assert np.allclose(db, engine_db, rtol=1e-10, atol=1e-12)
# ... and without sigma' it is wrong: the nonlinearity's factor is needed.
layers = weight_matrices(deep)
without_sigma_prime = layers[1][0].T @ matrix_form[1][1]
assert not np.allclose(np.outer(without_sigma_prime, x_deep), engine_form[0][0])
print("all checks passed")
