"""hk.DeepRNN / hk.ResetCore (HK049): what does not convert stays marked; the compat wrappers
compute what Haiku's do, on the same weights."""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hk2nnx.compat.templates.deep_rnn import DeepRNN, ResetCore
from hk2nnx.convert import convert_source
from hk2nnx.convert.findings import TODO_PREFIX
from hk2nnx.mappings.layers import FAITHFUL

_NET = """
import haiku as hk
import jax


class Net(hk.Module):
    def __call__(self, xs, resets):
        {body}
        return outs
"""
_UNROLL = "\n        outs, _ = hk.dynamic_unroll(core, {seq}, core.initial_state(2))"
REFUSED = {
    "layers_in_a_variable": ("layers = [hk.LSTM(4)]\n        core = hk.DeepRNN(layers)",
                             "xs", "hk.LSTM — the module is used in a way"),
    "nested_wrappers": ("core = hk.DeepRNN([hk.ResetCore(hk.LSTM(4))])", "(xs, resets)",
                        "hk.DeepRNN — hk.ResetCore(hk.LSTM(4)) is neither a core"),
    "unfollowed_reset_input": ("inp = (xs, resets)\n        core = hk.ResetCore(hk.LSTM(4))",
                               "inp", "hk.LSTM — the size of its input cannot be followed"),
}


@pytest.mark.parametrize("name", REFUSED)
def test_unconvertible_wrappers_stay_marked(name):
    body, seq, why = REFUSED[name]
    source = _NET.format(body=body + _UNROLL.format(seq=seq))
    code = convert_source(source, filename="net.py", mode=FAITHFUL).code
    assert "class Net(hk.Module)" in code
    assert [ln for ln in code.splitlines() if TODO_PREFIX in ln and why in ln], code


def test_a_wrapper_built_in_init_stays_marked():
    source = _NET.replace("    def __call__", "    def __init__(self):\n        super().__init__()\n"
                          "        self.core = hk.DeepRNN([hk.LSTM(4)])\n\n    def __call__")
    source = source.format(body=_UNROLL.format(seq="xs").strip().replace("core", "self.core"))
    code = convert_source(source, filename="net.py", mode=FAITHFUL).code
    (marker,) = [ln.strip() for ln in code.splitlines() if TODO_PREFIX in ln and "Net" not in ln]
    assert marker.startswith(f"{TODO_PREFIX.strip()} hk.DeepRNN — a wrapper of cores built in")


def test_local_cores_stay_the_modules_own():
    body = "lstm = hk.LSTM(4)\n        core = hk.DeepRNN([lstm, jax.nn.relu])"
    code = convert_source(_NET.format(body=body + _UNROLL.format(seq="xs")), filename="net.py",
                          mode=FAITHFUL).code
    assert "self.lstm = hkc.LSTM(hidden_size=4, input_size=xs_features" in code
    assert "core = hkc.DeepRNN([self.lstm, jax.nn.relu])" in code
    assert TODO_PREFIX not in code



def _count(self, inputs, state):
    return inputs + state, state + 1.0


def _zeros(self, batch_size):
    return jnp.zeros((batch_size, 3))


class _Counter:
    """A weightless core whose state counts steps: resets show in the state it returns."""

    __call__, initial_state = _count, _zeros


class _HkCounter(hk.RNNCore):
    """The same core, in Haiku."""

    __call__, initial_state = _count, _zeros


def test_reset_core_resets_per_batch_entry_and_per_leaf_like_haiku():
    x = jnp.arange(6.0).reshape(2, 3)
    state = (jnp.full((2, 3), 5.0), jnp.full((2, 3), 7.0))
    ours = ResetCore(DeepRNN([_Counter(), _Counter()]))
    for should_reset in (jnp.array([True, False]), (jnp.array([False, True]), jnp.array(True))):
        want = hk.without_apply_rng(hk.transform(lambda r: hk.ResetCore(hk.DeepRNN([
            _HkCounter(), _HkCounter()]))((x, r), state))).apply({}, should_reset)
        got = ours((x, should_reset), state)
        for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_deep_rnn_initial_state_holds_one_entry_per_core():
    assert DeepRNN([_Counter(), jnp.tanh, _Counter()]).initial_state(2)[1].shape == (2, 3)
    assert len(DeepRNN([_Counter(), jnp.tanh, _Counter()]).initial_state(2)) == 2


