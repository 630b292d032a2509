"""State dicts to and from PyTorch: same outputs after a round trip (1e-5)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.interop import from_torch_state_dict, to_torch_state_dict

torch = pytest.importorskip("torch", reason="torch is the reference for these checks")
tnn = torch.nn


def _pair_mlp():
    ours = nn.Sequential(nn.Linear(6, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Dropout(0.3),
                         nn.Linear(10, 4), nn.PReLU(), nn.Linear(4, 2))
    theirs = tnn.Sequential(tnn.Linear(6, 10), tnn.BatchNorm1d(10), tnn.ReLU(),
                            tnn.Dropout(0.3), tnn.Linear(10, 4), tnn.PReLU(), tnn.Linear(4, 2))
    return ours, theirs, (7, 6)


def _pair_cnn():
    ours = nn.Sequential(
        nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(5, 4, (3, 2), stride=(1, 2), dilation=(2, 1)), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(4 * 1 * 1, 3),
    )
    theirs = tnn.Sequential(
        tnn.Conv2d(3, 5, 3, padding=1), tnn.BatchNorm2d(5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(5, 4, (3, 2), stride=(1, 2), dilation=(2, 1)), tnn.AvgPool2d(2),
        tnn.Flatten(), tnn.Linear(4 * 1 * 1, 3),
    )
    return ours, theirs, (3, 3, 12, 12)


def _pair_conv1d():
    ours = nn.Sequential(nn.Conv1d(2, 3, 5, padding=2), nn.BatchNorm1d(3), nn.Tanh(),
                         nn.MaxPool1d(2), nn.Flatten(), nn.Linear(3 * 6, 2))
    theirs = tnn.Sequential(tnn.Conv1d(2, 3, 5, padding=2), tnn.BatchNorm1d(3), tnn.Tanh(),
                            tnn.MaxPool1d(2), tnn.Flatten(), tnn.Linear(3 * 6, 2))
    return ours, theirs, (4, 2, 12)


PAIRS = [_pair_mlp, _pair_cnn, _pair_conv1d]


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _train_once(ours, theirs, shape):
    """One training-mode forward so the batch-norm buffers move off their defaults."""
    ours.train()
    theirs.train()
    x = _x(shape, seed=5)
    with cr.no_grad():
        ours(cr.tensor(x))
    with torch.no_grad():
        theirs(torch.from_numpy(x))


def _outputs(ours, theirs, shape):
    x = _x(shape)
    with cr.no_grad():
        a = ours.eval()(cr.tensor(x)).data
    with torch.no_grad():
        b = theirs.eval()(torch.from_numpy(x)).numpy()
    return a, b


@pytest.mark.parametrize("make", PAIRS)
def test_ours_into_torch_strict(make):
    ours, theirs, shape = make()
    _train_once(ours, theirs, shape)
    sd = to_torch_state_dict(ours.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    a, b = _outputs(ours, theirs, shape)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert theirs.state_dict()[_bn_key(sd)].item() == 1


@pytest.mark.parametrize("make", PAIRS)
def test_torch_into_ours_strict(make):
    ours, theirs, shape = make()
    _train_once(ours, theirs, shape)
    _train_once(ours, theirs, shape)
    sd = from_torch_state_dict(theirs.state_dict())
    ours.load_state_dict(sd, strict=True)
    a, b = _outputs(ours, theirs, shape)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    assert int(ours.state_dict()[_bn_key(sd)]) == 2


def _bn_key(sd):
    return next(k for k in sd if k.endswith("num_batches_tracked"))


def test_layouts():
    ours = nn.Sequential(nn.Linear(3, 5), nn.Conv1d(1, 2, 3))
    sd = to_torch_state_dict(ours.state_dict())
    assert sd["0.weight"].shape == (5, 3)
    np.testing.assert_array_equal(sd["0.weight"], ours.state_dict()["0.weight"].T)
    assert sd["1.weight"].shape == ours[1].weight.shape  # conv layouts agree
    back = from_torch_state_dict(sd)
    for k, v in ours.state_dict().items():
        np.testing.assert_array_equal(back[k], v)
        assert back[k].dtype == v.dtype


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="mapping"):
        to_torch_state_dict([1, 2])
    with pytest.raises(TypeError, match="'w'"):
        from_torch_state_dict({"w": np.array(["a"])})
