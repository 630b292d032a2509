"""scikit-learn's own estimator checks (check_estimator), one test per check."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from chainrule.sklearn import MLPClassifier, MLPRegressor

# max_iter=100 as scikit-learn uses for its own MLPs in these checks: enough
# for the accuracy > 0.83 / R² > 0.5 bars on its small toy problems.
ESTIMATORS = [
    MLPClassifier(max_iter=100, random_state=0),
    MLPRegressor(max_iter=100, random_state=0),
    # our extensions on: batch norm, dropout (both rules), other solvers
    MLPClassifier((16, 8), max_iter=100, random_state=0, batch_norm=True, dropout=0.1,
                  dropout_mode="weight_scaling", solver="rmsprop", label_smoothing=0.05,
                  learning_rate_init=0.01),
    MLPRegressor((16,), activation="tanh", max_iter=100, random_state=0, batch_norm=True,
                 dropout=0.1, solver="sgd", learning_rate_init=0.01),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
