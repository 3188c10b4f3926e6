"""Argument-level fixes: NNX built-ins given the right arguments equal Haiku, outputs and
gradients (hk2nnx.verify, idiomatic table); without them they do not."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import hk2nnx
from hk2nnx import TensorSpec, compat

X4 = TensorSpec.parse("f32[2,6,7,3]")
W = hk.initializers.VarianceScaling(1.0)
# Inputs of variance 1e-6, where epsilon dominates the normaliser.
SMALL = 1e-3 * np.random.default_rng(0).standard_normal((2, 6, 7, 3)).astype(np.float32)


# (id, Haiku forward, NNX factory with the fix, NNX factory with NNX's defaults)
NORMS = [
    ("layer_norm", lambda x: hk.LayerNorm(-1, True, True)(x),
     lambda r: nnx.LayerNorm(3, epsilon=1e-5, use_fast_variance=False, rngs=r),
     lambda r: nnx.LayerNorm(3, rngs=r)),
    ("rms_norm", lambda x: hk.RMSNorm(-1)(x),
     lambda r: nnx.RMSNorm(3, epsilon=1e-5, use_fast_variance=False, rngs=r),
     lambda r: nnx.RMSNorm(3, rngs=r)),
    ("group_norm", lambda x: hk.GroupNorm(3)(x),
     lambda r: nnx.GroupNorm(3, num_groups=3, epsilon=1e-5, use_fast_variance=False, rngs=r),
     lambda r: nnx.GroupNorm(3, num_groups=3, rngs=r)),
    ("instance_norm", lambda x: hk.InstanceNorm(True, True)(x),
     lambda r: nnx.InstanceNorm(3, epsilon=1e-5, use_fast_variance=False, rngs=r),
     lambda r: nnx.InstanceNorm(3, rngs=r)),
]


@pytest.mark.parametrize(("name", "forward", "fixed", "default"), NORMS,
                         ids=[n[0] for n in NORMS])
def test_norm_epsilon(name, forward, fixed, default):
    """Haiku's eps is 1e-5, NNX's 1e-6: on small-variance inputs only the fix matches."""
    fixed_report = hk2nnx.verify(forward, fixed, SMALL)
    assert fixed_report.passed, fixed_report.table(failures_only=True)
    assert not hk2nnx.verify(forward, default, SMALL).passed


CONVS = [
    ("conv2d_int_kernel", lambda x: hk.Conv2D(4, 3)(x),
     lambda r: nnx.Conv(3, 4, (3, 3), rngs=r)),
    ("conv2d_valid_strided", lambda x: hk.Conv2D(4, (3, 2), stride=2, padding="VALID")(x),
     lambda r: nnx.Conv(3, 4, (3, 2), strides=2, padding="VALID", rngs=r)),
    ("conv2d_dilated", lambda x: hk.Conv2D(4, 3, rate=2)(x),
     lambda r: nnx.Conv(3, 4, (3, 3), kernel_dilation=2, rngs=r)),
    ("conv2d_explicit_padding", lambda x: hk.Conv2D(4, 3, padding=((1, 0), (2, 1)))(x),
     lambda r: nnx.Conv(3, 4, (3, 3), padding=((1, 0), (2, 1)), rngs=r)),
    ("conv2d_strides_tuple", lambda x: hk.Conv2D(4, 3, stride=(2, 1))(x),
     lambda r: nnx.Conv(3, 4, (3, 3), strides=(2, 1), rngs=r)),
    ("conv_transpose_same", lambda x: hk.Conv2DTranspose(4, 3, stride=2)(x),
     lambda r: nnx.ConvTranspose(3, 4, (3, 3), strides=2, rngs=r)),
    ("conv_transpose_valid", lambda x: hk.Conv2DTranspose(4, (3, 2), stride=2,
                                                          padding="VALID")(x),
     lambda r: nnx.ConvTranspose(3, 4, (3, 2), strides=2, padding="VALID", rngs=r)),
    ("depthwise", lambda x: hk.DepthwiseConv2D(2, 3)(x),
     lambda r: nnx.Conv(3, 6, (3, 3), feature_group_count=3, rngs=r)),
]


@pytest.mark.parametrize(("name", "forward", "factory"), CONVS, ids=[c[0] for c in CONVS])
def test_convolution_arguments(name, forward, factory):
    report = hk2nnx.verify(forward, factory, X4)
    assert report.passed, report.table(failures_only=True)


def test_int_kernel_size_makes_a_one_dimensional_nnx_conv():
    """nnx.Conv(kernel_size=3) is 1-D: Haiku's (3, 3, 3, 4) kernel does not fit it."""
    with pytest.raises(hk2nnx.PortError, match="kernel"):
        hk2nnx.verify(lambda x: hk.Conv2D(4, 3)(x), lambda rngs: nnx.Conv(3, 4, 3, rngs=rngs), X4)


def test_multi_head_attention_with_equal_key_and_value_sizes():
    """qkv_features = heads * key_size, out_features = model_size; kernels reshape by heads.
    (value_size != key_size has no NNX arguments: see the compat MultiHeadAttention.)"""

    def haiku(q, k, v, mask):
        return hk.MultiHeadAttention(2, 3, w_init=W, model_size=5)(q, k, v, mask=mask)

    def factory(rngs):
        return nnx.MultiHeadAttention(2, 6, qkv_features=6, out_features=5, decode=False,
                                      rngs=rngs)

    q, k, v, mask = (TensorSpec.parse(s) for s in ("f32[2,4,6]", "f32[2,5,6]", "f32[2,5,6]",
                                                   "bool[2,1,4,5]"))
    report = hk2nnx.verify(haiku, factory, q, k, v, mask=mask)
    assert report.passed, report.table(failures_only=True)


def test_clipping_ids_is_not_an_argument_level_fix_for_embed():
    """nnx.Embed fed jnp.clip(ids, 0, vocab - 1) matches Haiku for ids >= 0 only: Haiku's
    indexing sends -1 to the last row, clipping to row 0. Hence the compat Embed."""
    ids = np.array([0, 5, 9, 60, -1, -3, -9], np.int32)
    transformed = hk.transform(lambda v: hk.Embed(6, 3)(v))
    params = transformed.init(jax.random.key(0), ids)
    expected = np.asarray(transformed.apply(params, None, ids))
    table = params["embed"]["embeddings"]
    embed = nnx.Embed(6, 3, rngs=nnx.Rngs(0))
    embed.embedding[...] = table
    clipped = np.asarray(embed(jnp.clip(ids, 0, 5)))
    positive = ids >= 0
    np.testing.assert_array_equal(clipped[positive], expected[positive])
    assert not np.array_equal(clipped[~positive], expected[~positive])
    faithful = compat.Embed(embedding_matrix=table, rngs=nnx.Rngs(0))
    np.testing.assert_array_equal(faithful(ids), expected)
