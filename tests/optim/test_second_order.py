"""Newton, ConjugateGradient and BFGS reach known minima in the iterations theory predicts.

- A quadratic J(θ) = ½ θᵀAθ - bᵀθ with n = 10 and condition number 100:
  Newton (λ = 0, exact CG solve) needs 1 iteration; nonlinear CG and BFGS
  with exact line searches (c2 tiny: the cubic fit of a quadratic is exact)
  reduce to linear CG / quasi-Newton termination: at most n iterations.
- With only 4 distinct eigenvalues (condition number 1000), CG and BFGS
  need at most 4: Krylov methods converge in as many steps as A has
  distinct eigenvalues.
- Rosenbrock from (-1.2, 1) (Nocedal & Wright §2): Newton with a line
  search converges quadratically near the minimum (about 21 iterations);
  BFGS and CG get there too.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.optim.newton import cg_solve

N = 10


def _quadratic(eigenvalues, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    a = q @ np.diag(eigenvalues) @ q.T
    b = rng.standard_normal(N)
    return a, b, np.linalg.solve(a, b)


def _iterations_to(opt_cls, a, b, x_star, rtol, limit, **kw):
    """Iterations (one per step call, max_iter=1) until ‖θ - θ*‖ ≤ rtol ‖θ*‖."""
    x = cr.tensor(np.zeros(N), requires_grad=True, dtype=np.float64)
    opt = opt_cls([x], max_iter=1, **kw)
    at, bt = cr.tensor(a, dtype=np.float64), cr.tensor(b, dtype=np.float64)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (at @ x)) - x @ bt
        loss.backward()
        return loss

    for k in range(1, limit + 1):
        opt.step(closure)
        if np.linalg.norm(x.data - x_star) <= rtol * np.linalg.norm(x_star):
            return k
    return None


SPREAD = np.logspace(0, 2, N)  # n distinct eigenvalues, condition number 100
FOUR = np.repeat([1.0, 10.0, 100.0, 1000.0], [3, 3, 2, 2])  # 4 distinct, condition 1000
EXACT = {"c2": 1e-3}


@pytest.mark.parametrize("eigenvalues, bound", [(SPREAD, N), (FOUR, 4)], ids=["n", "4-distinct"])
@pytest.mark.parametrize("method, kw", [
    (cr.optim.ConjugateGradient, {"beta": "PR", **EXACT}),
    (cr.optim.ConjugateGradient, {"beta": "FR", **EXACT}),
    (cr.optim.BFGS, EXACT),
], ids=["cg-pr", "cg-fr", "bfgs"])
def test_cg_and_bfgs_on_a_quadratic_end_in_at_most_n_iterations(method, kw, eigenvalues, bound):
    a, b, x_star = _quadratic(eigenvalues)
    k = _iterations_to(method, a, b, x_star, 1e-6, 3 * N, **kw)
    assert k is not None and k <= bound, f"took {k} iterations, theory says <= {bound}"


@pytest.mark.parametrize("eigenvalues", [SPREAD, FOUR], ids=["n", "4-distinct"])
def test_newton_on_a_quadratic_takes_one_step(eigenvalues):
    a, b, x_star = _quadratic(eigenvalues)
    assert _iterations_to(cr.optim.Newton, a, b, x_star, 1e-8, 5, damping=0.0) == 1


def _rosenbrock(opt_cls, iterations, **kw):
    x = cr.tensor([-1.2, 1.0], requires_grad=True, dtype=np.float64)
    opt = opt_cls([x], max_iter=1, **kw)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    for k in range(1, iterations + 1):
        opt.step(closure)
        if np.abs(x.data - 1).max() < 1e-6:
            return k
    return None


@pytest.mark.parametrize("method, kw, limit", [
    (cr.optim.Newton, {"damping": 0.0, "line_search_fn": "strong_wolfe"}, 25),
    (cr.optim.BFGS, {}, 50),
    (cr.optim.ConjugateGradient, {"beta": "PR"}, 60),
    (cr.optim.ConjugateGradient, {"beta": "FR"}, 100),
], ids=["newton", "bfgs", "cg-pr", "cg-fr"])
def test_rosenbrock_minimum_is_reached(method, kw, limit):
    k = _rosenbrock(method, limit, **kw)
    assert k is not None, f"{method.__name__} did not reach (1, 1) in {limit} iterations"


def test_newton_converges_quadratically_near_the_minimum():
    """The error squares each iteration once close: e_{k+1} ≤ C e_k²."""
    x = cr.tensor([0.9, 0.8], requires_grad=True, dtype=np.float64)
    opt = cr.optim.Newton([x], damping=0.0, max_iter=1)

    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss

    errors = []
    for _ in range(5):
        opt.step(closure)
        errors.append(np.abs(x.data - 1).max())
    errors = [e for e in errors if e > 1e-14]
    assert len(errors) >= 2
    ratios = [e2 / e1 ** 2 for e1, e2 in itertools.pairwise(errors) if e1 < 0.1]
    assert ratios and max(ratios) < 100


def test_cg_solve_is_exact_in_n_steps_and_stops_at_negative_curvature():
    a, b, x_star = _quadratic(SPREAD)
    x, k = cg_solve(lambda v: a @ v, b, N, 1e-12)
    assert k <= N and np.linalg.norm(x - x_star) <= 1e-6 * np.linalg.norm(x_star)
    indefinite = np.diag([1.0, -1.0])
    x, k = cg_solve(lambda v: indefinite @ v, np.array([0.0, 1.0]), 5, 1e-12)
    np.testing.assert_array_equal(x, [0.0, 1.0])  # steepest descent at the first step


def test_newton_needs_the_loss_tensor():
    x = cr.tensor([1.0, 2.0], requires_grad=True, dtype=np.float64)
    opt = cr.optim.Newton([x])
    with pytest.raises(TypeError, match="loss Tensor"):
        opt.step(lambda: float((x * x).sum().data))


def test_bad_arguments():
    p = [cr.tensor([1.0], requires_grad=True)]
    with pytest.raises(ValueError, match="beta"):
        cr.optim.ConjugateGradient(p, beta="HS")
    with pytest.raises(ValueError, match="damping"):
        cr.optim.Newton(p, damping=-1)
    with pytest.raises(ValueError, match="c1 < c2"):
        cr.optim.BFGS(p, c1=0.5, c2=0.1)
    with pytest.raises(ValueError, match="one parameter group"):
        cr.optim.BFGS([{"params": p}, {"params": [cr.tensor([1.0], requires_grad=True)]}])
