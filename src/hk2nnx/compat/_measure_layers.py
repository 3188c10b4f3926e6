"""Measurements of what idiomatic NNX layers change against Haiku (one number per function)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from hk2nnx.mappings.layers import IDIOMATIC, targets
from hk2nnx.port.api import port_to_nnx
from hk2nnx.trace.tracer import trace


def normal(shape: tuple[int, ...], *, scale: float = 1.0, loc: float = 0.0,
           seed: int = 0) -> np.ndarray:
    return (loc + scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def max_abs(a: Any, b: Any) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def haiku_init_apply(forward: Callable, *inputs: Any, **kwargs: Any) -> tuple[Any, dict, dict]:
    """Output, params and state of `forward` with Haiku's own initial weights."""
    transformed = hk.transform_with_state(forward)
    params, state = transformed.init(jax.random.key(0), *inputs, **kwargs)
    out, _ = transformed.apply(params, state, None, *inputs, **kwargs)
    return out, params, state


def ported(forward: Callable, model: nnx.Module, params: dict, state: dict,
           *inputs: Any, **kwargs: Any) -> nnx.Module:
    """`model` filled from Haiku weights through the idiomatic layer table."""
    with targets(IDIOMATIC):
        port_to_nnx(params, state, model, program=trace(forward, *inputs, **kwargs))
    return model


def _norm_difference(haiku_norm: Callable, nnx_norm: nnx.Module, x: np.ndarray) -> float:
    expected, _, _ = haiku_init_apply(lambda v: haiku_norm()(v), x)
    return max_abs(expected, nnx_norm(jnp.asarray(x)))


def layer_norm_epsilon(std: float) -> float:
    """hk.LayerNorm vs nnx.LayerNorm differing only in epsilon (1e-5 vs 1e-6)."""
    x = normal((64, 16), scale=std)
    return _norm_difference(lambda: hk.LayerNorm(-1, True, True),
                            nnx.LayerNorm(16, use_fast_variance=False, rngs=nnx.Rngs(0)), x)


def layer_norm_fast_variance(mean: float = 300.0) -> float:
    """nnx.LayerNorm's default E[x^2] - E[x]^2 against Haiku's two-pass variance."""
    x = normal((64, 16), loc=mean)
    return _norm_difference(lambda: hk.LayerNorm(-1, True, True),
                            nnx.LayerNorm(16, epsilon=1e-5, rngs=nnx.Rngs(0)), x)


def rms_norm_epsilon(std: float) -> float:
    x = normal((64, 16), scale=std)
    return _norm_difference(lambda: hk.RMSNorm(-1),
                            nnx.RMSNorm(16, use_fast_variance=False, rngs=nnx.Rngs(0)), x)


def group_norm_epsilon(std: float) -> float:
    """hk.GroupNorm vs nnx.GroupNorm differing only in epsilon (1e-5 vs 1e-6)."""
    x = normal((8, 4, 16), scale=std)
    return _norm_difference(lambda: hk.GroupNorm(4),
                            nnx.GroupNorm(16, 4, use_fast_variance=False, rngs=nnx.Rngs(0)), x)


def instance_norm_epsilon(std: float) -> float:
    """hk.InstanceNorm vs nnx.InstanceNorm differing only in epsilon (1e-5 vs 1e-6)."""
    x = normal((8, 4, 16), scale=std)
    return _norm_difference(lambda: hk.InstanceNorm(True, True),
                            nnx.InstanceNorm(16, use_fast_variance=False, rngs=nnx.Rngs(0)), x)


def _std(tree: Any, leaf: str) -> float:
    found = [v[leaf] for v in tree.values() if leaf in v]
    return float(np.std(np.asarray(found[0])))


def linear_init_std_ratio() -> float:
    """std of nnx.Linear's default kernel over hk.Linear's (same fan_in)."""
    _, params, _ = haiku_init_apply(lambda x: hk.Linear(400)(x), np.ones((1, 400), np.float32))
    ours = nnx.Linear(400, 400, rngs=nnx.Rngs(0)).kernel[...]
    return float(np.std(np.asarray(ours))) / _std(params, "w")


def conv_transpose_init_std_ratio() -> float:
    _, params, _ = haiku_init_apply(lambda x: hk.Conv2DTranspose(50, 3)(x),
                                    np.ones((1, 4, 4, 40), np.float32))
    ours = nnx.ConvTranspose(40, 50, (3, 3), rngs=nnx.Rngs(0)).kernel[...]
    return float(np.std(np.asarray(ours))) / _std(params, "w")


def embed_init_std_ratio() -> float:
    _, params, _ = haiku_init_apply(lambda x: hk.Embed(1000, 16)(x), np.zeros((1,), np.int32))
    ours = nnx.Embed(1000, 16, rngs=nnx.Rngs(0)).embedding[...]
    return float(np.std(np.asarray(ours))) / _std(params, "embeddings")


def embed_out_of_range_nan_fraction() -> float:
    """Share of NaN outputs of nnx.Embed for ids outside [0, vocab) (Haiku clamps: none)."""
    ids = np.array([6, 9, -7], np.int32)
    forward = lambda v: hk.Embed(6, 3)(v)  # noqa: E731
    expected, params, state = haiku_init_apply(forward, ids)
    if np.isnan(np.asarray(expected)).any():
        raise RuntimeError("Haiku's Embed no longer clamps: the measurement is void")
    model = ported(forward, nnx.Embed(6, 3, rngs=nnx.Rngs(0)), params, state, ids)
    return float(np.mean(np.isnan(np.asarray(model(jnp.asarray(ids))))))


def conv_int_kernel_rank() -> float:
    """Kernel rank of nnx.Conv(kernel_size=3) where hk.Conv2D(k, 3) has a rank-4 kernel."""
    return float(nnx.Conv(3, 4, 3, rngs=nnx.Rngs(0)).kernel[...].ndim)


def avg_pool_same_border() -> float:
    """nnx.avg_pool's default count_include_pad=True on ones, against Haiku's SAME average."""
    x = jnp.ones((1, 5, 5, 1))
    return max_abs(hk.avg_pool(x, (1, 3, 3, 1), 1, "SAME"),
                   nnx.avg_pool(x, (3, 3), padding="SAME"))


def avg_pool_short_window_axes() -> float:
    """Output axes whose size differs: hk (2, 2) pools W and C of NHWC, nnx pools H and W."""
    x = jnp.ones((2, 6, 6, 3))
    haiku = hk.avg_pool(x, (2, 2), (2, 2), "SAME").shape
    flax = nnx.avg_pool(x, (2, 2), (2, 2), "SAME").shape
    return float(sum(a != b for a, b in zip(haiku, flax)))


def _mha_inputs() -> tuple[np.ndarray, ...]:
    return normal((2, 4, 6), seed=1), normal((2, 5, 6), seed=2), normal((2, 5, 6), seed=3)


def mha_equal_sizes() -> float:
    """hk.MultiHeadAttention vs nnx.MultiHeadAttention with matching arguments, ported."""
    def forward(q, k, v):
        return hk.MultiHeadAttention(2, 3, w_init=hk.initializers.VarianceScaling(),
                                     model_size=5)(q, k, v)

    inputs = _mha_inputs()
    expected, params, state = haiku_init_apply(forward, *inputs)
    model = nnx.MultiHeadAttention(2, 6, qkv_features=6, out_features=5, decode=False,
                                   rngs=nnx.Rngs(0))
    ported(forward, model, params, state, *inputs)
    return max_abs(expected, model(*map(jnp.asarray, inputs)))


def mha_value_head_size() -> float:
    """nnx.MultiHeadAttention(qkv_features=H*K) gives values K features per head, never V."""
    model = nnx.eval_shape(lambda: nnx.MultiHeadAttention(2, 6, qkv_features=6,
                                                          rngs=nnx.Rngs(0)))
    return float(model.value.kernel.shape[-1])
