"""Labels and CSV quirks: non-finite labels refused, class ids written as reals, small formats.

issue 23: an ``inf`` label became its own class; class ids written as reals
("0.0", "1.0", iris saved by ``np.savetxt``) trained a regression without a
word; a trailing comma on every line, a ``# comment`` first line, a 2-D
``y`` and ``nn.Linear(4.5, 2)`` gave confusing messages.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.data.datasets import load_raw
from chainrule.data.files import read_csv
from chainrule.data.validation import check_dataset, check_targets


def _write(path, text):
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("bad", ["inf", "-inf", "nan", "Infinity"])
def test_a_non_finite_label_in_a_csv_is_refused_with_its_line(tmp_path, bad):
    path = _write(tmp_path / "d.csv", f"a,b,y\n1,2,0\n3,4,1\n5,6,{bad}\n7,8,1\n")
    with pytest.raises(ValueError, match=rf"finite target.*d\.csv.*'{bad}' in column 'y' "
                                         r"on line 4"):
        read_csv(path)
    with pytest.raises(ValueError, match="finite target"):
        load_raw(path)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("targets", ["int", "float", "any"])
def test_a_non_finite_label_in_arrays_is_refused(value, targets):
    X = np.zeros((4, 2), np.float32)
    y = np.array([0.0, 1.0, value, 1.0])
    with pytest.raises(ValueError, match=r"Expected finite values in y.*row 2"):
        check_dataset(X, y, targets=targets)


def test_fit_refuses_an_inf_label():
    X = np.random.default_rng(0).standard_normal((6, 2)).astype(np.float32)
    y = np.array([0.0, 1.0, np.inf, 1.0, 0.0, 1.0])
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="finite"):
        cr.training.fit(model, X, y, loss=F.cross_entropy,
                        optimizer=cr.optim.SGD(model.parameters(), lr=0.1), verbose=0)


def test_iris_saved_by_savetxt_is_three_classes_with_a_note(tmp_path):
    X, y = load_iris(return_X_y=True)
    path = str(tmp_path / "iris.csv")
    np.savetxt(path, np.column_stack([X, y]), delimiter=",")
    out = read_csv(path)
    assert out["y"].dtype == np.int64
    np.testing.assert_array_equal(out["y"], y)
    assert "class ids 0..2 written as real numbers" in out["target_note"]
    assert "--task regression" in out["target_note"]
    raw = load_raw(path)
    assert raw["task"] == "classification" and raw["classes"] == ["0", "1", "2"]
    assert load_raw(path, task="regression")["task"] == "regression"


@pytest.mark.parametrize("quoted", [False, True], ids=["fast", "exact"])
def test_binary_labels_written_as_reals_are_classes(tmp_path, quoted):
    q = '"' if quoted else ""
    rows = "".join(f"{i},{i % 3},{q}{float(i % 2)}{q}\n" for i in range(10))
    out = read_csv(_write(tmp_path / "b.csv", "a,b,y\n" + rows))
    assert out["y"].dtype == np.int64 and out["y"].tolist() == [i % 2 for i in range(10)]
    assert "target_note" in out


@pytest.mark.parametrize("body, dtype", [
    ("1,151.0\n2,75.0\n3,141.0\n", np.float32),     # whole reals, not 0..K-1: values
    ("1,0.0\n2,1.0\n3,2.0\n", np.float32),          # each value once: too few rows to say
    ("1,0.0\n2,2.0\n3,2.0\n4,0.0\n", np.float32),   # 0 and 2 only: not consecutive ids
    ("1,0\n2,1\n3,1\n", np.int64),                  # integers: ids, no note needed
])
def test_real_valued_targets_that_are_not_class_ids_stay_real(tmp_path, body, dtype):
    out = read_csv(_write(tmp_path / "r.csv", "a,y\n" + body))
    assert out["y"].dtype == dtype
    assert "target_note" not in out


def test_a_trailing_comma_on_every_line_is_no_column(tmp_path):
    rows = "".join(f"{i},{i % 3},{i % 2},\n" for i in range(10))
    out = read_csv(_write(tmp_path / "t.csv", "a,b,y,\n" + rows))
    assert out["feature_names"] == ["a", "b"] and out["target_name"] == "y"
    assert out["X"].shape == (10, 2) and out["y"].tolist() == [i % 2 for i in range(10)]
    out = read_csv(_write(tmp_path / "t2.csv", rows))  # no header either
    assert out["X"].shape == (10, 2)


def test_leading_comment_lines_are_skipped(tmp_path):
    rows = "".join(f"{i},{i % 3},{i % 2}\n" for i in range(10))
    out = read_csv(_write(tmp_path / "c.csv", "# exported by a tool\n# v2\na,b,y\n" + rows))
    assert out["feature_names"] == ["a", "b"] and out["X"].shape == (10, 2)
    np.testing.assert_array_equal(out["X"][:, 0], np.arange(10))
    out = read_csv(_write(tmp_path / "c2.csv", "#comment\n" + rows))
    assert out["header"] is False and out["X"].shape == (10, 2)
    # line numbers count the comment lines
    bad = "# one\n# two\na,b,y\n1,2,0\n3,x,1\n"
    with pytest.raises(ValueError, match=r"'x' on line 5"):
        read_csv(_write(tmp_path / "c3.csv", bad))


def test_two_dimensional_class_ids_suggest_ravel():
    y = np.array([[0], [1], [1]])
    with pytest.raises(ValueError, match=r"shape \(n_samples,\).*\(3, 1\); pass y.ravel\(\)"):
        check_targets(y, 3, integer=True)
    assert check_targets(np.ones((3, 2)), 3).shape == (3, 2)  # multi-output regression


@pytest.mark.parametrize("args", [(4.5, 2), (4, 2.0), ("4", 2), (True, 2)])
def test_linear_sizes_must_be_ints(args):
    with pytest.raises(TypeError, match=r"Expected (in|out)_features to be an int. Received"):
        nn.Linear(*args)
    assert nn.Linear(np.int64(4), 2).weight.shape == (4, 2)
