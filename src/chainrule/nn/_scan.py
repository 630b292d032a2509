"""The time loop of a recurrent layer as one primitive: forward over the
steps, back-propagation through time in its vjp (book §10.2.2).

``recurrent_scan(xw, w_hh, b_hh, h0, c0, mode=..., reverse=False)`` takes
the input projections of all steps at once, ``xw[t] = x[t] W_ihᵀ + b_ih``
(one matrix product done by the caller), and runs the recurrence with
PyTorch's formulas and gate order:

- ``rnn_tanh`` / ``rnn_relu``:  hₜ = f(xwₜ + hₜ₋₁ W_hhᵀ + b_hh)
- ``lstm`` (gates i, f, g, o):   [i f g o] = xwₜ + hₜ₋₁ W_hhᵀ + b_hh;
  cₜ = σ(f) cₜ₋₁ + σ(i) tanh(g);  hₜ = σ(o) tanh(cₜ)
- ``gru`` (gates r, z, n):       r = σ(xw_r + gh_r), z = σ(xw_z + gh_z),
  n = tanh(xw_n + r · gh_n), hₜ = (1 - z) n + z hₜ₋₁, with gh = hₜ₋₁ W_hhᵀ + b_hh

The output stacks hₜ for every step, (T, B, H); for the LSTM it stacks
[hₜ, cₜ], (T, B, 2H).  Each step costs one matrix product forward and one
backward; the weight gradient of all steps is one product after the loop.
Under ``create_graph`` the same forward runs on Tensors and is
differentiated as a composition.
"""

from __future__ import annotations

import numpy as np

from ..autograd._gemm import matmul as _gemm
from ..autograd.engine import primitive

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")


def _sigmoid(xp, a):
    """σ(a) = ½ (1 + tanh(a/2)): no overflow for any a, on every namespace."""
    return (xp.tanh(a * 0.5) + 1.0) * 0.5


def _steps(n, reverse):
    return range(n - 1, -1, -1) if reverse else range(n)


def _forward(xp, mode, xw, w_hh, b_hh, h0, c0, reverse):
    """Run the recurrence; returns the stacked output and what the vjp needs."""
    n_steps = xw.shape[0]
    hidden = w_hh.shape[1]
    w_t = xp.matrix_transpose(w_hh)
    if mode != "gru" and b_hh is not None:
        xw = xw + b_hh  # b_ih and b_hh add alike outside the GRU
    h, c = h0, c0
    hs = [None] * n_steps
    cache = [None] * n_steps
    for t in _steps(n_steps, reverse):
        gh = h @ w_t
        if mode == "lstm":
            a = xw[t, ...] + gh
            i = _sigmoid(xp, a[:, :hidden])
            f = _sigmoid(xp, a[:, hidden:2 * hidden])
            g = xp.tanh(a[:, 2 * hidden:3 * hidden])
            o = _sigmoid(xp, a[:, 3 * hidden:])
            c = f * c + i * g
            tc = xp.tanh(c)
            h = o * tc
            cache[t] = (i, f, g, o, tc)
            hs[t] = xp.concat([h, c], axis=-1)
        elif mode == "gru":
            if b_hh is not None:
                gh = gh + b_hh
            x_t = xw[t, ...]
            r = _sigmoid(xp, x_t[:, :hidden] + gh[:, :hidden])
            z = _sigmoid(xp, x_t[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
            gn = gh[:, 2 * hidden:]
            n = xp.tanh(x_t[:, 2 * hidden:] + r * gn)
            h = (1.0 - z) * n + z * h
            cache[t] = (r, z, n, gn)
            hs[t] = h
        else:
            a = xw[t, ...] + gh
            h = xp.tanh(a) if mode == "rnn_tanh" else xp.maximum(a, 0.0)
            hs[t] = h
    return xp.stack(hs, axis=0), cache


@primitive
def recurrent_scan(xp, xw, w_hh, b_hh, h0, c0, mode="rnn_tanh", reverse=False):
    """All steps of one recurrent layer in one direction (module docstring).

    Shape:
        xw (T, B, G·H) with G = 1, 4, 3 for RNN, LSTM, GRU; w_hh (G·H, H);
        b_hh (G·H,) or None; h0 (B, H); c0 (B, H) for the LSTM, else None
        -> (T, B, H), or (T, B, 2H) for the LSTM.
    """
    if mode not in MODES:
        raise ValueError(f"recurrent_scan: expected mode in {MODES}. Received: {mode!r}")
    out, cache = _forward(xp, mode, xw, w_hh, b_hh, h0, c0, reverse)
    if getattr(xp, "differentiable", False):
        return out, xp.vjp_of(out, (xw, w_hh, b_hh, h0, c0))
    hidden = w_hh.shape[1]

    def vjp(g, need):
        return _backward(xp, mode, g, out, cache, xw, w_hh, b_hh, h0, c0, hidden,
                         reverse, need)

    return out, vjp


def _backward(xp, mode, g, out, cache, xw, w_hh, b_hh, h0, c0, hidden, reverse, need):
    """Back-propagation through time: the gradients of xw, w_hh, b_hh, h0, c0."""
    n_steps = xw.shape[0]
    lstm = mode == "lstm"
    dh = xp.zeros_like(h0)
    dc = xp.zeros_like(h0) if lstm else None
    d_pre = [None] * n_steps   # gradient of the pre-activations fed by xw
    d_gh = [None] * n_steps    # gradient of gh = h W_hhᵀ (+ b_hh): differs for the GRU
    order = list(_steps(n_steps, reverse))
    h_prev = {}
    for k, t in enumerate(order):
        prev = h0 if k == 0 else out[order[k - 1], ...]
        h_prev[t] = prev[:, :hidden] if lstm else prev
    for k in range(n_steps - 1, -1, -1):
        t = order[k]
        g_t = g[t, ...]
        if lstm:
            dh = dh + g_t[:, :hidden]
            dc = dc + g_t[:, hidden:]
            i, f, gg, o, tc = cache[t]
            c_prev = c0 if k == 0 else out[order[k - 1], ...][:, hidden:]
            d_o = dh * tc
            dc = dc + dh * o * (1.0 - tc * tc)
            da = xp.concat([
                dc * gg * i * (1.0 - i),
                dc * c_prev * f * (1.0 - f),
                dc * i * (1.0 - gg * gg),
                d_o * o * (1.0 - o),
            ], axis=-1)
            dc = dc * f
            d_pre[t] = d_gh[t] = da
            dh = da @ w_hh
        elif mode == "gru":
            dh = dh + g_t
            r, z, n, gn = cache[t]
            hp = h_prev[t]
            dn = dh * (1.0 - z) * (1.0 - n * n)
            dz = dh * (hp - n) * z * (1.0 - z)
            dr = dn * gn * r * (1.0 - r)
            d_pre[t] = xp.concat([dr, dz, dn], axis=-1)
            d_gh[t] = xp.concat([dr, dz, dn * r], axis=-1)
            dh = dh * z + d_gh[t] @ w_hh
        else:
            dh = dh + g_t
            h = out[t, ...]
            da = dh * (1.0 - h * h) if mode == "rnn_tanh" else dh * xp.astype(h > 0, h.dtype)
            d_pre[t] = d_gh[t] = da
            dh = da @ w_hh
    gxw = gw = gb = gh0 = gc0 = None
    dx = xp.stack(d_pre, axis=0)
    if need[0]:
        gxw = dx
    if need[1] or (need[2] and b_hh is not None):
        dgh = dx if mode != "gru" else xp.stack(d_gh, axis=0)
        rows = n_steps * h0.shape[0]
        dgh2 = xp.reshape(dgh, (rows, dgh.shape[-1]))
        if need[1]:
            hp = xp.stack([h_prev[t] for t in range(n_steps)], axis=0)
            gw = xp.matrix_transpose(dgh2) @ xp.reshape(hp, (rows, hidden))
        if need[2] and b_hh is not None:
            gb = xp.sum(dgh2, axis=0)
    if need[3]:
        gh0 = dh
    if lstm and need[4]:
        gc0 = dc
    return gxw, gw, gb, gh0, gc0


# --------------------------------------------------------------------------
# NumPy: the same recurrence into preallocated arrays, in place, with the
# per-step products on the calling thread (``_gemm``: BLAS's threads would
# only spin for products this small)


def _sigmoid_(a):
    """σ(a) in place, as ½ (1 + tanh(a/2))."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


def _forward_np(mode, xw, w_hh, b_hh, h0, c0, reverse):
    n_steps, batch, _ = xw.shape
    hidden = w_hh.shape[1]
    w_t = w_hh.T
    lstm = mode == "lstm"
    out = np.empty((n_steps, batch, 2 * hidden if lstm else hidden), dtype=xw.dtype)
    act = np.empty_like(xw) if mode in ("lstm", "gru") else None  # activated gates
    extra = np.empty((n_steps, batch, hidden), dtype=xw.dtype) if mode != "rnn_relu" else None
    h, c = h0, c0
    for t in _steps(n_steps, reverse):
        if lstm:
            a = act[t]
            _gemm(h, w_t, out=a)
            a += xw[t]
            if b_hh is not None:
                a += b_hh
            _sigmoid_(a[:, :2 * hidden])
            np.tanh(a[:, 2 * hidden:3 * hidden], out=a[:, 2 * hidden:3 * hidden])
            _sigmoid_(a[:, 3 * hidden:])
            i, f = a[:, :hidden], a[:, hidden:2 * hidden]
            g, o = a[:, 2 * hidden:3 * hidden], a[:, 3 * hidden:]
            c_new = out[t, :, hidden:]
            np.multiply(f, c, out=c_new)
            c_new += i * g
            tc = extra[t]
            np.tanh(c_new, out=tc)
            h = out[t, :, :hidden]
            np.multiply(o, tc, out=h)
            c = c_new
        elif mode == "gru":
            gh = extra_gh = _gemm(h, w_t)
            if b_hh is not None:
                extra_gh += b_hh
            a = act[t]
            np.add(xw[t, :, :2 * hidden], gh[:, :2 * hidden], out=a[:, :2 * hidden])
            _sigmoid_(a[:, :2 * hidden])
            r, z = a[:, :hidden], a[:, hidden:2 * hidden]
            gn = extra[t]
            gn[...] = gh[:, 2 * hidden:]
            n = a[:, 2 * hidden:]
            np.multiply(r, gn, out=n)
            n += xw[t, :, 2 * hidden:]
            np.tanh(n, out=n)
            h_new = out[t]
            np.subtract(h, n, out=h_new)
            h_new *= z
            h_new += n
            h = h_new
        else:
            a = out[t]
            _gemm(h, w_t, out=a)
            a += xw[t]
            if b_hh is not None:
                a += b_hh
            if mode == "rnn_tanh":
                np.tanh(a, out=a)
            else:
                np.maximum(a, 0, out=a)
            h = a
    return out, act, extra


@recurrent_scan.variant("numpy")
def _recurrent_scan_numpy(xp, xw, w_hh, b_hh, h0, c0, mode="rnn_tanh", reverse=False):
    if mode not in MODES:
        raise ValueError(f"recurrent_scan: expected mode in {MODES}. Received: {mode!r}")
    out, act, extra = _forward_np(mode, xw, w_hh, b_hh, h0, c0, reverse)

    def vjp(g, need):
        return _backward_np(mode, g, out, act, extra, xw, w_hh, b_hh, h0, c0, reverse, need)

    return out, vjp


def _backward_np(mode, g, out, act, extra, xw, w_hh, b_hh, h0, c0, reverse, need):
    n_steps, batch, gates = xw.shape
    hidden = w_hh.shape[1]
    lstm = mode == "lstm"
    dx = np.empty_like(xw)                               # d(pre-activation) fed by xw
    d_gh = np.empty_like(xw) if mode == "gru" else dx    # d(h W_hhᵀ + b_hh)
    dh = np.zeros_like(h0)
    dc = np.zeros_like(h0) if lstm else None
    order = list(_steps(n_steps, reverse))
    # h_{t-1} of every step, in time order t (for the weight gradient)
    h_prev = np.empty((n_steps, batch, hidden), dtype=xw.dtype)
    for k, t in enumerate(order):
        h_prev[t] = h0 if k == 0 else out[order[k - 1], :, :hidden]
    tmp = np.empty_like(h0)
    for k in range(n_steps - 1, -1, -1):
        t = order[k]
        g_t = g[t]
        if lstm:
            dh += g_t[:, :hidden]
            dc += g_t[:, hidden:]
            a = act[t]
            i, f = a[:, :hidden], a[:, hidden:2 * hidden]
            gg, o = a[:, 2 * hidden:3 * hidden], a[:, 3 * hidden:]
            tc = extra[t]
            c_prev = c0 if k == 0 else out[order[k - 1], :, hidden:]
            d = dx[t]
            # dc += dh · o · (1 - tc²)
            np.multiply(tc, tc, out=tmp)
            np.subtract(1.0, tmp, out=tmp)
            tmp *= o
            tmp *= dh
            dc += tmp
            # d_i = dc · g · i(1-i); d_f = dc · c_prev · f(1-f)
            di, df = d[:, :hidden], d[:, hidden:2 * hidden]
            dg, do = d[:, 2 * hidden:3 * hidden], d[:, 3 * hidden:]
            np.subtract(1.0, i, out=di)
            di *= i
            di *= gg
            di *= dc
            np.subtract(1.0, f, out=df)
            df *= f
            df *= c_prev
            df *= dc
            np.multiply(gg, gg, out=dg)
            np.subtract(1.0, dg, out=dg)
            dg *= i
            dg *= dc
            np.subtract(1.0, o, out=do)
            do *= o
            do *= tc
            do *= dh
            dc *= f
            _gemm(d, w_hh, out=dh)
        elif mode == "gru":
            dh += g_t
            a = act[t]
            r, z, n = a[:, :hidden], a[:, hidden:2 * hidden], a[:, 2 * hidden:]
            gn = extra[t]
            hp = h_prev[t]
            d, e = dx[t], d_gh[t]
            dr, dz, dn = d[:, :hidden], d[:, hidden:2 * hidden], d[:, 2 * hidden:]
            np.multiply(n, n, out=dn)                    # dn = dh (1-z) (1-n²)
            np.subtract(1.0, dn, out=dn)
            np.subtract(1.0, z, out=tmp)
            dn *= tmp
            dn *= dh
            np.subtract(1.0, z, out=dz)                  # dz = dh (h_prev - n) z (1-z)
            dz *= z
            np.subtract(hp, n, out=tmp)
            dz *= tmp
            dz *= dh
            np.subtract(1.0, r, out=dr)                  # dr = dn gn r (1-r)
            dr *= r
            dr *= gn
            dr *= dn
            e[:, :2 * hidden] = d[:, :2 * hidden]
            np.multiply(dn, r, out=e[:, 2 * hidden:])
            dh *= z
            dh += _gemm(e, w_hh)
        else:
            dh += g_t
            d = dx[t]
            h = out[t]
            if mode == "rnn_tanh":
                np.multiply(h, h, out=d)
                np.subtract(1.0, d, out=d)
                d *= dh
            else:
                np.multiply(dh, h > 0, out=d)
            _gemm(d, w_hh, out=dh)
    gw = gb = None
    rows = n_steps * batch
    flat = d_gh.reshape(rows, gates)
    if need[1]:
        gw = _gemm(flat.T, h_prev.reshape(rows, hidden))
    if need[2] and b_hh is not None:
        gb = flat.sum(axis=0)
    return (dx if need[0] else None, gw, gb, dh if need[3] else None,
            dc if lstm and need[4] else None)
