"""CuPy entries of the kernel table (imported only when a CuPy namespace asks).

Each entry registered here has a NumPy reference entry in ``kernels.py`` or
beside the op that uses it; the GPU check (``benchmarks/gpu_check.py``)
runs the conformance tests with CuPy to compare them.

Optimiser updates: one ``cupy.ElementwiseKernel`` per rule (and variant),
which reads the gradient once and writes the parameter and its state in
place in one pass, instead of the ~10 launches of the standard-only
entry.  Hyperparameters go in as scalars of the parameter's dtype,
computed in Python double precision as the NumPy entries compute them
(``benchmarks/gpu_optim_check.py`` compares them with NumPy's).

Random numbers: one ``cupy.random.Generator`` per chainrule host generator
and GPU, seeded with 64 bits drawn from that host generator the first time
that GPU needs random numbers (see :mod:`chainrule.random`).
"""

from __future__ import annotations

import math
from collections import OrderedDict

from .kernels import FEW_CHANNELS, _col2im_numpy, _may_repeat, register, window_views


def _cp():
    import cupy

    return cupy


def _plain(index):
    """``index`` with array-API-compat wrappers unwrapped and host arrays moved to the GPU."""
    import numpy

    cupy = _cp()

    def move(part):
        if isinstance(part, (numpy.ndarray, list)):
            return cupy.asarray(part)
        return part

    if isinstance(index, tuple):
        return tuple(move(p) for p in index)
    return move(index)


@register("gather", "cupy")
def _gather_cupy(xp, a, index):
    """``a[index]`` with NumPy's indexing rules (CuPy implements them all)."""
    return a[_plain(index)]


@register("scatter_add", "cupy")
def _scatter_add_cupy(xp, g, shape, index, dtype=None):
    """Zeros with ``g`` added at ``index``; repeats accumulate (``cupyx.scatter_add``)."""
    import cupyx

    cupy = _cp()
    index = _plain(index)
    out = cupy.zeros(shape, dtype=g.dtype if dtype is None else dtype)
    if _may_repeat(index):
        cupyx.scatter_add(out, index, g)
    else:
        out[index] = g
    return out


@register("column_sums", "cupy")
def _column_sums_cupy(xp, g):
    return g.sum(axis=0)


@register("own_grad", "cupy")
def _own_grad_cupy(xp, g, handed_out):
    """``g``, or a copy when it is a view or already some leaf's grad."""
    if id(g) in handed_out or not g.flags.owndata:
        g = g.copy()
    return g


@register("im2col", "cupy")
def _im2col_cupy(xp, xpad, out_size, kernel, stride, dilation, ones=False, take=None):
    """The im2col matrix (N·P, k·C [+1]) of a padded channels-last CuPy array.

    The windows are a strided view (``cupy.lib.stride_tricks.as_strided``,
    no copy) copied once into a C-ordered matrix, as in the NumPy entry.
    With few channels the copy runs column by column and the result is a
    transposed view, as there.
    """
    cupy = _cp()
    as_strided = cupy.lib.stride_tricks.as_strided
    xpad = cupy.ascontiguousarray(xpad)
    n, c = xpad.shape[0], xpad.shape[-1]
    positions = n * math.prod(out_size)
    width = math.prod(kernel) * c
    extra = 1 if ones else 0
    rows, columns = window_views(xpad, out_size, kernel, stride, dilation)
    if c > FEW_CHANNELS:
        src = as_strided(xpad, *rows)
        buf = cupy.empty((positions, width + extra), dtype=xpad.dtype)
        buf[:, :width] = src.reshape(positions, width)
        if ones:
            buf[:, -1] = 1
        return buf
    src = as_strided(xpad, *columns)
    buf = cupy.empty((width + extra, positions), dtype=xpad.dtype)
    buf[:width] = src.reshape(width, positions)
    if ones:
        buf[-1] = 1
    return buf.T


# col2im: the NumPy entry's strided adds (one per kernel offset) are CuPy's as well
register("col2im", "cupy")(_col2im_numpy)


# --- optimisers: fused updates ---------------------------------------------
_KERNELS: dict = {}


def _elementwise(key, in_params: str, out_params: str, body: str):
    fn = _KERNELS.get(key)
    if fn is None:
        fn = _KERNELS[key] = _cp().ElementwiseKernel(
            in_params, out_params, body, "chainrule_" + "_".join(str(k) for k in key)
        )
    return fn


# --- optimisers -------------------------------------------------------------
@register("sgd_update", "cupy")
def _sgd(xp, group, theta, g, state, step, scratch) -> None:
    lr, mu, lam = group["lr"], group["momentum"], group["weight_decay"]
    if not mu:
        k = _elementwise(
            ("sgd",),
            "T g, T lr, T lam",
            "T theta",
            "theta = theta - lr * (g + lam * theta);",
        )
        k(g, lr, lam, theta)
        return
    nesterov = bool(group["nesterov"])
    k = _elementwise(
        ("sgd_momentum", nesterov),
        "T g, T lr, T mu, T keep, T lam, int32 first",
        "T theta, T v",
        """
        T gg = g + lam * theta;
        v = first ? gg : mu * v + keep * gg;
        """
        + ("theta = theta - lr * (gg + mu * v);" if nesterov else "theta = theta - lr * v;"),
    )
    k(g, lr, mu, 1.0 - group["dampening"], lam, int(step == 1), theta, state["momentum_buffer"])


@register("adam_update", "cupy")
def _adam(xp, group, theta, g, state, step, scratch, decoupled=False) -> None:
    lr, lam, eps = group["lr"], group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    c1 = 1 - beta1**step
    root_c2 = math.sqrt(1 - beta2**step)
    shrink = 1.0 - lr * lam if decoupled else 1.0  # AdamW: θ ← (1 − ελ)θ
    l2 = 0.0 if decoupled else lam  # Adam: g ← g + λθ
    amsgrad = bool(group["amsgrad"])
    body = """
        T p = theta * shrink;
        T gg = g + l2 * theta;
        m = beta1 * m + one_minus_beta1 * gg;
        v = beta2 * v + one_minus_beta2 * gg * gg;
    """
    if amsgrad:
        body += """
        v_max = max(v_max, v);
        theta = p - step_size * m / (sqrt(v_max) + eps_scaled);
        """
        out = "T theta, T m, T v, T v_max"
    else:
        body += "theta = p - step_size * m / (sqrt(v) + eps_scaled);"
        out = "T theta, T m, T v"
    k = _elementwise(
        ("adam", amsgrad),
        "T g, T shrink, T l2, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, "
        "T step_size, T eps_scaled",
        out,
        body,
    )
    args = [
        g, shrink, l2, beta1, 1.0 - beta1, beta2, 1.0 - beta2,
        lr * root_c2 / c1, eps * root_c2, theta, state["exp_avg"], state["exp_avg_sq"],
    ]
    if amsgrad:
        args.append(state["max_exp_avg_sq"])
    k(*args)


@register("rmsprop_update", "cupy")
def _rmsprop(xp, group, theta, g, state, step, scratch) -> None:
    centered = bool(group["centered"])
    mu = group["momentum"]
    momentum = bool(mu)
    nesterov = bool(group["nesterov"])
    out = ["T theta", "T r"]
    body = """
        T gg = g + lam * theta;
        r = rho * r + one_minus_rho * gg * gg;
    """
    if centered:
        out.append("T g_avg")
        body += """
        g_avg = g_avg + one_minus_rho * (gg - g_avg);
        T u = gg / (sqrt(r - g_avg * g_avg) + eps);
        """
    else:
        body += "T u = gg / (sqrt(r) + eps);\n"
    if momentum:
        out.append("T b")
        body += "b = mu * b + u;\n"
        body += "theta = theta - lr * (u + mu * b);" if nesterov else "theta = theta - lr * b;"
    else:
        body += "theta = theta - lr * u;"
    k = _elementwise(
        ("rmsprop", centered, momentum, nesterov and momentum),
        "T g, T lr, T lam, T rho, T one_minus_rho, T eps, T mu",
        ", ".join(out),
        body,
    )
    args = [g, group["lr"], group["weight_decay"], group["alpha"], 1.0 - group["alpha"],
            group["eps"], mu, theta, state["square_avg"]]
    if centered:
        args.append(state["grad_avg"])
    if momentum:
        args.append(state["momentum_buffer"])
    k(*args)


@register("adagrad_update", "cupy")
def _adagrad(xp, group, theta, g, state, step, scratch) -> None:
    lr_t = group["lr"] / (1 + (step - 1) * group["lr_decay"])
    k = _elementwise(
        ("adagrad",),
        "T g, T lr, T lam, T eps",
        "T theta, T s",
        """
        T gg = g + lam * theta;
        s = s + gg * gg;
        theta = theta - lr * gg / (sqrt(s) + eps);
        """,
    )
    k(g, lr_t, group["weight_decay"], group["eps"], theta, state["sum"])


# --- random numbers ---------------------------------------------------------
#: id(host generator) -> (host generator, {GPU id: cupy.random.Generator}), the
#: most recently used few (NumPy generators take no weak references)
_DEVICE_GENERATORS: OrderedDict = OrderedDict()
_KEEP = 8


def device_generator(host, device=None):
    """The ``cupy.random.Generator`` tied to host generator ``host`` on ``device``.

    Made the first time, seeded with 64 bits drawn from ``host``, so that
    ``cr.manual_seed(s)`` fixes the GPU's masks too.
    """
    cupy = _cp()
    device = cupy.cuda.Device() if device is None else device
    key = getattr(device, "id", device)
    entry = _DEVICE_GENERATORS.get(id(host))
    if entry is None or entry[0] is not host:
        entry = _DEVICE_GENERATORS[id(host)] = (host, {})
        while len(_DEVICE_GENERATORS) > _KEEP:
            _DEVICE_GENERATORS.popitem(last=False)
    else:
        _DEVICE_GENERATORS.move_to_end(id(host))
    per_host = entry[1]
    gen = per_host.get(key)
    if gen is None:
        seed = int(host.integers(0, 2**63))
        with cupy.cuda.Device(key):
            gen = per_host[key] = cupy.random.default_rng(seed)
    return gen


@register("random_uniform", "cupy")
def _uniform(xp, host, shape, dtype, device):
    cupy = _cp()
    gen = device_generator(host, device)
    with cupy.cuda.Device(getattr(device, "id", device) if device is not None else None):
        return gen.random(shape, dtype=cupy.float32 if dtype is None else dtype)


@register("random_normal", "cupy")
def _normal(xp, host, shape, dtype, device):
    cupy = _cp()
    gen = device_generator(host, device)
    with cupy.cuda.Device(getattr(device, "id", device) if device is not None else None):
        return gen.standard_normal(shape, dtype=cupy.float32 if dtype is None else dtype)
