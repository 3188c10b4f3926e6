"""Forward functions and modules for the constructs Haiku's own catalogue lacks.

Each function is a Haiku forward pass; `catalogue.py` pairs it with input specs and notes.
"""

import haiku as hk
import jax
import jax.numpy as jnp
from haiku import next_rng_key as imported_next_rng_key  # bound before any trace patches hk



class Block(hk.Module):
    """A residual Linear block, the unit that layer_stack repeats."""

    def __call__(self, x):
        return x + jax.nn.relu(hk.Linear(x.shape[-1])(x))


class Scoped(hk.Module):
    """Submodules with one name built in __init__, in __call__ and in another method."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.b = hk.Linear(3, name="b")  # a/~/b

    def encode(self, x):
        return hk.Linear(3, name="b")(x)  # a/~encode/b

    def __call__(self, x):
        return hk.Linear(3, name="b")(self.b(x) + self.encode(x))  # a/b


class Counter(hk.Module):
    """State read and written each call, plus one leaf that is only ever set."""

    def __call__(self, x):
        count = hk.get_state("count", [], jnp.int32, init=jnp.zeros)
        hk.set_state("count", count + 1)
        hk.set_state("last_mean", jnp.mean(x))
        return x * count.astype(x.dtype)


def resnet(cls, **kw):
    def forward(x, is_training):
        return cls(num_classes=10, **kw)(x, is_training=is_training)

    return forward


def mobilenet(x, is_training):
    return hk.nets.MobileNetV1(num_classes=10, channels=(8, 16, 16), strides=(1, 2, 2))(
        x, is_training=is_training)


def vq(x, is_training):
    return hk.nets.VectorQuantizer(4, 6, 0.25)(x, is_training=is_training)["quantize"]


def vq_ema(x, is_training):
    return hk.nets.VectorQuantizerEMA(4, 6, 0.25, 0.9)(x, is_training=is_training)["quantize"]


def layer_stack(x):
    return hk.experimental.layer_stack(3)(lambda y: Block()(y))(x)


def layer_stack_nested(x):
    inner = hk.experimental.layer_stack(3, name="inner")(lambda y: Block()(y))
    return hk.experimental.layer_stack(2, name="outer")(inner)(x)


def layer_stack_lstm(x):
    def layer(y):
        out, _ = hk.LSTM(y.shape[-1])(y, hk.LSTMState(y, y))
        return out

    return hk.experimental.layer_stack(2)(layer)(x)


def scan(xs):
    core = hk.VanillaRNN(4)

    def step(h, x):
        out, h = core(x, h)
        return h, out

    _, ys = hk.scan(step, core.initial_state(xs.shape[1]), xs)
    return ys


def vmap(x):
    linear = hk.Linear(4)
    return hk.vmap(linear, split_rng=False)(x)


def remat(x):
    return hk.remat(hk.nets.MLP([4, 3]))(x)


def lift(x):
    inner = hk.transform(lambda y: hk.Linear(3)(y))
    params = hk.lift(inner.init, name="inner")(hk.maybe_next_rng_key(), x)
    return inner.apply(params, None, x)


def scopes(x):
    return Scoped(name="a")(x)


def named(x):
    x = hk.Linear(4, name="encoder")(x)
    x = hk.nets.MLP([4, 4], name="trunk")(x)
    return Block(name="custom")(x)


def numbered(x):
    return hk.Linear(3)(hk.Linear(3)(hk.Linear(3)(x)))


def raw_parameters(x):
    w = hk.get_parameter("weight matrix", [x.shape[-1], 2], x.dtype,
                         init=hk.initializers.RandomNormal())
    b = hk.get_parameter("class", [2], x.dtype, init=jnp.ones)
    return x @ w + b


def counter(x):
    return Counter()(x)


def ema(x):
    return hk.ExponentialMovingAverage(0.9)(x)


def dropout(x, is_training):
    x = hk.Linear(4)(x)
    return hk.dropout(hk.next_rng_key(), 0.5, x) if is_training else x


def embed(ids):
    return hk.Linear(3)(hk.Embed(10, 4)(ids))


def batch_norm(x, is_training):
    return hk.BatchNorm(True, True, 0.9)(x, is_training=is_training)


def mha(q, k, v):
    return hk.MultiHeadAttention(num_heads=2, key_size=4, w_init=hk.initializers.VarianceScaling(),
                                 value_size=3, model_size=5)(q, k, v)


def mha_kv(q, kv):
    return hk.MultiHeadAttention(num_heads=2, key_size=3,
                                 w_init=hk.initializers.VarianceScaling())(q, kv, kv)


def unroll(make_core):
    def forward(xs):
        core = make_core()
        outs, _ = hk.dynamic_unroll(core, xs, core.initial_state(xs.shape[1]))
        return outs

    return forward


def deep_rnn():
    return hk.DeepRNN([hk.LSTM(4), jax.nn.relu, hk.GRU(3), hk.VanillaRNN(2)])


def lstm_cell(x, h, c):
    return hk.LSTM(h.shape[-1])(x, hk.LSTMState(h, c))


def vanilla_cell(x, h):
    return hk.VanillaRNN(h.shape[-1])(x, h)


def spectral_linear(x):
    w = hk.get_parameter("w", [x.shape[-1], 3], x.dtype, init=hk.initializers.RandomNormal())
    return x @ hk.SpectralNorm()(w)


def params_trees(x):
    tree = {"lin/~/sub": {"w": x, "b": x[0]}}
    averaged = hk.EMAParamsTree(0.9)(tree)
    normed = hk.SNParamsTree(ignore_regex=".*b$")(tree)
    return averaged["lin/~/sub"]["w"] + normed["lin/~/sub"]["w"]


def conv_nchw(x):
    return hk.Conv2D(4, 3, stride=2, data_format="NCHW")(x)


def layer_norm_2axes(x):
    return hk.LayerNorm(axis=(-2, -1), create_scale=True, create_offset=True,
                        param_axis=(-2, -1))(x)


class Attention(hk.MultiHeadAttention):
    """A layer subclass whose constructor does not take the base class's arguments."""

    def __init__(self, heads, name=None):
        super().__init__(num_heads=heads, key_size=4, w_init=hk.initializers.VarianceScaling(),
                         name=name)


class Star(hk.Module):
    """A module whose constructor takes *args."""

    def __init__(self, *sizes, name=None):
        super().__init__(name=name)
        self.sizes = sizes

    def __call__(self, x):
        for size in self.sizes:
            x = hk.Linear(size)(x)
        return x


def subclassed(x):
    return Star(3, 4)(Attention(2)(x, x, x))


class Noisy(hk.Module):
    """Draws RNG through a next_rng_key imported at module load, not through `hk.`."""

    def __call__(self, x):
        return x + jax.random.normal(imported_next_rng_key(), x.shape, x.dtype)


def noisy(x):
    return hk.Linear(3)(Noisy()(x))
