"""The claim of docs/distributed.md about its documented ``mpiexec -n 2 chainrule train`` command.

The command is read from the page itself, run on two ranks and on one
process, and the two run folders are compared as the page says: the same
test accuracy and test loss (to float32 rounding), and weights within 1e-3.
"""

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason='needs the extra: pip install "chainrule[distributed]"')
MPIEXEC = shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH (install mpich)")
PAGE = Path(__file__).resolve().parents[2] / "docs" / "distributed.md"


def _documented_command() -> list[str]:
    found = re.findall(r"^(mpiexec -n 2 chainrule train .*)$", PAGE.read_text(), re.MULTILINE)
    assert len(found) == 1, "docs/distributed.md should show one 'mpiexec -n 2 chainrule train'"
    return shlex.split(found[0])


def _run(cmd: list[str], out: Path) -> dict:
    done = subprocess.run([*cmd, "--out", str(out), "--verbose", "0"], capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads((out / "metrics.json").read_text())


def test_documented_two_rank_command_predicts_as_one_process(tmp_path):
    from chainrule.training import load_checkpoint

    cmd = _documented_command()
    assert cmd[:3] == ["mpiexec", "-n", "2"] and cmd[3] == "chainrule"
    train = [sys.executable, "-m", "chainrule.cli", *cmd[4:]]
    two = _run([MPIEXEC, "-n", "2", *train], tmp_path / "two")
    one = _run(train, tmp_path / "one")
    assert two["accuracy"] == one["accuracy"]
    assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
    w2 = load_checkpoint(str(tmp_path / "two" / "model.npz"))["model"]
    w1 = load_checkpoint(str(tmp_path / "one" / "model.npz"))["model"]
    assert w2.keys() == w1.keys()
    gaps = {k: float(np.max(np.abs(w2[k] - w1[k]))) for k in w1}
    assert max(gaps.values()) < 1e-3, gaps
    assert json.loads((tmp_path / "two" / "config.json").read_text())["data"]["world_size"] == 2
