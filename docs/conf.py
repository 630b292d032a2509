"""Sphinx configuration of chainrule's documentation site.

Build: ``pip install -e ".[docs]"`` then ``python -m sphinx -W -b html docs OUT``.
The chapter pages and the README/BENCHMARKS content are Markdown (MyST); the
API reference comes from the docstrings (autodoc, Google style via napoleon).
"""

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src")))

import chainrule

project = "chainrule"
author = "the chainrule authors"
copyright = "the chainrule authors"
release = chainrule.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
templates_path: list = []

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

html_theme = "pydata_sphinx_theme"
html_title = "chainrule"
html_static_path: list = []


# --- math rendered offline ---------------------------------------------------------
# MathJax 3 comes from the docs extra (the django-static-mathjax package ships its
# files; Django itself is not needed).  The parts a page uses are staged into a
# folder that Sphinx copies to _static/mathjax, so the site loads nothing from the
# network.
def _stage_mathjax() -> str:
    import mathjax  # the docs extra's django-static-mathjax

    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    stage = Path(tempfile.mkdtemp(prefix="chainrule-docs-")) / "mathjax"
    stage.mkdir()
    shutil.copy2(es5 / "tex-chtml.js", stage / "tex-chtml.js")
    for part in ("input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y",
                 "adaptors"):
        shutil.copytree(es5 / part, stage / part)
    return str(stage.parent)


html_static_path.append(_stage_mathjax())
mathjax_path = "mathjax/tex-chtml.js"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}


# --- docstrings are written as plain text first -----------------------------------
# chainrule's docstrings use |x| for absolute values, trailing underscores for
# fitted attributes (``coef_``) and * in shapes; in reStructuredText these are
# substitutions, link targets and emphasis.  Escape them outside ``literals``,
# :role:`targets` and math, so the text renders as written.
_PROTECTED = re.compile(r"(``.+?``|:[a-z:]+:`[^`]+`|`[^`]+`|\$[^$]+\$)")
_TRAILING_UNDERSCORE = re.compile(r"(?<=\w)_(?=[\s:,.;)\]]|$)")
_LONE_STAR = re.compile(r"\*(?=\S)")  # "* item" stays a bullet
_EMPHASIS = re.compile(r"(?<![\w*])\*\*?[^\s*][^*]*?\*\*?(?![\w*])")


def _escape_plain(text: str) -> str:
    text = text.replace("|", r"\|")
    text = _TRAILING_UNDERSCORE.sub(r"\\_", text)
    pieces = _EMPHASIS.split(text)
    spans = _EMPHASIS.findall(text)
    out = [_LONE_STAR.sub(r"\\*", pieces[0])]
    for span, piece in zip(spans, pieces[1:]):
        out.append(span)
        out.append(_LONE_STAR.sub(r"\\*", piece))
    return "".join(out)


def _escape_line(line: str) -> str:
    if line.lstrip().startswith((">>>", "...", ".. ")):
        return line
    parts = _PROTECTED.split(line)
    return "".join(p if i % 2 else _escape_plain(p) for i, p in enumerate(parts))


def _process_docstring(app, what, name, obj, options, lines):
    in_literal_block = False
    block_indent = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if in_literal_block and stripped and indent <= block_indent:
            in_literal_block = False
        if not in_literal_block:
            lines[i] = _escape_line(line)
        if stripped.endswith("::") or stripped.startswith(".. math::"):
            in_literal_block, block_indent = True, indent


def _skip_foreign(app, what, name, obj, skip, options):
    # scikit-learn's generated set_*_request methods carry its own cross-references
    if name.startswith("set_") and name.endswith("_request"):
        return True
    if what == "module" and skip and not name.startswith("_"):
        return False  # public constants without a docstring (PRIMITIVES, LOSSES) too
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _process_docstring)
    app.connect("autodoc-skip-member", _skip_foreign)
