""".ci/run checks the habits: install, then ruff and mypy, then the README's test command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _steps() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_ci_installs_then_lints_type_checks_and_tests_and_stops_on_failure():
    steps = _steps()
    assert "set -euo pipefail" in steps

    def where(fragment):
        found = [i for i, s in enumerate(steps) if fragment in s]
        assert found, f".ci/run has no step running {fragment!r}: {steps}"
        return found[0]

    install = where('pip install -e ".[test]"')
    ruff = where("ruff check src tests benchmarks examples")
    mypy = where("mypy")
    tests = where("pytest -q")
    assert install < ruff < tests and install < mypy < tests


def test_the_test_extra_brings_the_tools_ci_runs():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads TOML")
    with open(ROOT / "pyproject.toml", "rb") as f:
        extra = tomllib.load(f)["project"]["optional-dependencies"]["test"]
    names = {re.split(r"[<>=!\[; ]", req, maxsplit=1)[0] for req in extra}
    for tool in ("ruff", "mypy", "pytest"):
        assert tool in names, f"the test extra lacks {tool}: {extra}"


def test_ruff_is_clean():
    pytest.importorskip("ruff", reason="needs ruff (in the test extra)")
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks", "examples"],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"ruff found problems:\n{proc.stdout}\n{proc.stderr}"
