"""Property-based fuzzing of the readers and loaders (issue 11).

Random bytes, truncated and mutated CSV / .npz / JSON / checkpoint files
must give chainrule's own clear errors (ValueError or TypeError with an
"Expected ..." message; CheckpointError is a ValueError), never another
exception, and must leave the user's file as it was.
"""

import hashlib
import io
import json
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chainrule.data.files import read_csv, read_npz
from chainrule.training import checkpoint as ckpt
from chainrule.training._run_folder import read_config

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same cases in CI every time
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _csv_bytes() -> bytes:
    rows = ["a,b,label"] + [f"{i * 0.5:.2f},{-i:.1f},{'xy'[i % 2]}" for i in range(12)]
    return ("\n".join(rows) + "\n").encode()


def _npz_bytes() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, X=np.arange(12, dtype=np.float32).reshape(6, 2), y=np.arange(6) % 2)
    return buf.getvalue()


def _checkpoint_bytes(tmp: str) -> bytes:
    path = os.path.join(tmp, "seed.npz")
    state = {"model": {"w": np.ones((2, 3), np.float32)}, "step": 3, "hist": [1.0, (2, "a")]}
    ckpt.save_checkpoint(path, state)
    with open(path, "rb") as f:
        return f.read()


def _mutate(data: bytes, cut: int, edits: list, insert: bytes) -> bytes:
    out = bytearray(data[: max(0, len(data) - cut)] if cut else data)
    for pos, value in edits:
        if out:
            out[pos % len(out)] = value
    if insert and out:
        at = len(insert) % len(out)
        out[at:at] = insert
    return bytes(out)


mutations = st.tuples(
    st.integers(0, 400),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    st.binary(max_size=8),
)


def _check(read, path: str) -> None:
    """Run ``read(path)``: success, or a clear chainrule error; the file unchanged."""
    with open(path, "rb") as f:
        before = hashlib.sha256(f.read()).hexdigest()
    listing = sorted(os.listdir(os.path.dirname(path)))
    try:
        read(path)
    except (ValueError, TypeError) as err:
        assert "Expected" in str(err), f"{type(err).__name__}: {err}"
    with open(path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == before
    assert sorted(os.listdir(os.path.dirname(path))) == listing


@pytest.fixture
def folder(tmp_path):
    return str(tmp_path)


def _write(folder: str, name: str, data: bytes) -> str:
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes(folder, data):
    _check(read_csv, _write(folder, "r.csv", data))
    _check(read_npz, _write(folder, "r.npz", data))
    _check(ckpt.load_checkpoint, _write(folder, "c.npz", data))
    os.makedirs(os.path.join(folder, "run"), exist_ok=True)
    _check(lambda p: read_config(os.path.dirname(p)),
           _write(os.path.join(folder, "run"), "config.json", data))


@FUZZ
@given(m=mutations)
def test_mutated_csv(folder, m):
    path = _write(folder, "m.csv", _mutate(_csv_bytes(), *m))
    _check(read_csv, path)
    _check(lambda p: read_csv(p, has_target=False), path)
    _check(lambda p: read_csv(p, target="label"), path)


@FUZZ
@given(m=mutations)
def test_mutated_npz(folder, m):
    _check(read_npz, _write(folder, "m.npz", _mutate(_npz_bytes(), *m)))


@FUZZ
@given(m=mutations)
def test_mutated_checkpoint(folder, m):
    seed = _checkpoint_bytes(folder)
    _check(ckpt.load_checkpoint, _write(folder, "m.npz", _mutate(seed, *m)))


# a valid checksum is no proof of a sound file: forged headers must fail cleanly
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["__array__", "__tuple__", "__items__", "model", "a0",
                                       "k"]), inner, max_size=3),
    max_leaves=12,
)


@FUZZ
@given(state=json_values, depth=st.integers(0, 3000))
def test_forged_checkpoint_header(folder, state, depth):
    body = {"format": ckpt.FORMAT, "version": ckpt.VERSION, "state": state}
    text = json.dumps(body)
    if depth > 2000:  # deep nesting: a RecursionError inside json or the decoder
        text = text.replace('"state": ', '"state": ' + "[" * depth, 1)[:-1] + "]" * depth + "}"
    header = text.encode()
    arrays = {"a0": np.zeros(2, np.float32)}
    payload = dict(arrays)
    payload["__header__"] = np.frombuffer(header, np.uint8)
    payload["__checksum__"] = np.frombuffer(
        ckpt._digest(header, arrays).encode("ascii"), np.uint8
    )
    path = os.path.join(folder, "forged.npz")
    np.savez(path, **payload)
    _check(ckpt.load_checkpoint, path)
    from chainrule import nn

    _check(lambda p: ckpt.load_model_state(p, nn.Linear(2, 2)), path)


@FUZZ
@given(m=mutations)
def test_mutated_run_config(folder, m):
    from chainrule.training._run_folder import write_config
    from chainrule.training.runs import DEFAULTS

    run = os.path.join(folder, "run")
    os.makedirs(run, exist_ok=True)
    write_config(run, dict(DEFAULTS), {"task": "classification", "classes": ["a", "b"]})
    with open(os.path.join(run, "config.json"), "rb") as f:
        good = f.read()
    _check(lambda p: read_config(os.path.dirname(p)),
           _write(run, "config.json", _mutate(good, *m)))


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from chainrule.cli import main

    out = tmp_path_factory.mktemp("fuzzrun") / "run"
    code = main(["train", "--dataset", "iris", "--out", str(out), "--hidden", "4",
                 "--epochs", "1", "--verbose", "0"])
    assert code == 0
    return out


@settings(FUZZ, max_examples=60)
@given(m=mutations, name=st.sampled_from(["model.npz", "config.json"]))
def test_mutated_run_files_through_the_cli(trained_run, capsys, m, name):
    """``chainrule evaluate`` on a damaged run: success or one clear line, files untouched."""
    from chainrule.cli import main

    path = trained_run / name
    good = path.read_bytes()
    try:
        path.write_bytes(_mutate(good, *m))
        before = {p.name: p.read_bytes() for p in trained_run.iterdir()}
        code = main(["evaluate", str(trained_run), "--json"])
        err = capsys.readouterr().err
        assert code in (0, 2)
        if code == 2:
            assert err.count("\n") == 1 and "Traceback" not in err, err
            assert "unexpected error" not in err, err
        assert {p.name: p.read_bytes() for p in trained_run.iterdir()} == before
    finally:
        path.write_bytes(good)
