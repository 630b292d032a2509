"""A callback that writes the training logs to TensorBoard.

Each number of ``fit``'s logs (loss, metrics, ``lr``, ``val_*``) becomes a
scalar series: ``epoch/<name>`` after every epoch and, with
``batch_every=n``, ``batch/<name>`` every n steps.  The event files are
written by ``tensorboardX`` (``pip install tensorboardX``), or by any
object with ``add_scalar(tag, value, step)``, ``flush()`` and ``close()``
given as ``writer`` (e.g. ``torch.utils.tensorboard.SummaryWriter``);
chainrule itself never imports torch.

Example:
    >>> fit(model, X, y, epochs=10, callbacks=[TensorBoard("runs/tb")])
    # then: tensorboard --logdir runs/tb
"""

from __future__ import annotations

import numbers
import os
from typing import Any

from .callbacks import Callback

__all__ = ["TensorBoard"]


def _summary_writer_class() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(
            "The TensorBoard callback needs the tensorboardX package "
            "(pip install tensorboardX), or pass writer= an object with add_scalar"
        ) from None
    return SummaryWriter


class TensorBoard(Callback):
    """Log every scalar of the epoch (and optionally batch) logs for TensorBoard.

    Args:
        log_dir: folder of the event files (created if missing).
        batch_every: also log the running batch logs every this many
            optimisation steps; 0 (default) logs epochs only.
        writer: a ready writer with ``add_scalar``; default: a
            ``tensorboardX.SummaryWriter(log_dir)`` opened when training
            begins.

    Raises:
        ImportError: no ``writer`` given and tensorboardX is not installed
            (raised at construction, before any training).
    """

    def __init__(self, log_dir: str | os.PathLike = "runs/tensorboard", batch_every: int = 0,
                 writer: Any = None):
        super().__init__()
        if int(batch_every) < 0:
            raise ValueError(f"Expected batch_every >= 0. Received: batch_every={batch_every}")
        if writer is None:
            _summary_writer_class()  # fail now, not after the first epoch
        elif not callable(getattr(writer, "add_scalar", None)):
            raise TypeError(
                "Expected a writer with add_scalar(tag, value, step). Received: "
                f"{type(writer).__name__}"
            )
        self.log_dir = os.fspath(log_dir)
        self.batch_every = int(batch_every)
        self.writer = writer
        self._owns_writer = writer is None

    def _writes(self) -> bool:
        # data-parallel runs: only rank 0 writes (the logs are reduced over ranks)
        return getattr(self.trainer, "is_main_process", True)

    def _write(self, prefix: str, logs: dict, step: int) -> None:
        if not self._writes():
            return
        for name, value in logs.items():
            if isinstance(value, numbers.Real) and not isinstance(value, bool):
                self.writer.add_scalar(f"{prefix}/{name}", float(value), step)

    def on_train_begin(self, logs: dict) -> None:
        if self.writer is None and self._writes():
            os.makedirs(self.log_dir, exist_ok=True)
            self.writer = _summary_writer_class()(logdir=self.log_dir)

    def on_batch_end(self, step: int, logs: dict) -> None:
        if self.batch_every and step % self.batch_every == 0:
            self._write("batch", logs, step)

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        self._write("epoch", logs, epoch)
        flush = getattr(self.writer, "flush", None) if self.writer is not None else None
        if callable(flush):
            flush()

    def on_train_end(self, logs: dict) -> None:
        if self._owns_writer and self.writer is not None:
            self.writer.close()
            self.writer = None
