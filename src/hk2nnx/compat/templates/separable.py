"""Haiku's SeparableDepthwiseConv2D: two depthwise convolutions, (k0, 1) then (1, k1)."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.inits import HAIKU_LINEAR_INIT, Initializer


class SeparableDepthwiseConv2D(nnx.Module):
    """hk.SeparableDepthwiseConv2D with its two children, named as Haiku names them.

    Haiku splits the kernel into a (k0, 1) depthwise convolution with `channel_multiplier`
    outputs per channel (no bias, `stride`) and a (1, k1) one keeping the channel count (the
    bias, stride 1); Flax has no layer that is both. Channels last only.
    """

    def __init__(self, channel_multiplier: int, kernel_shape: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: Any = "SAME", with_bias: bool = True,
                 w_init: Initializer | None = None, b_init: Initializer | None = None,
                 data_format: str = "NHWC", *, in_features: int, dtype: Any = jnp.float32,
                 rngs: nnx.Rngs):
        if data_format not in ("NHWC", "channels_last", "N...C"):
            raise ValueError(f"data_format={data_format!r}: only channels-last is supported")
        rows, cols = (kernel_shape, kernel_shape) if isinstance(kernel_shape, int) \
            else tuple(kernel_shape)
        features = in_features * channel_multiplier

        def depthwise(inputs: int, kernel: tuple[int, int], strides: Any,
                      use_bias: bool) -> nnx.Conv:
            return nnx.Conv(inputs, features, kernel, strides=strides, padding=padding,
                            feature_group_count=inputs, use_bias=use_bias,
                            kernel_init=w_init or HAIKU_LINEAR_INIT,
                            bias_init=b_init or jax.nn.initializers.zeros, param_dtype=dtype,
                            rngs=rngs)

        self.depthwise_conv2_d = depthwise(in_features, (rows, 1), stride, False)
        self.depthwise_conv2_d_1 = depthwise(features, (1, cols), 1, with_bias)

    def __call__(self, inputs: jax.Array) -> jax.Array:
        return self.depthwise_conv2_d_1(self.depthwise_conv2_d(inputs))
