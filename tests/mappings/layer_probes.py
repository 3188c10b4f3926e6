"""Builds the NNX layer that a traced Haiku layer instance maps to, and calls both alike.

The builders read only what a trace records (constructor attrs, leaf shapes), so the table tests
exercise the same information the converter has. A builder returns None for configurations the
NNX layer cannot express (e.g. MultiHeadAttention with value_size != key_size).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.mappings.layers import LayerMapping
from hk2nnx.port.plan import literal_attrs
from hk2nnx.program.build import owners, relative_ref
from hk2nnx.program.model import Program, TensorSpec


@dataclasses.dataclass(frozen=True)
class LayerInstance:
    """One traced Haiku layer: its path, table entry, attrs and per-layer leaf shapes by ref."""

    path: str
    mapping: LayerMapping
    attrs: dict
    leaves: dict[str, TensorSpec]  # ref -> spec with stacked axes removed
    stacked: int

    def shape(self, ref: str) -> tuple[int, ...]:
        return self.leaves[ref].shape

    def has(self, ref: str) -> bool:
        return ref in self.leaves


def layer_instances(program: Program) -> list[LayerInstance]:
    """Every module of `program` that the layer table claims leaves for."""
    claimed = owners(program)
    found: dict[str, tuple[LayerMapping, dict[str, TensorSpec]]] = {}
    for v in program.variables:
        owner = claimed.get(v.haiku_key)
        if owner is not None:
            leaves = found.setdefault(owner.layer_path, (owner.mapping, {}))[1]
            ref = relative_ref(owner.layer_path, v.module, v.name)
            leaves[ref] = TensorSpec(v.spec.shape[v.stacked:], v.spec.dtype)
    return [
        LayerInstance(path, mapping, literal_attrs(program, path), leaves,
                      program.module(path).stacked)
        for path, (mapping, leaves) in found.items()
    ]


def _conv_options(attrs: dict, spatial: int) -> dict:
    out = {}
    for haiku_key, nnx_key in (("stride", "strides"), ("rate", "kernel_dilation")):
        value = attrs.get(haiku_key)
        if value is not None:
            out[nnx_key] = (value,) * spatial if isinstance(value, int) else tuple(value)
    if isinstance(attrs.get("padding"), str):
        out["padding"] = attrs["padding"]
    return out


def _linear(inst, rngs):
    w = inst.shape("w")
    return nnx.Linear(w[0], w[1], use_bias=inst.has("b"), rngs=rngs)


def _conv(inst, rngs):
    w = inst.shape("w")
    groups = inst.attrs.get("feature_group_count", 1)
    return nnx.Conv(w[-2] * groups, w[-1], w[:-2], feature_group_count=groups,
                    use_bias=inst.has("b"), rngs=rngs, **_conv_options(inst.attrs, len(w) - 2))


def _depthwise(inst, rngs):
    w = inst.shape("w")
    channels = w[-1] // inst.attrs["channel_multiplier"]
    return nnx.Conv(channels, w[-1], w[:-2], feature_group_count=channels,
                    use_bias=inst.has("b"), rngs=rngs, **_conv_options(inst.attrs, len(w) - 2))


def _conv_transpose(inst, rngs):
    w = inst.shape("w")
    options = _conv_options(inst.attrs, len(w) - 2)
    options.pop("kernel_dilation", None)
    return nnx.ConvTranspose(w[-1], w[-2], w[:-2], use_bias=inst.has("b"), rngs=rngs, **options)


def _features(inst) -> int:
    return math.prod(inst.shape("scale") if inst.has("scale") else inst.shape("offset"))


def _norm_flags(inst) -> dict:
    return {"use_scale": inst.has("scale"), "use_bias": inst.has("offset"),
            "epsilon": inst.attrs.get("eps", 1e-5)}


def _layer_norm(inst, rngs):
    axes = {}
    if "axis" in inst.attrs:
        axes["reduction_axes"] = inst.attrs["axis"]
    param_axis = inst.attrs.get("param_axis")
    if param_axis is not None:
        axes["feature_axes"] = param_axis
    return nnx.LayerNorm(_features(inst), use_fast_variance=inst.attrs.get("use_fast_variance",
                                                                          False),
                         rngs=rngs, **axes, **_norm_flags(inst))


def _instance_norm(inst, rngs):
    return nnx.InstanceNorm(_features(inst), use_fast_variance=False, rngs=rngs,
                            **_norm_flags(inst))


def _rms_norm(inst, rngs):
    axes = {"reduction_axes": inst.attrs["axis"]} if "axis" in inst.attrs else {}
    return nnx.RMSNorm(_features(inst), epsilon=inst.attrs.get("eps", 1e-5),
                       use_fast_variance=False, rngs=rngs, **axes)


def _group_norm(inst, rngs):
    return nnx.GroupNorm(_features(inst), num_groups=inst.attrs["groups"],
                         use_fast_variance=False, rngs=rngs, **_norm_flags(inst))


def _batch_norm(inst, rngs):
    return nnx.BatchNorm(_features(inst), momentum=inst.attrs["decay_rate"],
                         use_fast_variance=False, rngs=rngs, **_norm_flags(inst))


def _embed(inst, rngs):
    vocab, dim = inst.shape("embeddings")
    return nnx.Embed(vocab, dim, rngs=rngs)


def _mha(inst, rngs):
    heads = inst.attrs["num_heads"]
    key_size = inst.shape("key/w")[-1] // heads
    value_size = inst.shape("value/w")[-1] // heads
    if key_size != value_size or inst.shape("key/w")[0] != inst.shape("value/w")[0]:
        return None  # NNX has one qkv_features and one in_kv_features
    return nnx.MultiHeadAttention(
        heads, inst.shape("query/w")[0], qkv_features=heads * key_size,
        out_features=inst.shape("linear/w")[-1], in_kv_features=inst.shape("key/w")[0],
        use_bias=inst.has("query/b"), decode=False, rngs=rngs)


def _lstm(inst, rngs):
    rows, cols = inst.shape("linear/w")
    hidden = cols // 4
    return nnx.LSTMCell(rows - hidden, hidden, rngs=rngs)


def _vanilla_rnn(inst, rngs):
    inputs, hidden = inst.shape("linear/w")
    return nnx.SimpleCell(inputs, hidden, activation_fn=jax.nn.relu, rngs=rngs)


_CONVS = ("Conv1D", "Conv2D", "Conv3D", "ConvND")
_TRANSPOSES = tuple(f"{c}Transpose" for c in _CONVS)
_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D", "DepthwiseConv3D")

BUILDERS: dict[str, Callable[[LayerInstance, nnx.Rngs], nnx.Module | None]] = {
    "haiku.Linear": _linear,
    **{f"haiku.{c}": _conv for c in _CONVS},
    **{f"haiku.{c}": _conv_transpose for c in _TRANSPOSES},
    **{f"haiku.{c}": _depthwise for c in _DEPTHWISE},
    "haiku.LayerNorm": _layer_norm,
    "haiku.InstanceNorm": _instance_norm,
    "haiku.RMSNorm": _rms_norm,
    "haiku.GroupNorm": _group_norm,
    "haiku.BatchNorm": _batch_norm,
    "haiku.Embed": _embed,
    "haiku.MultiHeadAttention": _mha,
    "haiku.LSTM": _lstm,
    "haiku.VanillaRNN": _vanilla_rnn,
}


def build(inst: LayerInstance, *, abstract: bool = False) -> nnx.Module | None:
    """The NNX layer for `inst`; with `abstract`, shapes only (no weights are allocated)."""
    builder = BUILDERS[inst.mapping.haiku]
    if abstract:
        return nnx.eval_shape(lambda: builder(inst, nnx.Rngs(0)))
    return builder(inst, nnx.Rngs(0))


# --- calling both the same way -----------------------------------------------------------------


def _channels_last(fn, attrs):
    """NCHW Haiku layers are compared through NNX's channels-last layout."""
    if attrs.get("data_format", "").startswith("NC"):
        def wrapped(x):
            y = fn(jnp.moveaxis(x, 1, -1))
            return jnp.moveaxis(y, -1, 1)
        return wrapped
    return fn


def _call_default(layer, inputs, attrs):
    return [_channels_last(layer, attrs)(*inputs)]


def _call_mha(layer, inputs, attrs):
    q, k, v = inputs if len(inputs) == 3 else (inputs[0], inputs[1], inputs[1])
    return [layer(q, k, v, decode=False)]


def _call_lstm(layer, inputs, attrs):
    """Haiku adds 1 to the forget gate at call time; shift NNX's forget bias to match."""
    x, h, c = inputs
    layer.hf.bias.set_value(layer.hf.bias.get_value() + 1)
    (new_c, new_h), out = layer((c, h), x)
    return [out, new_h, new_c]


def _call_cell(layer, inputs, attrs):
    x, h = inputs
    new_h, out = layer(h, x)
    return [out, new_h]


CALLS: dict[str, Callable] = {
    "haiku.MultiHeadAttention": _call_mha,
    "haiku.LSTM": _call_lstm,
    "haiku.VanillaRNN": _call_cell,
}


def call(inst: LayerInstance, layer: nnx.Module, inputs) -> list[jax.Array]:
    """NNX outputs in the order of the flattened Haiku outputs (usable under nnx.jit)."""
    fn = CALLS.get(inst.mapping.haiku, _call_default)
    return list(fn(layer, [jnp.asarray(x) for x in inputs], inst.attrs))
