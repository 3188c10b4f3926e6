"""Run as a script: imports emitted `_haiku_compat` modules with hk2nnx and haiku unimportable,
and builds and calls every class each one defines.

Usage: python emitted_smoke.py DIR (DIR holds module files and `sets.json`, {module: [names]}).
Prints one line per module: `ok <module>` or `FAIL <module>: <error>`.
"""

import importlib
import json
import sys
import traceback

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

BLOCKED = ("hk2nnx", "haiku")


class Blocker:
    """A meta-path finder that refuses hk2nnx and haiku: the emitted code must not need them."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} must not be imported by emitted code")
        return None


X = jnp.asarray(np.random.default_rng(0).standard_normal((2, 4, 4, 3)), jnp.float32)
R = nnx.Rngs(0)


def _rnn(m, cls, state_of):
    core = getattr(m, cls)(4, input_size=3, rngs=R)
    return core(X[:, 0, 0], state_of(core.initial_state(2)))


SMOKES = {
    "BatchNorm": lambda m: m.BatchNorm(True, True, 0.9, num_features=3)(X),
    "ExponentialMovingAverage": lambda m: m.ExponentialMovingAverage(0.9, shape=(3,))(X[0, 0, 0]),
    "Bias": lambda m: m.Bias(input_size=(4, 4, 3))(X),
    "Embed": lambda m: m.Embed(5, 2, rngs=R)(jnp.array([0, 7, -1])),
    "LSTM": lambda m: _rnn(m, "LSTM", lambda s: s),
    "LSTMState": lambda m: m.LSTMState(X, X),
    "GRU": lambda m: _rnn(m, "GRU", lambda s: s),
    "VanillaRNN": lambda m: _rnn(m, "VanillaRNN", lambda s: s),
    "MultiHeadAttention": lambda m: m.MultiHeadAttention(
        2, 2, w_init=jax.nn.initializers.lecun_normal(), value_size=3, in_features=3,
        rngs=R)(X[0], X[0], X[0]),
    "SpectralNorm": lambda m: m.SpectralNorm(shape=(4, 3), rngs=R)(X[0, 0]),
    "VectorQuantizer": lambda m: m.VectorQuantizer(3, 5, 0.25, rngs=R)(X),
    "VectorQuantizerEMA": lambda m: m.VectorQuantizerEMA(3, 5, 0.25, 0.9, rngs=R)(X),
    "AvgPool": lambda m: m.AvgPool((2, 2), 1, "SAME")(X),
    "MaxPool": lambda m: m.MaxPool(2, 2, "VALID")(X),
    "Pool": lambda m: m.Pool(2, 2, "VALID")(X),
    "avg_pool": lambda m: m.avg_pool(X, 3, 2, "SAME"),
    "max_pool": lambda m: m.max_pool(X, (1, 2, 2, 1), 1, "SAME"),
    "shifted": lambda m: m.shifted(jax.nn.initializers.normal(1.0), 2.0)(R.params(), (3,)),
    "random_uniform": lambda m: m.random_uniform(-1.0, 1.0)(R.params(), (3,)),
    "identity": lambda m: m.identity(2.0)(R.params(), (3, 3)),
    "HAIKU_LINEAR_INIT": lambda m: m.HAIKU_LINEAR_INIT(R.params(), (3, 4)),
    "SeparableDepthwiseConv2D": lambda m: m.SeparableDepthwiseConv2D(2, 3, in_features=3,
                                                                     rngs=R)(X),
    "dynamic_unroll": lambda m: _unroll(m, m.dynamic_unroll),
    "static_unroll": lambda m: _unroll(m, m.static_unroll),
    "swap_batch_time": lambda m: m.swap_batch_time(X),
    "Conv1DLSTM": lambda m: _conv_lstm(m, m.Conv1DLSTM, X[:, :, 0]),
    "Conv2DLSTM": lambda m: _conv_lstm(m, m.Conv2DLSTM, X),
    "Conv3DLSTM": lambda m: _conv_lstm(m, m.Conv3DLSTM, X[..., None]),
    "ConvNDLSTM": lambda m: _conv_lstm(m, lambda *a, **k: m.ConvNDLSTM(2, *a, **k), X),
    "lstm_update": lambda m: m.lstm_update(jnp.tile(X[..., :1], 4), X[..., :1]),
    "IdentityCore": lambda m: m.IdentityCore()(X, m.IdentityCore().initial_state(2)),
    "DeepRNN": lambda m: _stepped(m.DeepRNN([_Counter(), jnp.tanh, _Counter()])),
    "ResetCore": lambda m: m.ResetCore(_Counter())((X, jnp.array([True, False])), X),
    "ResNet": lambda m: m.ResNet((1, 1, 1, 1), 3, channels_per_group=(4, 4, 8, 8),
                                 initial_conv_config={"output_channels": 4}, in_channels=3,
                                 rngs=R)(X, test_local_stats=True),
    "MobileNetV1": lambda m: m.MobileNetV1((1, 2), (4, 8), 3, in_channels=3, rngs=R)(X),
}


def _conv_lstm(m, cls, x):
    core = cls(x.shape[1:-1], 2, 3, in_features=x.shape[-1], rngs=R)
    return core(x, core.initial_state(x.shape[0]))


class _Counter:
    """A weightless core written here: the wrappers' emitted module defines no core."""

    def __call__(self, x, state):
        return x + state, state + 1.0

    def initial_state(self, batch_size):
        return jnp.zeros((batch_size, *X.shape[1:]))


def _stepped(core):
    return core(X, core.initial_state(2))


def _unroll(m, unroller):
    """An identity-like core over a (time, batch, features) sequence."""
    return unroller(lambda x, state: (x + state, state), X[:, :, 0], X[0, :, 0])


def main(directory: str) -> None:
    sys.meta_path.insert(0, Blocker())
    sys.path.insert(0, directory)
    with open(f"{directory}/sets.json") as f:
        sets = json.load(f)
    for module_name, names in sets.items():
        try:
            module = importlib.import_module(module_name)
            for name in names:
                getattr(module, name)
                if name in SMOKES:
                    jax.block_until_ready(SMOKES[name](module))
            print(f"ok {module_name}")
        except Exception:  # noqa: BLE001 - report every module, then let the test fail
            print(f"FAIL {module_name}: {traceback.format_exc(limit=3)!r}")


if __name__ == "__main__":
    main(sys.argv[1])
