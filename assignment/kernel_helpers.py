"""Code the grader runs inside the student's kernel, beside its probe (grader/run/kernel_probe.py): never imported,
sent as text (`KERNEL_HELPERS`). The students' self-check holds it too (stamped)."""


def _grader_handout_loop(user_ns, X, y, h=10, learning_rate=0.1, epochs=10000):
    """The handout's train_manual loop over the notebook's own init_params, forward, loss_fn, backward and
    sgd_update: what a training composed of them gives (the template hands this loop to the students). A
    function of them that is missing raises KeyError: the loop is then not run."""
    init_params, forward, loss_fn = user_ns["init_params"], user_ns["forward"], user_ns["loss_fn"]
    backward, sgd_update = user_ns["backward"], user_ns["sgd_update"]
    params = list(init_params(X.shape[1], h, 2))
    loss_history = []
    for _ in range(epochs):
        z1, a1, z2, p_hat = forward(X, *params)
        loss = loss_fn(p_hat, y)
        grads = backward(X, y, z1, a1, p_hat, params[2])
        sgd_update(params, grads, learning_rate)
        loss_history.append(loss.item())
    return params, loss_history
