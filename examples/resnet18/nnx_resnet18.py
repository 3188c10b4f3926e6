"""A hand-written Flax NNX ResNet18 computing what `hk.nets.ResNet18` computes.

Attribute paths follow hk2nnx's naming scheme for the Haiku module paths, so a checkpoint from
`hk2nnx port` loads with no mapping: the single root `res_net18` is dropped, `block_group_i` and
`block_i` become nested attributes, and each layer keeps its Haiku name (`initial_conv`,
`batchnorm_0`, `shortcut_conv`, `logits`, ...). Print
`[(v.module, v.name, v.nnx_path) for v in hk2nnx.trace(...).variables]` to see every path.

Numerics follow Haiku's ResNet V1: bias-free 'SAME' convolutions (Haiku uses 'SAME' for the
strided ones too), BatchNorm with eps=1e-5 and decay 0.9 (ResNet's bn_config overrides the
block's 0.999 default), a 3x3 stride-2 'SAME' max-pool, spatial mean and a Linear head. Call
`model.eval()` for Haiku's `is_training=False` (moving averages) and `model.train()` for batch
statistics. NNX's running averages are not debiased as Haiku's are, so train-mode *updates* of
mean/var differ from Haiku's after a step; train-mode *outputs* agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

BN_MOMENTUM = 0.9  # Haiku ResNet bn_config decay_rate
BN_EPSILON = 1e-5  # Haiku ResNet bn_config eps (NNX's BatchNorm default is the same)
CHANNELS = (64, 128, 256, 512)
STRIDES = (1, 2, 2, 2)
BLOCKS_PER_GROUP = (2, 2, 2, 2)
USE_PROJECTION = (False, True, True, True)


def _conv(c_in: int, c_out: int, kernel: int, stride: int, rngs: nnx.Rngs) -> nnx.Conv:
    """Haiku's ResNet convs: square kernel, 'SAME' padding at every stride, no bias."""
    return nnx.Conv(c_in, c_out, kernel_size=(kernel, kernel), strides=(stride, stride),
                    padding="SAME", use_bias=False, rngs=rngs)


def _batchnorm(channels: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    return nnx.BatchNorm(channels, momentum=BN_MOMENTUM, epsilon=BN_EPSILON, rngs=rngs)


def _max_pool_3x3_s2_same(x: jax.Array) -> jax.Array:
    """hk.max_pool(window (1,3,3,1), strides (1,2,2,1), 'SAME'): pads with -inf, never 0."""
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")


class BlockV1(nnx.Module):
    """Haiku's non-bottleneck BlockV1: two conv+BN layers, optional projection shortcut."""

    def __init__(self, c_in: int, channels: int, stride: int, use_projection: bool, *,
                 rngs: nnx.Rngs) -> None:
        self.use_projection = use_projection
        if use_projection:
            self.shortcut_conv = _conv(c_in, channels, 1, stride, rngs)
            self.shortcut_batchnorm = _batchnorm(channels, rngs)
        self.conv_0 = _conv(c_in, channels, 3, stride, rngs)
        self.batchnorm_0 = _batchnorm(channels, rngs)
        self.conv_1 = _conv(channels, channels, 3, 1, rngs)
        self.batchnorm_1 = _batchnorm(channels, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        shortcut = x
        if self.use_projection:
            shortcut = self.shortcut_batchnorm(self.shortcut_conv(x))
        out = jax.nn.relu(self.batchnorm_0(self.conv_0(x)))
        out = self.batchnorm_1(self.conv_1(out))  # no relu before the residual sum
        return jax.nn.relu(out + shortcut)


class BlockGroup(nnx.Module):
    """Blocks held as attributes `block_0`, `block_1`, ... as the naming scheme names them."""

    def __init__(self, c_in: int, channels: int, num_blocks: int, stride: int,
                 use_projection: bool, *, rngs: nnx.Rngs) -> None:
        self.num_blocks = num_blocks
        for i in range(num_blocks):
            block = BlockV1(c_in if i == 0 else channels, channels, stride if i == 0 else 1,
                            use_projection and i == 0, rngs=rngs)
            setattr(self, f"block_{i}", block)

    def __call__(self, x: jax.Array) -> jax.Array:
        for i in range(self.num_blocks):
            x = getattr(self, f"block_{i}")(x)
        return x


class ResNet18NNX(nnx.Module):
    """hk.nets.ResNet18 (V1, no bottleneck) for NHWC inputs, returning logits."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, *, rngs: nnx.Rngs,
                 blocks_per_group: Sequence[int] = BLOCKS_PER_GROUP) -> None:
        self.initial_conv = _conv(in_channels, CHANNELS[0], 7, 2, rngs)
        self.initial_batchnorm = _batchnorm(CHANNELS[0], rngs)
        self.num_groups = len(CHANNELS)
        c_in = CHANNELS[0]
        for i, (channels, blocks, stride, proj) in enumerate(
                zip(CHANNELS, blocks_per_group, STRIDES, USE_PROJECTION)):
            setattr(self, f"block_group_{i}",
                    BlockGroup(c_in, channels, blocks, stride, proj, rngs=rngs))
            c_in = channels
        # Haiku zero-initializes the logits weights; a ported checkpoint overwrites them anyway.
        self.logits = nnx.Linear(c_in, num_classes, kernel_init=nnx.initializers.zeros_init(),
                                 rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        out = jax.nn.relu(self.initial_batchnorm(self.initial_conv(x)))
        out = _max_pool_3x3_s2_same(out)
        for i in range(self.num_groups):
            out = getattr(self, f"block_group_{i}")(out)
        return self.logits(jnp.mean(out, axis=(1, 2)))


def make_model(rngs: nnx.Rngs | None = None) -> ResNet18NNX:
    """The `--into` target: a fresh ResNet18NNX(num_classes=10); call `.eval()` for inference."""
    return ResNet18NNX(num_classes=10, rngs=rngs if rngs is not None else nnx.Rngs(0))
