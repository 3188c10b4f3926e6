"""One case per compat module configuration: a Haiku forward and the faithful NNX model."""

from __future__ import annotations

from collections.abc import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import pytest
from compat_harness import Case, faithful_verify, train_both
from flax import nnx

from hk2nnx import compat

W_INIT = hk.initializers.VarianceScaling(1.0)
NNX_W_INIT = jax.nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")


class LinearThenBatchNorm(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.linear = nnx.Linear(5, 3, rngs=rngs)
        self.batch_norm = compat.BatchNorm(True, True, 0.9, num_features=3, rngs=rngs)

    def __call__(self, x):
        return self.batch_norm(self.linear(x))


def _linear_then_batch_norm(x, is_training):
    return hk.BatchNorm(True, True, 0.9)(hk.Linear(3)(x), is_training)


class LSTMAdapter(compat.LSTM):
    """Haiku's LSTMState is another NamedTuple type: compare plain (out, hidden, cell)."""

    def __call__(self, x, h, c):
        out, state = super().__call__(x, compat.LSTMState(h, c))
        return out, state.hidden, state.cell


def _lstm(x, h, c):
    out, state = hk.LSTM(4)(x, hk.LSTMState(h, c))
    return out, state.hidden, state.cell


class SNLinear(hk.Module):
    """A weight normalised by its spectral norm, as hk.SNParamsTree would do to a layer."""

    def __call__(self, x):
        w = hk.get_parameter("w", (5, 4), init=hk.initializers.RandomNormal())
        return x @ hk.SpectralNorm()(w)


class NNXSNLinear(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.w = nnx.Param(jax.random.normal(rngs.params(), (5, 4)))
        self.spectral_norm = compat.SpectralNorm(shape=(5, 4), rngs=rngs)

    def __call__(self, x):
        return x @ self.spectral_norm(self.w[...])


def _ema(decay, **kwargs):
    def forward(x):
        return hk.ExponentialMovingAverage(decay, **kwargs)(x)

    return forward


def _mha(q, k, v, mask):
    attention = hk.MultiHeadAttention(2, 3, w_init=W_INIT, value_size=5, model_size=6)
    return attention(q, k, v, mask)


CASES: tuple[Case, ...] = (
    Case("batch_norm_after_linear", "stateful", _linear_then_batch_norm,
         LinearThenBatchNorm, ("f32[6,5]",)),
    Case("batch_norm_nhwc", "stateful",
         lambda x, is_training: hk.BatchNorm(True, True, 0.8)(x, is_training),
         lambda rngs: compat.BatchNorm(True, True, 0.8, num_features=4, rngs=rngs),
         ("f32[2,3,3,4]",)),
    Case("batch_norm_channels_first_eps", "stateful",
         lambda x, is_training: hk.BatchNorm(True, False, 0.5, eps=1e-3,
                                             data_format="channels_first")(x, is_training),
         lambda rngs: compat.BatchNorm(True, False, 0.5, eps=1e-3,
                                       data_format="channels_first", num_features=4,
                                       rngs=rngs),
         ("f32[2,4,3,3]",)),
    Case("batch_norm_axis", "stateful",
         lambda x, is_training: hk.BatchNorm(False, True, 0.9, axis=[0, 1])(x, is_training),
         lambda rngs: compat.BatchNorm(False, True, 0.9, axis=[0, 1], num_features=3,
                                       rngs=rngs),
         ("f32[4,2,3]",)),
    Case("ema", "stateful", _ema(0.9),
         lambda rngs: compat.ExponentialMovingAverage(0.9, shape=(3,)), ("f32[3]",)),
    Case("ema_warmup", "stateful", _ema(0.7, zero_debias=False, warmup_length=2),
         lambda rngs: compat.ExponentialMovingAverage(0.7, zero_debias=False,
                                                      warmup_length=2, shape=(2, 3)),
         ("f32[2,3]",)),
    Case("bias_dims", "layers", lambda x: hk.Bias(bias_dims=[-1, -3])(x),
         lambda rngs: compat.Bias(bias_dims=[-1, -3], input_size=(3, 4, 5), rngs=rngs),
         ("f32[2,3,4,5]",)),
    Case("bias_multiplier", "layers",
         lambda x: hk.Bias(output_size=(4,))(x, multiplier=0.5),
         lambda rngs: _bias_with_multiplier(rngs), ("f32[3,4]",)),
    Case("embed_out_of_range", "layers", lambda ids: hk.Embed(6, 3)(ids),
         lambda rngs: compat.Embed(6, 3, rngs=rngs), ("i32[4,5]",), int_range=(-8, 9)),
    Case("embed_one_hot", "layers",
         lambda ids: hk.Embed(6, 3, lookup_style="ONE_HOT")(ids),
         lambda rngs: compat.Embed(6, 3, lookup_style="ONE_HOT", rngs=rngs), ("i32[7]",),
         int_range=(-2, 8)),
    Case("lstm", "recurrent", _lstm, lambda rngs: LSTMAdapter(4, input_size=3, rngs=rngs),
         ("f32[2,3]", "f32[2,4]", "f32[2,4]")),
    Case("gru", "recurrent", lambda x, h: hk.GRU(4)(x, h),
         lambda rngs: compat.GRU(4, input_size=3, rngs=rngs), ("f32[2,3]", "f32[2,4]")),
    Case("vanilla_rnn", "recurrent", lambda x, h: hk.VanillaRNN(4)(x, h),
         lambda rngs: compat.VanillaRNN(4, input_size=3, rngs=rngs), ("f32[2,3]", "f32[2,4]")),
    Case("vanilla_rnn_single_bias", "recurrent",
         lambda x, h: hk.VanillaRNN(4, double_bias=False)(x, h),
         lambda rngs: compat.VanillaRNN(4, double_bias=False, input_size=3, rngs=rngs),
         ("f32[3]", "f32[4]")),
    Case("mha_value_size", "layers", _mha,
         lambda rngs: compat.MultiHeadAttention(
             2, 3, w_init=NNX_W_INIT, value_size=5, model_size=6, in_features=7,
             key_features=8, value_features=9, rngs=rngs),
         ("f32[2,4,7]", "f32[2,5,8]", "f32[2,5,9]", "bool[2,1,4,5]")),
    Case("spectral_norm", "estimators", lambda x: SNLinear()(x), NNXSNLinear, ("f32[3,5]",)),
    Case("vector_quantizer", "estimators",
         lambda x, is_training: hk.nets.VectorQuantizer(3, 5, 0.25)(x, is_training),
         lambda rngs: compat.VectorQuantizer(3, 5, 0.25, rngs=rngs), ("f32[2,4,3]",)),
    Case("vector_quantizer_ema", "estimators",
         lambda x, is_training: hk.nets.VectorQuantizerEMA(3, 5, 0.25, 0.9)(x, is_training),
         lambda rngs: compat.VectorQuantizerEMA(3, 5, 0.25, 0.9, rngs=rngs), ("f32[2,4,3]",)),
)


def _bias_with_multiplier(rngs: nnx.Rngs) -> nnx.Module:
    class Scaled(compat.Bias):
        def __call__(self, x):
            return super().__call__(x, multiplier=jnp.float32(0.5))

    return Scaled(output_size=(4,), input_size=(4,), rngs=rngs)


BY_ID = {case.id: case for case in CASES}


def group(name: str) -> list[Case]:
    return [case for case in CASES if case.group == name]


def case_tests(name: str) -> tuple[Callable, Callable]:
    """The two tests every group runs; each test_compat_<group>.py binds them to test names."""
    cases = group(name)
    parametrize = pytest.mark.parametrize("case", cases, ids=[c.id for c in cases])

    @parametrize
    def verify_passes_in_training_mode(case: Case) -> None:
        report = faithful_verify(case)
        assert report.passed, report.table(failures_only=True)

    @parametrize
    def three_sgd_steps_agree(case: Case) -> None:
        faults = train_both(case, steps=3)
        assert not faults, "\n".join(faults)

    return verify_passes_in_training_mode, three_sgd_steps_agree
