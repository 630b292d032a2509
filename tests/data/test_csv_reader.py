"""read_csv: the fast readers give what the exact stdlib path gives, errors included."""

import numpy as np
import pytest

from chainrule.data import files
from chainrule.data.files import read_csv

GOOD = {
    "numeric_header": "a,b,label\n1,2,0\n3.5,-4e-3,1\n5,6,1\n",
    "no_header": "1,2,0\n3,4,1\n",
    "float_target": "x,y\n1,0.5\n2,1.25\n",
    "text_target": "sepal,petal,species\n1.0,2.0,setosa\n3.0, 4.0 , virginica\n",
    "quoted_bom_blank": '\ufeff"a","b","t"\n"1.5",2,3\n\n4,5,6\n',
    "spaces": "a, b, t\n 1 , 2 , 3\n4,5,6\n",
    "nan_literal": "a,b,t\nnan,1,0\ninf,2,1\n",
    "comment_char": "a#,b,t\n1,2,0\n",
}
BAD = {
    "empty_entry": "a,b,t\n1,,0\n",
    "text_feature": "a,b,t\n1,x,0\n2,3,1\n",
    "ragged": "a,b,t\n1,2,0\n1,2\n",
    "too_wide": "a,b,t\n1,2,0,9\n",
    "na_value": "a,b,t\n1,NA,0\n",
    "empty_target": "a,b,t\n1,2,\n",
    "only_header": "a,b,t\n",
    "empty_file": "",
    "bad_target_name": "a,b,t\n1,2,0\n",
}


def _exact(path, **kw):
    return files._read_csv_exact(str(path), kw.get("target"), kw.get("header"),
                                 kw.get("has_target", True))


def _same(a, b):
    assert a["feature_names"] == b["feature_names"]
    assert a["target_name"] == b["target_name"]
    assert a["X"].dtype == b["X"].dtype == np.float32
    np.testing.assert_array_equal(a["X"], b["X"])
    if b["y"] is None:
        assert a["y"] is None
    else:
        assert a["y"].dtype.kind == b["y"].dtype.kind
        np.testing.assert_array_equal(a["y"], b["y"])


@pytest.mark.parametrize("name", sorted(GOOD))
@pytest.mark.parametrize("kw", [{}, {"target": 0}, {"has_target": False}])
def test_fast_equals_exact(tmp_path, name, kw):
    path = tmp_path / f"{name}.csv"
    path.write_text(GOOD[name], encoding="utf-8")
    try:
        want = _exact(path, **kw)
    except ValueError as err:  # e.g. a text column used as a feature
        with pytest.raises(ValueError) as fast:
            read_csv(path, **kw)
        assert str(fast.value) == str(err)
        return
    _same(read_csv(path, **kw), want)


@pytest.mark.parametrize("name", sorted(BAD))
def test_errors_are_the_exact_ones(tmp_path, name):
    path = tmp_path / f"{name}.csv"
    path.write_text(BAD[name], encoding="utf-8")
    kw = {"target": "missing"} if name == "bad_target_name" else {}
    with pytest.raises(ValueError) as exact:
        _exact(path, **kw)
    with pytest.raises(ValueError) as fast:
        read_csv(path, **kw)
    assert str(fast.value) == str(exact.value)


def test_error_names_column_line_and_value(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,t\n1,2,0\n3,oops,1\n")
    with pytest.raises(ValueError, match=r"column 'b'.*'oops' on line 3"):
        read_csv(path)


def test_large_numeric_file_takes_the_fast_path(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    data = np.column_stack([rng.normal(size=(500, 4)), rng.integers(0, 3, 500)])
    path = tmp_path / "big.csv"
    np.savetxt(path, data, delimiter=",", header="a,b,c,d,y", comments="", fmt="%.7g")
    monkeypatch.setattr(files, "_read_csv_exact", None)  # the exact path must not run
    out = read_csv(path)
    assert out["X"].shape == (500, 4) and out["y"].dtype == np.int64
    np.testing.assert_allclose(out["X"], data[:, :4], rtol=1e-6)


def test_csv_columns_reads_only_the_head(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("\n\na,b,t\n1,2,0\n" + "1,2\n" * 3)  # later lines do not matter
    assert files.csv_columns(path) == (3, ["a", "b", "t"])
    path.write_text("1,2,0\n3,4,1\n")
    assert files.csv_columns(path) == (3, None)
