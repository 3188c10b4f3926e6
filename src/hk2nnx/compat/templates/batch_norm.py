"""Haiku's BatchNorm: fast-variance batch statistics kept in zero-debiased EMAs, unlike NNX's."""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.inits import Initializer
from hk2nnx.compat.templates.moving_average import ExponentialMovingAverage


def channel_index(data_format: str) -> int:
    """hk.get_channel_index: 1 for channels-first formats, -1 for channels-last ones."""
    if data_format == "channels_first" or (
            data_format[:2] == "NC" and "C" not in data_format[2:]):
        return 1
    if data_format == "channels_last" or (
            data_format[:1] == "N" and data_format[-1:] == "C" and "C" not in data_format[1:-1]):
        return -1
    if data_format[:2] in ("BT", "TB") and data_format[-1:] == "D":
        return -1
    raise ValueError(f"Unable to extract channel information from '{data_format}'.")


class BatchNorm(nnx.Module):
    """hk.BatchNorm: training continues exactly as in Haiku, not only evaluation.

    nnx.BatchNorm starts its averages at (0, 1) and moves them by plain momentum; Haiku starts
    at zero and divides by (1 - decay**step). Statistics and parameters are kept flat, one
    value per normalised feature (`num_features`), and broadcast at call time.
    """

    def __init__(self, create_scale: bool, create_offset: bool, decay_rate: float,
                 eps: float = 1e-5, scale_init: Initializer | None = None,
                 offset_init: Initializer | None = None, axis: Sequence[int] | None = None,
                 data_format: str = "channels_last", *, num_features: int, dtype: Any = jnp.float32,
                 use_running_average: bool = False, rngs: nnx.Rngs | None = None):
        if not create_scale and scale_init is not None:
            raise ValueError("Cannot set `scale_init` if `create_scale=False`")
        if not create_offset and offset_init is not None:
            raise ValueError("Cannot set `offset_init` if `create_offset=False`")
        if rngs is None and (scale_init or offset_init) is not None:
            raise ValueError("pass `rngs` with a custom scale_init or offset_init")
        key = rngs.params() if rngs is not None else jax.random.key(0)  # ones/zeros ignore it
        shape = (num_features,)
        if create_scale:
            self.scale = nnx.Param((scale_init or jax.nn.initializers.ones)(key, shape, dtype))
        if create_offset:
            self.offset = nnx.Param((offset_init or jax.nn.initializers.zeros)(key, shape, dtype))
        self.create_scale = create_scale
        self.create_offset = create_offset
        self.eps = eps
        self.axis = None if axis is None else tuple(axis)
        self.channel_index = channel_index(data_format)
        self.use_running_average = use_running_average
        self.mean_ema = ExponentialMovingAverage(decay_rate, shape=shape, dtype=dtype)
        self.var_ema = ExponentialMovingAverage(decay_rate, shape=shape, dtype=dtype)

    def __call__(self, inputs: jax.Array, use_running_average: bool | None = None, *,
                 test_local_stats: bool = False, scale: jax.Array | None = None,
                 offset: jax.Array | None = None) -> jax.Array:
        """Haiku's `is_training` is `not use_running_average` (or `model.train()`)."""
        if use_running_average is None:
            use_running_average = self.use_running_average
        is_training = not use_running_average
        axis = self._axis(inputs.ndim)
        w_shape = [1 if i in axis else inputs.shape[i] for i in range(inputs.ndim)]
        if is_training or test_local_stats:
            mean = jnp.mean(inputs, axis, keepdims=True)
            mean_of_squares = jnp.mean(jnp.square(inputs), axis, keepdims=True)
            var = mean_of_squares - jnp.square(mean)
        else:
            reduced = {a % inputs.ndim for a in axis}
            stats_shape = [1 if i in reduced else d for i, d in enumerate(inputs.shape)]
            mean = self.mean_ema.average[...].reshape(stats_shape).astype(inputs.dtype)
            var = self.var_ema.average[...].reshape(stats_shape).astype(inputs.dtype)
        if is_training:
            self.mean_ema(mean.reshape(-1))
            self.var_ema(var.reshape(-1))
        scale = self._param("scale", scale, w_shape, jnp.ones([], inputs.dtype))
        offset = self._param("offset", offset, w_shape, jnp.zeros([], inputs.dtype))
        eps = jax.lax.convert_element_type(self.eps, var.dtype)
        inv = scale * jax.lax.rsqrt(var + eps)
        return (inputs - mean) * inv + offset

    def _axis(self, ndim: int) -> tuple[int, ...]:
        if self.axis is not None:
            return self.axis
        channel = self.channel_index + ndim if self.channel_index < 0 else self.channel_index
        return tuple(i for i in range(ndim) if i != channel)

    def _param(self, name: str, given: jax.Array | None, w_shape: list[int],
               default: jax.Array) -> jax.Array:
        """The module's own parameter, or one passed at call time (conditional normalisation)."""
        if getattr(self, f"create_{name}"):
            if given is not None:
                raise ValueError(f"Cannot pass `{name}` at call time if `create_{name}=True`.")
            return getattr(self, name)[...].reshape(w_shape)
        return default if given is None else given
