"""The chapter pages (docs/ch5-8) name things that exist.

Every ``chainrule.*`` name in backticks must resolve by import and
attribute lookup, every ``tests/...py::test_x`` must be a test function in
that file, and every linked or quoted ``examples/``/``tests/`` path must exist.
"""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("ch[5-8]_*.md"))


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_there_is_a_page_per_chapter():
    assert [p.name[:3] for p in PAGES] == ["ch5", "ch6", "ch7", "ch8"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_api_names_exist(page):
    text = page.read_text()
    names = set(re.findall(r"`(chainrule(?:\.\w+)+)", text))
    assert names, "a chapter page should name its API"
    missing = []
    for name in sorted(names):
        try:
            _resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert not missing, f"{page.name} names things that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_tests_and_examples_exist(page):
    text = page.read_text()
    for path, test in re.findall(r"(tests/[\w/]+\.py)::(\w+)", text):
        source = (ROOT / path).read_text()
        assert re.search(rf"def {test}\(", source), f"{path}::{test} (from {page.name})"
    for path in re.findall(r"(?<![\w/])((?:examples|tests)/[\w/]+\.py)", text):
        assert (ROOT / path).exists(), f"{path} (from {page.name})"
