"""The restricted unpickler: plain data and arrays load; anything that could run code is refused."""

import collections
import functools
import importlib
import os
import pickle
import subprocess
import sys

import haiku as hk
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from hk2nnx.port import safe_pickle
from hk2nnx.port.formats import CheckpointError, UnsafePickleError, read_haiku_checkpoint


class _Evil:
    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _write(tmp_path, obj, name="model.pkl", protocol=4):
    path = tmp_path / name
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    return path


def _marker(tmp_path):
    return tmp_path / "pwned"


@pytest.mark.parametrize("make, refused", [
    (lambda m: _Evil(os.system, f"touch {m}"), "posix.system"),
    (lambda m: _Evil(eval, f"open({str(m)!r}, 'w')"), "builtins.eval"),
    (lambda m: _Evil(exec, f"open({str(m)!r}, 'w')"), "builtins.exec"),
    (lambda m: _Evil(subprocess.Popen, ["touch", str(m)]), "subprocess.Popen"),
    (lambda m: _Evil(functools.partial(os.system, f"touch {m}")), "functools.partial"),
    (lambda m: _Evil(importlib.import_module, "os"), "importlib.import_module"),
    (lambda m: _Evil(getattr, "text", "upper"), "builtins.getattr"),
    (lambda m: _Evil(np.load, str(m)), "numpy.load"),
])
def test_code_running_globals_are_refused_and_nothing_runs(tmp_path, make, refused):
    marker = _marker(tmp_path)
    path = _write(tmp_path, {"params": {"linear": {"w": make(marker)}}})
    with pytest.raises(UnsafePickleError) as err:
        safe_pickle.load(path)
    text = str(err.value)
    assert text.startswith(f"{path}: refused to load '{refused}'")
    assert "nothing was executed" in text and "\n" not in text
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_object_arrays_are_refused_even_nested(tmp_path, protocol):
    marker = _marker(tmp_path)
    payload = np.array([1, _Evil(os.system, f"touch {marker}")], dtype=object)
    for obj in (payload, {"a": {"b": [payload]}}):
        path = _write(tmp_path, obj, protocol=protocol)
        with pytest.raises(UnsafePickleError, match="dtype object"):
            safe_pickle.load(path)
    assert not marker.exists()


def test_structured_dtypes_are_refused(tmp_path):
    path = _write(tmp_path, {"m": {"w": np.zeros(2, dtype=[("a", "f4"), ("b", "O")])}})
    with pytest.raises(UnsafePickleError, match="dtype"):
        safe_pickle.load(path)


def test_refused_through_read_haiku_checkpoint_too(tmp_path):
    marker = _marker(tmp_path)
    path = _write(tmp_path, _Evil(os.system, f"touch {marker}"), name="ckpt.pickle")
    with pytest.raises(UnsafePickleError, match="posix.system"):
        read_haiku_checkpoint(path)
    assert not marker.exists()


def test_build_cannot_alter_shared_types(tmp_path):
    # GLOBAL ml_dtypes.bfloat16; BUILD (None, {"evil": 1}): plain pickle would set a class attr.
    data = (b"\x80\x02cml_dtypes\nbfloat16\nN}X\x04\x00\x00\x00evilK\x01s\x86b.")
    with pytest.raises(CheckpointError):
        safe_pickle.loads(data, "x.pkl")
    assert not hasattr(ml_dtypes.bfloat16, "evil")


def test_dtype_state_never_touches_numpy_singletons():
    class _Tamper:
        def __reduce__(self):
            return np.dtype, ("f4", False, False), (3, ">", None, None, None, -1, -1, 0)

    before = np.dtype("f4")
    try:
        safe_pickle.loads(pickle.dumps(_Tamper()), "x.pkl")
    except CheckpointError:
        pass
    assert np.dtype("f4") is before and np.dtype("f4").byteorder == "="


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_numpy_arrays_and_scalars_load_in_every_protocol(protocol):
    tree = {
        "m": {"w": np.arange(6, dtype=np.float32).reshape(2, 3).T,  # non-contiguous
              "bf": np.arange(3).astype(ml_dtypes.bfloat16),
              "i": np.array(-3, np.int8), "flag": np.array([True, False]),
              "empty": np.zeros((0,), np.uint32), "big": np.arange(3, dtype=">i4")},
        "s": (np.float32(1.5), np.int64(7), np.bool_(True), None, "text", 2.0, [1, 2]),
    }
    data = pickle.dumps(tree, protocol=protocol)
    out, expected = safe_pickle.loads(data, "x.pkl"), pickle.loads(data)
    for key, value in expected["m"].items():
        assert out["m"][key].dtype == value.dtype and np.array_equal(out["m"][key], value)
        assert out["m"][key].tobytes() == value.tobytes()
    assert out["s"][0] == np.float32(1.5) and type(out["s"][0]) is np.float32
    assert list(out["s"][1:]) == [7, True, None, "text", 2.0, [1, 2]]


def test_jax_arrays_come_back_as_numpy(tmp_path):
    x = jnp.arange(4, dtype=jnp.bfloat16)
    out = safe_pickle.loads(pickle.dumps({"m": {"w": x}}), "x.pkl")
    assert isinstance(out["m"]["w"], np.ndarray) and out["m"]["w"].dtype == ml_dtypes.bfloat16
    assert np.array_equal(out["m"]["w"], np.asarray(x))


def test_haiku_params_pickled_directly_read_back(tmp_path):
    t = hk.transform(lambda x: hk.nets.MLP([3, 2])(x))
    params = t.init(jax.random.key(0), jnp.ones((1, 4)))
    path = _write(tmp_path, params)
    back, state = read_haiku_checkpoint(path)
    assert state == {} and set(back) == set(params)
    for module, leaves in params.items():
        for name, value in leaves.items():
            assert np.array_equal(back[module][name], np.asarray(value))


def test_ordered_dicts_and_cycles_are_plain_data():
    out = safe_pickle.loads(pickle.dumps(collections.OrderedDict(a=np.ones(2))), "x.pkl")
    assert type(out) is dict and np.array_equal(out["a"], np.ones(2))
    loop: list = []
    loop.append(loop)
    again = safe_pickle.loads(pickle.dumps(loop), "x.pkl")
    assert again[0] is again


def test_other_jax_objects_get_a_conversion_hint():
    data = b"\x80\x02cjax.numpy\nones\nK\x03\x85R."
    with pytest.raises(UnsafePickleError, match="np.asarray"):
        safe_pickle.loads(data, "x.pkl")


def test_truncated_pickle_is_one_line_error(tmp_path):
    path = _write(tmp_path, {"m": {"w": np.arange(100, dtype=np.float32)}})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(CheckpointError) as err:
        safe_pickle.load(path)
    assert str(err.value).startswith(f"{path}: not a readable pickle") and "\n" not in str(err)


def test_importing_safe_pickle_first_works():
    done = subprocess.run([sys.executable, "-c", "import hk2nnx.port.safe_pickle as s; s.load"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_bytes_with_arguments_is_refused():
    with pytest.raises(UnsafePickleError, match=r"bytes\(\) with arguments"):
        safe_pickle.loads(pickle.dumps(_Evil(bytes, 10**12)), "x.pkl")
