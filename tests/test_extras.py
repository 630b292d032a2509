"""The [all] extra installs every CPU extra that ships wheels; the README names what [test] brings."""

import pathlib
import re

import pytest

tomllib = pytest.importorskip("tomllib", reason="Python 3.11's TOML reader")

ROOT = pathlib.Path(__file__).resolve().parents[1]
CPU_EXTRAS = {"data", "progress", "plot", "interop", "onnx", "tensorboard"}


def _extras() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]


def _included(spec: str) -> set:
    match = re.fullmatch(r"chainrule\[([a-z0-9_,]+)\]", spec)
    return set(match.group(1).split(",")) if match else set()


def test_all_is_every_cpu_extra():
    extras = _extras()
    (spec,) = extras["all"]
    assert _included(spec) == CPU_EXTRAS
    assert CPU_EXTRAS <= set(extras)


def test_test_extra_includes_all_and_the_readme_names_its_parts():
    extras = _extras()
    included = set().union(*(_included(s) for s in extras["test"]))
    assert "all" in included and not {"cuda", "cuda13"} & included
    readme = (ROOT / "README.md").read_text()
    for name in ("hypothesis", "array-api-strict", "pandas", "PyTorch", "mypy", "twine",
                 "tensorboardX", "onnxruntime", "safetensors", "mpi4py", "Sphinx"):
        assert name in readme, name
