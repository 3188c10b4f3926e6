"""Each layer default of the initializer table, and each compat module's own default init,
draws from the law of the Haiku layer's default (the Haiku layer's own leaf is the sample)."""

import ast

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from law import jax_draw, law_faults

from hk2nnx import compat
from hk2nnx.compat import initializers as table


# layer -> (forward, input shape): leaves big enough for ~20k-value samples.
BUILDERS = {
    "haiku.Linear": (lambda x: hk.Linear(200)(x), (1, 100)),
    "haiku.Conv1D": (lambda x: hk.Conv1D(60, 3)(x), (1, 4, 100)),
    "haiku.Conv2D": (lambda x: hk.Conv2D(50, 3)(x), (1, 4, 4, 40)),
    "haiku.Conv3D": (lambda x: hk.Conv3D(35, 3)(x), (1, 3, 3, 3, 20)),
    "haiku.ConvND": (lambda x: hk.ConvND(2, 50, 3)(x), (1, 4, 4, 40)),
    "haiku.DepthwiseConv1D": (lambda x: hk.DepthwiseConv1D(20, 3)(x), (1, 4, 300)),
    "haiku.DepthwiseConv2D": (lambda x: hk.DepthwiseConv2D(20, 3)(x), (1, 4, 4, 100)),
    "haiku.DepthwiseConv3D": (lambda x: hk.DepthwiseConv3D(7, 3)(x), (1, 3, 3, 3, 100)),
    "haiku.Conv1DTranspose": (lambda x: hk.Conv1DTranspose(60, 3)(x), (1, 4, 100)),
    "haiku.Conv2DTranspose": (lambda x: hk.Conv2DTranspose(50, 3)(x), (1, 4, 4, 40)),
    "haiku.Conv3DTranspose": (lambda x: hk.Conv3DTranspose(35, 3)(x), (1, 3, 3, 3, 20)),
    "haiku.ConvNDTranspose": (lambda x: hk.ConvNDTranspose(2, 50, 3)(x), (1, 4, 4, 40)),
    "haiku.LayerNorm": (lambda x: hk.LayerNorm(-1, True, True)(x), (2, 50)),
    "haiku.BatchNorm": (lambda x: hk.BatchNorm(True, True, 0.9)(x, True), (2, 50)),
    "haiku.GroupNorm": (lambda x: hk.GroupNorm(2)(x), (2, 3, 50)),
    "haiku.InstanceNorm": (lambda x: hk.InstanceNorm(True, True)(x), (2, 3, 50)),
    "haiku.RMSNorm": (lambda x: hk.RMSNorm(-1)(x), (2, 50)),
    "haiku.Bias": (lambda x: hk.Bias()(x), (2, 50)),
    "haiku.Embed": (lambda x: hk.Embed(200, 100)(x.astype(jnp.int32)), (2,)),
    "haiku.GRU": (lambda x: hk.GRU(100)(x, x), (2, 100)),
    "haiku.nets.VectorQuantizer": (lambda x: hk.nets.VectorQuantizer(100, 200, 0.25)(x, True),
                                   (2, 100)),
    "haiku.nets.VectorQuantizerEMA": (
        lambda x: hk.nets.VectorQuantizerEMA(100, 200, 0.25, 0.9)(x, True), (2, 100)),
    "haiku.SpectralNorm": (lambda x: hk.SpectralNorm()(x), (2, 20000)),
}
DEFAULTS = table.LAYER_DEFAULTS


def _haiku_leaf(layer: str, leaf: str) -> np.ndarray:
    forward, shape = BUILDERS[layer]
    params, state = hk.transform_with_state(forward).init(jax.random.key(0), jnp.ones(shape))
    found = [v[leaf] for tree in (params, state) for v in tree.values() if leaf in v]
    assert len(found) == 1, (layer, leaf)
    return np.asarray(found[0])


def test_every_layer_default_has_a_builder():
    assert {d.layer for d in DEFAULTS} == set(BUILDERS)


@pytest.mark.parametrize("default", DEFAULTS, ids=[f"{d.layer}.{d.leaf}" for d in DEFAULTS])
def test_layer_default_draws_from_the_layers_law(default):
    expected = _haiku_leaf(default.layer, default.leaf)
    shape = expected.shape
    if default.layer.endswith("Transpose") and default.leaf == "w":  # NNX's (..., in, out)
        shape = shape[:-2] + (shape[-1], shape[-2])
    args = {k: ast.literal_eval(v) for k, v in default.args}
    ours = jax_draw(table.build(default.rule, rank=len(shape), **args), shape)
    faults = law_faults(expected, ours, bounded="Truncated" in default.rule
                        or default.rule == table.FAN_IN_TRUNCATED)
    assert not faults, faults


def _leaf(module: nnx.Module, path: str) -> np.ndarray:
    for part in path.split("."):
        module = getattr(module, part)
    return np.asarray(module[...])


R = nnx.Rngs(3)
# compat module, its leaf, and the Haiku (layer, leaf) whose default it must reproduce
COMPAT_DEFAULTS = [
    (lambda: compat.LSTM(50, input_size=150, rngs=R), "linear.kernel", "haiku.Linear", "w",
     (200, 200)),
    (lambda: compat.VanillaRNN(200, input_size=100, rngs=R), "linear.kernel", "haiku.Linear",
     "w", (100, 200)),
    (lambda: compat.GRU(100, input_size=100, rngs=R), "w_i", "haiku.GRU", "w_i", None),
    (lambda: compat.GRU(100, input_size=100, rngs=R), "w_h", "haiku.GRU", "w_h", None),
    (lambda: compat.Embed(200, 100, rngs=R), "embedding", "haiku.Embed", "embeddings", None),
    (lambda: compat.VectorQuantizer(100, 200, 0.25, rngs=R), "embeddings",
     "haiku.nets.VectorQuantizer", "embeddings", None),
    (lambda: compat.VectorQuantizerEMA(100, 200, 0.25, 0.9, rngs=R), "embeddings",
     "haiku.nets.VectorQuantizerEMA", "embeddings", None),
    (lambda: compat.SpectralNorm(shape=(2, 20000), rngs=R), "u0", "haiku.SpectralNorm", "u0",
     None),
]


@pytest.mark.parametrize(("build", "path", "layer", "leaf", "linear_shape"), COMPAT_DEFAULTS,
                         ids=[f"{c[2]}.{c[3]}->{c[1]}" for c in COMPAT_DEFAULTS])
def test_compat_default_init_is_haikus(build, path, layer, leaf, linear_shape):
    ours = _leaf(build(), path)
    if linear_shape is None:
        expected = _haiku_leaf(layer, leaf)
    else:  # an hk.Linear of the same fan_in as the compat linear
        params = hk.transform(lambda x: hk.Linear(linear_shape[1])(x)).init(
            jax.random.key(0), jnp.ones((1, linear_shape[0])))
        expected = np.asarray(params["linear"]["w"])
    assert ours.shape == expected.shape
    faults = law_faults(expected, ours, bounded=layer != "haiku.SpectralNorm")
    assert not faults, faults


def test_compat_linear_init_is_the_tables_expression():
    """The template's constant and the table's source text are the same function."""
    key = jax.random.key(5)
    table_init = table.build(table.FAN_IN_TRUNCATED)
    template_init = compat.templates.inits.HAIKU_LINEAR_INIT
    np.testing.assert_array_equal(table_init(key, (7, 9)), template_init(key, (7, 9)))
