"""DATA: what idiomatic mode (NNX built-ins, NNX defaults) changes per Haiku construct, measured.

Every size is produced by a measurement function (`_measure_layers`, `_measure_training`);
`tests/compat/test_compat_differences.py` re-measures each one and checks the stated value
still holds for the installed haiku and flax. The converter lists these in its idiomatic-mode
report; faithful mode applies `faithful` instead.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from hk2nnx.compat import _measure_layers as layers
from hk2nnx.compat import _measure_training as training


@dataclasses.dataclass(frozen=True)
class Difference:
    """One behaviour idiomatic mode changes, with the measured size of the change."""

    haiku: str  # the Haiku construct, e.g. "haiku.LayerNorm"
    idiomatic: str  # what the NNX built-in with its defaults does differently
    faithful: str  # what faithful mode does instead: arguments, or a compat class
    quantity: str  # what `measure` returns
    measured: float  # the size reports state
    tolerance: float  # a re-measurement within this (absolute) confirms `measured`
    measure: Callable[[], float]

    def describe(self) -> str:
        return (f"{self.haiku}: {self.idiomatic}. {self.quantity}: {self.measured:.4g}. "
                f"Faithful: {self.faithful}.")


_EPS = "NNX epsilon defaults to 1e-6 (Haiku 1e-5)"
_INIT = "std ratio NNX / Haiku of the default kernel"

DIFFERENCES: tuple[Difference, ...] = (
    Difference("haiku.LayerNorm", _EPS, "nnx.LayerNorm(epsilon=1e-5, use_fast_variance=False)",
               "max abs output difference, inputs of std 1e-3", 1.185, 0.05,
               functools.partial(layers.layer_norm_epsilon, 1e-3)),
    Difference("haiku.LayerNorm", _EPS, "nnx.LayerNorm(epsilon=1e-5, use_fast_variance=False)",
               "max abs output difference, unit-variance inputs", 2.8e-5, 1.5e-5,
               functools.partial(layers.layer_norm_epsilon, 1.0)),
    Difference("haiku.LayerNorm", "nnx.LayerNorm computes the variance as E[x^2] - E[x]^2 "
               "(use_fast_variance=True); Haiku subtracts the mean first",
               "nnx.LayerNorm(use_fast_variance=False)",
               "max abs output difference, inputs of mean 300 and std 1", 0.057, 0.03,
               layers.layer_norm_fast_variance),
    Difference("haiku.RMSNorm", _EPS, "nnx.RMSNorm(epsilon=1e-5, use_fast_variance=False)",
               "max abs output difference, inputs of std 1e-3", 1.236, 0.05,
               functools.partial(layers.rms_norm_epsilon, 1e-3)),
    Difference("haiku.GroupNorm", _EPS, "nnx.GroupNorm(epsilon=1e-5, use_fast_variance=False)",
               "max abs output difference, inputs of std 1e-3", 1.164, 0.05,
               functools.partial(layers.group_norm_epsilon, 1e-3)),
    Difference("haiku.InstanceNorm", _EPS,
               "nnx.InstanceNorm(epsilon=1e-5, use_fast_variance=False)",
               "max abs output difference, inputs of std 1e-3", 0.7107, 0.05,
               functools.partial(layers.instance_norm_epsilon, 1e-3)),
    Difference("haiku.Linear", "nnx.Linear's lecun_normal corrects for truncation; Haiku's "
               "TruncatedNormal(1/sqrt(fan_in)) does not (also hk.Conv*)",
               "kernel_init=truncated_normal(fan_in ** -0.5)",
               f"{_INIT} (400 x 400)", 1.137, 0.02, layers.linear_init_std_ratio),
    Difference("haiku.Conv2DTranspose", "nnx.ConvTranspose keeps the kernel as (..., in, out) "
               "(the port swaps Haiku's (..., out, in)); its lecun_normal init is wider",
               "kernel_init=truncated_normal(fan_in ** -0.5)",
               f"{_INIT} (3 x 3, 40 -> 50)", 1.137, 0.03, layers.conv_transpose_init_std_ratio),
    Difference("haiku.Conv2D", "nnx.Conv(kernel_size=3) builds a 1-D convolution where "
               "hk.Conv2D(k, 3) replicates the int to (3, 3)", "kernel_size=(3, 3)",
               "rank of nnx.Conv(3, 4, kernel_size=3)'s kernel (Haiku's is 4)", 3.0, 0.0,
               layers.conv_int_kernel_rank),
    Difference("haiku.Embed", "nnx.Embed's default init is normal(1/sqrt(embed_dim)); Haiku's "
               "is TruncatedNormal(1)", "embedding_init=truncated_normal(1.0)",
               "std ratio NNX / Haiku of the default embeddings (1000 x 16)", 0.284, 0.01,
               layers.embed_init_std_ratio),
    Difference("haiku.Embed", "nnx.Embed (jnp.take) returns NaN for ids outside [0, vocab); "
               "Haiku's indexing wraps negatives once and clamps", "compat Embed",
               "share of NaN outputs for out-of-range ids", 1.0, 0.0,
               layers.embed_out_of_range_nan_fraction),
    Difference("haiku.avg_pool", "nnx.avg_pool counts padded elements in SAME averages "
               "(count_include_pad=True)", "nnx.avg_pool(..., count_include_pad=False)",
               "max abs difference on ones, 3 x 3 SAME window", 0.5556, 1e-4,
               layers.avg_pool_same_border),
    Difference("haiku.avg_pool", "Haiku reads a short window tuple as the trailing axes: (2, 2) "
               "on NHWC pools W and C; nnx.avg_pool pools H and W",
               "compat avg_pool (Flax never pools the last axis); see compat.pool_args",
               "output axes of different size, (2, 2) window on NHWC", 2.0, 0.0,
               layers.avg_pool_short_window_axes),
    Difference("haiku.MultiHeadAttention", "nnx.MultiHeadAttention(qkv_features=H*K, "
               "out_features=model_size) keeps kernels as (D, H, K) (the port reshapes)",
               "compat MultiHeadAttention (Haiku's (D, H*K) layout)",
               "max abs output difference, ported weights, value_size == key_size", 0.0, 1e-5,
               layers.mha_equal_sizes),
    Difference("haiku.MultiHeadAttention", "nnx.MultiHeadAttention has one qkv_features, so "
               "value_size != key_size cannot be built", "compat MultiHeadAttention",
               "value head size NNX builds for key_size=3 (Haiku's value_size was 5)", 3.0, 0.0,
               layers.mha_value_head_size),
    Difference("haiku.BatchNorm", "nnx.BatchNorm's running averages start at (0, 1) and move by "
               "plain momentum; Haiku's start at 0 and are zero-debiased",
               "compat BatchNorm (counter, hidden, average per statistic)",
               "max abs eval-output difference after 3 training steps from init "
               "(inputs of mean 2, std 3, decay 0.9)", 2.14, 0.1,
               training.batch_norm_from_scratch),
    Difference("haiku.BatchNorm", "after a port the debias factor is dropped, so continued "
               "training drifts while the counter is small", "compat BatchNorm",
               "max abs eval-output difference, ported after 5 steps, 3 more steps each",
               0.169, 0.02, training.batch_norm_after_port),
    Difference("haiku.LSTM", "nnx.LSTMCell has gates (i, f, g, o) in eight kernels (the port "
               "splits Haiku's fused (i, g, f, o)) and no +1 forget bias", "compat LSTM",
               "max abs output difference, ported weights, hf.bias not shifted by +1", 0.101,
               0.01, training.lstm_without_forget_shift),
    Difference("haiku.GRU", "nnx.GRUCell applies the reset gate after the recurrent matmul and "
               "keeps the old state with z", "compat GRU (in both modes)",
               "max abs output difference under the best weight mapping", 0.204, 0.02,
               training.gru_reset_placement),
    Difference("haiku.VanillaRNN", "nnx.SimpleCell keeps one bias (the sum of Haiku's two), so "
               "SGD moves it half as far", "compat VanillaRNN",
               "max abs output difference after 3 SGD steps (lr 0.1)", 0.151, 0.02,
               training.vanilla_rnn_double_bias),
)


def for_haiku(name: str) -> tuple[Difference, ...]:
    """The differences idiomatic mode brings for one Haiku construct (qualified name)."""
    return tuple(d for d in DIFFERENCES if d.haiku == name)
