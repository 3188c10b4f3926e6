"""The naming scheme's containers: numbered Haiku siblings found in nnx.List / nnx.Sequential."""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import hk2nnx
from hk2nnx.program.naming import container_slot, resolve_in_containers

PRESENT = {"linears", "linears.0", "linears.0.kernel", "linears.1", "linears.1.kernel",
           "mlp", "mlp.layers", "mlp.layers.0", "mlp.layers.0.kernel", "mlp.layers.2",
           "mlp.layers.2.kernel", "linear_1", "linear_1.kernel"}
CONTAINERS = {"linears": ["linears.0", "linears.1"], "mlp": ["mlp.layers.0", "mlp.layers.2"],
              "mlp.layers": ["mlp.layers.0", "mlp.layers.2"]}


@pytest.mark.parametrize(("name", "slot"), [("linear", ("linear", 0)), ("linear_3", ("linear", 3)),
                                            ("layer_0", ("layer", 0)), ("conv2_d", ("conv2_d", 0))])
def test_container_slot(name, slot):
    assert container_slot(name) == slot


@pytest.mark.parametrize(("path", "found"), [
    ("linear.kernel", "linears.0.kernel"),  # Haiku's `linear`: element 0 of `linears`
    ("linear_1.kernel", "linear_1.kernel"),  # the scheme path wins where the model has it
    ("mlp.linear_1.kernel", "mlp.layers.2.kernel"),  # the second module; relu is skipped
    ("mlp.linear_2.kernel", "mlp.linear_2.kernel"),  # no third module: unchanged
    ("other.kernel", "other.kernel"),
])
def test_resolve_in_containers(path, found):
    assert resolve_in_containers(path, PRESENT, CONTAINERS) == found


class _Listed(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(3, 4, rngs=rngs), nnx.Linear(4, 2, rngs=rngs)])

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def _forward(x):
    for i, n in enumerate((4, 2)):
        x = hk.Linear(n, name=f"layer_{i}")(x)
    return x


def test_port_fills_a_list_and_comes_back_exactly():
    transformed = hk.transform(_forward)
    x = jnp.ones((1, 3))
    params = transformed.init(jax.random.key(0), x)
    model = _Listed(nnx.Rngs(1))
    program = hk2nnx.trace(transformed, hk2nnx.TensorSpec.parse("f32[1,3]"))
    hk2nnx.port_to_nnx(params, None, model, program=program)
    np.testing.assert_array_equal(model.layers[1].kernel[...], params["layer_1"]["w"])
    back, _ = hk2nnx.port_to_haiku(model, program)
    np.testing.assert_array_equal(back["layer_0"]["b"], params["layer_0"]["b"])
    np.testing.assert_allclose(model(x), transformed.apply(params, None, x), rtol=1e-6)


def test_a_checkpoint_keyed_by_the_scheme_loads_into_a_list(tmp_path):
    from hk2nnx.port.api import to_nnx_arrays

    transformed = hk.transform(_forward)
    params = transformed.init(jax.random.key(0), jnp.ones((1, 3)))
    program = hk2nnx.trace(transformed, hk2nnx.TensorSpec.parse("f32[1,3]"))
    flat, _, _ = to_nnx_arrays(params, None, program)
    assert "layer_1.kernel" in flat  # files keep the scheme's paths
    np.savez(tmp_path / "ckpt.npz", **flat)
    model = hk2nnx.load_into(_Listed(nnx.Rngs(1)), tmp_path / "ckpt.npz")
    np.testing.assert_array_equal(model.layers[1].kernel[...], params["layer_1"]["w"])
