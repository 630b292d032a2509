"""Supervised pretraining (book §8.7.4): a deep narrow sigmoid MLP on MNIST-1D.

A 10-hidden-layer MLP of width 32 with logistic-sigmoid units is hard to
train from scratch: the gradient reaching the lower layers shrinks layer
after layer (each sigmoid's slope is at most 1/4), and Adam makes slow
progress.  Three ways to train it, each for the same number of passes over
the data (the pretrained runs split theirs between pretraining and fine-tuning):

* **from scratch**: the whole network, ``PRE + FT`` epochs;
* **greedy supervised pretraining** (``greedy_pretrain``): stage k trains
  hidden layer k with a fresh softmax head on the frozen outputs of
  layers 0..k-1 (``PRE / depth`` epochs each, a one-hidden-layer problem,
  Adam with step 1e-2), then the whole network is fine-tuned for ``FT``
  epochs (step 3e-3, the best step for the network trained from scratch
  among 1e-3, 3e-3, 1e-2 and 3e-2);
* **FitNets hints** (``hint_train``): a wide, shallow teacher (40-128-128-10,
  ReLU) is trained first; the student's lower half (5 layers) is trained
  for ``PRE`` epochs so that a linear regressor maps its output onto the
  teacher's first hidden layer, then the whole student is trained for
  ``FT`` epochs.  (The teacher's own training is extra compute, not counted.)

Test accuracy, mean ± std over seeds (a seed sets the initial weights and
the minibatch order; the data set is MNIST-1D's default one).  The full version runs 5 seeds with ``PRE = FT = 30`` epochs
(3 per greedy stage); the small one 2 seeds with ``PRE = FT = 20``, and
without the FitNets run (its teacher costs as much as the rest).

Run: ``python examples/strategies/pretraining.py``
"""

from __future__ import annotations

import chainrule as cr
from chainrule import nn
from chainrule.training import fit, greedy_pretrain, hint_train

try:
    from _strategies import accuracy, mnist1d, one_blas_thread, report, summarize
except ImportError:  # run from elsewhere
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _strategies import accuracy, mnist1d, one_blas_thread, report, summarize

DEPTH, WIDTH = 10, 32
LR = 3e-3  # the best of {1e-3, 3e-3, 1e-2, 3e-2} for the network from scratch
STAGE_LR = 1e-2  # a greedy stage is a one-hidden-layer problem: it takes larger steps
BATCH = 100


def _blocks(depth=DEPTH, width=WIDTH, n_in=40):
    return [nn.Sequential(nn.Linear(n_in if i == 0 else width, width), nn.Sigmoid())
            for i in range(depth)]


def _adam(params):
    return cr.optim.Adam(list(params), lr=LR)


def scratch(X, y, epochs: int, seed: int):
    cr.manual_seed(seed)
    net = nn.Sequential(*_blocks(), nn.Linear(WIDTH, 10))
    fit(net, X, y, loss="cross_entropy", optimizer=_adam(net.parameters()), epochs=epochs,
        batch_size=BATCH, verbose=0)
    return net


def greedy(X, y, pre_epochs: int, ft_epochs: int, seed: int):
    cr.manual_seed(seed)
    model, _ = greedy_pretrain(
        _blocks(), lambda k: nn.Linear(WIDTH, 10), X, y, loss="cross_entropy",
        make_optimizer=lambda p: cr.optim.Adam(p, lr=STAGE_LR),
        epochs=max(1, pre_epochs // DEPTH), batch_size=BATCH, verbose=0,
    )
    fit(model, X, y, loss="cross_entropy", optimizer=_adam(model.parameters()),
        epochs=ft_epochs, batch_size=BATCH, verbose=0)
    return model


def hints(X, y, pre_epochs: int, ft_epochs: int, seed: int, teacher_epochs: int):
    """The student after hint training and fine-tuning, and the teacher."""
    cr.manual_seed(seed)
    teacher = nn.Sequential(nn.Linear(40, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                            nn.Linear(128, 10))
    fit(teacher, X, y, loss="cross_entropy", optimizer=_adam(teacher.parameters()),
        epochs=teacher_epochs, batch_size=BATCH, verbose=0)
    blocks = _blocks()
    lower = nn.Sequential(*blocks[: DEPTH // 2])
    regressor = nn.Linear(WIDTH, 128)
    teacher_hint = nn.Sequential(*list(teacher._modules.values())[:2])  # 40-128 ReLU
    hint_train(lower, regressor, teacher_hint, X,
               optimizer=_adam([*lower.parameters(), *regressor.parameters()]),
               epochs=pre_epochs, batch_size=BATCH, verbose=0)
    student = nn.Sequential(*blocks, nn.Linear(WIDTH, 10))
    fit(student, X, y, loss="cross_entropy", optimizer=_adam(student.parameters()),
        epochs=ft_epochs, batch_size=BATCH, verbose=0)
    return student, teacher


def run(small: bool = False, seed: int = 0) -> dict:
    """Train each way on several seeds; return per-method test accuracies."""
    seeds = [seed + i for i in range(2 if small else 5)]
    pre, ft = (20, 20) if small else (30, 30)
    rows = {"from scratch": [], "greedy supervised pretraining": []}
    if not small:  # the hints need a teacher: the full version only
        rows.update({"FitNets hints": [], "(the FitNets teacher, 40-128-128-10 ReLU)": []})
    X, y, Xt, yt = mnist1d()
    for s in seeds:
        rows["from scratch"].append(accuracy(scratch(X, y, pre + ft, s), Xt, yt))
        rows["greedy supervised pretraining"].append(
            accuracy(greedy(X, y, pre, ft, s), Xt, yt))
        if not small:
            student, teacher = hints(X, y, pre, ft, s, teacher_epochs=pre)
            rows["FitNets hints"].append(accuracy(student, Xt, yt))
            rows["(the FitNets teacher, 40-128-128-10 ReLU)"].append(accuracy(teacher, Xt, yt))
    report(f"supervised pretraining: {DEPTH}x{WIDTH} sigmoid MLP on MNIST-1D "
           f"({len(X)} training rows, {pre + ft} epochs per method)", rows)
    keys = {"from scratch": "scratch", "greedy supervised pretraining": "greedy",
            "FitNets hints": "hints", "(the FitNets teacher, 40-128-128-10 ReLU)": "teacher"}
    out = {keys[name]: summarize(v) for name, v in rows.items()}
    out["per_seed"] = rows
    return out


if __name__ == "__main__":
    with one_blas_thread():
        run()
