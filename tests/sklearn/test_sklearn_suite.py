"""scikit-learn's own MLP test file, run against cr.sklearn (issue 17).

The test copies ``sklearn/neural_network/tests/test_mlp.py`` from the
installed scikit-learn into a temporary folder, swaps its one import line
for ``from chainrule.sklearn import MLPClassifier, MLPRegressor``, gives it
the ``global_random_seed`` fixture (scikit-learn's own conftest provides it)
in a local conftest, and runs it with pytest in a subprocess.  Six tests
that reach into scikit-learn's private internals (``_forward_pass``,
``_backprop``, ``_optimizer``, ``_no_improvement_count``) are left out;
every other test must pass.

Until ``solver="lbfgs"`` exists (issue 14, built separately), the tests
that fail *only* because our estimators reject that solver (their failure
shows our "Received: solver='lbfgs'" error) make this test xfail, naming
them; every other failure fails it.  Once the solver is accepted, all must
pass.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import chainrule

sklearn = pytest.importorskip("sklearn")

SOURCE = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
OURS = "from chainrule.sklearn import MLPClassifier, MLPRegressor"

#: tests that read or patch scikit-learn's private attributes
PRIVATE = (
    "test_fit",
    "test_gradient",
    "test_learning_rate_warmstart",
    "test_adaptive_learning_rate",
    "test_n_iter_no_change",
    "test_n_iter_no_change_inf",
)

CONFTEST = '''\
import pytest


@pytest.fixture
def global_random_seed():
    """scikit-learn's default seed for its randomised tests."""
    return 42
'''


def _prepare(folder: Path) -> Path:
    if not SOURCE.is_file():
        pytest.skip(
            "scikit-learn's tests are not installed (expected "
            f"{SOURCE}); this scikit-learn was installed without them"
        )
    text = SOURCE.read_text()
    assert text.count(IMPORT) == 1, f"expected one line {IMPORT!r} in {SOURCE}"
    target = folder / "test_mlp.py"
    target.write_text(text.replace(IMPORT, OURS))
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "pytest.ini").write_text("[pytest]\n")
    return target


def test_scikit_learn_mlp_suite_passes(tmp_path):
    target = _prepare(tmp_path)
    report = tmp_path / "report.xml"
    src = str(Path(chainrule.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           "--junitxml", str(report), "-W", "ignore::DeprecationWarning", target.name]
    for name in PRIVATE:
        cmd += ["--deselect", f"{target.name}::{name}"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
                          timeout=900)
    assert report.is_file(), done.stdout[-3000:] + done.stderr[-3000:]
    cases = ET.parse(report).getroot().iter("testcase")
    failed, passed, no_lbfgs = [], [], []
    for case in cases:
        bad = case.find("failure")
        bad = case.find("error") if bad is None else bad
        if bad is None and case.find("skipped") is not None:
            continue  # e.g. pandas missing for one test: not a pass, not a failure
        if bad is None:
            passed.append(case.get("name"))
        elif not _lbfgs_accepted() and LBFGS_REJECTED in (bad.text or ""):
            no_lbfgs.append(case.get("name"))
        else:
            failed.append(case.get("name"))
    assert not any(re.match(rf"{name}(\[|$)", n) for n in passed for name in PRIVATE)
    assert passed, done.stdout[-3000:]
    total = len(failed) + len(passed) + len(no_lbfgs)
    assert not failed, f"{len(failed)} of {total} failed: {failed}\n" + done.stdout[-6000:]
    if no_lbfgs:
        pytest.xfail(f"{len(passed)} of {total} pass; {len(no_lbfgs)} need solver='lbfgs' "
                     f"(issue 14), not available yet: {no_lbfgs}")
    assert done.returncode == 0, done.stdout[-3000:]


#: the text of our estimators' error for a solver they do not have
LBFGS_REJECTED = "Received: solver='lbfgs'"


def _lbfgs_accepted() -> bool:
    """Whether cr.sklearn's estimators accept solver="lbfgs" (issue 14)."""
    from chainrule.sklearn import MLPRegressor

    try:
        MLPRegressor(solver="lbfgs", hidden_layer_sizes=(2,), max_iter=1).fit(
            [[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    except ValueError as err:
        if LBFGS_REJECTED in str(err):
            return False
        raise
    except Warning:
        pass
    return True
