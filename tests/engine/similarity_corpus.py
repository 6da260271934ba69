"""A class for the integrity signals: independently written correct solutions (six styles, as different
students write them), their written answers, and planted copies disguised as copiers disguise them.

Used by tests/engine/test_similarity.py (does every planted pair rank above every independent one?) and by
tools/bench_similarity.py (a class of 1,000 and two earlier terms, built from these by recombination)."""

from __future__ import annotations

STYLES = {
    "loss_fn": [
        """def loss_fn(p_y_hat, y):
    picked = p_y_hat[torch.arange(len(y)), y]
    return -torch.log(picked).mean()
""",
        """def loss_fn(p_y_hat, y):
    n = y.shape[0]
    total = 0.0
    logs = torch.log(p_y_hat)
    chosen = logs.gather(1, y.view(-1, 1)).squeeze(1)
    total = chosen.sum()
    return -(total / n)
""",
        """def loss_fn(p_y_hat, y):
    one_hot = torch.nn.functional.one_hot(y, num_classes=p_y_hat.shape[1]).float()
    per_example = -(one_hot * torch.log(p_y_hat)).sum(dim=1)
    return per_example.mean()
""",
        """def loss_fn(p_y_hat, y):
    likelihoods = torch.stack([p_y_hat[i, y[i]] for i in range(y.numel())])
    nll = -torch.log(likelihoods)
    return torch.mean(nll)
""",
        """def loss_fn(p_y_hat, y):
    mask = torch.zeros_like(p_y_hat, dtype=torch.bool)
    mask[torch.arange(p_y_hat.size(0)), y] = True
    return -torch.log(p_y_hat[mask]).sum() / p_y_hat.size(0)
""",
        """def loss_fn(p_y_hat, y):
    return torch.nn.functional.nll_loss(torch.log(p_y_hat), y)
""",
    ],
    "forward": [
        """def forward(X, W1, b1, W2, b2):
    hidden = X @ W1 + b1
    activated = hidden.clamp(min=0)
    scores = activated @ W2 + b2
    return hidden, activated, scores, scores.softmax(dim=1)
""",
        """def forward(X, W1, b1, W2, b2):
    z1 = torch.matmul(X, W1) + b1.unsqueeze(0)
    a1 = torch.where(z1 > 0, z1, torch.zeros_like(z1))
    z2 = torch.matmul(a1, W2) + b2.unsqueeze(0)
    shifted = z2 - z2.max(dim=1, keepdim=True).values
    e = torch.exp(shifted)
    return z1, a1, z2, e / e.sum(dim=1, keepdim=True)
""",
        """def forward(X, W1, b1, W2, b2):
    pre = torch.addmm(b1, X, W1)
    post = torch.maximum(pre, torch.tensor(0.0))
    logits = torch.addmm(b2, post, W2)
    probabilities = torch.nn.functional.softmax(logits, dim=-1)
    return pre, post, logits, probabilities
""",
        """def forward(X, W1, b1, W2, b2):
    layer_one = X.mm(W1).add(b1)
    relu_out = layer_one * (layer_one > 0).float()
    layer_two = relu_out.mm(W2).add(b2)
    exps = (layer_two - layer_two.amax(1, keepdim=True)).exp()
    probs = exps / exps.sum(1, keepdim=True)
    return layer_one, relu_out, layer_two, probs
""",
        """def forward(X, W1, b1, W2, b2):
    z1 = torch.einsum("nd,dh->nh", X, W1) + b1
    a1 = torch.nn.functional.relu(z1)
    z2 = torch.einsum("nh,hk->nk", a1, W2) + b2
    p = torch.exp(torch.log_softmax(z2, dim=1))
    return z1, a1, z2, p
""",
        """def forward(X, W1, b1, W2, b2):
    outputs = []
    current = X
    for weight, bias in ((W1, b1), (W2, b2)):
        current = current @ weight + bias
        outputs.append(current)
        if len(outputs) == 1:
            current = current.relu()
            outputs.append(current)
    outputs.append(torch.softmax(current, 1))
    return tuple(outputs)
""",
    ],
    "backward": [
        """def backward(X, y, z1, a1, p_hat, W2):
    n = X.shape[0]
    delta2 = p_hat.clone()
    delta2[torch.arange(n), y] -= 1
    delta2 /= n
    gW2 = a1.T @ delta2
    gb2 = delta2.sum(0)
    delta1 = (delta2 @ W2.T) * (z1 > 0)
    return X.T @ delta1, delta1.sum(0), gW2, gb2
""",
        """def backward(X, y, z1, a1, p_hat, W2):
    batch = y.numel()
    targets = torch.nn.functional.one_hot(y, p_hat.shape[1]).to(p_hat.dtype)
    err_out = (p_hat - targets) / batch
    grad_W2 = torch.matmul(a1.t(), err_out)
    grad_b2 = torch.sum(err_out, dim=0)
    err_hidden = torch.matmul(err_out, W2.t())
    err_hidden = err_hidden * (z1 > 0).to(err_hidden.dtype)
    grad_W1 = torch.matmul(X.t(), err_hidden)
    grad_b1 = torch.sum(err_hidden, dim=0)
    return grad_W1, grad_b1, grad_W2, grad_b2
""",
        """def backward(X, y, z1, a1, p_hat, W2):
    m = len(y)
    indicator = torch.zeros_like(p_hat)
    indicator[range(m), y] = 1.0
    dz2 = (p_hat - indicator).div(m)
    relu_grad = torch.where(z1 > 0, 1.0, 0.0)
    dz1 = dz2.mm(W2.transpose(0, 1)).mul(relu_grad)
    return X.transpose(0, 1).mm(dz1), dz1.sum(dim=0), a1.transpose(0, 1).mm(dz2), dz2.sum(dim=0)
""",
        """def backward(X, y, z1, a1, p_hat, W2):
    grads = {}
    d_logits = p_hat - torch.eye(p_hat.shape[1])[y]
    d_logits = d_logits / X.shape[0]
    grads["W2"] = torch.einsum("nh,nk->hk", a1, d_logits)
    grads["b2"] = d_logits.sum(axis=0)
    d_hidden = torch.einsum("nk,hk->nh", d_logits, W2) * torch.heaviside(z1, torch.tensor(0.0))
    grads["W1"] = torch.einsum("nd,nh->dh", X, d_hidden)
    grads["b1"] = d_hidden.sum(axis=0)
    return grads["W1"], grads["b1"], grads["W2"], grads["b2"]
""",
        """def backward(X, y, z1, a1, p_hat, W2):
    count = float(X.size(0))
    upstream = p_hat.detach().clone()
    for row, label in enumerate(y.tolist()):
        upstream[row, label] = upstream[row, label] - 1.0
    upstream = upstream / count
    hidden_error = upstream @ W2.T
    hidden_error[z1 <= 0] = 0.0
    weights_two = a1.T @ upstream
    weights_one = X.T @ hidden_error
    return weights_one, hidden_error.sum(0), weights_two, upstream.sum(0)
""",
        """def backward(X, y, z1, a1, p_hat, W2):
    N = X.shape[0]
    Y = torch.zeros(N, p_hat.shape[1])
    Y.scatter_(1, y.unsqueeze(1), 1.0)
    G2 = (p_hat - Y) / N
    G1 = torch.mm(G2, W2.T) * z1.gt(0).float()
    dW1, db1 = torch.mm(X.T, G1), G1.sum(0)
    dW2, db2 = torch.mm(a1.T, G2), G2.sum(0)
    return dW1, db1, dW2, db2
""",
    ],
    "sgd_update": [
        """def sgd_update(params, grads, learning_rate):
    for p, g in zip(params, grads):
        p -= learning_rate * g
    return params
""",
        """def sgd_update(params, grads, learning_rate):
    for i in range(len(params)):
        params[i].sub_(learning_rate * grads[i])
    return params
""",
        """def sgd_update(params, grads, learning_rate):
    with torch.no_grad():
        for weight, gradient in zip(params, grads):
            weight.add_(gradient, alpha=-learning_rate)
    return params
""",
        """def sgd_update(params, grads, learning_rate):
    index = 0
    while index < len(params):
        step = grads[index] * learning_rate
        params[index] -= step
        index += 1
    return params
""",
        """def sgd_update(params, grads, learning_rate):
    updates = [learning_rate * g for g in grads]
    for tensor, update in zip(params, updates):
        tensor.copy_(tensor - update)
    return params
""",
        """def sgd_update(params, grads, learning_rate):
    list(map(lambda pair: pair[0].sub_(pair[1] * learning_rate), zip(params, grads)))
    return params
""",
    ],
}

ANSWERS = {
    "q1b": [
        "Cross entropy punishes confident wrong predictions much more than squared error does, and its gradient "
        "with softmax is simply the predicted probability minus the one hot label, which keeps learning fast.",
        "We take the negative log of the probability the network gave the true class and average over the batch. "
        "Minimising it is the same as maximum likelihood for a categorical output distribution.",
        "Because the output is a probability distribution, the natural loss is the negative log likelihood of the "
        "correct label; it goes to zero when the model is certain and right and grows without bound when wrong.",
        "Mean squared error on probabilities saturates and gives tiny gradients, while the log in cross entropy "
        "cancels the exponential of the softmax so gradients stay informative for badly misclassified points.",
        "The loss measures how surprised the model is by the real labels: minus log p of the right class. Averaging "
        "keeps its scale independent of how many examples are in the batch we train on.",
        "It comes from information theory: the cross entropy between the one hot target and our predicted "
        "distribution, which here reduces to the negative log probability of each example's own class.",
    ],
    "q2c": [
        "Adam adapts a step size per parameter from running averages of the gradient and its square, so it moves "
        "quickly along flat directions and carefully along steep ones; plain SGD uses one rate everywhere.",
        "With the same learning rate Adam reached a lower loss much sooner in our plot, because momentum smooths the "
        "noisy steps and the second moment normalises how large each coordinate's update can get.",
        "SGD crawled for thousands of epochs near the start while Adam dropped right away; the bias corrected moment "
        "estimates effectively rescale the gradient so the small initial weights escape the plateau.",
        "Adam's update divides by the root of the squared gradient average, making steps roughly unit sized, which "
        "on this XOR problem helps a lot; SGD at 0.1 is simply too slow when gradients are tiny early on.",
        "The curves show Adam converging in a few hundred epochs and SGD needing most of the ten thousand; per weight "
        "learning rates plus momentum are what make the difference for this small network.",
        "Because it keeps an exponential average of past gradients, Adam keeps moving in consistent directions and "
        "its normalisation stops any single large gradient from throwing the weights far away.",
    ],
}


def disguised(source: str, renames: dict[str, str], comment: str = "# my own work") -> str:
    """A copy as copiers disguise one: names changed, a comment added, blank lines and spacing changed."""
    import re

    for old, new in renames.items():
        source = re.sub(rf"\b{re.escape(old)}\b", new, source)
    lines = source.splitlines()
    return "\n".join([lines[0], f"    {comment}", *(line.replace(" = ", "  =  ") for line in lines[1:]), ""])


def reordered(source: str, first: int, second: int) -> str:
    """The function with two of its (independent, one-line) body statements swapped."""
    lines = source.splitlines()
    lines[first], lines[second] = lines[second], lines[first]
    return "\n".join(lines) + "\n"


# A training loop a popular tutorial gives: every student of a small class pasted it (not the template's own).
TUTORIAL_TRAIN = """def train_manual(X, y, h=10, learning_rate=0.1, epochs=10000):
    torch.manual_seed(0)
    weights = list(init_params(X.shape[1], h, 2))
    history = []
    for step in range(epochs):
        z1, a1, z2, probs = forward(X, *weights)
        current = loss_fn(probs, y)
        history.append(float(current))
        gradients = backward(X, y, z1, a1, probs, weights[2])
        weights = sgd_update(weights, gradients, learning_rate)
        if step % 500 == 0:
            print("step", step, "loss", float(current))
    return weights, history
"""
