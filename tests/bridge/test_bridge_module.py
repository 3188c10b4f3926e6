"""HaikuModule runs Haiku models inside NNX: same numbers as Haiku, NNX transforms and training."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from hk2nnx import TensorSpec
from hk2nnx.bridge import HaikuModule, HaikuState
from hk2nnx.port.api import port_to_haiku, port_to_nnx
from hk2nnx.verify import verify

X = jax.random.normal(jax.random.key(3), (4, 5))


def _bn(x, is_training):
    x = hk.Linear(4)(x)
    x = hk.BatchNorm(True, True, 0.9)(x, is_training=is_training)
    return hk.Linear(2)(jax.nn.relu(x))


def _bn_no_bias(x, is_training):
    """As _bn but without the bias BatchNorm cancels: its gradient is rounding noise, which
    Adam's normalisation would blow up to +-lr per step and make the comparison meaningless."""
    x = hk.Linear(4, with_bias=False)(x)
    x = hk.BatchNorm(True, True, 0.9)(x, is_training=is_training)
    return hk.Linear(2)(jax.nn.relu(x))


def _drop(x, is_training):
    x = hk.Linear(6)(x)
    return hk.dropout(hk.next_rng_key(), 0.5, x) if is_training else x


def _counter(x):
    count = hk.get_state("count", [], jnp.int32, init=jnp.zeros)
    hk.set_state("count", count + 1)
    return hk.Linear(2)(x) * count.astype(x.dtype)


def _trees_equal(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(la, lb))


def test_outputs_and_state_updates_equal_haiku_apply():
    bridge = HaikuModule(_bn, X, is_training=True)
    t = hk.transform_with_state(_bn)
    params, state = bridge.haiku_trees()
    for _ in range(2):
        expected, state = t.apply(params, state, None, X, is_training=True)
        assert np.array_equal(bridge(X), expected)
    assert _trees_equal(bridge.haiku_trees()[1], state)
    assert isinstance(bridge.batch_norm.mean_ema.average, nnx.BatchStat)
    assert isinstance(bridge.linear.w, nnx.Param)


def test_other_state_is_haiku_state_and_advances():
    bridge = HaikuModule(_counter, X)
    assert isinstance(bridge.count, HaikuState)
    bridge(X)
    out = bridge(X)
    assert int(bridge.count[...]) == 2
    t = hk.transform_with_state(_counter)
    params, _ = bridge.haiku_trees()
    expected, _ = t.apply(params, {"~": {"count": jnp.array(1, jnp.int32)}}, None, X)
    assert np.array_equal(out, expected)


def test_rng_keys_come_from_rngs_and_match_haiku_with_the_same_key():
    bridge = HaikuModule(_drop, X, is_training=True, rngs=nnx.Rngs(7))
    key = bridge.peek_rng_key()
    out = bridge(X)
    params, state = bridge.haiku_trees()
    expected, _ = hk.transform_with_state(_drop).apply(params, state, key, X, is_training=True)
    assert np.array_equal(out, expected)
    assert not np.array_equal(bridge(X), out)  # the stream advanced
    bridge.eval()
    assert np.array_equal(bridge(X), bridge(X))


def test_train_and_eval_switch_batchnorm():
    bridge = HaikuModule(_bn, X, is_training=True)
    t = hk.transform_with_state(_bn)
    bridge(X * 3.0)  # move the running statistics
    params, state = bridge.haiku_trees()
    bridge.eval()
    expected_eval, _ = t.apply(params, state, None, X, is_training=False)
    assert np.array_equal(bridge(X), expected_eval)
    assert _trees_equal(bridge.haiku_trees()[1], state)  # eval leaves statistics alone
    bridge.train()
    expected_train, _ = t.apply(params, state, None, X, is_training=True)
    assert np.array_equal(bridge(X), expected_train)
    assert not np.allclose(expected_eval, expected_train)
    params, state = bridge.haiku_trees()
    expected_eval, _ = t.apply(params, state, None, X, is_training=False)
    assert np.array_equal(bridge(X, is_training=False), expected_eval)  # explicit flag wins


def test_port_in_and_out_is_bit_exact():
    t = hk.transform_with_state(_bn)
    params, state = t.init(jax.random.key(5), X, is_training=True)
    _, state = t.apply(params, state, None, X, is_training=True)
    bridge = HaikuModule.zeros(_bn, TensorSpec.of(X), is_training=True)
    result = port_to_nnx(params, state, bridge)
    assert result.ledger.ok and not result.residual
    back_params, back_state = port_to_haiku(bridge, bridge.program)
    assert _trees_equal(back_params, params) and _trees_equal(back_state, state)
    expected, _ = t.apply(params, state, None, X, is_training=False)
    bridge.eval()
    assert np.array_equal(bridge(X), expected)


def test_with_program_argument_the_port_still_uses_haiku_layout():
    bridge = HaikuModule(_bn, X, is_training=True)
    params, state = hk.transform_with_state(_bn).init(jax.random.key(1), X, is_training=True)
    port_to_nnx(params, state, bridge, program=bridge.program)
    assert _trees_equal(bridge.haiku_trees(), (params, state))


def test_jit_split_merge_and_grad():
    bridge = HaikuModule(_bn, X, is_training=True)
    reference = nnx.clone(bridge)

    @nnx.jit
    def step(model, x):
        return model(x)

    assert np.allclose(step(bridge, X), reference(X), atol=1e-6)
    assert np.allclose(bridge.batch_norm.mean_ema.hidden[...],
                       reference.batch_norm.mean_ema.hidden[...], atol=1e-7)
    graphdef, state = nnx.split(bridge)
    merged = nnx.merge(graphdef, state)
    assert np.array_equal(merged(X), nnx.clone(bridge)(X))
    grads = nnx.grad(lambda m: jnp.sum(m(X) ** 2))(bridge)
    assert set(grads.keys()) == {"linear", "linear_1", "batch_norm"}
    assert float(jnp.abs(grads["linear_1"]["w"][...]).sum()) > 0


def test_optimizer_loop_matches_haiku_and_optax():
    t = hk.transform_with_state(_bn_no_bias)
    y = jnp.arange(8.0).reshape(4, 2) / 8
    bridge = HaikuModule(_bn_no_bias, X, is_training=True)
    params, state = bridge.haiku_trees()
    tx = optax.adam(1e-2)
    opt_state = tx.init(params)

    def haiku_loss(p, s):
        out, s = t.apply(p, s, None, X, is_training=True)
        return jnp.mean((out - y) ** 2), s

    for _ in range(5):
        (_, state), g = jax.value_and_grad(haiku_loss, has_aux=True)(params, state)
        updates, opt_state = tx.update(g, opt_state, params)
        params = optax.apply_updates(params, updates)

    optimizer = nnx.Optimizer(bridge, optax.adam(1e-2), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer):
        grads = nnx.grad(lambda m: jnp.mean((m(X) - y) ** 2))(model)
        optimizer.update(model, grads)

    for _ in range(5):
        train_step(bridge, optimizer)
    got_params, got_state = bridge.haiku_trees()
    for a, b in zip(jax.tree.leaves((got_params, got_state)), jax.tree.leaves((params, state))):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


class Mixed(nnx.Module):
    """Half converted, half not: an NNX head on top of an unconverted Haiku trunk."""

    def __init__(self, rngs):
        self.trunk = HaikuModule(_bn, X, is_training=True, rngs=rngs)
        self.head = nnx.Linear(2, 3, rngs=rngs)
        self.dropout = nnx.Dropout(0.5, rngs=rngs)

    def __call__(self, x):
        return self.head(self.dropout(self.trunk(x)))


def test_bridge_as_a_submodule_follows_the_parent_mode():
    model = Mixed(nnx.Rngs(0))
    model.eval()
    assert model.trunk.deterministic and model.trunk.use_running_average
    params, state = model.trunk.haiku_trees()
    trunk, _ = hk.transform_with_state(_bn).apply(params, state, None, X, is_training=False)
    np.testing.assert_allclose(model(X), model.head(trunk), rtol=1e-6)
    model.train()
    assert not model.trunk.use_running_average
    grads = nnx.grad(lambda m: jnp.sum(m(X)))(model)
    assert set(grads.keys()) == {"trunk", "head"}


def test_verify_bridge_against_its_original():
    for flag in (True, False):
        report = verify(_bn, lambda: HaikuModule.zeros(_bn, X, is_training=True), X,
                        is_training=flag)
        assert report.passed, report.table()
        assert {r.kind for r in report.rows} == {"output", "grad", "state"}
    report = verify(_drop, lambda rngs: HaikuModule(_drop, X, is_training=True, rngs=rngs), X,
                    is_training=True)
    assert report.passed and report.dropout == "same keys", report.table()


def _multi():
    encoder = hk.Linear(3, name="encoder")
    decoder = hk.Linear(5, name="decoder")

    def template(x):
        return decoder(encoder(x))

    return template, {"encode": encoder, "roundtrip": template}


def test_multi_transform_methods_by_name_and_index():
    t = hk.multi_transform(_multi)
    bridge = HaikuModule(t, X)
    params, _ = bridge.haiku_trees()
    assert np.array_equal(bridge.apply_method("encode", X), t.apply["encode"](params, None, X))
    assert np.array_equal(bridge.apply_method(1, X), t.apply["roundtrip"](params, None, X))
    with pytest.raises(ValueError, match="encode"):
        bridge.apply_method("decode", X)
    report = verify(t, lambda: HaikuModule(t, X), X, method="encode")
    assert report.passed, report.table()


def test_names_that_would_shadow_the_bridge_are_refused():
    def clash(x):
        return x * hk.get_parameter("train", [], init=jnp.ones)

    with pytest.raises(ValueError, match="train"):
        HaikuModule(clash, X)
