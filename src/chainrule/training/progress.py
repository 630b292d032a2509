"""Progress display: tqdm's bar when installed (a notebook widget in Jupyter), else a minimal one.

``verbose``:

* ``"auto"`` shows a bar in a Jupyter notebook and on a terminal, and
  nothing when stderr is a file or a pipe (logs of batch jobs and CI stay
  clean);
* ``0``/``False`` shows nothing;
* ``1``/``True`` shows a per-minibatch bar with the running loss and
  metrics, then the epoch's figures;
* ``2`` prints the epoch's figures once per epoch.

The bar is ``tqdm.auto``'s: a widget in a notebook (with ``ipywidgets``),
text elsewhere; where the widget cannot be built (no ``ipywidgets``) the
text bar is used, and without tqdm a built-in text bar.

The epoch's figures are never cut at the terminal width: they come in
order of importance (``loss``, ``val_loss``, each metric beside its
validation value, then ``lr``, ``penalty``, ``objective``) and wrap onto
indented lines that fit the width, so the validation figures always show.
"""

from __future__ import annotations

import shutil
import sys
import time

__all__ = ["ProgressBar", "format_logs", "in_notebook", "resolve_verbose"]

_LAST = ("penalty", "objective", "lr")


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def resolve_verbose(verbose) -> int:
    """Map ``verbose`` to 0 (silent), 1 (bar) or 2 (a line per epoch)."""
    if verbose == "auto":
        stream = sys.stderr
        tty = hasattr(stream, "isatty") and stream.isatty()
        return 1 if tty or in_notebook() else 0
    if verbose is True:
        return 1
    if verbose is False or verbose is None:
        return 0
    if verbose in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"Expected verbose in ('auto', 0, 1, 2, True, False). Received: {verbose!r}")


def _ordered(logs: dict) -> list:
    """Log keys by importance: the loss, then each figure beside its validation value."""
    keys = [k for k in ("loss", "val_loss") if k in logs]
    for k in logs:
        if k in keys or k in _LAST or k.startswith("val_"):
            continue
        keys.append(k)
        if f"val_{k}" in logs:
            keys.append(f"val_{k}")
    keys += [k for k in logs if k.startswith("val_") and k not in keys]
    keys += [k for k in _LAST if k in logs]
    keys += [k for k in logs if k not in keys]
    return keys


def _value(v) -> str:
    try:
        return f"{v:.4g}"
    except (TypeError, ValueError):
        return str(v)


def format_logs(logs: dict, width: int | None = None, head: str = "") -> list[str]:
    """The epoch's figures as lines of at most ``width`` characters (the terminal's by default).

    ``head`` (e.g. ``"Epoch 3/10 (0.4s)"``) starts the first line; the
    figures follow in order of importance and wrap onto lines indented by
    two spaces, a figure never split.
    """
    if width is None:
        width = shutil.get_terminal_size((100, 20)).columns
    width = max(int(width), 20)
    lines: list[str] = []
    line = head
    for key in _ordered(logs):
        item = f"{key}={_value(logs[key])}"
        candidate = f"{line}  {item}" if line.strip() else f"{line}{item}"
        if len(candidate) <= width or not line.strip():
            line = candidate
        else:
            lines.append(line)
            line = f"  {item}"
    if line.strip():
        lines.append(line)
    return lines


class _SimpleBar:
    """A one-line text bar rewritten with carriage returns (when tqdm is missing)."""

    def __init__(self, total: int, desc: str, file, width: int | None = None):
        self.total, self.desc, self.file = total, desc, file
        self.width = width
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
        text = f"{self.desc} [{bar}] {self.n}/{self.total} {elapsed:.1f}s {self.postfix}"
        columns = self.width or shutil.get_terminal_size((100, 20)).columns
        self.file.write("\r" + text[: max(columns - 1, 20)])
        self.file.flush()

    def close(self) -> None:
        self._draw()
        self.file.write("\n")
        self.file.flush()


def _new_bar(total: int, initial: int, desc: str, file, width: int | None = None):
    """tqdm.auto's bar (a notebook widget in Jupyter); its text bar where the widget
    cannot be built; the built-in bar without tqdm.

    A text bar keeps to ``width`` (default: the terminal's, following its
    resizes when ``file`` is the terminal itself).
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:
        bar = _SimpleBar(total, desc, file, width)
        bar.update(initial)
        return bar
    tty = hasattr(file, "isatty") and file.isatty()
    if width is None and not tty:
        width = shutil.get_terminal_size((100, 20)).columns
    kwargs = {"total": total, "initial": initial, "desc": desc, "file": file, "leave": True,
              "ncols": width, "dynamic_ncols": width is None}
    try:
        return tqdm(**kwargs)
    except ImportError:  # tqdm.notebook without ipywidgets
        from tqdm.std import tqdm as text_tqdm

        return text_tqdm(**kwargs)


class ProgressBar:
    """Per-epoch progress for the training loop (see the module docstring).

    Args:
        verbose: see :func:`resolve_verbose`.
        epochs: the number of epochs of the run.
        file: where to write (stderr by default).
        width: the line width for the epoch's figures (None: the
            terminal's, read at each epoch's end).
    """

    def __init__(self, verbose, epochs: int, file=None, width: int | None = None):
        self.level = resolve_verbose(verbose)
        self.epochs = epochs
        self.file = file or sys.stderr
        self.width = width
        self.bar = None
        self.start = 0.0

    def epoch_begin(self, epoch: int, n_batches: int, done: int = 0) -> None:
        self.start = time.perf_counter()
        if self.level != 1:
            return
        self.bar = _new_bar(n_batches, done, f"Epoch {epoch + 1}/{self.epochs}", self.file,
                            self.width)

    @property
    def active(self) -> bool:
        """Whether a per-minibatch bar is showing (it then wants the running logs)."""
        return self.bar is not None

    def batch_end(self, logs: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(_short(logs), refresh=False)
            self.bar.update(1)

    def epoch_end(self, epoch: int, logs: dict) -> None:
        took = time.perf_counter() - self.start
        if self.bar is not None:
            # the bar keeps the training figures; every figure follows, wrapped to the width
            self.bar.set_postfix_str(_short(logs))
            self.bar.close()
            self.bar = None
            self._write(format_logs(logs, self.width, head="  "))
        elif self.level == 2:
            head = f"Epoch {epoch + 1}/{self.epochs} ({took:.1f}s)"
            self._write(format_logs(logs, self.width, head=head))

    def _write(self, lines: list[str]) -> None:
        print("\n".join(lines), file=self.file, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _short(logs: dict) -> str:
    """The bar's postfix: the running training figures (the tail may be cut; the
    epoch's full figures follow the bar)."""
    keys = [k for k in _ordered(logs) if not k.startswith("val_") and k not in _LAST]
    return "  ".join(f"{k}={_value(logs[k])}" for k in keys)
