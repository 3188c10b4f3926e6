"""load_into fills an NNX model from any NNX-side file; a Haiku checkpoint survives the files."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import hk2nnx
from hk2nnx.port import formats
from hk2nnx.port.api import from_nnx_arrays, nnx_variables, to_nnx_arrays
from hk2nnx.port.formats import CheckpointError

NNX_FORMATS = ["m.npz", "m.safetensors", "m_orbax"]


class _Net(nnx.Module):
    def __init__(self, rngs, width=3):
        self.layers = nnx.List([nnx.Linear(2, width, rngs=rngs), nnx.Linear(width, 1, rngs=rngs)])
        self.norm = nnx.BatchNorm(1, rngs=rngs)

    def __call__(self, x):
        return self.norm(self.layers[1](self.layers[0](x)))


def _flat(model):
    return {p: np.asarray(v.get_value()) for p, v in nnx_variables(model).items()}


@pytest.mark.parametrize("name", NNX_FORMATS)
def test_load_into_fills_every_variable(tmp_path, name):
    source = _Net(nnx.Rngs(0))
    source.norm.mean.set_value(jnp.full((1,), 0.25))
    out = formats.write_nnx_checkpoint(tmp_path / name, _flat(source),
                                       {("net/~/ema", "hidden"): np.ones(2)})
    target = formats.load_into(_Net(nnx.Rngs(1)), out)
    x = jnp.ones((2, 2))
    source.eval()
    target.eval()
    assert np.array_equal(target(x), source(x))
    assert all(np.array_equal(a, b) for a, b in zip(_flat(source).values(),
                                                    _flat(target).values()))


def test_load_into_lists_every_mismatch_and_changes_nothing(tmp_path):
    flat = _flat(_Net(nnx.Rngs(0), width=4))  # wrong width: kernels and a bias differ
    del flat["norm.scale"]
    flat["extra.kernel"] = np.zeros(2, np.float32)
    flat["norm.mean"] = flat["norm.mean"].astype(np.float16)
    out = formats.write_nnx_checkpoint(tmp_path / "m.safetensors", flat)
    target = _Net(nnx.Rngs(1))
    before = _flat(target)
    with pytest.raises(CheckpointError) as err:
        formats.load_into(target, out)
    text = str(err.value)
    for words in ("norm.scale: missing from the checkpoint", "extra.kernel: not in the model",
                  "layers.0.kernel: checkpoint float32[2, 4], model float32[2, 3]",
                  "layers.1.kernel", "layers.0.bias", "norm.mean: checkpoint float16"):
        assert words in text
    assert all(np.array_equal(before[k], v) for k, v in _flat(target).items())


def _haiku_with_state():
    def forward(x, training):
        x = hk.Linear(4, name="encoder")(x)
        x = hk.BatchNorm(True, True, 0.9)(x, is_training=training)
        return hk.Linear(2)(x)

    t = hk.transform_with_state(forward)
    x = jax.random.normal(jax.random.key(0), (3, 5))
    params, state = t.init(jax.random.key(1), x, training=True)
    _, state = t.apply(params, state, None, x, training=True)
    return t, x, params, state


@pytest.mark.parametrize("name", NNX_FORMATS)
def test_port_through_files_and_back_is_exact(tmp_path, name):
    t, x, params, state = _haiku_with_state()
    program = hk2nnx.trace(t, x, training=True)
    haiku_file = formats.write_haiku_checkpoint(tmp_path / "h.npz", params, state)
    read_params, read_state = formats.read_haiku_checkpoint(haiku_file)
    flat, residual, _ = to_nnx_arrays(read_params, read_state, program)
    assert residual  # BatchNorm's EMA counter and hidden value have no NNX home
    out = formats.write_nnx_checkpoint(tmp_path / name, flat, residual)
    back_flat, back_residual = formats.read_nnx_checkpoint(out)
    back_params, back_state = from_nnx_arrays(back_flat, program, back_residual)
    reverse = formats.write_haiku_checkpoint(tmp_path / "back.safetensors", back_params,
                                             back_state)
    final_params, final_state = formats.read_haiku_checkpoint(reverse)
    original = jax.tree.leaves((params, state))
    final = jax.tree.leaves((final_params, final_state))
    assert len(original) == len(final)
    assert all(np.asarray(a).tobytes() == b.tobytes() and a.dtype == b.dtype
               for a, b in zip(original, final))
