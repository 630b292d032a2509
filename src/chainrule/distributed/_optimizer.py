"""Average gradients over ranks between backward and the optimiser's step."""

from __future__ import annotations

import numpy as np

from ._comm import _comm, allreduce_inplace


class DistributedOptimizer:
    """Wrap an optimiser so that ``step()`` first averages gradients over ranks.

    The gradients of all parameters travel in **one** contiguous buffer per
    dtype (one all-reduce per step, not one per parameter).  Each rank
    weighs its gradient by its share of the global minibatch (see
    :meth:`set_share`; equal shares by default), so the result is the
    gradient of the mean loss over the global minibatch: the same step as
    one process taking the whole minibatch.

    A parameter whose gradient is None on every rank stays None (the
    optimiser skips it, as PyTorch does); None on some ranks counts as zero.

    Args:
        optimizer: any chainrule optimiser (``param_groups``, ``step``,
            ``zero_grad``, ``state_dict``).

    Example:
        >>> opt = cr.distributed.DistributedOptimizer(cr.optim.SGD(model.parameters(), lr=0.1))
        >>> loss.backward(); opt.step(); opt.zero_grad()
    """

    def __init__(self, optimizer):
        for name in ("param_groups", "step", "zero_grad"):
            if not hasattr(optimizer, name):
                raise TypeError(
                    f"Expected an optimiser (with {name}). Received: {type(optimizer).__name__}"
                )
        self.optimizer = optimizer
        self._share = None  # this rank's weight; None: 1 / world size
        self._buffers: dict = {}

    def set_share(self, local_rows: int, global_rows: int) -> None:
        """Weigh this rank's gradient by ``local_rows / global_rows`` in the next step."""
        if global_rows <= 0 or local_rows < 0 or local_rows > global_rows:
            raise ValueError(
                "Expected 0 <= local_rows <= global_rows and global_rows > 0. "
                f"Received: local_rows={local_rows}, global_rows={global_rows}"
            )
        self._share = local_rows / global_rows

    def _params(self) -> list:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def synchronize(self) -> None:
        """Replace every rank's gradients by their weighted mean over ranks, in place."""
        comm = _comm()
        share = self._share
        self._share = None
        if comm is None:
            return

        weight = 1.0 / comm.Get_size() if share is None else share
        by_dtype: dict = {}
        for p in self._params():
            by_dtype.setdefault(p.data.dtype.str, []).append(p)
        for key in sorted(by_dtype):
            params = by_dtype[key]
            sizes = [p.data.size for p in params]
            total = sum(sizes)
            # the gradients, then one "has a gradient" flag per parameter
            buf = self._buffers.get(key)
            if buf is None or buf.size != total + len(params):
                buf = np.empty(total + len(params), dtype=params[0].data.dtype)
                self._buffers[key] = buf
            start = 0
            for i, (p, n) in enumerate(zip(params, sizes)):
                part = buf[start : start + n]
                if p.grad is None:
                    part.fill(0)
                    buf[total + i] = 0
                else:
                    np.multiply(np.reshape(p.grad, -1), weight, out=part)
                    buf[total + i] = 1
                start += n
            allreduce_inplace(comm, buf)  # bounded wait: a frozen rank stops the job
            start = 0
            for i, (p, n) in enumerate(zip(params, sizes)):
                if buf[total + i] > 0:
                    g = buf[start : start + n].reshape(p.data.shape)
                    if p.grad is not None and p.grad.shape == g.shape and p.grad.flags.writeable:
                        p.grad[...] = g
                    else:
                        p.grad = g.copy()
                start += n

    def step(self, closure=None):
        """Average the gradients over ranks, then take the wrapped optimiser's step."""
        if closure is not None:
            raise ValueError(
                "DistributedOptimizer.step does not take a closure: call backward, then step()"
            )
        self.synchronize()
        return self.optimizer.step()

    def zero_grad(self, *args, **kwargs):
        return self.optimizer.zero_grad(*args, **kwargs)

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @property
    def state(self):
        return self.optimizer.state

    def state_dict(self) -> dict:
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r})"
