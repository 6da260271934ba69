"""The reference's graded functions against independent oracles: autograd, finite differences, torch.optim."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reference import solutions

SHAPES = [(1, 1, 1), (1, 3, 4), (7, 2, 10), (16, 5, 16), (64, 2, 1), (33, 4, 7)]


def random_problem(n: int, d: int, h: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(0, 2, (n,), generator=g)
    params = [
        torch.randn(d, h, generator=g, dtype=dtype),
        torch.randn(h, generator=g, dtype=dtype),
        torch.randn(h, 2, generator=g, dtype=dtype),
        torch.randn(2, generator=g, dtype=dtype),
    ]
    return X, y, params


def autograd_gradients(X, y, params):
    leaves = [p.clone().requires_grad_(True) for p in params]
    z1, a1, z2, p_hat = solutions.forward(X, *leaves)
    F.nll_loss(torch.log(p_hat), y).backward()
    return [p.grad for p in leaves]


@pytest.mark.parametrize("n,d,h", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_backward_equals_autograd(n, d, h, seed):
    X, y, params = random_problem(n, d, h, seed)
    z1, a1, z2, p_hat = solutions.forward(X, *params)
    manual = solutions.backward(X, y, z1, a1, p_hat, params[2])
    for ours, theirs, p in zip(manual, autograd_gradients(X, y, params), params, strict=True):
        assert ours.shape == p.shape
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("n,d,h", SHAPES)
def test_backward_equals_central_finite_differences(n, d, h):
    X, y, params = random_problem(n, d, h, seed=7)
    z1, a1, z2, p_hat = solutions.forward(X, *params)
    assert (z1.abs() > 1e-4).all(), "finite differences need every unit away from the ReLU's kink"
    manual = solutions.backward(X, y, z1, a1, p_hat, params[2])
    eps = 1e-6
    for grad, param in zip(manual, params, strict=True):
        numeric = torch.zeros_like(param)
        for index in np.ndindex(tuple(param.shape)):
            saved = param[index].item()
            param[index] = saved + eps
            up = solutions.loss_fn(solutions.forward(X, *params)[3], y)
            param[index] = saved - eps
            down = solutions.loss_fn(solutions.forward(X, *params)[3], y)
            param[index] = saved
            numeric[index] = (up - down) / (2 * eps)
        torch.testing.assert_close(grad, numeric, rtol=1e-5, atol=1e-7)


def test_backward_at_the_relu_kink_follows_autograd():
    """Where z1 is exactly 0 the ReLU has no derivative; the reference takes 0, as autograd does."""
    X, y, params = random_problem(10, 3, 6, seed=3)
    X[:4] = 0.0
    params[1].zero_()
    z1, a1, z2, p_hat = solutions.forward(X, *params)
    assert (z1[:4] == 0).all()
    manual = solutions.backward(X, y, z1, a1, p_hat, params[2])
    for ours, theirs in zip(manual, autograd_gradients(X, y, params), strict=True):
        torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("n", [1, 5, 64])
def test_loss_equals_nll_loss(n):
    g = torch.Generator().manual_seed(n)
    p = torch.softmax(torch.randn(n, 2, generator=g), dim=1)
    y = torch.randint(0, 2, (n,), generator=g)
    loss = solutions.loss_fn(p, y)
    assert loss.shape == ()
    torch.testing.assert_close(loss, F.nll_loss(torch.log(p), y))


def test_sgd_update_matches_torch_optim_sgd():
    _, _, params = random_problem(4, 3, 5, seed=11, dtype=torch.float32)
    grads = [torch.randn_like(p) for p in params]
    twins = [p.clone().requires_grad_(True) for p in params]
    for twin, grad in zip(twins, grads, strict=True):
        twin.grad = grad.clone()
    torch.optim.SGD(twins, lr=0.1).step()
    ids = [id(p) for p in params]
    returned = solutions.sgd_update(params, grads, 0.1)
    assert returned is params and [id(p) for p in returned] == ids, "the update must be in place"
    for ours, theirs in zip(params, twins, strict=True):
        torch.testing.assert_close(ours, theirs.detach())


def test_init_params_shapes_and_scale():
    torch.manual_seed(0)
    W1, b1, W2, b2 = solutions.init_params(40, 500, 2)
    assert (W1.shape, b1.shape, W2.shape, b2.shape) == ((40, 500), (500,), (500, 2), (2,))
    assert 0.009 < W1.std().item() < 0.011 and 0.009 < W2.std().item() < 0.011
    assert abs(W1.mean().item()) < 0.001
    assert (b1 == 0).all() and (b2 == 0).all()


def test_train_with_optimizer_starts_sgd_and_adam_from_the_same_loss():
    g = torch.Generator().manual_seed(5)
    X = torch.randn(50, 2, generator=g)
    y = (X[:, 0] * X[:, 1] < 0).long()
    sgd = solutions.train_with_optimizer("SGD", X, y, epochs=30, seed=3)
    adam = solutions.train_with_optimizer("Adam", X, y, epochs=30, seed=3)
    assert len(sgd) == len(adam) == 30
    assert sgd[0] == adam[0]
    assert sgd[1] != adam[1]
    with pytest.raises(ValueError, match="SGD"):
        solutions.train_with_optimizer("RMSprop", X, y, epochs=1)
