"""Schedulers against torch.optim.lr_scheduler, and their errors."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.optim import lr_scheduler as ours

CASES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 13}),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[n for n, _ in CASES])
def test_matches_torch_for_two_groups(name, kwargs):
    groups = [
        {"params": [nn.Parameter(np.ones(2))], "lr": 0.1},
        {"params": [nn.Parameter(np.ones(2))], "lr": 0.03},
    ]
    tgroups = [
        {"params": [torch.ones(2, requires_grad=True)], "lr": 0.1},
        {"params": [torch.ones(2, requires_grad=True)], "lr": 0.03},
    ]
    opt = cr.optim.SGD(groups, lr=1.0)
    topt = torch.optim.SGD(tgroups, lr=1.0)
    sched = getattr(ours, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    for _ in range(40):
        np.testing.assert_allclose(
            sched.get_last_lr(), tsched.get_last_lr(), rtol=1e-9, atol=1e-12
        )
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


def test_resume_with_last_epoch():
    opt = cr.optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    sched = ours.StepLR(opt, step_size=3)
    for _ in range(4):
        sched.step()
    opt2 = cr.optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    sched2 = ours.StepLR(opt2, step_size=3, last_epoch=3)
    assert sched2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(KeyError, match="initial_lr"):
        ours.StepLR(cr.optim.SGD([nn.Parameter(np.ones(2))], lr=0.1), 3, last_epoch=2)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda o: ours.LinearDecay(o, end_lr=-1.0, tau=5), "Expected end_lr >= 0"),
        (lambda o: ours.LinearDecay(o, end_lr=0.0, tau=0), "Expected tau an integer >= 1"),
        (lambda o: ours.LinearDecay(o, end_lr=[0.0, 0.1], tau=3), "one value or 1"),
        (lambda o: ours.StepLR(o, step_size=0), "Expected step_size"),
        (lambda o: ours.ExponentialLR(o, gamma=0.0), "Expected gamma > 0"),
        (lambda o: ours.CosineAnnealingLR(o, T_max=0), "Expected T_max"),
    ],
)
def test_bad_arguments_are_refused(make, message):
    opt = cr.optim.SGD([nn.Parameter(np.ones(2))], lr=0.1)
    with pytest.raises(ValueError, match=message):
        make(opt)
    with pytest.raises(TypeError, match="chainrule optimiser"):
        ours.StepLR(object(), step_size=2)
