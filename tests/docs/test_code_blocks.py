"""Every Python block of README.md and docs/*.md runs on its own, as copied.

A block whose first line is ``# continued`` goes on from the block before it
in the same file (it runs in that block's namespace); every other block starts
from an empty namespace, so it must bring its own imports and data.  A block
fenced as ```` ```python gpu ```` needs an NVIDIA GPU and runs only where CuPy
can reach one.  Each chain of blocks runs in a fresh temporary folder, so the
files the examples write land there.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```python( gpu)?[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
CONTINUED = "# continued"


def _files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _chains(path: Path) -> list[tuple[int, bool, str]]:
    """The file's blocks grouped into chains: (first line, needs a GPU, code)."""
    text = path.read_text(encoding="utf-8")
    chains: list[tuple[int, bool, str]] = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        gpu, code = bool(match.group(1)), match.group(2)
        if code.lstrip().startswith(CONTINUED):
            assert chains, f"{path.name}:{line}: '{CONTINUED}' with no block before it"
            first, chain_gpu, before = chains[-1]
            chains[-1] = (first, chain_gpu or gpu, before + "\n" + code)
        else:
            chains.append((line, gpu, code))
    return chains


def _cases():
    for path in _files():
        for line, gpu, code in _chains(path):
            yield pytest.param(path, line, gpu, code, id=f"{path.name}:{line}")


def _gpu_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001 (no CuPy, no driver or no device: all mean "no GPU")
        return False


def run_chain(path: Path, line: int, code: str, folder: Path, monkeypatch) -> dict:
    monkeypatch.chdir(folder)
    namespace: dict = {"__name__": "__docs_block__"}
    source = "\n" * (line) + code  # tracebacks point at the block's lines in the file
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 (the docs' own code)
    return namespace


def _readme_fit(namespace: dict, folder: Path) -> None:
    assert (folder / "curves.png").stat().st_size > 0
    assert namespace["history"].history["val_accuracy"][-1] > 0.9


#: what some blocks promise, checked after they run (a marker in the code -> a check)
PROMISES = {'history.plot("curves.png")': _readme_fit}


def test_docs_have_blocks():
    assert sum(len(_chains(p)) for p in _files()) >= 9


@pytest.mark.parametrize(("path", "line", "gpu", "code"), list(_cases()))
def test_block_runs_as_copied(path, line, gpu, code, tmp_path, monkeypatch):
    if gpu and not _gpu_available():
        pytest.skip("a GPU block: needs CuPy and an NVIDIA GPU")
    namespace = run_chain(path, line, code, tmp_path, monkeypatch)
    for marker, check in PROMISES.items():
        if marker in code:
            check(namespace, tmp_path)
