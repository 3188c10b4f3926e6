"""compat avg_pool/max_pool (and AvgPool/MaxPool) are hk's; `flax_pool` arguments make
nnx.avg_pool/max_pool equal to Haiku whenever it offers them."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hk2nnx import compat
from hk2nnx.compat.pool_args import flax_pool

# (input shape, window, strides, padding, channel_axis)
CONFIGS = [
    ((2, 5, 6, 3), 2, 2, "SAME", -1),
    ((2, 5, 6, 3), 3, 1, "VALID", -1),
    ((2, 5, 6, 3), (2, 2), (1, 1), "SAME", -1),  # short tuple: pools W and C in Haiku
    ((2, 5, 6, 3), (1, 3, 3, 1), (1, 2, 2, 1), "SAME", -1),
    ((2, 5, 6, 3), (1, 3, 2, 1), (1, 2, 1, 1), "VALID", -1),
    ((2, 3, 5, 6), 2, 2, "SAME", 1),  # channels first
    ((2, 5, 6), 3, 2, "SAME", None),  # no channel axis: every axis but batch
    ((2, 7, 3), (3, 1), (2, 1), "SAME", -1),
    ((2, 4, 4, 4, 2), 2, (1, 2, 2, 2, 1), "SAME", -1),
    ((7, 3), 3, 2, "SAME", -1),
]
IDS = [f"{s}-{w}-{st}-{p}-{c}" for s, w, st, p, c in CONFIGS]
PAIRS = [(hk.avg_pool, compat.avg_pool), (hk.max_pool, compat.max_pool)]


def _x(shape):
    return jnp.asarray(np.random.default_rng(0).standard_normal(shape), jnp.float32)


def _value_and_input_grad(fn, x):
    weights = jax.random.normal(jax.random.key(1), jax.eval_shape(fn, x).shape)
    return jax.value_and_grad(lambda v: jnp.sum(fn(v) * weights))(x)


@pytest.mark.parametrize(("shape", "window", "strides", "padding", "channel_axis"), CONFIGS,
                         ids=IDS)
@pytest.mark.parametrize(("haiku_fn", "compat_fn"), PAIRS, ids=["avg", "max"])
def test_compat_pool_is_haikus(haiku_fn, compat_fn, shape, window, strides, padding,
                               channel_axis):
    x = _x(shape)
    args = (window, strides, padding, channel_axis)
    expected = haiku_fn(x, *args)
    actual = compat_fn(x, *args)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7)
    (_, g_expected), (_, g_actual) = (_value_and_input_grad(lambda v: f(v, *args), x)
                                      for f in (haiku_fn, compat_fn))
    np.testing.assert_allclose(g_actual, g_expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("haiku_cls", "compat_cls"), [(hk.AvgPool, compat.AvgPool),
                                                       (hk.MaxPool, compat.MaxPool)])
def test_pool_modules_are_haikus(haiku_cls, compat_cls):
    x = _x((2, 5, 6, 3))
    expected = hk.transform(lambda v: haiku_cls((2, 2), (1, 2), "SAME")(v)).apply({}, None, x)
    np.testing.assert_allclose(compat_cls((2, 2), (1, 2), "SAME")(x), expected, rtol=1e-6)


@pytest.mark.parametrize(("shape", "window", "strides", "padding", "channel_axis"), CONFIGS,
                         ids=IDS)
@pytest.mark.parametrize("function", ["avg_pool", "max_pool"])
def test_flax_arguments_reproduce_haiku_when_offered(function, shape, window, strides,
                                                     padding, channel_axis):
    plan = flax_pool(function, len(shape), window, strides, padding, channel_axis)
    x = _x(shape)
    expected = getattr(hk, function)(x, window, strides, padding, channel_axis)
    if plan is None:  # the window covers the last axis: no Flax arguments can
        full = compat.templates.pooling.pool_shape(x, window, channel_axis)
        steps = compat.templates.pooling.pool_shape(x, strides, channel_axis)
        assert full[-1] != 1 or steps[-1] != 1
        return
    actual = getattr(nnx, function)(x, **plan.kwargs)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-7)


def test_flax_arguments_cover_the_common_nhwc_forms():
    assert flax_pool("avg_pool", 4, 2, 2, "SAME").kwargs == {
        "window_shape": (2, 2), "strides": (2, 2), "padding": "SAME",
        "count_include_pad": False}
    assert flax_pool("max_pool", 4, (1, 3, 3, 1), (1, 2, 2, 1), "VALID").source("x") == (
        "nnx.max_pool(x, (3, 3), strides=(2, 2), padding='VALID')")
    assert flax_pool("avg_pool", 4, (2, 2), 1, "SAME") is None  # Haiku pools W and C here


def test_haiku_errors_are_kept():
    with pytest.raises(ValueError, match="Invalid padding"):
        compat.avg_pool(_x((2, 4, 3)), 2, 1, "FULL")
