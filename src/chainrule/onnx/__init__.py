"""ONNX export: ``cr.onnx.export(model, path, example_input)``.

Needs the optional extra ``pip install "chainrule[onnx]"`` (onnx; onnxruntime
to run the result; skl2onnx for scikit-learn pipelines).  The estimators of
:mod:`chainrule.sklearn` export through :func:`export_estimator`, and
:func:`register_skl2onnx` lets ``skl2onnx.to_onnx`` convert a Pipeline that
contains one.
"""

from ._export import DEFAULT_OPSET, export
from ._graph import ExportError
from ._sklearn import export_estimator, register_skl2onnx

__all__ = ["DEFAULT_OPSET", "ExportError", "export", "export_estimator", "register_skl2onnx"]
