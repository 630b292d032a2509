"""Finite-difference cases for the sequence primitives (``erf``, ``recurrent_scan``)
and the sequence functions composed from primitives (GELU, SiLU, layer norm,
embedding, attention).  Loaded by ``test_gradcheck.py``; the namespace tests
run them on every array library, second order included."""

from __future__ import annotations

import numpy as np
from gradcheck_cases import case, op

import chainrule.nn.functional as F

erf = op("erf")
scan = op("recurrent_scan")

case("erf", erf, (3, 4), id="erf")
case("erf", lambda a: erf(a * 2.5), (5,), id="erf-wide")  # both branches, |x| >= 2 too

_B, _H = 2, 3
for _mode, _g in (("rnn_tanh", 1), ("rnn_relu", 1), ("lstm", 4), ("gru", 3)):
    for _rev in (False, True):
        _c = (_B, _H) if _mode == "lstm" else None

        def _fn(xw, w, b, h0, *c0, m=_mode, r=_rev):
            return scan(xw, w, b, h0, c0[0] if c0 else None, mode=m, reverse=r)

        shapes = [(4, _B, _g * _H), (_g * _H, _H), (_g * _H,), (_B, _H)] + ([_c] if _c else [])
        case("recurrent_scan", _fn, *shapes, id=f"recurrent_scan-{_mode}-rev{int(_rev)}")
case("recurrent_scan",
     lambda xw, w, h0: scan(xw, w, None, h0, None, mode="gru"),
     (3, 2, 6), (6, 2), (2, 2), id="recurrent_scan-gru-nobias")

case("F.gelu", F.gelu, (3, 4), id="gelu")
case("F.gelu", lambda x: F.gelu(x, approximate="tanh"), (3, 4), id="gelu-tanh")
case("F.silu", F.silu, (3, 4), id="silu")
case("F.layer_norm", lambda x, w, b: F.layer_norm(x, (4,), w, b), (3, 4), (4,), (4,),
     id="layer_norm")
_IDS = np.array([[0, 2, 2], [3, 1, 0]])
case("F.embedding", lambda w: F.embedding(_IDS, w), (4, 3), id="embedding")  # repeated ids
_ALLOWED = np.array([[True, False, True, True], [True, True, False, True], [True] * 4])
case("F.scaled_dot_product_attention",
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=_ALLOWED),
     (2, 3, 2), (2, 4, 2), (2, 4, 3), id="sdpa-mask")
case("F.scaled_dot_product_attention",
     lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.7),
     (2, 3, 2), (2, 3, 2), (2, 3, 3), id="sdpa-causal")
