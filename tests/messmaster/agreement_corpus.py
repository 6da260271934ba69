"""Notebooks as students leave them, for the agreement of the self-check with the grader (test_agreement.py).

Each entry is a notebook: the template or the reference, with edits (old text, new text, how many times), and
code the notebook would also have run. Together they hold the template at each step of its fixing (the planted
bugs one at a time), every catalogued mistake, every rule, the policies the students' guide states (lists or
tuples, float or tensor histories, the same list or a new one) and the slips students were seen to make.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# the template's planted bugs, and what fixes each (as the reference does)
FIX_W2 = ("W2 = torch.randn(k, h, requires_grad=False) * 0.01", "W2 = torch.randn(h, k, requires_grad=False) * 0.01")
FIX_SIGN = (" += learning_rate * dL_d", " -= learning_rate * dL_d", 4)
LOSS_TODO = '    raise NotImplementedError("TODO: implement loss_fn")'


def written_loss(body: str) -> tuple[str, str]:
    """The template's loss_fn TODO replaced by `body` (indented lines)."""
    return (LOSS_TODO, "\n".join(f"    {line}" for line in body.splitlines()))


RIGHT_LOSS = written_loss("return torch.mean(-torch.log(p_y_hat[range(y.shape[0]), y]))")
# the notebook's own training split, as its cells make it (for functions that reach for the globals)
NOTEBOOK_GLOBALS = (
    "from grader.assignment import current_assignment as _assignment\n"
    "_split = _assignment().module.cases.training_split\n"
    "X_train_tensor, y_train_tensor = (torch.from_numpy(_a) for _a in _split())"
)


@dataclass(frozen=True)
class Variant:
    base: str  # "template" or "solved"
    edits: tuple[tuple, ...] = ()
    extra: tuple[str, ...] = field(default=())


def template(*edits: tuple) -> Variant:
    return Variant("template", edits)


def solved(*edits: tuple, extra: tuple[str, ...] = ()) -> Variant:
    return Variant("solved", edits, extra)


SGD_RETURN = "b2 -= learning_rate * dL_db2\n    return params"  # sgd_update's last lines
MANUAL_RECORD = "loss_history.append(loss.item())\n        if epoch"  # train_manual's, not train_with_optimizer's
TRAIN_ON_GLOBALS = (
    ("z1, a1, z2, p_hat = forward(X, *params)", "z1, a1, z2, p_hat = forward(X_train_tensor, *params)"),
    ("loss = loss_fn(p_hat, y)", "loss = loss_fn(p_hat, y_train_tensor)"),
    (
        "grads = backward(X, y, z1, a1, p_hat, params[2])",
        "grads = backward(X_train_tensor, y_train_tensor, z1, a1, p_hat, params[2])",
    ),
)

CORPUS: dict[str, Variant] = {
    # the template at each step of its fixing
    "template_untouched": template(),
    "template_w2_fixed": template(FIX_W2),
    "template_sign_fixed": template(FIX_SIGN),
    "template_loss_written": template(RIGHT_LOSS),
    "template_w2_and_sign_fixed": template(FIX_W2, FIX_SIGN),
    "template_w2_and_loss": template(FIX_W2, RIGHT_LOSS),
    "template_sign_and_loss": template(FIX_SIGN, RIGHT_LOSS),
    "template_all_fixed": template(FIX_W2, FIX_SIGN, RIGHT_LOSS),
    "template_handout_slip_whole_rows": template(
        FIX_W2,
        FIX_SIGN,
        written_loss(
            "correct_class_loc = range(y.shape[0])\nreturn torch.mean(-torch.log(p_y_hat[correct_class_loc]))"
        ),
    ),
    "template_rows_by_label": template(FIX_W2, FIX_SIGN, written_loss("return torch.mean(-torch.log(p_y_hat[y]))")),
    "template_whole_columns": template(FIX_W2, FIX_SIGN, written_loss("return torch.mean(-torch.log(p_y_hat[:, y]))")),
    "template_loss_summed": template(
        FIX_W2, FIX_SIGN, written_loss("return torch.sum(-torch.log(p_y_hat[range(y.shape[0]), y]))")
    ),
    "template_loss_not_averaged": template(
        FIX_W2, FIX_SIGN, written_loss("return -torch.log(p_y_hat[range(y.shape[0]), y])")
    ),
    "template_log_softmax_of_probabilities": template(
        FIX_W2, FIX_SIGN, written_loss("return F.nll_loss(torch.log_softmax(p_y_hat, dim=1), y)")
    ),
    "template_cross_entropy_on_probabilities": template(
        FIX_W2, FIX_SIGN, written_loss("return F.cross_entropy(p_y_hat, y)")
    ),
    "template_log_with_epsilon": template(
        FIX_W2, FIX_SIGN, written_loss("return torch.mean(-torch.log(p_y_hat[range(y.shape[0]), y] + 1e-8))")
    ),
    "template_nll_loss_of_log": template(FIX_W2, FIX_SIGN, written_loss("return F.nll_loss(torch.log(p_y_hat), y)")),
    "template_loss_as_float": template(
        FIX_W2, FIX_SIGN, written_loss("return float(torch.mean(-torch.log(p_y_hat[range(y.shape[0]), y])))")
    ),
    # every catalogued mistake and slip, on the reference
    "init_W1_transposed": solved(("W1 = torch.randn(d, h,", "W1 = torch.randn(h, d,")),
    "init_unscaled": solved(("W1 = torch.randn(d, h, requires_grad=False) * 0.01", "W1 = torch.randn(d, h)")),
    "init_uniform": solved(("W1 = torch.randn(d, h, requires_grad=False) * 0.01", "W1 = torch.rand(d, h) * 0.01")),
    "init_as_list": solved(("    return W1, b1, W2, b2", "    return [W1, b1, W2, b2]")),
    "forward_naive_softmax": solved(
        ("p_hat = torch.softmax(z2, dim=1)", "p_hat = torch.exp(z2) / torch.exp(z2).sum(dim=1, keepdim=True)")
    ),
    "forward_sizes_written_in": solved(("z1 = X @ W1 + b1  # Shape", "z1 = X @ W1 + b1.reshape(1, 10)  # Shape")),
    "forward_globals": solved(("z1 = X @ W1 + b1  # Shape", "z1 = X_train_tensor @ W1 + b1  # Shape")),
    "backward_no_relu_mask": solved(("dL_dz1 = dL_da1 * (z1 > 0).float()", "dL_dz1 = dL_da1")),
    "backward_mask_from_a1": solved(("dL_dz1 = dL_da1 * (z1 > 0).float()", "dL_dz1 = dL_da1 * (a1 >= 0).float()")),
    "backward_mask_from_gradient": solved(("dL_da1 * (z1 > 0).float()", "dL_da1 * (dL_da1 > 0).float()")),
    "backward_db1_summed_over_everything": solved(("dL_db1 = torch.sum(dL_dz1, dim=0)", "dL_db1 = torch.sum(dL_dz1)")),
    "backward_db1_wrong_axis": solved(("dL_db1 = torch.sum(dL_dz1, dim=0)", "dL_db1 = torch.sum(dL_dz1, dim=1)")),
    "backward_dW1_transposed": solved(("dL_dW1 = X.T @ dL_dz1", "dL_dW1 = (X.T @ dL_dz1).T")),
    "backward_not_divided_by_n": solved(("dL_dz2 = (p_hat - y_one_hot) / y.shape[0]", "dL_dz2 = p_hat - y_one_hot")),
    "backward_with_autograd": solved(
        (
            "    # Step 1: Compute gradient of loss w.r.t. logits (z2)\n",
            "    W1 = torch.zeros(X.shape[1], z1.shape[1], requires_grad=True)\n"
            "    b1 = torch.zeros(z1.shape[1], requires_grad=True)\n"
            "    W2 = W2.clone().requires_grad_()\n"
            "    b2 = torch.zeros(W2.shape[1], requires_grad=True)\n"
            "    z2 = torch.relu(X @ W1 + b1 + z1) @ W2 + b2\n"
            "    g = (p_hat - F.one_hot(y, p_hat.shape[1]).float()) / y.shape[0]\n"
            "    return tuple(t.detach() for t in torch.autograd.grad((z2 * g).sum(), [W1, b1, W2, b2]))\n",
        )
    ),
    "sgd_sign_flipped": solved((" -= learning_rate * dL_d", " += learning_rate * dL_d", 4)),
    "sgd_new_list_of_the_same_tensors": solved(
        (SGD_RETURN, "b2 -= learning_rate * dL_db2\n    return [W1, b1, W2, b2]")
    ),
    "sgd_tuple_returned": solved((SGD_RETURN, "b2 -= learning_rate * dL_db2\n    return tuple(params)")),
    "sgd_not_in_place": solved(
        ("    W1 -= learning_rate * dL_dW1\n", "    W1 = W1 - learning_rate * dL_dW1\n"),
        (SGD_RETURN, "b2 -= learning_rate * dL_db2\n    return [W1, b1, W2, b2]"),
    ),
    "sgd_with_torch_optim": solved(
        (
            "    W1, b1, W2, b2 = params\n",
            "    for p, g in zip(params, grads):\n        p.grad = g\n"
            "    torch.optim.SGD(params, lr=learning_rate).step()\n    return params\n",
        )
    ),
    "train_learning_rate_written_in": solved(
        ("sgd_update(params, grads, learning_rate)", "sgd_update(params, grads, 0.5)")
    ),
    "train_history_of_tensors": solved((MANUAL_RECORD, "loss_history.append(loss.detach())\n        if epoch")),
    "train_returns_a_tuple": solved(("    return params, loss_history", "    return tuple(params), loss_history")),
    "train_records_after_the_step": solved(
        (MANUAL_RECORD, "loss_history.append(loss_fn(forward(X, *params)[3], y).item())\n        if epoch")
    ),
    "train_on_the_notebooks_globals": solved(*TRAIN_ON_GLOBALS),
    "optimizers_seeded_with_random_seed": solved(("torch.manual_seed(seed)", "torch.manual_seed(RANDOM_SEED)")),
    "optimizers_not_seeded": solved(("    torch.manual_seed(seed)\n", "")),
    "optimizers_adam_rate_written_in": solved(
        (
            "optimizer = optimizers[optimizer_name](params, lr=learning_rate)",
            'optimizer = optimizers[optimizer_name](params, lr=learning_rate if optimizer_name == "SGD" else 0.01)',
        )
    ),
    "optimizers_history_of_tensors": solved(
        (
            "# Save loss\n        loss_history.append(loss.item())",
            "# Save loss\n        loss_history.append(loss.detach())",
        )
    ),
}
