"""Every format keeps every dtype bit-exact, and reads the files other tools write."""

import json
import pickle

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import orbax.checkpoint as ocp
import pytest
import safetensors.numpy
from flax import nnx, serialization
from safetensors import safe_open

from hk2nnx.port import formats
from hk2nnx.port.api import nnx_variables
from hk2nnx.port.formats import npz_io

DTYPES = ["float32", "float16", "bfloat16", "int8", "int32", "uint32", "bool"]
HAIKU_FORMATS = ["x.npz", "x.safetensors", "x.pkl", "x.msgpack"]
NNX_FORMATS = ["x.npz", "x.safetensors", "x_orbax"]


def _arrays(dtype_name, seed=0):
    """Random bit patterns (NaNs and infinities included) in a matrix, a scalar and an empty."""
    dtype = np.dtype(getattr(ml_dtypes, dtype_name, dtype_name))
    rng = np.random.default_rng(seed)

    def make(shape):
        n = int(np.prod(shape))
        if dtype == np.bool_:
            return rng.integers(0, 2, size=shape).astype(bool)
        return np.frombuffer(rng.bytes(n * dtype.itemsize), dtype=dtype).reshape(shape).copy()

    return {"matrix": make((3, 2)), "scalar": make(()), "empty": make((0,))}


def _same(a, b):
    return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
            and a.tobytes() == b.tobytes())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", HAIKU_FORMATS)
def test_haiku_side_round_trip_is_bit_exact(tmp_path, name, dtype):
    arrays = _arrays(dtype)
    params = {"mlp/~/linear_0": {"w": arrays["matrix"], "b": arrays["empty"]}}
    state = {"batch_norm/~/mean_ema": {"counter": arrays["scalar"]}}
    out = formats.write_haiku_checkpoint(tmp_path / name, params, state)
    back_params, back_state = formats.read_haiku_checkpoint(out)
    assert set(back_params) == set(params) and set(back_state) == set(state)
    assert _same(arrays["matrix"], back_params["mlp/~/linear_0"]["w"])
    assert _same(arrays["empty"], back_params["mlp/~/linear_0"]["b"])
    assert _same(arrays["scalar"], back_state["batch_norm/~/mean_ema"]["counter"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NNX_FORMATS)
def test_nnx_side_round_trip_is_bit_exact(tmp_path, name, dtype):
    arrays = _arrays(dtype, seed=1)
    flat = {"block.linear.kernel": arrays["matrix"], "layers.0.bias": arrays["empty"],
            "count": arrays["scalar"]}
    residual = {("block/~/mean_ema", "hidden"): arrays["matrix"][0],
                ("block/~/mean_ema", "counter"): arrays["scalar"]}
    out = formats.write_nnx_checkpoint(tmp_path / name, flat, residual)
    back, back_residual = formats.read_nnx_checkpoint(out)
    assert set(back) == set(flat) and set(back_residual) == set(residual)
    assert all(_same(flat[k], back[k]) for k in flat)
    assert all(_same(residual[k], back_residual[k]) for k in residual)


def test_nnx_file_keys_and_metadata_follow_the_convention(tmp_path):
    flat = {"block.linear.kernel": np.ones((2, 2), np.float32)}
    residual = {("block/~/mean_ema", "hidden"): np.zeros(2, np.float32)}
    st = formats.write_nnx_checkpoint(tmp_path / "a.safetensors", flat, residual)
    with safe_open(str(st), "np") as handle:
        assert set(handle.keys()) == {"block.linear.kernel",
                                      "__hk2nnx_residual__/block/~/mean_ema/hidden"}
        meta = handle.metadata()
    assert meta["source"] == "haiku" and meta["hk2nnx_format_version"] == "1"
    npz = formats.write_nnx_checkpoint(tmp_path / "a.npz", flat, residual)
    with np.load(npz) as archive:
        assert "block.linear.kernel" in archive.files
        assert json.loads(str(archive[npz_io.META_MEMBER][()]))["source"] == "haiku"


def test_haiku_safetensors_keys_are_module_slash_leaf(tmp_path):
    params = {"mlp/~/linear_0": {"w": np.ones(2, np.float32)}}
    state = {"bn/~/var_ema": {"hidden": np.ones(2, np.float32)}}
    out = formats.write_haiku_checkpoint(tmp_path / "h.safetensors", params, state)
    with safe_open(str(out), "np") as handle:
        assert set(handle.keys()) == {"mlp/~/linear_0/w", "bn/~/var_ema/hidden"}
        assert json.loads(handle.metadata()["hk2nnx_state_keys"]) == ["bn/~/var_ema/hidden"]


def test_orbax_directory_loads_into_nnx_state_with_replace_by_pure_dict(tmp_path):
    class Net(nnx.Module):
        def __init__(self, rngs):
            self.layers = nnx.List([nnx.Linear(2, 3, rngs=rngs), nnx.Linear(3, 1, rngs=rngs)])

    source, target = Net(nnx.Rngs(0)), Net(nnx.Rngs(1))
    flat = {p: np.asarray(v.get_value()) for p, v in nnx_variables(source).items()}
    out = formats.write_nnx_checkpoint(tmp_path / "ckpt", flat)
    with ocp.PyTreeCheckpointer() as checkpointer:
        pure = checkpointer.restore(out.resolve())
    assert set(pure["layers"]) == {"0", "1"}
    state = nnx.state(target)
    nnx.replace_by_pure_dict(state, pure)
    nnx.update(target, state)
    assert np.array_equal(target.layers[1].kernel[...], source.layers[1].kernel[...])


def _foreign_tree():
    params = {"mlp/~/linear_0": {"w": np.arange(6, dtype=np.float32).reshape(2, 3),
                                 "b": np.arange(3).astype(ml_dtypes.bfloat16)},
              "~": {"scale": np.array(2.0, np.float32)}}
    state = {"bn/~/mean_ema": {"counter": np.array(4, np.int32)}}
    return params, state


def _check_foreign(params, state, got, with_state=True):
    got_params, got_state = got
    for tree, back in ((params, got_params), (state if with_state else {}, got_state)):
        assert set(back) == set(tree)
        assert all(_same(tree[m][n], back[m][n]) for m in tree for n in tree[m])


@pytest.mark.parametrize("shape", ["params", "dict", "tuple"])
def test_foreign_pickles_in_each_accepted_shape(tmp_path, shape):
    params, state = _foreign_tree()
    obj = {"params": params, "dict": {"params": params, "state": state},
           "tuple": (params, state)}[shape]
    path = tmp_path / "ckpt.pkl"
    path.write_bytes(pickle.dumps(obj))
    _check_foreign(params, state, formats.read_haiku_checkpoint(path), shape != "params")


def test_foreign_msgpack_npz_safetensors_and_orbax(tmp_path):
    params, state = _foreign_tree()
    both = {"params": params, "state": state}
    (tmp_path / "a.msgpack").write_bytes(serialization.msgpack_serialize(both))
    _check_foreign(params, state, formats.read_haiku_checkpoint(tmp_path / "a.msgpack"))
    flat = {f"{m}/{n}": v for m, leaves in params.items() for n, v in leaves.items()}
    np.savez(tmp_path / "a.npz", **flat)  # bfloat16 lands as |V2 and is read back as bfloat16
    _check_foreign(params, {}, formats.read_haiku_checkpoint(tmp_path / "a.npz"), False)
    prefixed = {f"{c}/{m}/{n}": x for c, tree in both.items()
                for m, leaves in tree.items() for n, x in leaves.items()}
    np.savez(tmp_path / "b.npz", **prefixed)
    _check_foreign(params, state, formats.read_haiku_checkpoint(tmp_path / "b.npz"))
    safetensors.numpy.save_file(flat, tmp_path / "a.safetensors")
    _check_foreign(params, {}, formats.read_haiku_checkpoint(tmp_path / "a.safetensors"), False)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save((tmp_path / "orbax").resolve(), {
        "params": {m: {n: jnp.asarray(v) for n, v in ls.items()} for m, ls in params.items()},
        "state": state})
    checkpointer.wait_until_finished()
    checkpointer.close()
    _check_foreign(params, state, formats.read_haiku_checkpoint(tmp_path / "orbax"))


def test_orbax_nnx_state_saved_directly_reads_as_dotted_paths(tmp_path):
    model = nnx.Linear(2, 3, rngs=nnx.Rngs(0))
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save((tmp_path / "state").resolve(), nnx.state(model))
    checkpointer.wait_until_finished()
    checkpointer.close()
    flat, residual = formats.read_nnx_checkpoint(tmp_path / "state")
    assert set(flat) == {"kernel", "bias"} and residual == {}
    assert np.array_equal(flat["kernel"], np.asarray(model.kernel[...]))


@pytest.mark.parametrize("name", ["x.npz", "x.safetensors"])
def test_flat_formats_stream_one_leaf_at_a_time(tmp_path, name, monkeypatch):
    params = {f"layer_{i}": {"w": np.full(4, i, np.float32)} for i in range(5)}
    out = formats.write_haiku_checkpoint(tmp_path / name, params)
    loads = []
    original = np.lib.npyio.NpzFile.__getitem__
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__",
                        lambda self, key: loads.append(key) or original(self, key))
    read_exact = formats.safetensors_io._read_exact
    monkeypatch.setattr(formats.safetensors_io, "_read_exact",
                        lambda handle, offset, n, source: loads.append(offset)
                        or read_exact(handle, offset, n, source))
    leaves = formats.iter_haiku_leaves(out)
    first = next(leaves)
    data_loads = [k for k in loads if k != npz_io.META_MEMBER]
    assert len(data_loads) == 1 and first.kind == "params"
    assert len(list(leaves)) == 4
