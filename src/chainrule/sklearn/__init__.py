"""scikit-learn estimators backed by chainrule: ``MLPClassifier``, ``MLPRegressor``, and any module.

Drop-ins for ``sklearn.neural_network``'s estimators of the same names
(same parameter names and fitted attributes where they overlap), plus
dropout, batch normalisation, label smoothing and more optimisers.  They
pass scikit-learn's ``check_estimator`` and work in ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``.  Needs scikit-learn (the
``data`` extra).  A fitted estimator exports to ONNX with
:func:`export_onnx` (the ``onnx`` extra).

``NeuralNetClassifier`` and ``NeuralNetRegressor`` make any chainrule
module an estimator, as skorch does for PyTorch modules (a class with
``module__`` parameters, or an instance).

Example:
    >>> import chainrule as cr
    >>> clf = cr.sklearn.MLPClassifier(hidden_layer_sizes=(64,), random_state=0)
    >>> clf.fit(X_train, y_train).score(X_test, y_test)
"""

from ._classifier import MLPClassifier
from ._neuralnet import NeuralNetClassifier, NeuralNetRegressor
from ._onnx import export_onnx, register_skl2onnx
from ._regressor import MLPRegressor

__all__ = [
    "MLPClassifier",
    "MLPRegressor",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "export_onnx",
    "register_skl2onnx",
]
