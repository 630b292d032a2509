"""Helpers for the sequence-layer tests: a chainrule layer and its torch twin with
the same weights (moved through ``cr.interop``), compared on forward and gradients."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch

import chainrule as cr

TOL = {np.float64: {"rtol": 1e-9, "atol": 1e-11}, np.float32: {"rtol": 2e-4, "atol": 2e-5}}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def load_from_torch(layer, twin):
    """Copy the torch module's weights into the chainrule layer through cr.interop."""
    layer.load_state_dict(cr.interop.from_torch_state_dict(twin.state_dict()))
    return layer


def grads_in_torch_layout(layer):
    """The chainrule layer's parameter gradients as a torch-layout state dict."""
    grads = OrderedDict((name, p.grad) for name, p in layer.named_parameters())
    grads._torch_layout = layer._torch_layout_keys()
    return cr.interop.to_torch_state_dict(grads)


def assert_grads_equal(layer, twin, dtype):
    ours = grads_in_torch_layout(layer)
    theirs = {n: p.grad for n, p in twin.named_parameters()}
    assert set(ours) == set(theirs)
    for name, g in ours.items():
        assert theirs[name] is not None, name
        np.testing.assert_allclose(g, theirs[name].numpy(), err_msg=name, **TOL[dtype])


def close(ours, theirs, dtype, what=""):
    if isinstance(ours, cr.Tensor):
        ours = ours.numpy()
    if isinstance(theirs, torch.Tensor):
        theirs = theirs.detach().numpy()
    np.testing.assert_allclose(ours, theirs, err_msg=what, **TOL[dtype])
