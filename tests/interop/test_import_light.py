"""The interop modules load lazily and never import torch, onnx or safetensors on their own."""

import subprocess
import sys

CODE = """
import sys
import numpy as np
import chainrule as cr
heavy = ("torch", "onnx", "onnxruntime", "safetensors", "skl2onnx", "tensorboardX", "pandas")
assert not [m for m in heavy if m in sys.modules], "import chainrule"
assert callable(cr.save) and callable(cr.load)
sd = cr.interop.to_torch_state_dict(cr.nn.Linear(2, 3).state_dict())
assert sd["weight"].shape == (3, 2)
assert callable(cr.onnx.export)
cr.training.TensorBoard
loaded = [m for m in ("torch", "onnx", "safetensors", "skl2onnx") if m in sys.modules]
assert not loaded, loaded
print("ok")
"""


def test_interop_imports_stay_light():
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                          check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
