"""Owning a run folder: one writer at a time, never a stranger's files.

A run folder is written by one process at a time.  The writer holds an
exclusive lock on ``.lock`` in the folder (``fcntl.flock``: the operating
system drops it when the process ends, even by SIGKILL, so a lock is never
stale; where ``flock`` is missing, ``O_EXCL`` creation with the writer's pid,
and a lock whose pid is gone is taken over).  A second writer stops with a
message naming the folder and the first writer's pid.

A folder is chainrule's when its ``config.json`` says so (the ``format``
key); chainrule refuses to write into any other non-empty folder, so a
user's own ``history.csv`` or ``model.npz`` is never overwritten.
Temporary files of an interrupted save (``.tmp-*``) are removed when the
next writer takes the lock.

``config.json`` carries the SHA-256 of its own content, so an edited config
is refused on loading; ``model.npz`` carries :func:`model_digest`, the
SHA-256 of the part of the config that gives the model its meaning (all but
the epoch total, the dataset's path and where the run trained), so a config
swapped in from another run is refused, while an extension that was
interrupted (new total, not yet a new model) leaves the model usable.
"""

from __future__ import annotations

import datetime
import glob
import hashlib
import json
import os

__all__ = []

FORMAT = "chainrule-run"
LOCK = ".lock"
#: files a run folder may hold besides chainrule's own outputs
_OURS = {LOCK}


class RunFolderError(ValueError):
    """A run folder is busy, foreign, or its files were changed."""


def file_sha256(path: str) -> str:
    """SHA-256 (hex) of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_sha256(content: dict) -> str:
    """SHA-256 of a JSON-able dict, independent of key order and spacing."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


#: what may change between a config and the model it describes: the run may go on longer,
#: the project may move, and it may resume on another device or number of processes
_NOT_THE_MODEL = {"config": ("epochs", "dataset"),
                  "data": ("device", "world_size", "dataset_relpath")}


def model_digest(config: dict, data: dict) -> str:
    """SHA-256 of what a config says about its model (see the module doc)."""
    return content_sha256({
        part: {k: v for k, v in content.items() if k not in _NOT_THE_MODEL[part]}
        for part, content in (("config", config), ("data", data))
    })


def read_config(run_dir: str) -> dict:
    """The verified ``{"config", "data", "sha256"}`` of a run folder's config.json."""
    path = os.path.join(run_dir, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
    except (ValueError, RecursionError) as err:
        raise RunFolderError(
            f"Expected {path!r} to be the JSON chainrule wrote. Received: "
            f"{type(err).__name__}: {str(err)[:80]}"
        ) from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise RunFolderError(
            f"Expected a chainrule run config in {path!r}. Received: a JSON file without "
            f"\"format\": \"{FORMAT}\" (not written by this chainrule)"
        )
    content = {"config": saved.get("config"), "data": saved.get("data")}
    if content_sha256(content) != saved.get("sha256"):
        raise RunFolderError(
            f"Expected {path!r} unchanged since chainrule wrote it. Received: a checksum "
            "mismatch; the file was edited (a changed config would silently change what "
            "the saved model means: train a new run instead)"
        )
    for part in ("config", "data"):
        if not isinstance(saved[part], dict):
            raise RunFolderError(f"Expected a {part!r} object in {path!r}")
    return saved


def write_config(run_dir: str, config: dict, data: dict) -> str:
    """Write config.json with its checksum atomically; return the checksum."""
    content = {"config": config, "data": data}
    digest = content_sha256(content)
    body = {"format": FORMAT, **content, "sha256": digest}
    write_text(os.path.join(run_dir, "config.json"), json.dumps(body, indent=1))
    return digest


def write_text(path: str, text: str) -> None:
    """Write a text file atomically (temporary file, fsync, rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{os.path.basename(path)}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) and err.strerror:
            raise OSError(err.errno, err.strerror, path) from None  # the file the user named
        raise


def is_ours(run_dir: str) -> bool:
    """Whether ``run_dir`` holds a config.json that chainrule wrote."""
    try:
        with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
            return json.load(f).get("format") == FORMAT
    except (OSError, ValueError, AttributeError, RecursionError):
        return False


def check_writable(run_dir: str) -> None:
    """Refuse a path that is a file, or a non-empty folder chainrule did not write."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise RunFolderError(f"Expected a folder for the run. Received: {run_dir!r} is a file")
    if not os.path.isdir(run_dir) or is_ours(run_dir):
        return
    foreign = sorted(
        name for name in os.listdir(run_dir) if name not in _OURS and not name.startswith(".tmp-")
    )
    if foreign:
        shown = ", ".join(foreign[:4]) + (", ..." if len(foreign) > 4 else "")
        raise RunFolderError(
            f"Expected an empty folder or a chainrule run folder for --out. Received: "
            f"{run_dir!r} holds files chainrule did not write ({shown}); they are left "
            "untouched: choose another --out"
        )


def default_run_dir(dataset: str, root: str = "runs") -> str:
    """Create and return a new folder ``root/<dataset>-<UTC timestamp>[-N]``."""
    stem = os.path.splitext(os.path.basename(str(dataset).rstrip("/\\")))[0] or "run"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    os.makedirs(root, exist_ok=True)
    base = os.path.join(root, f"{stem}-{stamp}")
    out, k = base, 2
    while True:
        try:
            os.mkdir(out)  # atomic: two runs started in the same second get two folders
            return out
        except FileExistsError:
            out = f"{base}-{k}"
            k += 1


class RunLock:
    """Exclusive ownership of a run folder while a ``with`` block runs.

    Entering creates the folder if needed, takes the lock (or raises
    :class:`RunFolderError` naming the other writer) and removes stale
    ``.tmp-*`` files of an interrupted save.
    """

    def __init__(self, run_dir: str):
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, LOCK)
        self._fd: int | None = None

    def __enter__(self):
        os.makedirs(self.run_dir, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            self._take_exclusive()
        else:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._busy() from None
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            self._fd = fd
        for tmp in glob.glob(os.path.join(glob.escape(self.run_dir), ".tmp-*")):
            try:
                os.remove(tmp)
            except OSError:  # pragma: no cover - removed meanwhile
                pass
        return self

    def _busy(self) -> RunFolderError:
        try:
            with open(self.path, encoding="utf-8") as f:
                pid = f.read().strip() or "?"
        except OSError:  # pragma: no cover
            pid = "?"
        return RunFolderError(
            f"Expected {self.run_dir!r} to be free. Received: another chainrule process "
            f"(pid {pid}) is writing this run folder; wait for it or choose another --out"
        )

    def _take_exclusive(self) -> None:  # pragma: no cover - Windows only
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                with open(self.path, encoding="utf-8") as f:
                    text = f.read().strip()
                if text.isdigit() and _alive(int(text)):
                    raise self._busy() from None
                os.remove(self.path)  # stale: its writer is gone
                continue
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            self._fd = -1
            return
        raise self._busy()

    def __exit__(self, *exc) -> None:
        if self._fd is None:
            return
        if self._fd >= 0:
            os.close(self._fd)  # releases the flock; the file may stay
        else:  # pragma: no cover - Windows
            os.remove(self.path)
        self._fd = None


def _alive(pid: int) -> bool:  # pragma: no cover - Windows only
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
