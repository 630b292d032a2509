"""cr.onnx.export: onnx.checker passes and onnxruntime agrees with chainrule (1e-5)."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

onnx = pytest.importorskip("onnx", reason="needs the onnx extra: pip install 'chainrule[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="needs the onnx extra (onnxruntime)")


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _warm(model, shape):
    """Training-mode forwards so batch-norm running statistics are not the defaults."""
    model.train()
    with cr.no_grad():
        for s in range(3):
            model(cr.tensor(_x(shape, seed=10 + s) * 2 + 1))
    return model


def _check(model, shape, tmp_path, batches=(1, 5), **kw):
    path = tmp_path / "m.onnx"
    proto = cr.onnx.export(model, path, _x(shape), **kw)
    onnx.checker.check_model(onnx.load(str(path)))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    was = model.training
    for n in batches:
        x = _x((n,) + tuple(shape[1:]), seed=n)
        (got,) = session.run(None, {name: x})
        model.eval()
        with cr.no_grad():
            want = model(cr.tensor(x)).data
        model.train(was)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return proto


def test_mlp_batchnorm_dropout(tmp_path):
    model = _warm(nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                nn.Dropout(0.4), nn.Linear(16, 3)), (8, 6))
    _check(model, (2, 6), tmp_path, batches=(1, 7, 32))
    assert model.training  # its own mode is left as it was


def test_cnn(tmp_path):
    model = _warm(nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 4, 3), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 2 * 2, 5),
        nn.LogSoftmax(),
    ), (4, 3, 12, 12))
    _check(model, (2, 3, 12, 12), tmp_path)


CONV2D_OPTIONS = [
    (padding, stride, dilation)
    for padding in (0, 2, (1, 0), "same", "valid")
    for stride, dilation in ((1, 1), (2, 1), ((1, 2), (2, 1)), (1, (2, 3)))
    if padding != "same" or stride == 1  # 'same' needs stride 1
]


@pytest.mark.parametrize("padding, stride, dilation", CONV2D_OPTIONS)
def test_conv2d_options(tmp_path, padding, stride, dilation):
    model = nn.Conv2d(2, 3, (3, 2), stride=stride, padding=padding, dilation=dilation)
    _check(model, (2, 2, 9, 8), tmp_path)


@pytest.mark.parametrize("padding, stride, dilation", [(0, 1, 1), (2, 2, 1), ("same", 1, 3)])
def test_conv1d_pool1d(tmp_path, padding, stride, dilation):
    model = nn.Sequential(
        nn.Conv1d(2, 4, 4, stride=stride, padding=padding, dilation=dilation),
        nn.BatchNorm1d(4), nn.PReLU(4), nn.MaxPool1d(2, stride=1, padding=1, dilation=2),
        nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False),
    )
    _check(_warm(model, (5, 2, 20)), (2, 2, 20), tmp_path)


@pytest.mark.parametrize("layer", [
    nn.ReLU(), nn.LeakyReLU(0.2), nn.PReLU(), nn.Abs(), nn.Sigmoid(), nn.Tanh(), nn.Softplus(),
    nn.Softmax(), nn.LogSoftmax(), nn.Identity(), nn.GaussianNoise(0.5),
    nn.Dropout(0.3, mode="weight_scaling"), nn.Linear(5, 5, bias=False),
])
def test_single_layers(tmp_path, layer):
    _check(nn.Sequential(nn.Linear(4, 5), layer), (3, 4), tmp_path)


def test_pool2d_padding_and_flatten_ranges(tmp_path):
    model = nn.Sequential(nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, dilation=(1, 2)),
                          nn.AvgPool2d(2, padding=1), nn.Flatten(2), nn.Softmax(axis=1))
    _check(model, (2, 3, 10, 9), tmp_path)


def test_opset_and_static_batch(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2))
    proto = cr.onnx.export(model, None, _x((4, 3)), opset=13, dynamic_batch=False)
    assert proto.opset_import[0].version == 13
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 4
    default = cr.onnx.export(model, None, _x((4, 3)))
    assert default.opset_import[0].version == cr.onnx.DEFAULT_OPSET


def test_unsupported_module_is_named():
    class Twice(nn.Module):
        def forward(self, x):
            return x * 2

    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), Twice()))
    with pytest.raises(cr.onnx.ExportError, match=r"'1\.1' \(Twice\)"):
        cr.onnx.export(model, None, _x((1, 2)))


# --- what cannot be exported faithfully is refused (issue 23) -------------------------------
def test_batchnorm_with_a_non_default_eps_equals_the_model(tmp_path):
    for bn, shape in ((nn.BatchNorm1d(5, eps=0.5), (4, 5)),
                      (nn.BatchNorm2d(3, eps=0.25), (2, 3, 4, 4))):
        model = _warm(nn.Sequential(bn), shape)
        # small variances make eps matter: a graph with the default eps would differ
        bn.running_var[...] = np.float32(0.05)
        proto = _check(model, shape, tmp_path)
        node = next(n for n in proto.graph.node if n.op_type == "BatchNormalization")
        assert [a.f for a in node.attribute if a.name == "epsilon"] == [pytest.approx(bn.eps)]


def test_a_forward_hook_is_refused(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    handle = model[1].register_forward_hook(lambda m, args, out: out * 10)
    path = tmp_path / "hooked.onnx"
    with pytest.raises(cr.onnx.ExportError, match=r"module '1' \(ReLU\).*forward hook"):
        cr.onnx.export(model, path, _x((2, 4)))
    assert not path.exists()
    handle.remove()
    _check(model, (2, 4), tmp_path)


def test_an_unsupported_module_is_refused(tmp_path):
    class Doubler(nn.Module):
        def forward(self, x):
            return x * 2

    class MySequential(nn.Sequential):
        def forward(self, x):
            return super().forward(x) + 1

    model = nn.Sequential(nn.Linear(4, 3), Doubler())
    with pytest.raises(cr.onnx.ExportError, match=r"module '1' \(Doubler\).*no ONNX"):
        cr.onnx.export(model, tmp_path / "a.onnx", _x((2, 4)))
    with pytest.raises(cr.onnx.ExportError, match="MySequential"):
        cr.onnx.export(MySequential(nn.Linear(4, 3)), tmp_path / "b.onnx", _x((2, 4)))
    assert not (tmp_path / "a.onnx").exists() and not (tmp_path / "b.onnx").exists()


@pytest.mark.parametrize("opset", [99, 12, 0, -1, 17.5, "17", True])
def test_an_unknown_opset_is_refused_before_writing(tmp_path, opset):
    model = nn.Sequential(nn.Linear(4, 2))
    path = tmp_path / "o.onnx"
    with pytest.raises((ValueError, TypeError), match="opset"):
        cr.onnx.export(model, path, _x((2, 4)), opset=opset)
    assert not path.exists()


def test_every_opset_it_accepts_runs_in_onnxruntime_or_is_refused(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh())
    newest = onnx.defs.onnx_opset_version()
    for opset in (13, 17, newest):
        path = tmp_path / f"o{opset}.onnx"
        try:
            cr.onnx.export(model, path, _x((2, 4)), opset=opset)
        except cr.onnx.ExportError as err:  # newer than this onnxruntime: said so, no file
            assert "onnxruntime" in str(err) and not path.exists()
            continue
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {session.get_inputs()[0].name: _x((3, 4))})
        with cr.no_grad():
            np.testing.assert_allclose(got, model(cr.tensor(_x((3, 4)))).data, rtol=1e-5,
                                       atol=1e-6)
