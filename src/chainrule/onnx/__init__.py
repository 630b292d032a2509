"""ONNX export: ``cr.onnx.export(model, path, example_input)``.

Needs the optional extra ``pip install "chainrule[onnx]"`` (onnx; onnxruntime
to run the result; skl2onnx for scikit-learn pipelines).  The estimators of
:mod:`chainrule.sklearn` export through ``chainrule.sklearn.export_onnx``,
and ``chainrule.sklearn.register_skl2onnx()`` lets ``skl2onnx.to_onnx``
convert a Pipeline that contains one (they live with the estimators, a
layer above this package).
"""

from . import _sequence  # noqa: F401  (registers the sequence layers' converters)
from ._export import DEFAULT_OPSET, export
from ._graph import ExportError

__all__ = ["DEFAULT_OPSET", "ExportError", "export"]
