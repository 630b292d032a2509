"""Embedding: a learned vector per symbol, looked up by id."""

from __future__ import annotations

import numpy as np

from .._backend import to_host
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """A lookup table: id i -> row i of ``weight``.

    ``weight`` has PyTorch's shape (num_embeddings, embedding_dim) and
    initialisation N(0, 1); the row ``padding_idx`` starts at zeros and
    receives no gradient.  The gradient of a batch touches only the rows
    that were looked up (repeated ids accumulate).

    Args:
        num_embeddings: the number of symbols.
        embedding_dim: the size of each vector.
        padding_idx: the id of the padding symbol (negative counts from the end), or None.

    Shape:
        input ``(*)`` integer ids -> ``(*, embedding_dim)``.
    """

    _torch_layout = ("weight",)  # (num, dim) as PyTorch: cr.interop copies it untransposed

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 dtype=np.float32):
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(
                "Embedding needs positive sizes. Received: "
                f"num_embeddings={num_embeddings}, embedding_dim={embedding_dim}"
            )
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Expected padding_idx in [-{num_embeddings}, {num_embeddings}). "
                    f"Received: padding_idx={padding_idx}"
                )
            padding_idx = int(padding_idx) % num_embeddings
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype), dtype=dtype)
        self.reset_parameters()

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True,
                        padding_idx: int | None = None) -> Embedding:
        """An Embedding whose weight is a copy of ``embeddings`` (num, dim), as PyTorch's.

        ``freeze`` (default) keeps the weight out of training (``requires_grad=False``).
        """
        data = getattr(embeddings, "data", embeddings)
        if getattr(data, "ndim", None) != 2:
            raise ValueError(
                "Embedding.from_pretrained: expected a 2-D (num_embeddings, embedding_dim) "
                f"array. Received: shape {getattr(data, 'shape', None)}"
            )
        host = np.asarray(to_host(data))
        dtype = host.dtype if host.dtype.kind == "f" else np.float32
        layer = cls(host.shape[0], host.shape[1], padding_idx=padding_idx, dtype=dtype)
        layer.weight.data[...] = host
        layer.weight.requires_grad = not freeze
        return layer

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx, ...] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
