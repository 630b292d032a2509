"""Packaging: the type check of src/ passes and the wheel builds and passes twine check."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_py_typed_marker_ships():
    assert (ROOT / "src" / "chainrule" / "py.typed").is_file()


def test_mypy_checks_src():
    pytest.importorskip("mypy", reason="needs mypy (in the test extra)")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         str(ROOT / "src" / "chainrule")],
        capture_output=True, text=True, cwd=ROOT, timeout=900, check=False,
    )
    assert proc.returncode == 0, f"mypy found problems:\n{proc.stdout}\n{proc.stderr}"


def test_wheel_builds_and_passes_twine_check(tmp_path):
    pytest.importorskip("build", reason="needs build (in the test extra)")
    pytest.importorskip("twine", reason="needs twine (in the test extra)")
    pytest.importorskip("setuptools", reason="a build without isolation needs setuptools")
    project = tmp_path / "project"  # a copy, so build/ and egg-info stay out of the checkout
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "src", project / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist),
         str(project)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, f"wheel build failed:\n{proc.stdout[-3000:]}\n{proc.stderr}"
    wheels = list(dist.glob("chainrule-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    for expected in ("chainrule/py.typed", "chainrule/onnx/_export.py",
                     "chainrule/serialization.py", "chainrule/interop.py"):
        assert expected in names, expected
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheels[0])],
                           capture_output=True, text=True, timeout=300, check=False)
    assert check.returncode == 0, f"twine check failed:\n{check.stdout}\n{check.stderr}"
    assert "PASSED" in check.stdout
