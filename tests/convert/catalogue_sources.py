"""Each catalogue entry (`tests/catalogue.py`) as a small Haiku source file the converter reads.

`BODIES` holds, per entry id, the body of a `Model(hk.Module).__call__` that builds the entry's
construct the way the catalogue does (same layers, arguments and inputs); `source(entry)`
wraps it into a file with a transform and an `init` call (which the converter reads to size
layers). The construct sits inside a module class because the converter builds one NNX model
per module class; the generated program's leaves are checked against the entry's own trace.
"""

from __future__ import annotations

import inspect
import textwrap

import catalogue_constructs as c

_HEADER = '''\
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
'''



def _classes(*classes: type) -> str:
    """The catalogue's own module classes, as source for the generated file."""
    return "".join("\n\n" + inspect.getsource(cls) for cls in classes)


_STEP_BLOCK = _classes(c.Block)

_UNROLL = "core = {core}\nouts, _ = hk.dynamic_unroll(core, x, core.initial_state(x.shape[1]))\n" \
          "return outs"


def _recurrent(core: str, unroller: str) -> str:
    """The descriptors' Recurrent wrapper: one time step of `core`, unrolled."""
    return (f"core = {core}\nstate = core.initial_state(x.shape[0])\n"
            f"outs, final = hk.{unroller}(core, x[None], state)\n"
            "return outs, tuple(jax.tree.leaves(final))")


def _reset(unroller: str) -> str:
    """Haiku's descriptor feeds ResetCore `(inputs, should_reset)`, resetting every step."""
    return ("core = hk.ResetCore(hk.IdentityCore())\nstate = core.initial_state(x.shape[0])\n"
            "resets = jnp.ones(x.shape[:1], bool)\n"
            f"outs, final = hk.{unroller}(core, (x[None], resets[None]), state)\n"
            "return outs, tuple(jax.tree.leaves(final))")


def _bare(expr: str, *call: str) -> str:
    return f"return {expr}({', '.join(call or ('x',))})"


BODIES: dict[str, tuple[str, str]] = {  # id -> (module-level prelude, __call__ body)
    "Embed": ("", _bare("hk.Embed(vocab_size=6, embed_dim=12)")),
    "Linear": ("", _bare("hk.Linear(10)")),
    "Sequential": ("", _bare("hk.Sequential([])")),
    "nets.MLP": ("", _bare("hk.nets.MLP([3, 4, 5])")),
    "ConvND": ("", _bare("hk.ConvND(1, 3, 3)")),
    "ConvNDTranspose": ("", _bare("hk.ConvNDTranspose(1, 3, 3)")),
    "Conv1D": ("", _bare("hk.Conv1D(3, 3)")),
    "Conv1DTranspose": ("", _bare("hk.Conv1DTranspose(3, 3)")),
    "Conv2D": ("", _bare("hk.Conv2D(3, 3)")),
    "Conv2DTranspose": ("", _bare("hk.Conv2DTranspose(3, 3)")),
    "Conv3D": ("", _bare("hk.Conv3D(3, 3)")),
    "Conv3DTranspose": ("", _bare("hk.Conv3DTranspose(3, 3)")),
    "BatchNorm": ("", _bare("hk.BatchNorm(True, True, 0.9)", "x", "is_training=True")),
    "Bias": ("", _bare("hk.Bias()")),
    "Flatten": ("", _bare("hk.Flatten()")),
    "InstanceNorm": ("", _bare("hk.InstanceNorm(True, True)")),
    "GroupNorm": ("", _bare("hk.GroupNorm(5)")),
    "LayerNorm": ("", _bare("hk.LayerNorm(1, True, True, param_axis=-1)")),
    "MultiHeadAttention": ("", _bare(
        "hk.MultiHeadAttention(num_heads=8, key_size=64, w_init_scale=1.0)", "x", "x", "x")),
    "RMSNorm": ("", _bare("hk.RMSNorm(1)")),
    "SpectralNorm": ("", _bare("hk.SpectralNorm()")),
    "nets.ResNet": ("", _bare("hk.nets.ResNet((3, 4, 6, 3), 1000)", "x", "is_training=True")),
    "nets.MobileNetV1": ("", _bare("hk.nets.MobileNetV1(num_classes=1000, strides=(1, 1, 1), "
                                   "channels=(16, 32, 64))", "x", "is_training=True")),
    "nets.VectorQuantizer": ("", _bare("hk.nets.VectorQuantizer(64, 512, 0.25)", "x",
                                       "is_training=True")),
    "nets.VectorQuantizerEMA": ("", _bare("hk.nets.VectorQuantizerEMA(64, 512, 0.25, 0.9)", "x",
                                          "is_training=True")),
    "DepthwiseConv1D": ("", _bare("hk.DepthwiseConv1D(1, 3)")),
    "DepthwiseConv2D": ("", _bare("hk.DepthwiseConv2D(1, 3)")),
    "DepthwiseConv3D": ("", _bare("hk.DepthwiseConv3D(1, 3)")),
    "SeparableDepthwiseConv2D": ("", _bare("hk.SeparableDepthwiseConv2D(1, 3)")),
    **{f"Recurrent-{name}-{unroller}": ("", _recurrent(core, unroller))
       for unroller in ("dynamic_unroll", "static_unroll")
       for name, core in (("GRU", "hk.GRU(1)"), ("IdentityCore", "hk.IdentityCore()"),
                          ("LSTM", "hk.LSTM(1)"), ("Conv1DLSTM", "hk.Conv1DLSTM([2], 3, 3)"),
                          ("Conv2DLSTM", "hk.Conv2DLSTM([2, 2], 3, 3)"),
                          ("Conv3DLSTM", "hk.Conv3DLSTM([2, 2, 2], 3, 3)"),
                          ("VanillaRNN", "hk.VanillaRNN(8)"))},
    **{f"Recurrent-ResetCore-{unroller}": ("", _reset(unroller))
       for unroller in ("dynamic_unroll", "static_unroll")},
    "resnet18": ("", _bare("hk.nets.ResNet18(num_classes=10)", "x", "is_training=is_training")),
    "resnet50": ("", _bare("hk.nets.ResNet50(num_classes=10)", "x", "is_training=is_training")),
    "mobilenet_v1": ("", _bare("hk.nets.MobileNetV1(num_classes=10, channels=(8, 16, 16), "
                               "strides=(1, 2, 2))", "x", "is_training=is_training")),
    "vector_quantizer": ("", ('return hk.nets.VectorQuantizer(4, 6, 0.25)(x, is_training='
                              'is_training)["quantize"]')),
    "vector_quantizer_ema": ("", ('return hk.nets.VectorQuantizerEMA(4, 6, 0.25, 0.9)(x, '
                                  'is_training=is_training)["quantize"]')),
    "layer_stack": (_STEP_BLOCK,
                    "return hk.experimental.layer_stack(3)(lambda y: Block()(y))(x)"),
    "layer_stack_nested": (_STEP_BLOCK, (
        'inner = hk.experimental.layer_stack(3, name="inner")(lambda y: Block()(y))\n'
        'return hk.experimental.layer_stack(2, name="outer")(inner)(x)')),
    "layer_stack_lstm": ("", (
        "def layer(y):\n    out, _ = hk.LSTM(y.shape[-1])(y, hk.LSTMState(y, y))\n    return out\n"
        "\nreturn hk.experimental.layer_stack(2)(layer)(x)")),
    "scan": ("", (
        "core = hk.VanillaRNN(4)\n\ndef step(h, x):\n    out, h = core(x, h)\n    return h, out\n"
        "\n_, ys = hk.scan(step, core.initial_state(x.shape[1]), x)\nreturn ys")),
    "vmap": ("", "linear = hk.Linear(4)\nreturn hk.vmap(linear, split_rng=False)(x)"),
    "remat": ("", "return hk.remat(hk.nets.MLP([4, 3]))(x)"),
    "lift": ("", (
        "inner = hk.transform(lambda y: hk.Linear(3)(y))\n"
        'params = hk.lift(inner.init, name="inner")(hk.maybe_next_rng_key(), x)\n'
        "return inner.apply(params, None, x)")),
    "scopes": (_classes(c.Scoped), 'return Scoped(name="a")(x)'),
    "named": (_STEP_BLOCK, (
        'x = hk.Linear(4, name="encoder")(x)\nx = hk.nets.MLP([4, 4], name="trunk")(x)\n'
        'return Block(name="custom")(x)')),
    "numbered": ("", "return hk.Linear(3)(hk.Linear(3)(hk.Linear(3)(x)))"),
    "raw_parameters": ("", (
        'w = hk.get_parameter("weight matrix", [x.shape[-1], 2], x.dtype,\n'
        "                     init=hk.initializers.RandomNormal())\n"
        'b = hk.get_parameter("class", [2], x.dtype, init=jnp.ones)\nreturn x @ w + b')),
    "counter": ("", (
        'count = hk.get_state("count", [], jnp.int32, init=jnp.zeros)\n'
        'hk.set_state("count", count + 1)\nhk.set_state("last_mean", jnp.mean(x))\n'
        "return x * count.astype(x.dtype)")),
    "ema": ("", _bare("hk.ExponentialMovingAverage(0.9)")),
    "dropout": ("", (
        "x = hk.Linear(4)(x)\n"
        "return hk.dropout(hk.next_rng_key(), 0.5, x) if is_training else x")),
    "embed": ("", "return hk.Linear(3)(hk.Embed(10, 4)(x))"),
    "batch_norm": ("", _bare("hk.BatchNorm(True, True, 0.9)", "x", "is_training=is_training")),
    "mha_value_size": ("", _bare(
        "hk.MultiHeadAttention(num_heads=2, key_size=4, w_init=hk.initializers.VarianceScaling(),"
        " value_size=3, model_size=5)", "x", "k", "v")),
    "mha_kv": ("", _bare("hk.MultiHeadAttention(num_heads=2, key_size=3, "
                         "w_init=hk.initializers.VarianceScaling())", "x", "kv", "kv")),
    "lstm_unroll": ("", _UNROLL.format(core="hk.LSTM(4)")),
    "gru_unroll": ("", _UNROLL.format(core="hk.GRU(4)")),
    "vanilla_rnn_unroll": ("", _UNROLL.format(core="hk.VanillaRNN(4)")),
    "deep_rnn_unroll": ("", _UNROLL.format(
        core="hk.DeepRNN([hk.LSTM(4), jax.nn.relu, hk.GRU(3), hk.VanillaRNN(2)])")),
    "lstm_cell": ("", "out, _ = hk.LSTM(h.shape[-1])(x, hk.LSTMState(h, c))\nreturn out"),
    "vanilla_rnn_cell": ("", "out, _ = hk.VanillaRNN(h.shape[-1])(x, h)\nreturn out"),
    "spectral_norm_param": ("", (
        'w = hk.get_parameter("w", [x.shape[-1], 3], x.dtype, '
        "init=hk.initializers.RandomNormal())\nreturn x @ hk.SpectralNorm()(w)")),
    "params_trees": ("", (
        'tree = {"lin/~/sub": {"w": x, "b": x[0]}}\naveraged = hk.EMAParamsTree(0.9)(tree)\n'
        'normed = hk.SNParamsTree(ignore_regex=".*b$")(tree)\n'
        'return averaged["lin/~/sub"]["w"] + normed["lin/~/sub"]["w"]')),
    "subclassed": (_classes(c.Attention, c.Star), "return Star(5, 4)(Attention(2)(x, x, x))"),
    "rng_alias": ("from haiku import next_rng_key as imported_next_rng_key\n", (
        "noise = jax.random.normal(imported_next_rng_key(), x.shape)\n"
        "return hk.Linear(3)(x + noise)")),
    "conv2d_nchw": ("", _bare('hk.Conv2D(4, 3, stride=2, data_format="NCHW")')),
    "layer_norm_2axes": ("", _bare("hk.LayerNorm(axis=(-2, -1), create_scale=True, "
                                   "create_offset=True, param_axis=(-2, -1))")),
}

_ARG_NAMES = {"mha_value_size": ("x", "k", "v"), "mha_kv": ("x", "kv"),
              "lstm_cell": ("x", "h", "c"), "vanilla_rnn_cell": ("x", "h")}


def arg_names(entry) -> tuple[str, ...]:
    names = _ARG_NAMES.get(entry.id, ("x",))
    if len(names) != len(entry.specs):
        raise ValueError(f"{entry.id}: {len(entry.specs)} inputs, names {names}")
    return names


def source(entry) -> str:
    """A Haiku file building `entry` in `Model`, transformed as `net` and initialised once."""
    prelude, body = BODIES[entry.id]
    names = list(arg_names(entry))
    flags = list(entry.kwargs)
    params = ", ".join(["self", *names, *flags])
    zeros = [f"jnp.zeros({tuple(s.shape)!r}, jnp.{s.dtype})" for s in entry.specs]
    init_kwargs = [f"{k}={v!r}" for k, v in entry.kwargs.items()]
    call = ", ".join([*names, *flags])
    return "\n".join([
        _HEADER, prelude,
        f"\nclass Model(hk.Module):\n    def __call__({params}):",
        textwrap.indent(body, " " * 8), "",
        f"\ndef forward({call}):\n    return Model()({call})\n",
        "\nnet = hk.transform_with_state(forward)",
        f"params, state = net.init({', '.join(['jax.random.PRNGKey(0)', *zeros, *init_kwargs])})",
        "",
    ])
