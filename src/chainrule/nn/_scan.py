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
