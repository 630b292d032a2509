"""Progress display: tqdm when installed, else a minimal built-in bar.

``verbose``: ``"auto"`` shows a bar only when stderr is a terminal (so
logs of batch jobs and CI stay clean); ``0``/``False`` shows nothing;
``1``/``True`` shows a per-minibatch bar with the running loss and
metrics; ``2`` prints one line per epoch.
"""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar", "resolve_verbose"]


def resolve_verbose(verbose) -> int:
    """Map ``verbose`` to 0 (silent), 1 (bar) or 2 (a line per epoch)."""
    if verbose == "auto":
        stream = sys.stderr
        return 1 if hasattr(stream, "isatty") and stream.isatty() else 0
    if verbose is True:
        return 1
    if verbose is False or verbose is None:
        return 0
    if verbose in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"Expected verbose in ('auto', 0, 1, 2, True, False). Received: {verbose!r}")


def _fmt(logs: dict) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in logs.items())


class _SimpleBar:
    """A one-line text bar rewritten with carriage returns."""

    def __init__(self, total: int, desc: str, file):
        self.total, self.desc, self.file = total, desc, file
        self.n = 0
        self.postfix = ""
        self.start = time.perf_counter()
        self._last = 0.0

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.perf_counter()
        if now - self._last > 0.1 or self.n >= self.total:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        width = 25
        done = int(width * self.n / max(self.total, 1))
        bar = "#" * done + "." * (width - done)
        elapsed = time.perf_counter() - self.start
        self.file.write(
            f"\r{self.desc} [{bar}] {self.n}/{self.total} {elapsed:.1f}s {self.postfix}"
        )
        self.file.flush()

    def close(self) -> None:
        self._draw()
        self.file.write("\n")
        self.file.flush()


class ProgressBar:
    """Per-epoch progress for the training loop (see module docstring)."""

    def __init__(self, verbose, epochs: int, file=None):
        self.level = resolve_verbose(verbose)
        self.epochs = epochs
        self.file = file or sys.stderr
        self.bar = None
        self.start = 0.0

    def epoch_begin(self, epoch: int, n_batches: int, done: int = 0) -> None:
        self.start = time.perf_counter()
        if self.level != 1:
            return
        desc = f"Epoch {epoch + 1}/{self.epochs}"
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self.bar = _SimpleBar(n_batches, desc, self.file)
            self.bar.update(done)
        else:
            self.bar = tqdm(
                total=n_batches,
                initial=done,
                desc=desc,
                file=self.file,
                leave=True,
                dynamic_ncols=True,
            )

    @property
    def active(self) -> bool:
        """Whether a per-minibatch bar is showing (it then wants the running logs)."""
        return self.bar is not None

    def batch_end(self, logs: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_fmt(logs), refresh=False)
            self.bar.update(1)

    def epoch_end(self, epoch: int, logs: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_fmt(logs))
            self.bar.close()
            self.bar = None
        elif self.level == 2:
            took = time.perf_counter() - self.start
            print(
                f"Epoch {epoch + 1}/{self.epochs} ({took:.1f}s)  {_fmt(logs)}",
                file=self.file,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
