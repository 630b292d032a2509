"""The Sphinx site builds with -W (no warning) and documents every public name."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

for name in ("sphinx", "myst_parser", "pydata_sphinx_theme"):
    pytest.importorskip(name, reason='needs the docs extra: pip install -e ".[docs]"')

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         str(ROOT / "docs"), str(out)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def test_pages_are_built(site):
    for page in ("index", "getting_started", "api", "benchmarks", "conventions", "interop",
                 "ch5_ml_basics", "ch6_feedforward", "ch7_regularization", "ch8_optimization"):
        assert (site / f"{page}.html").is_file(), page


def _documented_modules():
    text = (ROOT / "docs" / "api.rst").read_text()
    return [line.split("::")[1].strip() for line in text.splitlines()
            if line.startswith(".. automodule::")]


def test_every_public_name_has_an_entry(site):
    html = (site / "api.html").read_text(encoding="utf-8")
    missing = []
    for module_name in _documented_modules():
        module = importlib.import_module(module_name)
        if module_name == "chainrule":
            continue  # re-exports, documented under the defining package
        for name in getattr(module, "__all__", []):
            full = f"{module_name}.{name}"
            if f'id="{full}"' not in html and f'id="module-{full}"' not in html:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"public names without an API entry: {missing}"


def test_api_page_covers_every_public_package():
    import pkgutil

    import chainrule

    documented = set(_documented_modules())
    public = {f"chainrule.{m.name}" for m in pkgutil.iter_modules(chainrule.__path__)
              if not m.name.startswith("_")}
    assert public <= documented, f"packages missing from docs/api.rst: {public - documented}"


def test_math_renders_offline(site):
    """Math pages load MathJax from the site itself; no page loads a script from the network."""
    page = (site / "getting_started.html").read_text(encoding="utf-8")
    assert "_static/mathjax/tex-chtml.js" in page  # its $h = xW + b$
    assert (site / "_static" / "mathjax" / "tex-chtml.js").stat().st_size > 100_000
    fonts = site / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert any(fonts.glob("MathJax_Main-Regular.woff"))
    for page in site.glob("*.html"):
        scripts = re.findall(r'<script[^>]*src="([^"]+)"', page.read_text(encoding="utf-8"))
        remote = [src for src in scripts if "://" in src or src.startswith("//")]
        assert not remote, f"{page.name} loads scripts from the network: {remote}"
