"""scikit-learn version shims (``validate_data`` became public in 1.6)."""

from __future__ import annotations

try:
    from sklearn.utils.validation import validate_data
except ImportError:  # scikit-learn < 1.6

    def validate_data(estimator, X="no_validation", y="no_validation", **kwargs):
        """Older scikit-learn: the estimator's own ``_validate_data``."""
        return estimator._validate_data(X, y, **kwargs)


__all__ = ["validate_data"]
