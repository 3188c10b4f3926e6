"""DATA: how each Haiku layer constructor maps onto its Flax NNX counterpart.

Hand-written from the installed signatures; `tests/convert/test_constructor_table.py` checks every
argument name (and every default recorded here) against `inspect.signature` of haiku and flax.
Read by one generic engine, `hk2nnx.convert.rules.layers`. Initializers have one table,
`hk2nnx.compat.initializers` (user arguments and each layer's Haiku defaults). Layers only a
`_haiku_compat` class computes are in `compat_constructors`; `CONSTRUCTORS` holds both.
"""

from __future__ import annotations

from hk2nnx.mappings.compat_constructors import COMPAT_CONSTRUCTORS
from hk2nnx.mappings.constructor_types import (
    COMPAT,
    COPY,
    INITIALIZER,
    INPUT,
    IS_TRAINING,
    NTUPLE,
    OTHER,
    Arg,
    CallArg,
    ConstructorMapping,
)

__all__ = [
    "BY_HAIKU", "COMPAT", "CONSTRUCTORS", "COPY", "INITIALIZER", "INPUT", "IS_TRAINING", "NTUPLE",
    "OTHER", "Arg", "CallArg", "ConstructorMapping",
]

_NAME = Arg("name", None)
_W_B = (Arg("w_init", "kernel_init", INITIALIZER, leaf="w"),
        Arg("b_init", "bias_init", INITIALIZER, leaf="b"))
_LAST_AXIS = ("-1",)


def _conv(cls: str, dims: int, data_format: str) -> ConstructorMapping:
    return ConstructorMapping(
        f"haiku.{cls}", "nnx.Conv",
        (
            *((Arg("num_spatial_dims", None),) if cls == "ConvND" else ()),
            Arg("output_channels", "out_features"),
            Arg("kernel_shape", "kernel_size", NTUPLE),
            Arg("stride", "strides"),
            Arg("rate", "kernel_dilation"),
            Arg("padding", "padding"),
            Arg("with_bias", "use_bias"),
            *_W_B,
            Arg("data_format", None, only=(repr(data_format), f'"{data_format}"')),
            Arg("mask", None, only=("None",)),
            Arg("feature_group_count", "feature_group_count"),
            _NAME,
        ),
        in_features="in_features", out_features="output_channels",
        positional=("in_features", "out_features", "kernel_size"), spatial_dims=dims,
        rank_arg="num_spatial_dims" if cls == "ConvND" else None,
        notes="channels-first data_format has no NNX equivalent",
    )


def _conv_transpose(cls: str, dims: int, data_format: str) -> ConstructorMapping:
    return ConstructorMapping(
        f"haiku.{cls}", "nnx.ConvTranspose",
        (
            *((Arg("num_spatial_dims", None),) if cls == "ConvNDTranspose" else ()),
            Arg("output_channels", "out_features"),
            Arg("kernel_shape", "kernel_size", NTUPLE),
            Arg("stride", "strides"),
            Arg("output_shape", None, only=("None",)),
            Arg("padding", "padding"),
            Arg("with_bias", "use_bias"),
            Arg("w_init", "kernel_init", INITIALIZER, leaf="w", fan_axes=(-1, -2)),
            Arg("b_init", "bias_init", INITIALIZER, leaf="b"),
            Arg("data_format", None, only=(repr(data_format), f'"{data_format}"')),
            Arg("mask", None, only=("None",)),
            _NAME,
        ),
        in_features="in_features", out_features="output_channels",
        positional=("in_features", "out_features", "kernel_size"), spatial_dims=dims,
        rank_arg="num_spatial_dims" if cls == "ConvNDTranspose" else None,
        notes="Haiku keeps the kernel as spatial + (out, in), NNX as spatial + (in, out) (the "
              "port swaps them); output_shape= and channels-first data_format have no NNX form",
    )


def _depthwise(cls: str, dims: int, data_format: str) -> ConstructorMapping:
    return ConstructorMapping(
        f"haiku.{cls}", "nnx.Conv",
        (
            Arg("channel_multiplier", None),
            Arg("kernel_shape", "kernel_size", NTUPLE),
            Arg("stride", "strides"),
            Arg("rate", "kernel_dilation"),
            Arg("padding", "padding"),
            Arg("with_bias", "use_bias"),
            *_W_B,
            Arg("data_format", None, only=(repr(data_format), f'"{data_format}"')),
            _NAME,
        ),
        in_features="in_features", out_features=None, out_expr="{in} * {channel_multiplier}",
        derived=(("out_features", "{in} * {channel_multiplier}"),
                 ("feature_group_count", "{in}")),
        positional=("in_features", "out_features", "kernel_size"), spatial_dims=dims,
        notes="an nnx.Conv with one group per input channel has Haiku's (..., 1, C * M) kernel",
    )


_NORM = (  # LayerNorm, GroupNorm, InstanceNorm: scale and offset, Haiku's eps
    Arg("create_scale", "use_scale"),
    Arg("create_offset", "use_bias"),
    Arg("eps", "epsilon", haiku_default="1e-05"),
    Arg("scale_init", "scale_init", INITIALIZER, leaf="scale"),
    Arg("offset_init", "bias_init", INITIALIZER, leaf="offset"),
)
_CHANNELS_LAST = Arg("data_format", None, only=("'channels_last'", '"channels_last"'))
_STATS_ONLY = (("use_fast_variance", "False"),)  # Haiku computes the variance as E[(x - m)^2]

CONSTRUCTORS: tuple[ConstructorMapping, ...] = (
    ConstructorMapping(
        "haiku.Linear", "nnx.Linear",
        (Arg("output_size", "out_features"), Arg("with_bias", "use_bias"), *_W_B, _NAME),
        in_features="in_features", out_features="output_size",
        positional=("in_features", "out_features"),
    ),
    _conv("Conv1D", 1, "NWC"),
    _conv("Conv2D", 2, "NHWC"),
    _conv("Conv3D", 3, "NDHWC"),
    _conv("ConvND", 0, "channels_last"),
    _conv_transpose("Conv1DTranspose", 1, "NWC"),
    _conv_transpose("Conv2DTranspose", 2, "NHWC"),
    _conv_transpose("Conv3DTranspose", 3, "NDHWC"),
    _conv_transpose("ConvNDTranspose", 0, "channels_last"),
    _depthwise("DepthwiseConv1D", 1, "NWC"),
    _depthwise("DepthwiseConv2D", 2, "NHWC"),
    _depthwise("DepthwiseConv3D", 3, "NDHWC"),
    ConstructorMapping(
        "haiku.GroupNorm", "nnx.GroupNorm",
        (
            Arg("groups", "num_groups"),
            Arg("axis", None, only=("slice(1, None)", "slice(1, None, None)")),
            *_NORM,
            _CHANNELS_LAST,
            _NAME,
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
        call=(CallArg("x", 0, INPUT),),
        fixed=_STATS_ONLY, notes="every non-batch axis is normalised, channels last",
    ),
    ConstructorMapping(
        "haiku.InstanceNorm", "nnx.InstanceNorm",
        (
            *_NORM,
            _CHANNELS_LAST,
            _NAME,
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
        fixed=_STATS_ONLY, notes="channels-first data_format has no NNX form",
    ),
    ConstructorMapping(
        "haiku.LayerNorm", "nnx.LayerNorm",
        (
            Arg("axis", "reduction_axes", omit=_LAST_AXIS),
            *_NORM,
            Arg("use_fast_variance", "use_fast_variance", haiku_default="False"),
            _NAME,
            Arg("param_axis", None, only=("None",) + _LAST_AXIS),
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
        notes="parameters live on the last axis only (NNX builds them eagerly from "
              "num_features)",
    ),
    ConstructorMapping(
        "haiku.RMSNorm", "nnx.RMSNorm",
        (
            Arg("axis", "reduction_axes", omit=_LAST_AXIS),
            Arg("eps", "epsilon", haiku_default="1e-05"),
            Arg("scale_init", "scale_init", INITIALIZER, leaf="scale"),
            _NAME,
            Arg("create_scale", "use_scale"),
            Arg("param_axis", None, only=("None",) + _LAST_AXIS),
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
    ),
    ConstructorMapping(
        "haiku.BatchNorm", "nnx.BatchNorm",
        (
            Arg("create_scale", "use_scale"),
            Arg("create_offset", "use_bias"),
            Arg("decay_rate", "momentum"),
            Arg("eps", "epsilon"),
            Arg("scale_init", "scale_init", INITIALIZER, leaf="scale"),
            Arg("offset_init", "bias_init", INITIALIZER, leaf="offset"),
            Arg("axis", None, only=("None",)),
            Arg("cross_replica_axis", "axis_name"),
            Arg("cross_replica_axis_index_groups", "axis_index_groups"),
            _CHANNELS_LAST,
            _NAME,
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
        call=(CallArg("inputs", 0, INPUT),
              CallArg("is_training", 1, IS_TRAINING, "use_running_average")),
        section="Handling non-parameter states",
        notes="Haiku's moving averages are zero-debiased, nnx.BatchNorm's are not",
    ),
    ConstructorMapping(
        "haiku.Embed", "nnx.Embed",
        (
            Arg("vocab_size", "num_embeddings"),
            Arg("embed_dim", "features"),
            Arg("embedding_matrix", None, only=("None",)),
            Arg("w_init", "embedding_init", INITIALIZER, leaf="embeddings"),
            Arg("lookup_style", None, only=("'ARRAY_INDEX'", '"ARRAY_INDEX"')),
            _NAME,
            Arg("precision", None),  # unused by ARRAY_INDEX lookups
        ),
        in_features=None, out_features="embed_dim", positional=("num_embeddings", "features"),
        call=(CallArg("ids", 0, INPUT),),
    ),
)

CONSTRUCTORS = CONSTRUCTORS + COMPAT_CONSTRUCTORS
BY_HAIKU: dict[str, ConstructorMapping] = {c.haiku: c for c in CONSTRUCTORS}
