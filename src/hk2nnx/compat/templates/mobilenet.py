"""hk.nets.MobileNetV1: Flax has no MobileNet.

Children keep the names Haiku gives the layers it builds at call time (`conv2_d`, `batch_norm`,
`mobile_net_v1_block_i.depthwise_conv`, ..., `logits`) so a ported checkpoint loads as is;
batch norms are Haiku's zero-debiased ones.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.batch_norm import BatchNorm
from hk2nnx.compat.templates.inits import HAIKU_LINEAR_INIT


def _numbered(base: str, i: int) -> str:
    """Haiku's name for the i-th module of a class built in one call: base, base_1, ..."""
    return f"{base}_{i}" if i else base


class _MobileNetV1Block(nnx.Module):
    """A depthwise 3x3 and a pointwise 1x1 convolution, each followed by BN (or a bias), ReLU."""

    def __init__(self, c_in: int, channels: int, stride: int, use_bn: bool, *,
                 rngs: nnx.Rngs):
        self.use_bn = use_bn
        self.depthwise_conv = nnx.Conv(c_in, c_in, (3, 3), strides=(stride, stride),
                                       padding=((1, 1), (1, 1)), feature_group_count=c_in,
                                       use_bias=not use_bn, kernel_init=HAIKU_LINEAR_INIT,
                                       rngs=rngs)
        self.pointwise_conv = nnx.Conv(c_in, channels, (1, 1), padding="VALID",
                                       use_bias=not use_bn, kernel_init=HAIKU_LINEAR_INIT,
                                       rngs=rngs)
        if use_bn:
            self.batch_norm = BatchNorm(True, True, 0.999, num_features=c_in, rngs=rngs)
            self.batch_norm_1 = BatchNorm(True, True, 0.999, num_features=channels, rngs=rngs)

    def __call__(self, inputs: jax.Array, use_running_average: bool | None) -> jax.Array:
        out = self.depthwise_conv(inputs)
        if self.use_bn:
            out = self.batch_norm(out, use_running_average)
        out = self.pointwise_conv(jax.nn.relu(out))
        if self.use_bn:
            out = self.batch_norm_1(out, use_running_average)
        return jax.nn.relu(out)


class MobileNetV1(nnx.Module):
    """hk.nets.MobileNetV1: Haiku's constructor arguments, plus the input's channel count.

    Haiku's `is_training` is `not use_running_average` (or `model.train()`/`model.eval()`).
    """

    def __init__(self, strides: Sequence[int] = (1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1),
                 channels: Sequence[int] = (64, 128, 128, 256, 256, 512, 512, 512, 512, 512,
                                            512, 1024, 1024),
                 num_classes: int = 1000, use_bn: bool = True, *, in_channels: int,
                 use_running_average: bool = False, rngs: nnx.Rngs):
        if len(strides) != len(channels):
            raise ValueError("`strides` and `channels` must have the same length.")
        self.use_bn = use_bn
        self.num_blocks = len(strides)
        self.use_running_average = use_running_average
        self.conv2_d = nnx.Conv(in_channels, 32, (3, 3), strides=(2, 2), padding="VALID",
                                use_bias=not use_bn, kernel_init=HAIKU_LINEAR_INIT, rngs=rngs)
        if use_bn:
            self.batch_norm = BatchNorm(True, True, 0.999, num_features=32, rngs=rngs)
        c_in = 32
        for i, (stride, width) in enumerate(zip(strides, channels)):
            setattr(self, _numbered("mobile_net_v1_block", i),
                    _MobileNetV1Block(c_in, width, stride, use_bn, rngs=rngs))
            c_in = width
        self.logits = nnx.Linear(c_in, num_classes, kernel_init=HAIKU_LINEAR_INIT, rngs=rngs)

    def __call__(self, inputs: jax.Array,
                 use_running_average: bool | None = None) -> jax.Array:
        """Haiku's `is_training` is `not use_running_average` (or `model.train()`)."""
        if use_running_average is None:
            use_running_average = self.use_running_average
        out = self.conv2_d(inputs)
        if self.use_bn:
            out = self.batch_norm(out, use_running_average)
        out = jax.nn.relu(out)
        for i in range(self.num_blocks):
            out = getattr(self, _numbered("mobile_net_v1_block", i))(out, use_running_average)
        out = jnp.mean(out, axis=(1, 2))
        return self.logits(out.reshape(out.shape[0], -1))
