"""The README's Python snippets run as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)  # files the snippets write land here
    namespace = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)  # noqa: S102 (the README's own code)
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert namespace["history"].history["val_accuracy"][-1] > 0.9
