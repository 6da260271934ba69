# %% [markdown]
# # MessMaster: the Curse of the Muffin-Faced Dog (part 2)
#
# Welcome back to the quest of MessMaster!
#
# This week, we will continue to help Boltzmann differentiate Chihuahuas and blueberry muffins, but with fancier models (no longer just linear)!
#
# Specifically we will use the following concepts:
#
# - Backprop: implementation and visualization
# - MLP: decision boundary and contrast with linear models
# - Optimization: Comparing SGD v.s. Adam
#
# A friend has helped us found a separable 2D embedding of Chihuahuas and blueberry muffins. However, it is not linearly separable!
#
# We will train a MLP to help with this!
#
# BEGIN TEMPLATE
# **Before you submit:** run `from selfcheck import check; check()` in a new cell (or `python selfcheck.py messmaster_part2.ipynb` in a shell). It checks your functions on public cases; the grader also runs hidden ones.
# END TEMPLATE

# %% [markdown]
# ## 1. ManualGrad: handcrafted gradients, artisanal machine learning
#
# Backprop is the process of computing the gradient of the loss function w.r.t. all the parameters from multiple stages of nonlinear transformations of the input.
#
# It is efficient both in terms of computation and memory and is universally used for computing the gradient and is well-implemented in many widely used tools (e.g., `torch.autograd`).
#
# Today, we will implement backprop by hand for a 2-layer MLP because it's a good exercise for understanding backprop :)
#
# First we will load the data and split it into train/val/test sets.
#
# **Q1a.** Why is it important to have validation and test sets?

# %% [markdown] tags=["answer-q1a"]
# **Answer:**
#
# BEGIN SOLUTION
# The training loss only tells us how well the model fits the examples it learned from. The **validation set** is data the optimiser never sees, used *during* development: to pick hyperparameters (hidden size, learning rate, number of epochs), to compare models and to stop early when the model starts to overfit. Because we make choices based on it, the validation score becomes optimistic. The **test set** is touched once, at the very end, to estimate how the chosen model does on unseen data; it stays an honest estimate only because no decision was made with it.
# END SOLUTION

# %% tags=["parameters"]
# For reproducibility
RANDOM_SEED = 10011  # postal code of CDS <3
# Every training call below uses EPOCHS; lower it for a quick run.
EPOCHS = 10000

# %%
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split
import pandas as pd

torch.manual_seed(RANDOM_SEED)

# load data
df = pd.read_csv("data/xor_pattern.csv")
X = df[["x1", "x2"]].values  # Extract features
y = df["y"].values  # Extract labels: 0 = Chihuahua, 1 = blueberry muffin

# train-val-test split (seeded, so that everyone gets the same split)
X_train, X_val_test, y_train, y_val_test = train_test_split(X, y, test_size=0.2, random_state=RANDOM_SEED)
X_val, X_test, y_val, y_test = train_test_split(X_val_test, y_val_test, test_size=0.5, random_state=RANDOM_SEED)
# TODO: what is the train-val-test split ratio?
# BEGIN SOLUTION
# 80% train, 10% val, 10% test: test_size=0.2 holds out 20%, which the second split halves.
# END SOLUTION

# convert to tensors
X_train_tensor = torch.tensor(X_train, dtype=torch.float32)
y_train_tensor = torch.tensor(y_train, dtype=torch.long)
X_val_tensor = torch.tensor(X_val, dtype=torch.float32)
y_val_tensor = torch.tensor(y_val, dtype=torch.long)
X_test_tensor = torch.tensor(X_test, dtype=torch.float32)
y_test_tensor = torch.tensor(y_test, dtype=torch.long)

# %% [markdown] tags=["answer-split"]
# **Answer (split ratio):**
#
# BEGIN SOLUTION
# 80/10/10: `test_size=0.2` keeps 80% for training, and the second `train_test_split` halves the remaining 20% into validation and test. (The handout's split was not seeded, so everyone got a different split; here `random_state=RANDOM_SEED` makes it reproducible.)
# END SOLUTION

# %% [markdown]
# Next, we define the loss function as the cross entropy loss. When we update the weights, we use the gradient of the loss function w.r.t. the weights.
#
# **Q1b.** Implement the CEL loss function for binary classification. What is its connection to energy?
#
# $$L_{CE}(P_{\hat{y}|x}, y) = -\log(P_{\hat{y}|x}(y))$$

# %% [markdown] tags=["answer-q1b"]
# **Answer:**
#
# BEGIN SOLUTION
# The cross-entropy loss is the negative log-likelihood of the true class, $L = -\log P_{\hat y|x}(y)$, averaged over the examples. The softmax turns logits into a Gibbs (Boltzmann) distribution: if we call $E(x, c) = -z_{2,c}$ the **energy** of answer $c$, then $P(c|x) = e^{-E(x,c)} / \sum_{c'} e^{-E(x,c')}$, and
#
# $$L = E(x, y) + \log \sum_{c'} e^{-E(x, c')}.$$
#
# Minimising it pushes down the energy of the correct answer and pushes up (through the log-partition term, the free energy) the energy of all answers, most of all the low-energy wrong ones.
# END SOLUTION

# %% tags=["graded"]
def loss_fn(p_y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """
    Compute the cross-entropy loss (negative log likelihood) of a prediction

    p_y_hat : probability of each class, shape (N, 2)
    y : true class, shape (N,)
    returns: loss, a scalar (0-dim tensor, shape ())
    """
    # BEGIN TEMPLATE
    # TODO: implement the loss function
    # step 1: find the probability of the correct class
    # correct_class_loc = range(y.shape[0])
    # correct_class_prob = p_y_hat[correct_class_loc]
    # step 2: compute the mean of the negative log likelihood across all examples
    # nll = mean(-log(correct_class_prob))
    # return nll
    raise NotImplementedError("TODO: implement loss_fn")
    # END TEMPLATE
    # BEGIN SOLUTION
    # step 1: find the probability of the correct class, P(y_i | x_i) for each example i.
    # Row i, column y[i]: the handout's p_y_hat[correct_class_loc] would pick whole rows.
    correct_class_loc = torch.arange(y.shape[0])
    correct_class_prob = p_y_hat[correct_class_loc, y]  # shape (N,)
    # step 2: compute the mean of the negative log likelihood across all examples
    nll = torch.mean(-torch.log(correct_class_prob))
    return nll
    # END SOLUTION


# %% [markdown]
# Before we dive into implementing the gradients, let's do a brief calculus review to make sure we have the background knowledge.
#
# **Q1c.**
#
# $$\theta^{t+1} = \theta^t - \eta \nabla_{\theta} L$$
#
# i. What does derivative/gradient tells us about a function? (What does positive/negative gradient mean?)
#
# ii. Why is it useful for optimization?
#
# iii. What is chain rule and why is it relevant to backprop?

# %% [markdown] tags=["answer-q1c"]
# **Answer:**
#
# BEGIN SOLUTION
# i. The derivative is the rate of change of the function at a point: how much $L$ changes per small change of $\theta$. The gradient $\nabla_\theta L$ collects these partial derivatives and points in the direction of steepest *ascent*. A positive component means increasing that parameter increases $L$; a negative one means increasing it decreases $L$; zero means $L$ is flat in that direction (a minimum, maximum or saddle when all are zero).
#
# ii. To minimise $L$ we step against the gradient, $-\nabla_\theta L$, the direction of steepest descent: $\theta^{t+1} = \theta^t - \eta \nabla_\theta L$. For a small enough step size $\eta$ every step lowers the loss, so we only need the gradient, not a closed-form solution.
#
# iii. The chain rule gives the derivative of a composition: $\frac{\partial z}{\partial x} = \frac{\partial z}{\partial y}\frac{\partial y}{\partial x}$. A network is a composition of layers, so the gradient of the loss w.r.t. an early layer's weights is the product of the local derivatives of every later stage. Backprop applies the chain rule from the loss backwards, reusing each upstream gradient ($\partial L/\partial z_2$, then $\partial L/\partial a_1$, ...) instead of recomputing it for every parameter.
# END SOLUTION

# %% [markdown]
# **Q1d.** We are going to implement a two-layer MLP with ReLU activation and softmax output.
#
# First layer: $z_1 = h_1(x) = \sigma(W_1x + b_1) = \sigma(a_1)$
#
# Second layer: $z_2 = h_2(x) = W_2z_1 + b_2$
#
# Softmax: $\hat{p} = \text{softmax}(z_2) = \frac{e^{z_2}}{\sum_{j=1}^2 e^{z_{2j}}}$
#
# Loss function: $L(y, p_{\hat{y}}) = \text{L}_{\text{ce}}(y, p_{\hat{y}}) = -\log \hat{p}(\hat{y} = y)$
#
# Consider computing the gradient of the loss function with respect to the parameters.
#
# Let's focus on the first layer. What is $\frac{\partial L}{\partial W_1}$?
#
# You may use the fact that $\frac{\partial L}{\partial z_2} = \hat{p} - y$ and that $\sigma'(a) = 1(\sigma(a) > 0)$, where $1(\cdot)$ is the indicator function.
#
# $$\frac{\partial L}{\partial W_1} = \frac{\partial L}{\partial z_2} \frac{\partial z_2}{\partial a_1} \frac{\partial a_1}{\partial z_1} \frac{\partial z_1}{\partial W_1}$$
#
# Facts: (1) $\frac{\partial L}{\partial z_2} = \hat{p}_y - y$, (2) $\frac{\partial a_1}{\partial z_1} = \mathbb{1}(z_1 > 0)$, $\frac{\partial z_2}{\partial a_1} = W_2^T$, $\frac{\partial z_1}{\partial W_1} = X$.
#
# (Note: I should have used ∂ (partial derivative) instead of d in the figure since loss is a multivariable function, but it's too late to change it now.)

# %% [markdown] tags=["answer-q1d"]
# **Answer:**
#
# BEGIN SOLUTION
# We use the code's names: $z_1 = XW_1 + b_1$ is the pre-activation, $a_1 = \mathrm{ReLU}(z_1)$, $z_2 = a_1W_2 + b_2$, $\hat p = \mathrm{softmax}(z_2)$, with one example per row of $X$ (shape $N \times d$). (The handout's equations swap the names $z_1$ and $a_1$ and write $Wx$ for a column vector; the result is the same.)
#
# 1. Softmax and cross-entropy together: $\frac{\partial L}{\partial z_2} = \frac{1}{N}(\hat p - Y)$, where $Y$ is the one-hot matrix of labels and $\frac1N$ comes from the mean over examples. Shape $N \times k$.
# 2. $z_2 = a_1 W_2 + b_2$, so $\frac{\partial L}{\partial a_1} = \frac{\partial L}{\partial z_2} W_2^T$. Shape $N \times h$.
# 3. ReLU passes the gradient only where it was active: $\frac{\partial L}{\partial z_1} = \frac{\partial L}{\partial a_1} \odot \mathbb{1}(z_1 > 0)$, elementwise. Shape $N \times h$.
# 4. $z_1 = X W_1 + b_1$, and each entry $(W_1)_{ij}$ multiplies feature $i$ of every example into hidden unit $j$, so summing over the examples:
#
# $$\frac{\partial L}{\partial W_1} = X^T \left[\left(\frac{1}{N}(\hat p - Y)\, W_2^T\right) \odot \mathbb{1}(z_1 > 0)\right], \qquad \text{shape } d \times h,$$
#
# and likewise $\frac{\partial L}{\partial b_1} = \sum_{n} \frac{\partial L}{\partial (z_1)_n}$, the sum over the batch axis.
# END SOLUTION

# %% [markdown]
# **Q1e.** Verification of gradients implementation
#
# Check the gradients and gradient updates. Anything looks wrong? If you find something wrong, try to fix it.
#
# The training loop of the handout is split into the functions below: `init_params`, `forward`, `backward`, `sgd_update` and `train_manual`.

# %% tags=["graded"]
def init_params(d: int, h: int, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Initialize weights: small random weights, zero biases

    d : number of input features, h : hidden units, k : classes
    returns: W1 shape (d, h), b1 shape (h,), W2 shape (h, k), b2 shape (k,)
    """
    W1 = torch.randn(d, h, requires_grad=False) * 0.01
    b1 = torch.zeros(h, requires_grad=False)
    # BEGIN TEMPLATE
    W2 = torch.randn(k, h, requires_grad=False) * 0.01
    # END TEMPLATE
    # BEGIN SOLUTION
    W2 = torch.randn(h, k, requires_grad=False) * 0.01  # (h, k): a1 @ W2 maps h hidden units to k classes
    # END SOLUTION
    b2 = torch.zeros(k, requires_grad=False)
    return W1, b1, W2, b2


# %% tags=["graded"]
def forward(
    X: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor, b2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Forward pass of the 2-layer MLP

    X : inputs, shape (N, d)
    returns: z1 shape (N, h), a1 shape (N, h), z2 shape (N, k), p_hat shape (N, k)
    """
    # BEGIN TEMPLATE
    # First layer: z1 = W1 * X + b1
    # END TEMPLATE
    # BEGIN SOLUTION
    # First layer: z1 = X @ W1 + b1 (rows of X are examples, so X comes first; the handout wrote W1 * X)
    # END SOLUTION
    z1 = X @ W1 + b1  # Shape: (N, h) [batch_size, hidden_dim]

    # Apply activation function: a1 = ReLU(z1)
    a1 = torch.relu(z1)  # Shape: (N, h)

    # BEGIN TEMPLATE
    # Second layer: z2 = W2 * a1 + b2
    # END TEMPLATE
    # BEGIN SOLUTION
    # Second layer: z2 = a1 @ W2 + b2
    # END SOLUTION
    z2 = a1 @ W2 + b2  # Shape: (N, k) [batch_size, num_classes]

    # Apply softmax to get probabilities: p_hat = softmax(z2)
    p_hat = torch.softmax(z2, dim=1)  # Shape: (N, k)
    return z1, a1, z2, p_hat


# %% tags=["graded"]
def backward(
    X: torch.Tensor, y: torch.Tensor, z1: torch.Tensor, a1: torch.Tensor, p_hat: torch.Tensor, W2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """
    Backpropagation by hand (no autograd): gradients of the mean cross-entropy loss

    X : inputs, shape (N, d); y : true classes, shape (N,)
    z1, a1 : first layer before and after ReLU, shape (N, h)
    p_hat : softmax probabilities, shape (N, k); W2 : shape (h, k)
    returns: dL_dW1 shape (d, h), dL_db1 shape (h,), dL_dW2 shape (h, k), dL_db2 shape (k,)
    """
    # Step 1: Compute gradient of loss w.r.t. logits (z2)
    # Cross-entropy loss with softmax:
    #   L = - (1/N) * sum(y * log(p_hat))
    # Derivative:
    #   dL/dz2 = (p_hat - y) / N
    # Shape: (N, k) [Same as z2]
    y_one_hot = torch.nn.functional.one_hot(y, num_classes=p_hat.shape[1])
    dL_dz2 = (p_hat - y_one_hot) / y.shape[0]  # Normalize by batch size

    # Step 2: Compute gradient of loss w.r.t. W2 and b2
    # Using chain rule: dL/dW2 = (dL/dz2) * (dz2/dW2)
    #   dz2/dW2 = a1^T
    #   dL/dW2 = a1^T @ dL_dz2
    # Shape: (h, k) [Same as W2]
    dL_dW2 = a1.T @ dL_dz2

    # Gradient of loss w.r.t. b2:
    #   dL/db2 = sum(dL/dz2) along batch axis
    # Shape: (k,) [Same as b2]
    dL_db2 = torch.sum(dL_dz2, dim=0)

    # Step 3: Compute gradient of loss w.r.t. activations (a1)
    #   dL/da1 = (dL/dz2) * (dz2/da1)
    #   dz2/da1 = W2^T
    #   dL/da1 = dL/dz2 @ W2^T
    # Shape: (N, h) [Same as a1]
    dL_da1 = dL_dz2 @ W2.T

    # Step 4: Compute gradient of loss w.r.t. pre-activation (z1)
    # Using chain rule: dL/dz1 = (dL/da1) * (da1/dz1)
    # ReLU derivative:
    #   da1/dz1 = 1 if z1 > 0, else 0
    # Shape: (N, h) [Same as z1]
    dL_dz1 = dL_da1 * (z1 > 0).float()

    # Step 5: Compute gradient of loss w.r.t. W1 and b1
    # Using chain rule: dL/dW1 = (dL/dz1) * (dz1/dW1)
    #   dz1/dW1 = X^T
    #   dL/dW1 = X^T @ dL/dz1
    # Shape: (d, h) [Same as W1]
    # BEGIN TEMPLATE
    # TODO: check if this is correct
    # END TEMPLATE
    # BEGIN SOLUTION
    # (The handout asks to check this line: it is correct, (d, N) @ (N, h) gives (d, h).)
    # END SOLUTION
    dL_dW1 = X.T @ dL_dz1

    # Gradient of loss w.r.t. b1:
    #   dL/db1 = sum(dL/dz1) along batch axis
    # Shape: (h,) [Same as b1]
    dL_db1 = torch.sum(dL_dz1, dim=0)
    return dL_dW1, dL_db1, dL_dW2, dL_db2


# %% tags=["graded"]
def sgd_update(params: list[torch.Tensor], grads: list[torch.Tensor], learning_rate: float) -> list[torch.Tensor]:
    """
    Gradient update (SGD step), in place

    params : [W1, b1, W2, b2]; grads : [dL_dW1, dL_db1, dL_dW2, dL_db2], each the shape of its parameter
    returns: the same list params, its tensors updated
    """
    W1, b1, W2, b2 = params
    dL_dW1, dL_db1, dL_dW2, dL_db2 = grads
    # BEGIN TEMPLATE
    # TODO: check here
    W1 += learning_rate * dL_dW1
    b1 += learning_rate * dL_db1
    W2 += learning_rate * dL_dW2
    b2 += learning_rate * dL_db2
    # END TEMPLATE
    # BEGIN SOLUTION
    # theta <- theta - eta * dL/dtheta: step *against* the gradient (the handout's += climbed the loss)
    W1 -= learning_rate * dL_dW1
    b1 -= learning_rate * dL_db1
    W2 -= learning_rate * dL_dW2
    b2 -= learning_rate * dL_db2
    # END SOLUTION
    return params


# %% tags=["graded"]
def train_manual(
    X: torch.Tensor, y: torch.Tensor, h: int = 10, learning_rate: float = 0.1, epochs: int = 10000
) -> tuple[list[torch.Tensor], list[float]]:
    """
    Full-batch training with init_params, forward, loss_fn, backward and sgd_update

    X : inputs, shape (N, d); y : true classes, shape (N,)
    returns: params [W1, b1, W2, b2], and loss_history (one float per epoch)
    """
    k = 2  # Chihuahua or muffin
    params = list(init_params(X.shape[1], h, k))
    loss_history = []
    for epoch in range(epochs):
        # ===== Forward pass =====
        z1, a1, z2, p_hat = forward(X, *params)

        # ===== Compute Loss =====
        # BEGIN TEMPLATE
        # PyTorch's CrossEntropyLoss automatically applies softmax inside,
        # so we should pass raw logits (z2), not softmax probabilities (p_hat)
        # END TEMPLATE
        # BEGIN SOLUTION
        # Our loss_fn takes probabilities, so it gets p_hat. (PyTorch's CrossEntropyLoss
        # applies softmax inside and would take the raw logits z2 instead.)
        # END SOLUTION
        loss = loss_fn(p_hat, y)  # Scalar loss value

        # ===== Backpropagation =====
        grads = backward(X, y, z1, a1, p_hat, params[2])

        # Gradient update (SGD step)
        sgd_update(params, grads, learning_rate)

        loss_history.append(loss.item())
        if epoch % 1000 == 0:  # (the handout printed every 10 epochs: 1,000 lines per run)
            print(f"Epoch {epoch}: Loss = {loss.item():.4f}")
    return params, loss_history


# %%
params, loss_history = train_manual(X_train_tensor, y_train_tensor, epochs=EPOCHS)
W1, b1, W2, b2 = params

# %% [markdown]
# ### Visualization
#
# Now let's visualize the decision boundary of the trained MLP.
#
# Can linear models learn this decision boundary?

# %%
from util import plot_decision_boundary

# Example usage:
plot_decision_boundary(W1, b1, W2, b2, X_train_tensor.numpy(), y_train_tensor.numpy())
plot_decision_boundary(W1, b1, W2, b2, X_val_tensor.numpy(), y_val_tensor.numpy())
plot_decision_boundary(W1, b1, W2, b2, X_test_tensor.numpy(), y_test_tensor.numpy())

# %%
# BEGIN TEMPLATE
# (Optional) Try a linear model here, e.g. sklearn's LogisticRegression, and compare its accuracy with the MLP's.
# END TEMPLATE
# BEGIN SOLUTION
# A linear model on the same data: logistic regression draws one straight line.
from sklearn.linear_model import LogisticRegression

linear = LogisticRegression().fit(X_train, y_train)
mlp_val_pred = forward(X_val_tensor, W1, b1, W2, b2)[3].argmax(dim=1)
print(f"logistic regression: val accuracy {linear.score(X_val, y_val):.3f}")
print(f"MLP:                 val accuracy {(mlp_val_pred == y_val_tensor).float().mean().item():.3f}")
# END SOLUTION

# %% [markdown] tags=["answer-linear"]
# **Answer (can a linear model learn this boundary?):**
#
# BEGIN SOLUTION
# No. A linear model predicts with the sign of $w^T x + b$: a single straight line. In an XOR pattern the Chihuahuas sit in two opposite corners and the muffins in the other two, so any line leaves at least one corner on the wrong side, and logistic regression stays near chance (about 50% above). The MLP's ReLU units each draw a line and the second layer combines them, which gives the bent, piecewise-linear boundary in the plots.
# END SOLUTION

# %% [markdown]
# ## 2. Optimizers: Adam v.s. SGD
#
# Great that the MLP worked! However, we can further accelerate the training process by dynamically adjusting the learning rate.
#
# **Q2a.** What was the learning rate scheduler we used above?

# %% [markdown] tags=["answer-q2a"]
# **Answer:**
#
# BEGIN SOLUTION
# None: a constant learning rate of 0.1 for every epoch (the `StepLR` schedulers in the code below are commented out).
# END SOLUTION

# %% [markdown]
# In class, we learned about the Adam optimizer, which uses exponential smoothing to reduce the variance of the gradient estimate and normalizes the update using an estimate of the second moment of the gradient.
#
# $$\theta_t^i \leftarrow \theta_{t-1}^i + \alpha \frac{m_t^i}{v_t^i + \epsilon}$$
#
# where α is the default learning rate, m_t is the momentum (exponential moving average of the gradient), and v_t is the adaptive scaling (exponential moving average of the squared gradient).
#
# $$m_t \leftarrow \beta_1 m_{t-1} + (1 - \beta_1) g_t$$
#
# $$v_t \leftarrow \beta_2 v_{t-1} + (1 - \beta_2) g_t^2$$
#
# **Q2b.** Why is it momentum helpful? Why is adaptive scaling helpful?

# %% [markdown] tags=["answer-q2b"]
# **Answer:**
#
# BEGIN SOLUTION
# **Momentum** averages recent gradients: components that keep the same sign add up, so the step grows along consistent directions (long shallow valleys, plateaus), while components that flip sign cancel, which damps oscillation across steep directions and smooths the noise of minibatch gradients.
#
# **Adaptive scaling** divides each parameter's step by the root of its recent squared gradients, so every parameter moves at roughly the same rate $\alpha$: parameters with tiny gradients (rarely active units, flat directions) are not stuck, and parameters with huge gradients do not blow up. It makes the learning rate far less sensitive to the scale of the loss.
#
# Note that the formula above has three slips. Adam steps *against* the gradient, divides by the *square root* of the second moment, and corrects both moving averages for their start at zero:
#
# $$\hat m_t = \frac{m_t}{1-\beta_1^t}, \qquad \hat v_t = \frac{v_t}{1-\beta_2^t}, \qquad \theta_t \leftarrow \theta_{t-1} - \alpha\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
# END SOLUTION

# %% [markdown]
# **Q2c.** Observe the loss curves of SGD and Adam. What do you see?

# %% tags=["graded"]
def train_with_optimizer(
    optimizer_name: str,
    X: torch.Tensor,
    y: torch.Tensor,
    h: int = 10,
    learning_rate: float = 0.1,
    epochs: int = 10000,
    seed: int = RANDOM_SEED,
) -> list[float]:
    """
    Train the same MLP with autograd and torch.optim, from a Xavier initialization seeded by `seed`

    optimizer_name : "SGD" or "Adam"
    X : inputs, shape (N, d); y : true classes, shape (N,)
    returns: loss_history, one float per epoch
    """
    optimizers = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam}
    if optimizer_name not in optimizers:
        raise ValueError(f"optimizer_name must be 'SGD' or 'Adam', got {optimizer_name!r}")
    d, k = X.shape[1], 2

    # Initialize weights with Xavier (Glorot) initialization
    # Seeded here, so that SGD and Adam start from the same weights (a fair comparison)
    torch.manual_seed(seed)
    W1 = torch.empty(d, h)
    W2 = torch.empty(h, k)
    torch.nn.init.xavier_uniform_(W1)
    torch.nn.init.xavier_uniform_(W2)
    b1 = torch.zeros(h)
    b2 = torch.zeros(k)
    params = [W1, b1, W2, b2]
    for p in params:
        p.requires_grad = True

    optimizer = optimizers[optimizer_name](params, lr=learning_rate)
    # Learning rate schedulers (optional)
    # scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2)

    print(f"\nTraining with {optimizer_name}...\n")
    loss_history = []
    for epoch in range(epochs):
        # ===== Forward pass =====
        z1 = X @ W1 + b1
        a1 = torch.relu(z1)
        z2 = a1 @ W2 + b2
        loss = F.cross_entropy(z2, y)

        # ===== Backward pass =====
        optimizer.zero_grad()  # Reset gradients
        loss.backward()  # Compute gradients
        optimizer.step()  # Update weights

        # Save loss
        loss_history.append(loss.item())

        # Learning rate decay (if scheduler exists)
        # scheduler.step()

        # Print progress every 1000 epochs
        if epoch % 1000 == 0:
            print(f"{optimizer_name} - Epoch {epoch}: Loss = {loss.item():.4f}")
    return loss_history


# %%
loss_history_sgd = train_with_optimizer("SGD", X_train_tensor, y_train_tensor, epochs=EPOCHS)
loss_history_adam = train_with_optimizer("Adam", X_train_tensor, y_train_tensor, epochs=EPOCHS)

# %%
from util import plot_loss

plot_loss(loss_history_sgd, loss_history_adam)

# %% [markdown] tags=["answer-q2c"]
# **Answer:**
#
# BEGIN SOLUTION
# Both curves start at the same loss, because both runs start from the same seeded Xavier weights (in the handout's code the weights were re-drawn for the second optimizer, so the two runs did not start from the same point). Adam's loss falls far faster: within a few hundred epochs it is near zero, while SGD with the same constant learning rate creeps down and is still well above Adam at the end. Adam's curve can show small spikes, where a step overshoots before the second-moment estimate catches up; SGD's is smooth but slow, because its steps shrink with the gradient as the loss flattens.
# END SOLUTION
