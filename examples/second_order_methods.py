"""First- and second-order methods on one small network (book §8.6): loss vs iterations and time.

A 2-16-16-1 tanh network fits a noisy 2-D regression problem (full batch,
float64).  Each method starts from the same weights and runs a fixed number
of *iterations* (one parameter update each):

- gradient descent and momentum (§8.1, §8.3.2), Adam (§8.5.3), for reference;
- Newton's method, damped and Hessian-free (§8.6.1: CG on Hessian-vector
  products, a strong-Wolfe line search);
- nonlinear conjugate gradients, Polak–Ribière (§8.6.2);
- BFGS with a dense inverse Hessian, and L-BFGS (§8.6.3).

The table lists the final training loss, the wall time and the number of
loss evaluations; the plot shows the loss against iterations (left: the
curvature-aware methods need far fewer) and against time (right: each of
their iterations costs more — line searches, Hessian-vector products).

Run: ``python examples/second_order_methods.py [--iterations 200] [--out methods.png]``
(under a minute; the PNG is not part of the repository).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F

SHAPES = [(2, 16), (16,), (16, 16), (16,), (16, 1), (1,)]


def problem(seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (200, 2))
    y = np.sin(X[:, :1] * 1.5) * np.cos(X[:, 1:]) + 0.05 * rng.standard_normal((200, 1))
    init = [rng.standard_normal(s) * (1 / np.sqrt(s[0]) if len(s) == 2 else 0.0)
            for s in SHAPES]
    return X, y, init


def forward(params, X):
    h = F.tanh(F.linear(X, params[0], params[1]))
    h = F.tanh(F.linear(h, params[2], params[3]))
    return F.linear(h, params[4], params[5])


METHODS = {
    "gradient descent": lambda p: cr.optim.SGD(p, lr=0.1),
    "momentum": lambda p: cr.optim.SGD(p, lr=0.05, momentum=0.9),
    "Adam": lambda p: cr.optim.Adam(p, lr=0.01),
    "Newton (Hessian-free)": lambda p: cr.optim.Newton(p, max_iter=1, damping=1e-3,
                                                       line_search_fn="strong_wolfe"),
    "conjugate gradient": lambda p: cr.optim.ConjugateGradient(p, max_iter=1),
    "BFGS": lambda p: cr.optim.BFGS(p, max_iter=1),
    # max_eval: torch's default, max_iter * 5 // 4 = 1, would leave the line search no evaluation
    "L-BFGS": lambda p: cr.optim.LBFGS(p, max_iter=1, max_eval=25, line_search_fn="strong_wolfe"),
}


def run(name: str, iterations: int, seed: int = 0) -> dict:
    """Losses after each iteration, the elapsed times and the closure calls of one method."""
    X, y, init = problem(seed)
    Xt = cr.tensor(X, dtype=np.float64)
    params = [cr.tensor(p, requires_grad=True, dtype=np.float64) for p in init]
    opt = METHODS[name](params)
    calls = [0]

    def closure():
        calls[0] += 1
        opt.zero_grad()
        loss = F.mse_loss(forward(params, Xt), y)
        loss.backward()
        return loss

    losses, times = [], []
    start = time.perf_counter()
    for _ in range(iterations):
        if getattr(opt, "needs_closure", False):
            opt.step(closure)
        else:
            closure()
            opt.step()
        times.append(time.perf_counter() - start)
        with cr.no_grad():
            losses.append(float(F.mse_loss(forward(params, Xt), y).data))
    return {"loss": losses, "time": times, "evaluations": calls[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--out", default="second_order_methods.png")
    args = parser.parse_args()
    results = {name: run(name, args.iterations) for name in METHODS}
    print(f"{'method':24s}{'final loss':>12s}{'time (s)':>10s}{'loss evaluations':>18s}")
    for name, r in results.items():
        print(f"{name:24s}{r['loss'][-1]:12.5f}{r['time'][-1]:10.2f}{r['evaluations']:18d}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for name, r in results.items():
        left.semilogy(np.arange(1, len(r["loss"]) + 1), r["loss"], label=name)
        right.semilogy(r["time"], r["loss"], label=name)
    left.set(xlabel="iteration", ylabel="training loss (MSE)", title="per iteration")
    right.set(xlabel="seconds", title="per second")
    left.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
