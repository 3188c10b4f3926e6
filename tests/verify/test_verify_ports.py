"""verify() on hand-written NNX ports of small Haiku models: right ports pass, wrong ones fail."""

import json

import haiku as hk
import jax
import jax.numpy as jnp
import pytest
from flax import nnx

from hk2nnx import TensorSpec
from hk2nnx.verify import verify

X = TensorSpec.parse("f32[4,5]")


# --- Haiku originals -------------------------------------------------------------------------

def _mlp(x):
    hidden = jax.nn.relu(hk.Linear(4)(x))
    return hk.Linear(3)(hidden)


def _bn(x, is_training):
    x = hk.Linear(4)(x)
    x = hk.BatchNorm(True, True, 0.9)(x, is_training=is_training)
    return jax.nn.relu(x)


def _drop(x, is_training):
    x = hk.Linear(6)(x)
    if is_training:
        x = hk.dropout(hk.next_rng_key(), 0.5, x)
    return hk.Linear(2)(x)


def _square(x):
    return hk.Linear(5)(x)


def _norm(x):
    return hk.LayerNorm(-1, True, True)(x)


def _embed(ids):
    return hk.Embed(4, 3)(ids)


# --- NNX ports (right and wrong) -------------------------------------------------------------

class MLP(nnx.Module):
    def __init__(self, rngs, scale=1.0):
        self.linear = nnx.Linear(5, 4, rngs=rngs)
        self.linear_1 = nnx.Linear(4, 3, rngs=rngs)
        self.scale = scale

    def __call__(self, x):
        return self.linear_1(jax.nn.relu(self.linear(x))) * self.scale


class BN(nnx.Module):
    def __init__(self, rngs, momentum=0.9):
        self.linear = nnx.Linear(5, 4, rngs=rngs)
        self.batch_norm = nnx.BatchNorm(4, momentum=momentum, epsilon=1e-5, rngs=rngs)

    def __call__(self, x):
        return jax.nn.relu(self.batch_norm(self.linear(x)))


class BNFlag(BN):
    """Takes the training flag itself, as converted code often does."""

    def __call__(self, x, is_training):
        y = self.batch_norm(self.linear(x), use_running_average=not is_training)
        return jax.nn.relu(y)


class Drop(nnx.Module):
    def __init__(self, rngs):
        self.linear = nnx.Linear(5, 6, rngs=rngs)
        self.dropout = nnx.Dropout(0.5, rngs=rngs)
        self.linear_1 = nnx.Linear(6, 2, rngs=rngs)

    def __call__(self, x):
        return self.linear_1(self.dropout(self.linear(x)))


class Transposed(nnx.Module):
    """The classic porting bug: a square kernel used transposed still has the right shape.

    A single top-level Haiku module is the NNX model itself, so its leaves sit at the root.
    """

    def __init__(self, rngs):
        self.kernel = nnx.Param(jnp.zeros((5, 5)))
        self.bias = nnx.Param(jnp.zeros((5,)))

    def __call__(self, x):
        return x @ self.kernel[...].T + self.bias[...]


def _failing(report):
    return {(r.kind, r.haiku) for r in report.failures}


# --- correct ports pass ----------------------------------------------------------------------

def test_mlp_port_passes_with_outputs_and_every_gradient():
    report = verify(_mlp, MLP, X)
    assert report.passed, report.table()
    grads = {r.haiku: r.nnx for r in report.rows if r.kind == "grad"}
    assert grads == {"linear/w": "linear.kernel", "linear/b": "linear.bias",
                     "linear_1/w": "linear_1.kernel", "linear_1/b": "linear_1.bias"}
    assert [r.kind for r in report.rows].count("output") == 1


@pytest.mark.parametrize("wrap", [
    hk.transform, hk.transform_with_state,
    lambda f: hk.without_apply_rng(hk.transform(f)),
    lambda f: hk.without_apply_rng(hk.transform_with_state(f)),
], ids=["transform", "with_state", "no_rng", "with_state_no_rng"])
def test_every_transform_flavour_is_accepted(wrap):
    report = verify(wrap(_mlp), MLP, X)
    assert report.passed, report.table()


def test_eager_mode_gives_the_same_verdict():
    report = verify(_mlp, MLP, X, jit=False)
    assert report.passed, report.table()


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_port_passes_in_train_and_eval(training):
    report = verify(_bn, BN, X, is_training=training)
    assert report.passed, report.table()
    assert report.mode == ("train" if training else "eval")
    state = {r.nnx: r.haiku for r in report.rows if r.kind == "state"}
    assert state["batch_norm.mean"] == "batch_norm/~/mean_ema/{counter,hidden,average}"
    assert any("model.train()" in n or "model.eval()" in n for n in report.notes)


def test_training_flag_goes_to_an_nnx_call_that_takes_it():
    report = verify(_bn, BNFlag(nnx.Rngs(0)), X, train=True)
    assert report.passed, report.table()
    assert report.mode == "train"
    assert not any("instead" in n for n in report.notes)


def test_dropout_in_train_mode_is_compared_at_rate_zero_and_restored():
    model = Drop(nnx.Rngs(0))
    report = verify(_drop, model, X, is_training=True)
    assert report.passed, report.table()
    assert report.dropout == "rate 0"
    assert any("rate 0" in n for n in report.notes)
    assert model.dropout.rate == 0.5


def test_integer_specs_become_valid_indices():
    report = verify(_embed, lambda rngs: nnx.Embed(4, 3, rngs=rngs), TensorSpec.parse("i32[2,7]"))
    assert report.passed, report.table()


# --- wrong ports fail, naming the leaf -------------------------------------------------------

def test_transposed_square_kernel_fails_on_that_kernel_only():
    report = verify(_square, Transposed, X)
    assert report.passed is False
    assert _failing(report) == {("output", "out"), ("grad", "linear/w")}
    row = next(r for r in report.failures if r.kind == "grad")
    assert row.nnx == "kernel"


def test_wrong_layernorm_epsilon_fails():
    report = verify(_norm, lambda rngs: nnx.LayerNorm(5, epsilon=1e-1, rngs=rngs), X)
    assert report.passed is False
    assert ("output", "out") in _failing(report)


def test_output_scaled_by_two_fails_outputs_and_gradients():
    report = verify(_mlp, lambda rngs: MLP(rngs, scale=2.0), X)
    assert report.passed is False
    assert _failing(report) >= {("output", "out"), ("grad", "linear_1/w"), ("grad", "linear/w")}


def test_shape_that_would_broadcast_fails_instead():
    report = verify(lambda x: hk.Linear(1)(x)[:, 0], lambda rngs: nnx.Linear(5, 1, rngs=rngs), X)
    assert report.passed is False
    (row,) = report.failures
    assert row.kind == "output" and "shape mismatch" in row.detail
    assert row.max_abs is None
    assert any("gradients not compared" in n for n in report.notes)


def test_wrong_momentum_fails_on_the_running_statistics():
    report = verify(_bn, lambda rngs: BN(rngs, momentum=0.99), X, is_training=True)
    assert report.passed is False
    assert {r.nnx for r in report.failures} == {"batch_norm.mean", "batch_norm.var"}
    assert {r.kind for r in report.failures} == {"state"}


# --- the report ------------------------------------------------------------------------------

def test_table_and_json_carry_every_row():
    report = verify(_square, Transposed, X)
    table = report.table()
    assert table.splitlines()[0].split()[:3] == ["kind", "haiku", "nnx"]
    assert "FAIL" in table
    assert any(line.startswith("FAILED: 1/3 leaves") for line in table.splitlines())
    assert len(report.table(failures_only=True).splitlines()) < len(table.splitlines())
    data = json.loads(report.to_json())
    assert data["passed"] is False
    assert len(data["rows"]) == len(report.rows)
    assert {r["haiku"] for r in data["rows"] if not r["passed"]} == {"out", "linear/w"}


# --- multi_transform and RNG notes -----------------------------------------------------------

def _encoder_decoder():
    encoder = hk.Linear(3, name="encoder")
    decoder = hk.Linear(5, name="decoder")

    def template(x):
        return decoder(encoder(x))

    return template, (encoder, template)


class EncoderDecoder(nnx.Module):
    def __init__(self, rngs):
        self.encoder = nnx.Linear(5, 3, rngs=rngs)
        self.decoder = nnx.Linear(3, 5, rngs=rngs)

    def encode(self, x):
        return self.encoder(x)

    def __call__(self, x):
        return self.decoder(self.encoder(x))


def test_multi_transform_apply_is_matched_with_a_named_nnx_method():
    t = hk.multi_transform(_encoder_decoder)
    report = verify(t, EncoderDecoder, X, method=(0, "encode"))
    assert report.passed, report.table()
    assert {r.haiku for r in report.rows if r.kind == "grad"} == {"encoder/w", "encoder/b",
                                                                   "decoder/w", "decoder/b"}
    with pytest.raises(ValueError, match="no method 'apply\\[1\\]'"):
        verify(t, EncoderDecoder, X, method="apply[1]")


def test_rng_used_beyond_dropout_is_noted():
    def noisy(x):
        noise = jax.random.normal(hk.next_rng_key(), x.shape[-1:]) * 0.0
        return hk.Linear(2)(x + noise)

    report = verify(noisy, lambda rngs: nnx.Linear(5, 2, rngs=rngs), X)
    assert report.passed, report.table()
    assert any("draw RNG keys" in n for n in report.notes)

