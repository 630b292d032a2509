"""What PyTorch lacks, against direct float64 transcriptions of the book.

RMSProp with Nesterov momentum is algorithm 8.6; linear decay of the
learning rate is eq. 8.14 used inside minibatch SGD (algorithm 8.1).
"""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.optim.lr_scheduler import LinearDecay

STEPS = 100


def _quadratic(seed=0, shape=(6, 4)):
    rng = np.random.default_rng(seed)
    theta0 = rng.standard_normal(shape)
    h = rng.uniform(0.5, 2.0, shape)
    noise = rng.standard_normal((STEPS,) + shape)

    def grad(theta, k):  # gradient of ½ Σ h θ² + noise_k·θ
        return h * theta + noise[k]

    return theta0, grad


def _book_rmsprop_nesterov(theta0, grad, eps, rho, alpha, steps):
    """Algorithm 8.6, line by line, in float64 (the book has no δ here)."""
    theta = theta0.copy()
    v = np.zeros_like(theta)
    r = np.zeros_like(theta)
    interim = []
    for k in range(steps):
        theta_tilde = theta + alpha * v  # interim update
        g = grad(theta_tilde, k)  # gradient at the interim point
        r = rho * r + (1 - rho) * g * g  # accumulate squared gradient
        v = alpha * v - eps / np.sqrt(r) * g  # velocity update
        theta = theta + v  # apply update
        interim.append(theta + alpha * v)  # next look-ahead point
    return theta, v, interim


@pytest.mark.parametrize("rho,alpha", [(0.9, 0.9), (0.99, 0.5)])
def test_rmsprop_nesterov_is_algorithm_8_6(rho, alpha, path):
    theta0, grad = _quadratic()
    lr = 0.01
    theta, _v, interim = _book_rmsprop_nesterov(theta0, grad, lr, rho, alpha, STEPS)
    p = nn.Parameter(theta0.astype(np.float32))
    opt = cr.optim.RMSprop([p], lr=lr, alpha=rho, momentum=alpha, nesterov=True, eps=1e-12)
    for k in range(STEPS):
        # the stored parameter is the look-ahead point θ̃ = θ + αv
        p.grad = grad(p.data.astype(np.float64), k).astype(np.float32)
        opt.step()
        np.testing.assert_allclose(p.data, interim[k], rtol=1e-5, atol=1e-5)
    # and the book's θ is recovered as θ̃ + εαb (b = −v/ε)
    b = opt.state[p]["momentum_buffer"]
    np.testing.assert_allclose(p.data + lr * alpha * b, theta, rtol=1e-5, atol=1e-5)
    assert np.abs(theta - theta0).max() > 0.1


def test_rmsprop_nesterov_differs_from_plain_momentum():
    theta0, grad = _quadratic()
    finals = []
    for nesterov in (False, True):
        p = nn.Parameter(theta0.astype(np.float32))
        opt = cr.optim.RMSprop([p], lr=0.01, momentum=0.9, nesterov=nesterov)
        for k in range(20):
            p.grad = grad(p.data, k).astype(np.float32)
            opt.step()
        finals.append(p.data.copy())
    assert np.abs(finals[0] - finals[1]).max() > 1e-3


def _book_sgd_linear_decay(theta0, grad, eps0, eps_tau, tau, steps):
    """Algorithm 8.1 with ε_k from eq. 8.14, in float64."""
    theta = theta0.copy()
    lrs = []
    for k in range(steps):
        a = min(k / tau, 1.0)
        eps_k = (1 - a) * eps0 + a * eps_tau
        lrs.append(eps_k)
        theta = theta - eps_k * grad(theta, k)
    return theta, lrs


def test_linear_decay_is_eq_8_14_inside_sgd():
    theta0, grad = _quadratic(seed=1)
    tau = 60
    theta, lrs = _book_sgd_linear_decay(theta0, grad, 0.1, 0.001, tau, STEPS)
    p = nn.Parameter(theta0.astype(np.float32))
    opt = cr.optim.SGD([p], lr=0.1)
    sched = LinearDecay(opt, end_lr=0.001, tau=tau)
    seen = []
    for k in range(STEPS):
        seen.append(opt.param_groups[0]["lr"])
        p.grad = grad(p.data.astype(np.float64), k).astype(np.float32)
        opt.step()
        sched.step()
    np.testing.assert_allclose(seen, lrs, rtol=1e-12, atol=0)
    assert seen[tau:] == [0.001] * (STEPS - tau)
    assert seen[tau // 2] == pytest.approx((0.1 + 0.001) / 2)
    np.testing.assert_allclose(p.data, theta, rtol=1e-5, atol=1e-6)


def test_linear_decay_per_group_end_lr_and_state_dict():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(3))
    opt = cr.optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.5}], lr=0.1)
    sched = LinearDecay(opt, end_lr=[0.0, 0.1], tau=4)
    for _ in range(2):
        sched.step()
    assert sched.get_last_lr() == pytest.approx([0.5, 0.3])
    saved = sched.state_dict()
    sched.step()
    after = sched.get_last_lr()
    opt2 = cr.optim.SGD([{"params": [a], "lr": 1.0}, {"params": [b], "lr": 0.5}], lr=0.1)
    sched2 = LinearDecay(opt2, end_lr=[0.0, 0.1], tau=4)
    sched2.load_state_dict(saved)
    sched2.step()
    assert sched2.get_last_lr() == after
    for _ in range(5):
        sched2.step()
    assert sched2.get_last_lr() == [0.0, 0.1]
