"""Block coordinate descent (book §8.7.2) and the sparse coding example."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.optim import SGD, BlockCoordinateDescent, sparse_coding


def _data(seed=0, n=60, d=12, k=6):
    rng = np.random.default_rng(seed)
    codes = rng.normal(size=(n, k)) * (rng.random((n, k)) < 0.3)
    return codes @ rng.normal(size=(k, d)) + 0.05 * rng.normal(size=(n, d))


@pytest.mark.parametrize("dictionary", ["lstsq", "gradient"])
@pytest.mark.parametrize("code_steps", [1, 3])
def test_sparse_coding_objective_never_increases(dictionary, code_steps):
    X = _data()
    lam = 0.3
    H, W, J = sparse_coding(X, 6, lam, sweeps=40, code_steps=code_steps,
                            dictionary=dictionary)
    assert J.shape == (1 + 40 * (code_steps + 1),)
    assert np.all(np.diff(J) <= 1e-10 * J[0]), np.diff(J).max()
    assert J[-1] < 0.2 * J[0]
    # the trace is the book's objective at the returned point
    ref = lam * np.abs(H).sum() + ((X - H @ W) ** 2).sum()
    np.testing.assert_allclose(J[-1], ref, rtol=1e-12)
    # the L1 step zeroes codes exactly, and a larger lambda zeroes more
    H3, _, _ = sparse_coding(X, 6, 10 * lam, sweeps=40, code_steps=code_steps,
                             dictionary=dictionary)
    assert 0 < np.mean(H == 0) < np.mean(H3 == 0)


def test_least_squares_block_is_numpys_lstsq():
    X = _data(1)
    H, W, _ = sparse_coding(X, 6, 0.3, sweeps=7)  # the last block step is the dictionary
    np.testing.assert_allclose(W, np.linalg.lstsq(H, X, rcond=None)[0], rtol=1e-10, atol=1e-12)
    # and it is a minimiser over W: any perturbation raises the residual
    r0 = ((X - H @ W) ** 2).sum()
    dW = np.random.default_rng(0).normal(size=W.shape) * 1e-3
    assert ((X - H @ (W + dW)) ** 2).sum() > r0


def test_code_step_is_the_soft_thresholded_gradient_step():
    X = _data(2)
    lam = 0.5
    H1, _, _ = sparse_coding(X, 6, lam, sweeps=1)
    # redo the first sweep: codes from zero with the initial dictionary
    rng = np.random.default_rng(0)
    W0 = rng.standard_normal((6, X.shape[1]))
    W0 /= np.linalg.norm(W0, axis=1, keepdims=True)
    t = 1 / (2 * np.linalg.norm(W0 @ W0.T, 2))
    Z = t * 2 * X @ W0.T
    H_ref = np.sign(Z) * np.maximum(np.abs(Z) - lam * t, 0)
    np.testing.assert_allclose(H1, H_ref, rtol=1e-12, atol=1e-14)


def test_cycles_blocks_and_moves_only_the_current_one():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    first, second = model._modules["0"], model._modules["2"]
    bcd = BlockCoordinateDescent(
        [SGD(first.parameters(), lr=0.1), SGD(second.parameters(), lr=0.1)],
        steps_per_block=[2, 3],
    )
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.normal(size=(16, 3)))
    y = rng.normal(size=(16, 1)).astype(np.float32)

    def closure():
        bcd.zero_grad()
        out = model(X)
        loss = ((out - cr.tensor(y)) ** 2).mean()
        loss.backward()
        return loss

    moved = []
    for _ in range(10):
        a = [p.data.copy() for p in first.parameters()]
        b = [p.data.copy() for p in second.parameters()]
        bcd.step(closure)
        moved.append((
            any(not np.array_equal(p.data, q) for p, q in zip(first.parameters(), a)),
            any(not np.array_equal(p.data, q) for p, q in zip(second.parameters(), b)),
        ))
    pattern = [(True, False)] * 2 + [(False, True)] * 3
    assert moved == pattern + pattern
    assert bcd.block == 0
    state = bcd.state_dict()
    bcd.step(closure)
    bcd.load_state_dict(state)
    assert bcd.block == 0 and bcd.state_dict()["taken"] == 0


def test_fit_drives_block_coordinate_descent():
    from chainrule.training import fit

    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = X @ np.array([[1.0], [-2.0], [0.5]], np.float32)
    bcd = BlockCoordinateDescent([SGD(model._modules["0"].parameters(), lr=0.05),
                                  SGD(model._modules["2"].parameters(), lr=0.05)],
                                 steps_per_block=4)
    hist = fit(model, X, y, loss="mse", optimizer=bcd, epochs=30, batch_size=16, verbose=0)
    loss = hist.history["loss"]
    assert loss[-1] < 0.3 * loss[0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="at least one block"):
        BlockCoordinateDescent([])
    with pytest.raises(TypeError, match="Optimizer or a callable"):
        BlockCoordinateDescent([3])
    with pytest.raises(ValueError, match="steps_per_block"):
        BlockCoordinateDescent([lambda: None], steps_per_block=0)
    with pytest.raises(ValueError, match="closure"):
        p = cr.tensor(np.zeros(2), requires_grad=True)
        BlockCoordinateDescent([SGD([p], lr=0.1)]).step()
    with pytest.raises(ValueError, match="shape"):
        sparse_coding(np.zeros(5), 2, 0.1)
    with pytest.raises(ValueError, match="dictionary"):
        sparse_coding(np.zeros((5, 2)), 2, 0.1, dictionary="ksvd")
