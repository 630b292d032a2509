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
    MLPRegressor(hidden_layer_sizes=(16,),
                 activation="tanh", max_iter=100, random_state=0, batch_norm=True,
                 dropout=0.1, solver="sgd", learning_rate_init=0.01),
]




def expected_failures(estimator) -> dict:
    """Checks that cannot hold for a configuration, with the reason."""
    if estimator.batch_norm or estimator.dropout:
        # batch statistics and dropout masks are drawn per row, unweighted:
        # a row of weight 2 is not the same as that row twice
        reason = "batch norm / dropout see rows, not weights"
        return {"check_sample_weight_equivalence_on_dense_data": reason,
                "check_sample_weight_equivalence_on_sparse_data": reason}
    return {}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
