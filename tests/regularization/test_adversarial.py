"""Adversarial examples (FGSM, PGD) and adversarial training (book §7.13), against torch."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.optim import SGD
from chainrule.regularization import AdversarialTraining, fgsm, pgd
from chainrule.training import fit


def _net(dtype=np.float64, batchnorm=False):
    layers = [nn.Linear(4, 6, dtype=dtype)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(6))
    layers += [nn.Tanh(), nn.Linear(6, 3, dtype=dtype)]
    return nn.Sequential(*layers)


def _torch_net(net):
    ref = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    ref = ref.double()
    with torch.no_grad():
        for i in (0, 2):
            ref[i].weight.copy_(torch.tensor(net[i].weight.data.T))
            ref[i].bias.copy_(torch.tensor(net[i].bias.data))
    return ref


def _data(n=12, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(dtype), rng.integers(0, 3, n)


def _loss(net, x, y):
    with cr.no_grad():
        return F.cross_entropy(net(cr.tensor(x, dtype=x.dtype)), y).item()


def test_fgsm_is_x_plus_eps_sign_of_torchs_input_gradient():
    x, y = _data()
    net = _net()
    ref = _torch_net(net)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.cross_entropy(ref(xt), torch.tensor(y)).backward()
    expected = x + 0.1 * np.sign(xt.grad.numpy())
    got = fgsm(net, F.cross_entropy, x, y, eps=0.1)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    assert np.all(np.abs(got - x) == pytest.approx(0.1))
    clipped = fgsm(net, F.cross_entropy, x, y, eps=0.1, clip=(-0.5, 0.5))
    np.testing.assert_array_equal(clipped, np.clip(expected, -0.5, 0.5))


def test_fgsm_leaves_parameters_gradients_mode_and_buffers_alone():
    x, y = _data(dtype=np.float32)
    net = _net(np.float32, batchnorm=True)
    for p in net.parameters():
        p.grad = np.full(p.shape, 0.25, dtype=p.dtype)
    before = {k: v.copy() for k, v in net.state_dict().items()}
    out = fgsm(net, F.cross_entropy, cr.tensor(x), y, eps=0.05)
    assert isinstance(out, cr.Tensor) and not out.requires_grad and out.dtype == np.float32
    assert net.training and net[1].training
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)  # running stats included
    for p in net.parameters():
        np.testing.assert_array_equal(p.grad, 0.25)
    net.eval()
    pgd(net, F.cross_entropy, x, y, eps=0.05, steps=3)
    assert not net.training and not net[1].training


def test_pgd_stays_in_the_ball_and_clip_and_raises_the_loss():
    x, y = _data(64, seed=1)
    x = np.tanh(x)  # inside the valid range (-1, 1)
    net = _net()
    clean = _loss(net, x, y)
    with cr.random.use_generator(np.random.default_rng(0)):
        adv = pgd(net, F.cross_entropy, x, y, eps=0.3, steps=10, clip=(-1.0, 1.0))
    assert np.all(np.abs(adv - x) <= 0.3 + 1e-12)
    assert adv.min() >= -1.0 and adv.max() <= 1.0
    assert np.mean(np.abs(adv - x) > 0.29) > 0.5  # most coordinates reach the boundary
    one_step = _loss(net, fgsm(net, F.cross_entropy, x, y, eps=0.3), y)
    assert _loss(net, adv, y) > clean + 0.05
    assert one_step > clean
    # the same generator gives the same random start
    with cr.random.use_generator(np.random.default_rng(0)):
        again = pgd(net, F.cross_entropy, x, y, eps=0.3, steps=10, clip=(-1.0, 1.0))
    np.testing.assert_array_equal(adv, again)


def test_one_pgd_step_of_size_eps_without_random_start_is_fgsm():
    x, y = _data()
    net = _net()
    a = pgd(net, F.cross_entropy, x, y, eps=0.2, steps=1, step_size=0.2, random_start=False)
    np.testing.assert_array_equal(a, fgsm(net, F.cross_entropy, x, y, eps=0.2))


def test_pgd_ascends_further_than_fgsm_with_more_steps():
    x, y = _data(64, seed=2)
    net = _net()
    # a sharper net, so one linear step is not the maximiser
    net[0].weight.data *= 4
    losses = [_loss(net, pgd(net, F.cross_entropy, x, y, eps=0.5, steps=s, step_size=0.5 / s * 2,
                             random_start=False), y) for s in (1, 20)]
    assert losses[1] > losses[0]


def test_adversarial_training_term_mixes_clean_and_adversarial_loss():
    x, y = _data(16)
    net = _net()
    reg = AdversarialTraining(eps=0.1, alpha=0.3)
    xt = cr.tensor(x, dtype=np.float64)
    clean = F.cross_entropy(net(xt), y)
    total = clean + reg.batch_penalty(net, xt, y, F.cross_entropy, clean)
    x_adv = fgsm(net, F.cross_entropy, x, y, eps=0.1)
    adv = F.cross_entropy(net(cr.tensor(x_adv, dtype=np.float64)), y)
    np.testing.assert_allclose(total.item(), 0.7 * clean.item() + 0.3 * adv.item(), rtol=1e-12)
    total.backward()
    got = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    ref = _torch_net(net)
    mixed = (0.7 * torch.nn.functional.cross_entropy(ref(torch.tensor(x)), torch.tensor(y))
             + 0.3 * torch.nn.functional.cross_entropy(ref(torch.tensor(x_adv)), torch.tensor(y)))
    mixed.backward()
    want = [ref[0].weight.grad.T, ref[0].bias.grad, ref[2].weight.grad.T, ref[2].bias.grad]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), rtol=1e-10, atol=1e-12)


def test_fit_takes_adversarial_training_as_a_batch_regularizer():
    """One full-batch SGD step of fit is the step on the mixed loss; the logs split it."""
    x, y = _data(16, dtype=np.float32)
    net = _net(np.float32)
    manual = _net(np.float32)
    manual.load_state_dict(net.state_dict())
    reg = AdversarialTraining(eps=0.1, alpha=0.5)
    hist = fit(net, x, y, loss="cross_entropy", optimizer=SGD(net.parameters(), lr=0.5),
               epochs=1, batch_size=16, shuffle=False, regularizers=[reg], verbose=0)
    x_adv = fgsm(manual, F.cross_entropy, x, y, eps=0.1)
    clean = F.cross_entropy(manual(cr.tensor(x)), y)
    adv = F.cross_entropy(manual(cr.tensor(x_adv)), y)
    (clean * 0.5 + adv * 0.5).backward()
    SGD(manual.parameters(), lr=0.5).step()
    for a, b in zip(net.parameters(), manual.parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)
    logs = {k: v[-1] for k, v in hist.history.items()}
    np.testing.assert_allclose(logs["loss"], clean.item(), rtol=1e-5)
    np.testing.assert_allclose(logs["objective"], 0.5 * (clean.item() + adv.item()), rtol=1e-5)
    np.testing.assert_allclose(logs["penalty"], logs["objective"] - logs["loss"], rtol=1e-5)


def test_bad_arguments_are_named():
    x, y = _data()
    net = _net()
    with pytest.raises(ValueError, match="eps"):
        fgsm(net, F.cross_entropy, x, y, eps=-1)
    with pytest.raises(ValueError, match="clip"):
        fgsm(net, F.cross_entropy, x, y, eps=0.1, clip=(1, 0))
    with pytest.raises(ValueError, match="steps"):
        pgd(net, F.cross_entropy, x, y, eps=0.1, steps=0)
    with pytest.raises(ValueError, match="alpha"):
        AdversarialTraining(eps=0.1, alpha=1.5)
    with pytest.raises(ValueError, match="attack"):
        AdversarialTraining(eps=0.1, attack="deepfool")
    with pytest.raises(ValueError, match="scalar Tensor"):
        fgsm(net, lambda out, t: out, x, y, eps=0.1)
