"""The estimators as ONNX graphs, alone (:func:`export_onnx`) or inside skl2onnx.

A fitted ``MLPClassifier`` becomes the network followed by its output unit:
softmax (multiclass), sigmoid with columns [1-p, p] (binary) or sigmoid
per label (multilabel), with two outputs as in skl2onnx: ``label`` (ArgMax
over the probabilities, mapped to ``classes_``) and ``probabilities``.  An
``MLPRegressor`` gives one output ``variable``, (N,) or (N, n_outputs) as
``predict``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..onnx._export import DEFAULT_OPSET, _emit, import_onnx
from ..onnx._graph import GraphBuilder


def _fitted_model(estimator: Any) -> Any:
    model = getattr(estimator, "_model", None)
    if model is None or not hasattr(estimator, "n_features_in_"):
        raise ValueError(
            f"Expected a fitted chainrule.sklearn estimator. Received: "
            f"{type(estimator).__name__} (call fit first)"
        )
    return model


def _classes_constant(g: GraphBuilder, classes: np.ndarray) -> str:
    if classes.dtype.kind == "b":
        return g.constant("classes", classes)
    if classes.dtype.kind in "iu":
        return g.constant("classes", classes.astype(np.int64))
    return g.constant("classes", np.asarray(classes.astype(str), dtype=object))


def _body(g: GraphBuilder, estimator: Any, x: str) -> str:
    """The network's logits for input value ``x`` (inference mode)."""
    model = _fitted_model(estimator)
    xv = np.zeros((1, estimator.n_features_in_), np.float32)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        logits, _ = _emit(g, model, "mlp", x, xv)
    finally:
        for m, mode in modes:
            object.__setattr__(m, "training", mode)
    return logits


def _classifier_head(g: GraphBuilder, estimator: Any, z: str) -> tuple[str, str]:
    """(label, probabilities) value names for logits ``z``."""
    kind = estimator._kind
    if kind == "single":
        raise ValueError(
            "export_onnx: expected a classifier fitted on at least 2 classes. Received: "
            f"one class ({estimator.classes_[0]!r}), which is always predicted"
        )
    if kind == "multiclass":
        proba = g.node("Softmax", [z], "probabilities", axis=1)
    elif kind == "binary":
        p = g.node("Sigmoid", [z], "p1")
        one = g.constant("one", np.ones((1, 1), np.float32))
        q = g.node("Sub", [one, p], "p0")
        proba = g.node("Concat", [q, p], "probabilities", axis=1)
    else:
        proba = g.node("Sigmoid", [z], "probabilities")
        half = g.constant("half", np.asarray(0.5, np.float32))
        above = g.node("Greater", [proba, half], "above")
        return g.node("Cast", [above], "label", to=g.onnx.TensorProto.INT64), proba
    index = g.node("ArgMax", [proba], "index", axis=1, keepdims=0)
    classes = _classes_constant(g, np.asarray(estimator.classes_))
    label = g.node("Gather", [classes, index], "label", axis=0)
    return label, proba


def _regressor_head(g: GraphBuilder, estimator: Any, z: str) -> str:
    if getattr(estimator, "loss", "squared_error") == "poisson":
        z = g.node("Exp", [z], "mean")  # the log link's inverse
    if estimator.n_outputs_ == 1:
        shape = g.constant("flat", np.asarray([-1], np.int64))
        return g.node("Reshape", [z, shape], "variable")
    return g.node("Identity", [z], "variable")


def _is_classifier(estimator: Any) -> bool:
    return hasattr(estimator, "classes_")


def export_onnx(estimator: Any, path: str | os.PathLike | None,
                     opset: int | None = None) -> Any:
    """Write a fitted ``MLPClassifier`` or ``MLPRegressor`` as an ONNX model.

    Input ``X``: float32, (batch, n_features_in_).  Outputs: ``label`` and
    ``probabilities`` (classifier, as ``predict`` and ``predict_proba``),
    or ``variable`` (regressor, as ``predict``).

    Args:
        estimator: a fitted chainrule estimator.
        path: output file, or None to only return the model.
        opset: ONNX opset (default 17).

    Returns:
        The ``onnx.ModelProto``, checked with ``onnx.checker``.
    """
    onnx = import_onnx()
    _fitted_model(estimator)
    g = GraphBuilder(onnx)
    x = g.name("X")
    z = _body(g, estimator, x)
    n = estimator.n_features_in_
    inputs = [onnx.helper.make_tensor_value_info(x, onnx.TensorProto.FLOAT, ["batch", n])]
    if _is_classifier(estimator):
        label, proba = _classifier_head(g, estimator, z)
        k = len(estimator.classes_)
        classes = np.asarray(estimator.classes_)
        if estimator._kind == "multilabel":
            label_type, label_dims = onnx.TensorProto.INT64, ["batch", k]
        elif classes.dtype.kind == "b":
            label_type, label_dims = onnx.TensorProto.BOOL, ["batch"]
        elif classes.dtype.kind in "iu":
            label_type, label_dims = onnx.TensorProto.INT64, ["batch"]
        else:
            label_type, label_dims = onnx.TensorProto.STRING, ["batch"]
        outputs = [
            onnx.helper.make_tensor_value_info(label, label_type, label_dims),
            onnx.helper.make_tensor_value_info(proba, onnx.TensorProto.FLOAT, ["batch", k]),
        ]
    else:
        y = _regressor_head(g, estimator, z)
        dims = ["batch"] if estimator.n_outputs_ == 1 else ["batch", estimator.n_outputs_]
        outputs = [onnx.helper.make_tensor_value_info(y, onnx.TensorProto.FLOAT, dims)]
    graph = onnx.helper.make_graph(g.nodes, type(estimator).__name__, inputs, outputs,
                                   initializer=g.initializers)
    version = DEFAULT_OPSET if opset is None else int(opset)
    proto = onnx.helper.make_model(graph, producer_name="chainrule",
                                   opset_imports=[onnx.helper.make_opsetid("", version)])
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        onnx.save_model(proto, os.fspath(path))
    return proto


# --- skl2onnx -------------------------------------------------------------------------
def _skl2onnx_converter(scope: Any, operator: Any, container: Any) -> None:
    onnx = import_onnx()
    estimator = operator.raw_operator
    g = GraphBuilder(onnx, namer=scope.get_unique_variable_name)
    x = g.node("Cast", [operator.inputs[0].full_name], "X_float", to=onnx.TensorProto.FLOAT)
    z = _body(g, estimator, x)
    if _is_classifier(estimator):
        label, proba = _classifier_head(g, estimator, z)
        results = [label, proba]
    else:
        results = [_regressor_head(g, estimator, z)]
    for init in g.initializers:
        array = onnx.numpy_helper.to_array(init)
        content = array.ravel().tolist() if array.dtype != object else list(array.ravel())
        container.add_initializer(init.name, init.data_type, list(init.dims), content)
    for node in g.nodes:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        container.add_node(node.op_type, list(node.input), list(node.output),
                           name=scope.get_unique_operator_name(node.name), **attrs)
    for result, output in zip(results, operator.outputs):
        container.add_node("Identity", [result], [output.full_name],
                           name=scope.get_unique_operator_name("chainrule_out"))


def register_skl2onnx() -> None:
    """Register chainrule's estimators with skl2onnx, so ``to_onnx`` converts them.

    After this call a scikit-learn Pipeline such as
    ``make_pipeline(StandardScaler(), cr.sklearn.MLPClassifier())`` converts
    with ``skl2onnx.to_onnx(pipe, X[:1].astype(np.float32),
    options={"zipmap": False})``.  Calling it again is harmless.
    """
    try:
        from skl2onnx import update_registered_converter
        from skl2onnx.common.shape_calculator import (
            calculate_linear_classifier_output_shapes,
            calculate_linear_regressor_output_shapes,
        )
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError(
            'Registering with skl2onnx needs it installed: pip install "chainrule[onnx]"'
        ) from None
    from ._classifier import MLPClassifier
    from ._regressor import MLPRegressor

    update_registered_converter(
        MLPClassifier, "ChainruleMLPClassifier", calculate_linear_classifier_output_shapes,
        _skl2onnx_converter, options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
    update_registered_converter(
        MLPRegressor, "ChainruleMLPRegressor", calculate_linear_regressor_output_shapes,
        _skl2onnx_converter,
    )
